//! RFC 3161 time-stamp tokens: a CMS SignedData over a TSTInfo, by which a time-stamping
//! authority (TSA) states that a hash existed at `genTime`.
//!
//! A signer's token (the unsigned attribute id-aa-signatureTimeStampToken) stamps the hash of
//! that signer's signature value, so a valid token from a trusted TSA proves the signature
//! existed at genTime. The token is itself verified as a CMS by this verifier: one signer, a
//! path to the trust store, id-kp-timeStamping, and the imprint compared here.

use super::algorithms::HashAlg;
use super::asn1::{self, Asn1Error, Reader, read_oid, tag};
use super::certificate::{Certificate, hex};
use super::cms::{self, AlgorithmId};
use super::{Status, Verifier};
use crate::reasons::Reason;
use x509_parser::extensions::ParsedExtension;

/// id-ct-TSTInfo (RFC 3161 §2.4.2).
pub const ID_CT_TSTINFO: &str = "1.2.840.113549.1.9.16.1.4";
/// id-aa-signatureTimeStampToken (RFC 3161 Appendix A).
pub const ID_AA_TIMESTAMP_TOKEN: &str = "1.2.840.113549.1.9.16.2.14";
/// The largest token read: a TSA's certificate chain and a few hundred bytes of TSTInfo.
pub const MAX_TOKEN: usize = 256 * 1024;

/// Why a token does not prove a time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeStampError {
    /// Larger than [`MAX_TOKEN`].
    #[error("the time-stamp token is larger than {MAX_TOKEN} bytes")]
    TooLarge,
    /// Not a SignedData over a well-formed TSTInfo.
    #[error("the time-stamp token is not well-formed: {0}")]
    Malformed(&'static str),
    /// More or fewer than one signer.
    #[error("a time-stamp token must have exactly one signer")]
    Signers,
    /// The token's CMS signature or its TSA's path does not verify; the codes say why.
    #[error("the time-stamp token does not verify: {0}")]
    Invalid(String),
    /// The TSA's certificate does not chain to the trust store (or is neither carried nor
    /// trusted): the token proves nothing, but nothing in it was found false.
    #[error("the time-stamp token's authority is not trusted: {0}")]
    Untrusted(String),
    /// The TSA's path is sound but its revocation status cannot be established now.
    #[error("the time-stamp authority's revocation status is unavailable: {0}")]
    Unavailable(String),
    /// The TSA's certificate lacks id-kp-timeStamping (RFC 3161 §2.3).
    #[error("the time-stamp token's signer is not a time-stamping authority")]
    NotTsa,
    /// The imprint is not the hash of the signature value the token is meant for.
    #[error("the time-stamp token stamps other data than this signature")]
    Imprint,
    /// The imprint's hash algorithm is outside the accepted set.
    #[error("the time-stamp token's hash algorithm is not accepted")]
    Algorithm,
}

/// What a TSTInfo states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TstInfo {
    /// The TSA's policy under which the token was issued.
    pub policy: String,
    /// The imprint's hash algorithm, as named.
    pub hash: AlgorithmId,
    /// The hashed message.
    pub imprint: Vec<u8>,
    /// serialNumber, INTEGER content bytes.
    pub serial: Vec<u8>,
    /// genTime, whole seconds since the epoch (a fraction is cut: the token proves existence
    /// *before* the fraction's end, so the second it began in is the safe reading).
    pub gen_time: i64,
    /// accuracy, in milliseconds, when stated.
    pub accuracy_ms: Option<u64>,
}

/// A verified token: what the report shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeStamp {
    /// genTime.
    pub gen_time: i64,
    /// The TSA's policy OID.
    pub policy: String,
    /// The token's serial number in hex.
    pub serial: String,
    /// The TSA certificate's subject.
    pub tsa: String,
    /// accuracy in milliseconds, when stated.
    pub accuracy_ms: Option<u64>,
}

fn bad(e: Asn1Error) -> TimeStampError {
    TimeStampError::Malformed(match e {
        Asn1Error::Unexpected(w) | Asn1Error::BadValue(w) => w,
        _ => "its encoding",
    })
}

