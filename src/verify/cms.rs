//! CMS SignedData (RFC 5652) from DER, BER or PEM, as slices of the input.
//!
//! Only what verification needs is decoded; everything that is signed stays as the bytes that
//! arrived, so nothing here can change what a signature covers.

use super::algorithms::HashAlg;
use super::asn1::{self, Asn1Error, Reader, Tlv, read_oid_str, tag};
use super::cades::{self, EssVersion, SigningCertificate};
use super::content::ContentDigests;
use base64::Engine;
use std::borrow::Cow;

mod carried;

/// The largest signature file accepted, PEM or binary (the content of a detached signature is
/// not counted; attached content counts).
pub const MAX_INPUT: usize = 256 * 1024 * 1024;
/// More signers than this is not a document, it is an attack on our CPU.
pub const MAX_SIGNERS: usize = 64;
/// Likewise for carried certificates, and for carried CRLs.
pub const MAX_CERTS: usize = 256;
/// Time-stamp tokens read per signer (RFC 3161 allows several; a real signer has one or two).
pub const MAX_TIMESTAMPS: usize = 4;
/// Time-stamp tokens read in one SignedData, all signers together.
pub const MAX_TIMESTAMPS_TOTAL: usize = 16;
/// The most bytes all carried certificates and CRLs together may take. Each is copied and
/// parsed (a CRL into a table of serials) before verification, so this bounds the memory a
/// submission costs beyond its own size; real certificates take a few KiB, and a CMS that
/// carries CRLs carries its issuers' few.
pub const MAX_CARRIED_BYTES: usize = 8 * 1024 * 1024;

const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const ID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const ID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const ID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";

/// Why the input is not a SignedData we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CmsError {
    /// The ASN.1 itself is broken.
    #[error("{0}")]
    Asn1(#[from] Asn1Error),
    /// A PEM wrapper whose body is not base64, or an unknown PEM label.
    #[error("PEM: {0}")]
    Pem(&'static str),
    /// The input is larger than [`MAX_INPUT`].
    #[error("input larger than {MAX_INPUT} bytes")]
    TooLarge,
    /// A ContentInfo that is not SignedData.
    #[error("not a SignedData (content type {0})")]
    NotSignedData(String),
    /// Something structural, named.
    #[error("{0}")]
    Structure(&'static str),
}

/// An AlgorithmIdentifier: the OID in dotted form and the raw parameters, if any.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AlgorithmId {
    /// Dotted OID (borrowed when well known, see [`asn1::oid_str`]).
    pub oid: Cow<'static, str>,
    /// The parameters element as encoded (tag and length included), `None` when absent;
    /// NULL, the parameters of nearly every RSA and digest algorithm, is borrowed.
    pub params: Option<Cow<'static, [u8]>>,
}

/// The NULL element, as algorithm parameters.
const NULL: &[u8] = &[tag::NULL, 0];

impl AlgorithmId {
    /// Reads an AlgorithmIdentifier SEQUENCE.
    pub fn read(r: &mut Reader<'_>, what: &'static str) -> Result<Self, Asn1Error> {
        let seq = r.read_tag(tag::SEQUENCE, what)?;
        let mut inner = seq.children(r.depth())?;
        let oid = read_oid_str(&mut inner, what)?;
        let params = inner.next()?.map(|t| match t.raw {
            NULL => Cow::Borrowed(NULL),
            other => Cow::Owned(other.to_vec()),
        });
        inner.finish(what)?;
        Ok(AlgorithmId { oid, params })
    }

    /// Parameters that are absent or NULL, as most algorithms require.
    pub fn params_absent_or_null(&self) -> bool {
        matches!(self.params.as_deref(), None | Some([tag::NULL, 0]))
    }
}

/// How a SignerInfo names its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignerId<'a> {
    /// The issuer's Name (raw DER) and the serial number's content bytes.
    IssuerAndSerial {
        /// Raw encoding of the issuer Name.
        issuer: &'a [u8],
        /// Content bytes of the serial INTEGER.
        serial: &'a [u8],
    },
    /// The subjectKeyIdentifier.
    SubjectKeyId(&'a [u8]),
}

/// The signed attributes that verification interprets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedAttrs<'a> {
    /// `[0] IMPLICIT SET OF Attribute` exactly as it appears in the input.
    pub raw: &'a [u8],
    /// Dotted OID of the contentType attribute.
    pub content_type: Cow<'static, str>,
    /// The messageDigest attribute's value.
    pub message_digest: &'a [u8],
    /// signingTime, seconds since the epoch, when present.
    pub signing_time: Option<i64>,
    /// The ESS signing-certificate and signing-certificate-v2 attributes' first ESSCertIDs
    /// (RFC 5035), when present, v1 first.
    pub signing_certificates: Vec<SigningCertificate<'a>>,
}

