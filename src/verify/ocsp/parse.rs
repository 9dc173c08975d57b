//! The OCSPResponse structure (RFC 6960 §4.2.1), read with the bounded BER reader.

use super::{MAX_CERTS, MAX_RESPONSE, MAX_SINGLES, OcspError};
use crate::verify::asn1::{self, Asn1Error, Reader, Tlv, read_oid, tag};
use crate::verify::certificate::{Certificate, Signed};
use crate::verify::cms::AlgorithmId;
use crate::verify::names;
use sha2::Digest;
use std::sync::Arc;
use x509_parser::extensions::ParsedExtension;

const ENUMERATED: u8 = 0x0A;
const CTX1: u8 = 0xA1;
const CTX2: u8 = 0xA2;
const GOOD: u8 = 0x80;
const REVOKED: u8 = 0xA1;
const UNKNOWN: u8 = 0x82;
const BASIC: &str = "1.3.6.1.5.5.7.48.1.1";
const NONCE: &str = "1.3.6.1.5.5.7.48.1.2";
/// Extensions whose meaning we apply or that carry no condition on the answer (the NCA
/// responder adds a non-critical private one, which is ignored because it is not critical).
const UNDERSTOOD: &[&str] = &[NONCE];
const NOCHECK: &str = "1.3.6.1.5.5.7.48.1.5";

/// A parsed, not yet verified, OCSP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The BasicOCSPResponse's DER (what the signature covers lies inside it).
    pub(super) basic: Vec<u8>,
    /// SHA-256 of `basic`.
    pub fingerprint: [u8; 32],
    pub(super) signed: Signed,
    /// Who says they signed it.
    pub responder: ResponderId,
    /// producedAt.
    pub produced_at: i64,
    /// The answers.
    pub singles: Vec<SingleResponse>,
    /// The nonce extension's value (the OCTET STRING's content when it holds one, RFC 8954).
    pub nonce: Option<Vec<u8>>,
    /// The certificates carried (a delegated responder's).
    pub certs: Vec<Arc<Certificate>>,
    /// What each of `certs` says of its OCSP role, read once here rather than at every use.
    pub(super) roles: Vec<Option<ResponderExt>>,
}

/// ResponderID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponderId {
    /// byName: the responder's subject Name, as encoded.
    ByName(Vec<u8>),
    /// byKey: SHA-1 of the responder's subjectPublicKey bits.
    ByKey(Vec<u8>),
}

impl ResponderId {
    /// Whether this ID names `cert`.
    pub fn names(&self, cert: &Certificate) -> bool {
        match self {
            ResponderId::ByName(n) => names::same_name(n, &cert.subject_raw),
            ResponderId::ByKey(k) => CertIdHash::Sha1.digest(&cert.public_key.bits) == *k,
        }
    }
}

/// The hash of a CertID. SHA-1 is what most responders still use (RFC 6960 §4.1.1 names it);
/// it is safe here because the answer is signed and the serial is in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertIdHash {
    /// SHA-1
    Sha1,
    /// SHA-256
    Sha256,
    /// SHA-384
    Sha384,
    /// SHA-512
    Sha512,
}

impl CertIdHash {
    fn from_oid(oid: &str) -> Option<CertIdHash> {
        match oid {
            "1.3.14.3.2.26" => Some(CertIdHash::Sha1),
            "2.16.840.1.101.3.4.2.1" => Some(CertIdHash::Sha256),
            "2.16.840.1.101.3.4.2.2" => Some(CertIdHash::Sha384),
            "2.16.840.1.101.3.4.2.3" => Some(CertIdHash::Sha512),
            _ => None,
        }
    }

    /// The OID of this hash.
    pub fn oid(self) -> &'static str {
        match self {
            CertIdHash::Sha1 => "1.3.14.3.2.26",
            CertIdHash::Sha256 => "2.16.840.1.101.3.4.2.1",
            CertIdHash::Sha384 => "2.16.840.1.101.3.4.2.2",
            CertIdHash::Sha512 => "2.16.840.1.101.3.4.2.3",
        }
    }

    /// The digest of `data`.
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            CertIdHash::Sha1 => ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
                .as_ref()
                .to_vec(),
            CertIdHash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            CertIdHash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            CertIdHash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
}