impl TstInfo {
    /// Parses a DER TSTInfo.
    pub fn from_der(der: &[u8]) -> Result<TstInfo, TimeStampError> {
        let outer = asn1::parse_single(der)
            .and_then(|t| t.must_be(tag::SEQUENCE, "TSTInfo"))
            .map_err(bad)?;
        let mut r = outer.children(0).map_err(bad)?;
        if r.read_tag(tag::INTEGER, "version").map_err(bad)?.value != [1] {
            return Err(TimeStampError::Malformed("version"));
        }
        let policy = read_oid(&mut r, "policy").map_err(bad)?;
        let mi = r.read_tag(tag::SEQUENCE, "messageImprint").map_err(bad)?;
        let mut mr = mi.children(r.depth()).map_err(bad)?;
        let hash = AlgorithmId::read(&mut mr, "hashAlgorithm").map_err(bad)?;
        let imprint = mr
            .read_tag(tag::OCTET_STRING, "hashedMessage")
            .map_err(bad)?;
        mr.finish("end of messageImprint").map_err(bad)?;
        let serial = r.read_tag(tag::INTEGER, "serialNumber").map_err(bad)?;
        let gen_tlv = r.read_tag(tag::GENERALIZED_TIME, "genTime").map_err(bad)?;
        let gen_time = asn1::generalized_time_with_fraction(gen_tlv.value).map_err(bad)?;
        let accuracy_ms = match r.optional(tag::SEQUENCE).map_err(bad)? {
            Some(a) => Some(accuracy(&mut a.children(r.depth()).map_err(bad)?)?),
            None => None,
        };
        // ordering, nonce, tsa and extensions say nothing a verifier needs; they are left.
        Ok(TstInfo {
            policy,
            hash,
            imprint: imprint.value.to_vec(),
            serial: serial.value.to_vec(),
            gen_time,
            accuracy_ms,
        })
    }
}

/// Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] OPTIONAL, micros [1] OPTIONAL }
fn accuracy(r: &mut Reader<'_>) -> Result<u64, TimeStampError> {
    let small = |v: &[u8]| -> Result<u64, TimeStampError> {
        if v.len() > 4 || v.first().is_none_or(|b| b & 0x80 != 0) {
            return Err(TimeStampError::Malformed("accuracy"));
        }
        Ok(v.iter().fold(0u64, |a, b| a << 8 | u64::from(*b)))
    };
    let mut ms = 0u64;
    if let Some(s) = r.optional(tag::INTEGER).map_err(bad)? {
        ms += small(s.value)? * 1000;
    }
    if let Some(m) = r.optional(tag::CTX0_PRIM).map_err(bad)? {
        ms += small(m.value)?;
    }
    if let Some(u) = r.optional(0x81).map_err(bad)? {
        ms += small(u.value)?.div_ceil(1000);
    }
    r.finish("end of accuracy").map_err(bad)?;
    Ok(ms)
}

impl Verifier {
    /// Verifies `token` as the time-stamp of `signature` (a SignerInfo's signature value) at
    /// validation time `at`: the token's CMS and its TSA's path as this verifier judges any
    /// signature, exactly one signer, id-kp-timeStamping, and the imprint.
    pub fn verify_timestamp(
        &self,
        token: &[u8],
        signature: &[u8],
        at: i64,
    ) -> Result<TimeStamp, TimeStampError> {
        super::names::reset_budget();
        let verified = self.check_token(token, signature, at)?;
        match verified.pending {
            Some(why) => Err(TimeStampError::Unavailable(why)),
            None => Ok(verified.stamp),
        }
    }