impl SignedAttrs<'_> {
    /// The bytes the signature covers: the SET OF with its universal tag (RFC 5652 §5.4).
    pub fn signed_bytes(&self) -> Cow<'_, [u8]> {
        let mut v = self.raw.to_vec();
        if let Some(t) = v.first_mut() {
            *t = tag::SET;
        }
        Cow::Owned(v)
    }
}

/// One SignerInfo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignerInfo<'a> {
    /// Which certificate signed.
    pub sid: SignerId<'a>,
    /// The digest algorithm for the content.
    pub digest_algorithm: AlgorithmId,
    /// The signed attributes, if present.
    pub signed_attrs: Option<SignedAttrs<'a>>,
    /// The signature algorithm.
    pub signature_algorithm: AlgorithmId,
    /// The signature value.
    pub signature: Cow<'a, [u8]>,
    /// The unsigned attribute id-aa-signatureTimeStampToken's values (RFC 3161 Appendix A),
    /// each a ContentInfo as it lies in the input, at most [`MAX_TIMESTAMPS`].
    pub timestamp_tokens: Vec<&'a [u8]>,
}

/// The encapsulated content's OCTET STRING, as it lies in the input: one primitive string, or
/// the BER constructed form's segments, which are read where they lie rather than joined, so
/// that content as large as the input costs no copy of itself.
#[derive(Debug, Clone)]
pub struct EContent<'a> {
    tlv: Tlv<'a>,
    depth: usize,
    len: usize,
}

impl PartialEq for EContent<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.tlv.raw == other.tlv.raw
    }
}

impl Eq for EContent<'_> {}

impl<'a> EContent<'a> {
    /// The content's length in bytes (its segments' together).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the content is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the content is one primitive OCTET STRING (so [`EContent::join`] copies nothing).
    pub fn is_primitive(&self) -> bool {
        self.tlv.tag == tag::OCTET_STRING
    }

    /// The content in one slice: borrowed when primitive, the segments joined otherwise.
    pub fn join(&self) -> Result<Cow<'a, [u8]>, Asn1Error> {
        self.tlv.octets(self.depth)
    }

    /// The content's digests under `algs` and SHA-256, in one pass over its segments.
    pub fn digests(&self, algs: &[HashAlg]) -> Result<ContentDigests, Asn1Error> {
        let mut algs = algs.to_vec();
        if !algs.contains(&HashAlg::Sha256) {
            algs.push(HashAlg::Sha256);
        }
        let mut hashers: Vec<_> = algs.iter().map(|a| (*a, a.hasher())).collect();
        self.tlv.for_each_segment(self.depth, &mut |piece| {
            for (_, h) in hashers.iter_mut() {
                h.update(piece);
            }
        })?;
        Ok(ContentDigests {
            len: self.len as u64,
            digests: hashers
                .into_iter()
                .map(|(a, h)| (a, h.finalize().to_vec()))
                .collect(),
        })
    }
}