/// One certificate's status in a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Not revoked (as far as the responder knows).
    Good,
    /// Revoked at `time`, with the CRLReason code when given (6 = certificateHold).
    Revoked {
        /// revocationTime.
        time: i64,
        /// revocationReason.
        reason: Option<u8>,
    },
    /// The responder does not know the certificate.
    Unknown,
}

/// A SingleResponse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SingleResponse {
    /// The CertID's hash algorithm; `None` for one we cannot compute (never matches).
    pub hash: Option<CertIdHash>,
    /// issuerNameHash.
    pub name_hash: Vec<u8>,
    /// issuerKeyHash.
    pub key_hash: Vec<u8>,
    /// serialNumber, as INTEGER content bytes.
    pub serial: Vec<u8>,
    /// certStatus.
    pub status: Status,
    /// thisUpdate.
    pub this_update: i64,
    /// nextUpdate.
    pub next_update: Option<i64>,
}

impl SingleResponse {
    /// Whether this answer is for the certificate with `serial` issued by `issuer`.
    pub fn cert_id_matches(&self, issuer: &Certificate, serial: &[u8]) -> bool {
        let Some(h) = self.hash else { return false };
        self.serial == serial
            && self.key_hash == h.digest(&issuer.public_key.bits)
            && self.name_hash == h.digest(&issuer.subject_raw)
    }
}

fn bad(e: Asn1Error) -> OcspError {
    OcspError::Malformed(match e {
        Asn1Error::Unexpected(what) | Asn1Error::BadValue(what) => what,
        _ => "its encoding",
    })
}

impl Response {
    /// The BasicOCSPResponse as received (DER), for whoever files the response as evidence.
    pub fn basic_der(&self) -> &[u8] {
        &self.basic
    }

    /// Parses a DER OCSPResponse. A response whose status is not `successful` is an error
    /// naming the status (tryLater, internalError, …).
    pub fn from_der(der: &[u8]) -> Result<Response, OcspError> {
        if der.len() > MAX_RESPONSE {
            return Err(OcspError::TooLarge);
        }
        let outer = asn1::parse_single(der)
            .and_then(|t| t.must_be(tag::SEQUENCE, "OCSPResponse"))
            .map_err(bad)?;
        let mut r = outer.children(0).map_err(bad)?;
        let status = r.read_tag(ENUMERATED, "responseStatus").map_err(bad)?;
        match status.value {
            [0] => {}
            [1] => return Err(OcspError::Unsuccessful("malformedRequest")),
            [2] => return Err(OcspError::Unsuccessful("internalError")),
            [3] => return Err(OcspError::Unsuccessful("tryLater")),
            [5] => return Err(OcspError::Unsuccessful("sigRequired")),
            [6] => return Err(OcspError::Unsuccessful("unauthorized")),
            _ => return Err(OcspError::Malformed("responseStatus")),
        }
        let bytes = r.read_tag(tag::CTX0, "responseBytes").map_err(bad)?;
        let mut b = bytes.children(r.depth()).map_err(bad)?;
        let rb = b.read_tag(tag::SEQUENCE, "ResponseBytes").map_err(bad)?;
        let mut rb = rb.children(b.depth()).map_err(bad)?;
        if read_oid(&mut rb, "responseType").map_err(bad)? != BASIC {
            return Err(OcspError::NotBasic);
        }
        let basic = rb.read_tag(tag::OCTET_STRING, "response").map_err(bad)?;
        Response::from_basic(basic.value)
    }