    /// [`Verifier::verify_timestamp`] within a document's verification (its work budget is
    /// not renewed), with what the token's own verification warned of. A token whose only
    /// fault is its TSA's unknown revocation status comes back with [`Verified::pending`]
    /// set, so that the signer can be judged provisionally (see [`apply`]).
    pub(crate) fn check_token(
        &self,
        token: &[u8],
        signature: &[u8],
        at: i64,
    ) -> Result<Verified, TimeStampError> {
        if token.len() > MAX_TOKEN {
            return Err(TimeStampError::TooLarge);
        }
        let mut sd = cms::parse_lazy(token).map_err(|_| TimeStampError::Malformed("SignedData"))?;
        if sd.content_type != ID_CT_TSTINFO {
            return Err(TimeStampError::Malformed("eContentType"));
        }
        if sd.signers.len() != 1 {
            return Err(TimeStampError::Signers);
        }
        // A token's own signer may carry tokens too; they prove nothing RFC 3161 asks for,
        // and following them would let a token nest verifications without end.
        for si in &mut sd.signers {
            si.timestamp_tokens.clear();
        }
        let content = sd
            .econtent
            .as_ref()
            .ok_or(TimeStampError::Malformed("TSTInfo"))?
            .join()
            .map_err(bad)?;
        let info = TstInfo::from_der(&content)?;
        let hash = HashAlg::from_oid(&info.hash.oid).map_err(|_| TimeStampError::Algorithm)?;
        if hash.digest(signature) != info.imprint {
            return Err(TimeStampError::Imprint);
        }
        let report = self.verify_parsed(&sd, None, at, &super::policy::PathSettings::DEFAULT);
        let pending = match report.status {
            Status::Accepted => None,
            Status::Rejected => match refusal(&report) {
                TimeStampError::Unavailable(why) => Some(why),
                e => return Err(e),
            },
        };
        let fingerprint = report
            .signers
            .first()
            .and_then(|s| s.certificate_sha256.clone())
            .unwrap_or_default();
        let chain = report
            .signers
            .first()
            .map(|s| s.chain.clone())
            .unwrap_or_default();
        let tsa = sd
            .certificates
            .iter()
            .filter_map(|d| Certificate::from_der(d).ok())
            .chain(self.trust.anchors().iter().map(|a| (**a).clone()))
            .find(|c| hex(&c.fingerprint) == fingerprint)
            .ok_or(TimeStampError::NotTsa)?;
        if !time_stamping(&tsa.der) {
            return Err(TimeStampError::NotTsa);
        }
        Ok(Verified {
            stamp: TimeStamp {
                gen_time: info.gen_time,
                policy: info.policy,
                serial: hex(&info.serial),
                tsa: tsa.subject,
                accuracy_ms: info.accuracy_ms,
            },
            warnings: report.warnings,
            pending,
            chain,
        })
    }
}

/// A token that verified, and what its verification warned of (a TSA whose revocation
/// status went unchecked under `prefer`).
#[derive(Debug, Clone)]
pub(crate) struct Verified {
    /// What the token proves.
    pub stamp: TimeStamp,
    /// The token verification's warnings.
    pub warnings: Vec<super::Warning>,
    /// Set when all that failed is the TSA's revocation status, unknown under `require`:
    /// why. The token then proves nothing yet.
    pub pending: Option<String>,
    /// The TSA's path, leaf first, anchor last (filed as evidence with the document).
    pub chain: Vec<std::sync::Arc<Certificate>>,
}

/// Why a token's CMS was refused, by what its reasons say: a TSA outside the trust store (or
/// one whose certificate the token leaves out and the store lacks) is no proof but no
/// tampering either; missing revocation data may come later; anything else is a token that
/// does not verify.
fn refusal(report: &super::Report) -> TimeStampError {
    let codes: Vec<Reason> = report.codes();
    let text = codes
        .iter()
        .map(|r| r.code())
        .collect::<Vec<_>>()
        .join(", ");
    let all = |ok: &[Reason]| !codes.is_empty() && codes.iter().all(|c| ok.contains(c));
    if all(&[Reason::CertificateUntrusted, Reason::CertificateMissing]) {
        TimeStampError::Untrusted(text)
    } else if all(&[Reason::RevocationUnavailable]) {
        TimeStampError::Unavailable(
            report
                .missing_revocation()
                .first()
                .map_or(text, |d| (*d).to_owned()),
        )
    } else {
        TimeStampError::Invalid(text)
    }
}

/// Whether the certificate's extendedKeyUsage is id-kp-timeStamping (RFC 3161 §2.3: it must
/// be the only purpose, in a critical extension).
fn time_stamping(der: &[u8]) -> bool {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return false;
    };
    cert.extensions().iter().any(|ext| {
        matches!(ext.parsed_extension(), ParsedExtension::ExtendedKeyUsage(eku)
            if ext.critical && eku.time_stamping && !eku.any && !eku.server_auth
                && !eku.client_auth && !eku.code_signing && !eku.email_protection
                && !eku.ocsp_signing && eku.other.is_empty())
    })
}

pub mod apply;

#[cfg(test)]
mod tests;