/// A parsed SignedData.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedData<'a> {
    /// Dotted OID of the encapsulated content type.
    pub content_type: Cow<'static, str>,
    /// The encapsulated content in one slice, `None` for a detached signature — and always
    /// `None` from [`parse_lazy`], which leaves it in [`SignedData::econtent`] unjoined.
    pub content: Option<Cow<'a, [u8]>>,
    /// The encapsulated content's OCTET STRING as it lies in the input, `None` for a
    /// detached signature.
    pub econtent: Option<EContent<'a>>,
    /// Certificates carried in the CMS, raw DER.
    pub certificates: Vec<&'a [u8]>,
    /// CRLs carried in the CMS, raw DER.
    pub crls: Vec<&'a [u8]>,
    /// OCSPResponses carried in the CMS (RFC 5652 §10.2.1 `other` RevocationInfoChoice with
    /// id-ri-ocsp-response, RFC 5940 §4.1), raw DER, not yet verified.
    pub ocsp: Vec<&'a [u8]>,
    /// The signers, in order.
    pub signers: Vec<SignerInfo<'a>>,
}

/// How many base64 characters PEM decoding gathers before decoding them.
const PEM_PIECE: usize = 64 * 1024;

/// The largest PEM input. Decoding costs three quarters of its size on top of the input, so
/// this keeps any input within its own size plus 32 MiB; large documents come as DER or BER,
/// which are read in place.
pub const MAX_PEM: usize = 32 * 1024 * 1024;

/// Turns PEM (`CMS`, `PKCS7`) into binary; binary input passes through borrowed.
pub fn decode_input(input: &[u8]) -> Result<Cow<'_, [u8]>, CmsError> {
    if input.len() > MAX_INPUT {
        return Err(CmsError::TooLarge);
    }
    let trimmed = input.trim_ascii_start();
    if !trimmed.starts_with(b"-----BEGIN ") {
        return Ok(Cow::Borrowed(input));
    }
    if trimmed.len() > MAX_PEM {
        return Err(CmsError::Pem(
            "PEM over 32 MiB; send DER or BER, which is read where it lies",
        ));
    }
    let text = std::str::from_utf8(trimmed).map_err(|_| CmsError::Pem("not text"))?;
    let mut lines = text.lines();
    let label = lines
        .next()
        .and_then(|l| l.trim().strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .ok_or(CmsError::Pem("bad BEGIN line"))?;
    if !matches!(label, "CMS" | "PKCS7" | "PKCS #7 SIGNED DATA") {
        return Err(CmsError::Pem("label is not CMS or PKCS7"));
    }
    let end = format!("-----END {label}-----");
    // Decoded in pieces as the lines are read, never gathered into a second copy of the text:
    // PEM costs its decoded size on top of the input, no more.
    let engine = &base64::engine::general_purpose::STANDARD;
    let not_base64 = CmsError::Pem("body is not base64");
    let mut out = Vec::with_capacity(trimmed.len() / 4 * 3);
    let mut pending: Vec<u8> = Vec::with_capacity(PEM_PIECE + 128);
    let mut ended = false;
    for line in lines {
        let line = line.trim();
        if line == end {
            ended = true;
            break;
        }
        if line.contains(':') {
            continue; // RFC 1421 headers some tools still write
        }
        pending.extend_from_slice(line.as_bytes());
        if pending.len() >= PEM_PIECE {
            // Whole quanta only, and padding only in the last piece, as one decode would.
            let whole = pending.len() / 4 * 4;
            let piece = pending.get(..whole).unwrap_or_default();
            if piece.contains(&b'=') {
                return Err(not_base64);
            }
            engine
                .decode_vec(piece, &mut out)
                .map_err(|_| not_base64.clone())?;
            pending.drain(..whole);
        }
    }
    if !ended {
        return Err(CmsError::Pem("no END line"));
    }
    engine
        .decode_vec(&pending, &mut out)
        .map_err(|_| not_base64)?;
    Ok(Cow::Owned(out))
}