    fn from_basic(basic: &[u8]) -> Result<Response, OcspError> {
        let outer = asn1::parse_single(basic)
            .and_then(|t| t.must_be(tag::SEQUENCE, "BasicOCSPResponse"))
            .map_err(bad)?;
        let mut r = outer.children(0).map_err(bad)?;
        let tbs = r.read_tag(tag::SEQUENCE, "tbsResponseData").map_err(bad)?;
        let algorithm = AlgorithmId::read(&mut r, "signatureAlgorithm").map_err(bad)?;
        let sig = r.read_tag(tag::BIT_STRING, "signature").map_err(bad)?;
        let signed = Signed::from_parts(basic, &tbs, algorithm, &sig);
        let certs = match r.optional(tag::CTX0).map_err(bad)? {
            Some(c) => read_certs(&c, r.depth())?,
            None => Vec::new(),
        };
        r.finish("end of BasicOCSPResponse").map_err(bad)?;
        let roles = certs.iter().map(|c| responder_extensions(&c.der)).collect();

        let mut t = tbs.children(r.depth()).map_err(bad)?;
        if let Some(v) = t.optional(tag::CTX0).map_err(bad)? {
            // version [0] EXPLICIT; only v1 (0) exists.
            let mut vr = v.children(t.depth()).map_err(bad)?;
            if vr.read_tag(tag::INTEGER, "version").map_err(bad)?.value != [0] {
                return Err(OcspError::Malformed("version"));
            }
        }
        let responder = read_responder(&mut t)?;
        let produced = t
            .read_tag(tag::GENERALIZED_TIME, "producedAt")
            .map_err(bad)?;
        let produced_at = asn1::time_value(&produced).map_err(bad)?;
        let responses = t.read_tag(tag::SEQUENCE, "responses").map_err(bad)?;
        let singles = read_singles(&responses, t.depth())?;
        let mut nonce = None;
        if let Some(ext) = t.optional(tag::CTX1).map_err(bad)? {
            nonce = read_extensions(&ext, t.depth())?;
        }
        t.finish("end of ResponseData").map_err(bad)?;
        Ok(Response {
            fingerprint: sha2::Sha256::digest(basic).into(),
            basic: basic.to_vec(),
            signed,
            responder,
            produced_at,
            singles,
            nonce,
            certs,
            roles,
        })
    }
}

fn read_certs(c: &Tlv<'_>, depth: usize) -> Result<Vec<Arc<Certificate>>, OcspError> {
    let mut cr = c.children(depth).map_err(bad)?;
    let seq = cr.read_tag(tag::SEQUENCE, "certs").map_err(bad)?;
    let mut items = seq.children(cr.depth()).map_err(bad)?;
    let mut out = Vec::new();
    while let Some(cert) = items.next().map_err(bad)? {
        if out.len() == MAX_CERTS {
            return Err(OcspError::TooMany(MAX_CERTS, "certificates"));
        }
        // A certificate we cannot read cannot be the responder; skip it, as a CMS does.
        if let Ok(c) = Certificate::from_der(cert.raw) {
            out.push(Arc::new(c));
        }
    }
    Ok(out)
}

fn read_responder(t: &mut Reader<'_>) -> Result<ResponderId, OcspError> {
    let id = t.read("responderID").map_err(bad)?;
    let mut inner = id.children(t.depth()).map_err(bad)?;
    let out = match id.tag {
        CTX1 => ResponderId::ByName(
            inner
                .read_tag(tag::SEQUENCE, "byName")
                .map_err(bad)?
                .raw
                .to_vec(),
        ),
        CTX2 => ResponderId::ByKey(
            inner
                .read_tag(tag::OCTET_STRING, "byKey")
                .map_err(bad)?
                .value
                .to_vec(),
        ),
        _ => return Err(OcspError::Malformed("responderID")),
    };
    inner.finish("end of responderID").map_err(bad)?;
    Ok(out)
}

fn read_singles(responses: &Tlv<'_>, depth: usize) -> Result<Vec<SingleResponse>, OcspError> {
    let mut rs = responses.children(depth).map_err(bad)?;
    let mut out = Vec::new();
    while let Some(single) = rs.next().map_err(bad)? {
        if out.len() == MAX_SINGLES {
            return Err(OcspError::TooMany(MAX_SINGLES, "answers"));
        }
        let single = single
            .must_be(tag::SEQUENCE, "SingleResponse")
            .map_err(bad)?;
        out.push(read_single(&single, rs.depth())?);
    }
    Ok(out)
}