/// Parses a ContentInfo holding SignedData, with the encapsulated content joined into
/// [`SignedData::content`].
pub fn parse(der: &[u8]) -> Result<SignedData<'_>, CmsError> {
    let mut sd = parse_lazy(der)?;
    sd.content = sd.econtent.as_ref().map(EContent::join).transpose()?;
    Ok(sd)
}

/// Parses a ContentInfo holding SignedData, leaving the encapsulated content where it lies
/// ([`SignedData::econtent`]; `content` stays `None`). Verification takes this form, so that
/// BER content is hashed segment by segment instead of copied whole.
pub fn parse_lazy(der: &[u8]) -> Result<SignedData<'_>, CmsError> {
    let (sd, depth) = signed_data_of(der)?;
    let mut r = sd.children(depth)?;
    r.read_tag(tag::INTEGER, "SignedData version")?;
    r.read_tag(tag::SET, "digestAlgorithms")?;
    let (content_type, econtent) = encap_content(&mut r)?;

    // Counted and sized while collecting: a set of millions of tiny elements must be refused
    // after the first few hundred, not after a slice of each has been kept.
    let mut carried = 0;
    let mut certificates = Vec::new();
    if let Some(set) = r.optional(tag::CTX0)? {
        carried::collect(&set, r.depth(), &mut certificates, &mut carried)?;
    }
    let mut crls = Vec::new();
    let mut ocsp = Vec::new();
    if let Some(set) = r.optional(tag::CTX1)? {
        carried::collect(&set, r.depth(), &mut crls, &mut carried)?;
        carried::collect_ocsp(&set, r.depth(), &mut ocsp, &mut carried)?;
    }

    let set = r.read_tag(tag::SET, "signerInfos")?;
    r.finish("end of SignedData")?;
    let signers = signer_infos(&set, r.depth())?;
    Ok(SignedData {
        content_type,
        content: None,
        econtent,
        certificates,
        crls,
        ocsp,
        signers,
    })
}

/// The SignedData inside a ContentInfo (RFC 5652 §3: `contentType` id-signedData and
/// `[0] EXPLICIT content`), with the depth its children are read at.
fn signed_data_of(der: &[u8]) -> Result<(Tlv<'_>, usize), CmsError> {
    let ci = asn1::parse_single(der)?.must_be(tag::SEQUENCE, "ContentInfo")?;
    let mut r = ci.children(0)?;
    let ct = read_oid_str(&mut r, "contentType")?;
    if ct != ID_SIGNED_DATA {
        return Err(CmsError::NotSignedData(ct.into_owned()));
    }
    let explicit = r.read_tag(tag::CTX0, "[0] content")?;
    r.finish("end of ContentInfo")?;
    let mut e = explicit.children(r.depth())?;
    let sd = e.read_tag(tag::SEQUENCE, "SignedData")?;
    e.finish("end of [0] content")?;
    Ok((sd, e.depth()))
}

/// The encapContentInfo (RFC 5652 §5.2): its eContentType and, unless the signature is
/// detached, where its eContent lies.
fn encap_content<'a>(
    r: &mut Reader<'a>,
) -> Result<(Cow<'static, str>, Option<EContent<'a>>), CmsError> {
    let encap = r.read_tag(tag::SEQUENCE, "encapContentInfo")?;
    let mut er = encap.children(r.depth())?;
    let content_type = read_oid_str(&mut er, "eContentType")?;
    let econtent = match er.optional(tag::CTX0)? {
        Some(ex) => {
            let mut x = ex.children(er.depth())?;
            let os = x.read("eContent OCTET STRING")?;
            x.finish("end of eContent")?;
            // Walked once here, so that a lazy parse refuses what a joining one refuses.
            let mut len = 0;
            os.for_each_segment(x.depth(), &mut |s| len += s.len())?;
            Some(EContent {
                tlv: os,
                depth: x.depth(),
                len,
            })
        }
        None => None,
    };
    er.finish("end of encapContentInfo")?;
    Ok((content_type, econtent))
}

/// The signerInfos, bounded in number and in the time-stamp tokens they carry together.
fn signer_infos<'a>(set: &Tlv<'a>, depth: usize) -> Result<Vec<SignerInfo<'a>>, CmsError> {
    let mut sr = set.children(depth)?;
    // Room for one (most documents have one signer): a SignerInfo is large, and a Vec's first
    // growth to four of them is an allocation big enough to make malloc consolidate its free
    // lists on every call.
    let mut signers = Vec::with_capacity(1);
    while let Some(si) = sr.next()? {
        if signers.len() == MAX_SIGNERS {
            return Err(CmsError::Structure("too many signers"));
        }
        signers.push(parse_signer(
            si.must_be(tag::SEQUENCE, "SignerInfo")?,
            sr.depth(),
        )?);
    }
    // Each token is a CMS verification of its own (a path, CRLs): a document's are bounded
    // together, not only per signer.
    if signers
        .iter()
        .map(|s| s.timestamp_tokens.len())
        .sum::<usize>()
        > MAX_TIMESTAMPS_TOTAL
    {
        return Err(CmsError::Structure("too many time-stamp tokens"));
    }
    Ok(signers)
}

fn parse_signer(si: Tlv<'_>, depth: usize) -> Result<SignerInfo<'_>, CmsError> {
    let mut r = si.children(depth)?;
    r.read_tag(tag::INTEGER, "SignerInfo version")?;
    let sid = match r.read("sid")? {
        t if t.tag == tag::SEQUENCE => {
            let mut ir = t.children(r.depth())?;
            let issuer = ir.read_tag(tag::SEQUENCE, "issuer Name")?.raw;
            let serial = ir.read_tag(tag::INTEGER, "serialNumber")?.value;
            ir.finish("end of IssuerAndSerialNumber")?;
            SignerId::IssuerAndSerial { issuer, serial }
        }
        t if t.tag == tag::CTX0_PRIM => SignerId::SubjectKeyId(t.value),
        _ => {
            return Err(CmsError::Structure(
                "sid is neither form of SignerIdentifier",
            ));
        }
    };
    let digest_algorithm = AlgorithmId::read(&mut r, "digestAlgorithm")?;
    let signed_attrs = match r.optional(tag::CTX0)? {
        Some(t) => Some(parse_signed_attrs(t, r.depth())?),
        None => None,
    };
    let signature_algorithm = AlgorithmId::read(&mut r, "signatureAlgorithm")?;
    let sig = r.read("signature")?;
    let signature = sig.octets(r.depth())?;
    let timestamp_tokens = match r.optional(tag::CTX1)? {
        Some(t) => timestamp_tokens(&t, r.depth())?,
        None => Vec::new(),
    };
    r.finish("end of SignerInfo")?;
    Ok(SignerInfo {
        sid,
        digest_algorithm,
        signed_attrs,
        signature_algorithm,
        signature,
        timestamp_tokens,
    })
}

/// The values of every id-aa-signatureTimeStampToken among a SignerInfo's unsigned
/// attributes (RFC 3161 Appendix A: one or more tokens, in one attribute or several), refused
/// past [`MAX_TIMESTAMPS`]: each costs a whole CMS verification. Other unsigned attributes
/// are not read.
fn timestamp_tokens<'a>(t: &Tlv<'a>, depth: usize) -> Result<Vec<&'a [u8]>, CmsError> {
    let mut out = Vec::new();
    let mut r = t.children(depth)?;
    while let Some(attr) = r.next()? {
        let mut ar = attr
            .must_be(tag::SEQUENCE, "unsigned Attribute")?
            .children(r.depth())?;
        if read_oid_str(&mut ar, "attrType")? != super::timestamp::ID_AA_TIMESTAMP_TOKEN {
            continue;
        }
        let values = ar.read_tag(tag::SET, "attrValues")?;
        ar.finish("end of Attribute")?;
        let mut vr = values.children(ar.depth())?;
        while let Some(v) = vr.next()? {
            if out.len() == MAX_TIMESTAMPS {
                return Err(CmsError::Structure("too many time-stamp tokens"));
            }
            out.push(v.must_be(tag::SEQUENCE, "time-stamp token")?.raw);
        }
    }
    Ok(out)
}