fn read_single(single: &Tlv<'_>, depth: usize) -> Result<SingleResponse, OcspError> {
    let mut s = single.children(depth).map_err(bad)?;
    let id = s.read_tag(tag::SEQUENCE, "certID").map_err(bad)?;
    let mut idr = id.children(s.depth()).map_err(bad)?;
    let alg = AlgorithmId::read(&mut idr, "hashAlgorithm").map_err(bad)?;
    let name_hash = idr
        .read_tag(tag::OCTET_STRING, "issuerNameHash")
        .map_err(bad)?;
    let key_hash = idr
        .read_tag(tag::OCTET_STRING, "issuerKeyHash")
        .map_err(bad)?;
    let serial = idr.read_tag(tag::INTEGER, "serialNumber").map_err(bad)?;
    idr.finish("end of CertID").map_err(bad)?;
    let st = s.read("certStatus").map_err(bad)?;
    let status = match st.tag {
        GOOD => Status::Good,
        UNKNOWN => Status::Unknown,
        REVOKED => {
            let mut ri = st.children(s.depth()).map_err(bad)?;
            let time = ri
                .read_tag(tag::GENERALIZED_TIME, "revocationTime")
                .and_then(|t| asn1::time_value(&t))
                .map_err(bad)?;
            let reason = match ri.optional(tag::CTX0).map_err(bad)? {
                Some(r) => {
                    let mut rr = r.children(ri.depth()).map_err(bad)?;
                    match rr
                        .read_tag(ENUMERATED, "revocationReason")
                        .map_err(bad)?
                        .value
                    {
                        [code] => Some(*code),
                        _ => return Err(OcspError::Malformed("revocationReason")),
                    }
                }
                None => None,
            };
            Status::Revoked { time, reason }
        }
        _ => return Err(OcspError::Malformed("certStatus")),
    };
    let this_update = s
        .read_tag(tag::GENERALIZED_TIME, "thisUpdate")
        .and_then(|t| asn1::time_value(&t))
        .map_err(bad)?;
    let next_update = match s.optional(tag::CTX0).map_err(bad)? {
        Some(n) => {
            let mut nr = n.children(s.depth()).map_err(bad)?;
            let t = nr
                .read_tag(tag::GENERALIZED_TIME, "nextUpdate")
                .map_err(bad)?;
            Some(asn1::time_value(&t).map_err(bad)?)
        }
        None => None,
    };
    if let Some(ext) = s.optional(tag::CTX1).map_err(bad)? {
        read_extensions(&ext, s.depth())?;
    }
    s.finish("end of SingleResponse").map_err(bad)?;
    Ok(SingleResponse {
        hash: CertIdHash::from_oid(&alg.oid),
        name_hash: name_hash.value.to_vec(),
        key_hash: key_hash.value.to_vec(),
        serial: serial.value.to_vec(),
        status,
        this_update,
        next_update,
    })
}

/// Reads `[n] EXPLICIT Extensions`; returns the nonce when there is one. An unknown critical
/// extension makes the response unusable (RFC 5280 §4.2, as RFC 6960 §4.4 refers to it).
fn read_extensions(ext: &Tlv<'_>, depth: usize) -> Result<Option<Vec<u8>>, OcspError> {
    let mut er = ext.children(depth).map_err(bad)?;
    let list = er.read_tag(tag::SEQUENCE, "Extensions").map_err(bad)?;
    let mut items = list.children(er.depth()).map_err(bad)?;
    let mut nonce = None;
    while let Some(e) = items.next().map_err(bad)? {
        let mut x = e.children(items.depth()).map_err(bad)?;
        let oid = read_oid(&mut x, "extnID").map_err(bad)?;
        let critical = match x.optional(tag::BOOLEAN).map_err(bad)? {
            Some(b) => b.value != [0],
            None => false,
        };
        let value = x.read_tag(tag::OCTET_STRING, "extnValue").map_err(bad)?;
        if oid == NONCE {
            // RFC 8954: the value is an OCTET STRING; older responders put the bytes bare.
            let inner = asn1::parse_single(value.value)
                .ok()
                .filter(|t| t.tag == tag::OCTET_STRING)
                .map(|t| t.value.to_vec());
            nonce = Some(inner.unwrap_or_else(|| value.value.to_vec()));
        } else if critical && !UNDERSTOOD.contains(&oid.as_str()) {
            return Err(OcspError::Malformed("an unknown critical extension"));
        }
    }
    Ok(nonce)
}

/// What a delegated responder's certificate says of its OCSP role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ResponderExt {
    /// extendedKeyUsage includes id-kp-OCSPSigning.
    pub ocsp_signing: bool,
    /// id-pkix-ocsp-nocheck is present.
    pub nocheck: bool,
}

/// Reads extendedKeyUsage and id-pkix-ocsp-nocheck of a certificate (already parsed once,
/// so this does not fail on certificates that reached here).
pub(super) fn responder_extensions(der: &[u8]) -> Option<ResponderExt> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let mut out = ResponderExt {
        ocsp_signing: false,
        nocheck: false,
    };
    for ext in cert.extensions() {
        if let ParsedExtension::ExtendedKeyUsage(eku) = ext.parsed_extension() {
            out.ocsp_signing = eku.ocsp_signing;
        }
        if ext.oid.to_id_string() == NOCHECK {
            out.nocheck = true;
        }
    }
    Some(out)
}