fn parse_signed_attrs(t: Tlv<'_>, depth: usize) -> Result<SignedAttrs<'_>, CmsError> {
    let mut content_type = None;
    let mut message_digest = None;
    let mut signing_time = None;
    let (mut ess_v1, mut ess_v2) = (None, None);
    let mut r = t.children(depth)?;
    while let Some(attr) = r.next()? {
        let mut ar = attr
            .must_be(tag::SEQUENCE, "Attribute")?
            .children(r.depth())?;
        let oid = read_oid_str(&mut ar, "attrType")?;
        let values = ar.read_tag(tag::SET, "attrValues")?;
        ar.finish("end of Attribute")?;
        let mut vr = values.children(ar.depth())?;
        let one = |vr: &mut Reader<'_>| -> Result<(), CmsError> {
            vr.finish("a single attribute value")
                .map_err(|_| CmsError::Structure("attribute must have exactly one value"))
        };
        // RFC 5652 §11: each of these appears once, with one value.
        let dup = CmsError::Structure("duplicate signed attribute");
        match &*oid {
            ID_CONTENT_TYPE => {
                let v = read_oid_str(&mut vr, "contentType value")?;
                one(&mut vr)?;
                if content_type.replace(v).is_some() {
                    return Err(dup);
                }
            }
            ID_MESSAGE_DIGEST => {
                let v = vr.read_tag(tag::OCTET_STRING, "messageDigest value")?.value;
                one(&mut vr)?;
                if message_digest.replace(v).is_some() {
                    return Err(dup);
                }
            }
            ID_SIGNING_TIME => {
                let v = asn1::time_value(&vr.read("signingTime value")?)?;
                one(&mut vr)?;
                if signing_time.replace(v).is_some() {
                    return Err(dup);
                }
            }
            cades::ID_SIGNING_CERTIFICATE | cades::ID_SIGNING_CERTIFICATE_V2 => {
                let (slot, version) = if oid == cades::ID_SIGNING_CERTIFICATE {
                    (&mut ess_v1, EssVersion::V1)
                } else {
                    (&mut ess_v2, EssVersion::V2)
                };
                let v = cades::parse(&vr.read("signing-certificate value")?, version, vr.depth())?;
                one(&mut vr)?;
                if slot.replace(v).is_some() {
                    return Err(dup);
                }
            }
            _ => {}
        }
    }
    Ok(SignedAttrs {
        raw: t.raw,
        content_type: content_type
            .ok_or(CmsError::Structure("signed attributes lack contentType"))?,
        message_digest: message_digest
            .ok_or(CmsError::Structure("signed attributes lack messageDigest"))?,
        signing_time,
        signing_certificates: ess_v1.into_iter().chain(ess_v2).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_and_empty_are_errors_not_panics() {
        assert!(parse(&[]).is_err());
        assert!(parse(b"hello world").is_err());
        assert!(decode_input(b"-----BEGIN CMS-----\n!!!\n-----END CMS-----\n").is_err());
        assert!(decode_input(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n").is_err());
    }

    #[test]
    fn pem_is_decoded_in_pieces_as_one_decode_would() {
        let der: Vec<u8> = (0..300_001u32).map(|i| (i * 7 + i / 251) as u8).collect();
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        let mut pem = String::from("-----BEGIN CMS-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END CMS-----\n");
        assert_eq!(decode_input(pem.as_bytes()).unwrap().as_ref(), &der[..]);
        // Padding in the middle is refused, as a single decode of the whole body refuses it.
        let glued = pem.replacen("\n", "\nAA==\n", 2);
        assert_eq!(
            decode_input(glued.as_bytes()).unwrap_err(),
            CmsError::Pem("body is not base64")
        );
    }
}
