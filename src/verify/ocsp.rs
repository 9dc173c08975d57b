//! OCSP responses (RFC 6960): parsed once, then asked, for one certificate and its issuer,
//! what the responder said and whether it had the right to say it.
//!
//! Pure like the rest of `verify`: the response is bytes handed in by whoever fetched it, the
//! validation time and the freshness window are arguments. A response is believed only when it
//! is signed by the certificate's issuer itself or by a responder that issuer delegated
//! (id-kp-OCSPSigning, §4.2.2.2), names the certificate by a CertID computed here, and is
//! current at the validation time within the allowed clock skew (§4.2.2.1).

mod parse;
pub mod status;

use super::cache::Cache;
use super::certificate::{Certificate, Signed};
use super::names;
pub use parse::{CertIdHash, ResponderId, Response, SingleResponse, Status};
pub use status::Unresolved;
use std::sync::Arc;

/// The largest response read. Real ones are a few kilobytes (a delegated responder's
/// certificate and one answer); 1 MiB leaves room for many answers and still bounds memory.
pub const MAX_RESPONSE: usize = 1 << 20;
/// Most single answers read from one response.
pub const MAX_SINGLES: usize = 64;
/// Most certificates read from one response (the responder's and perhaps its chain).
pub const MAX_CERTS: usize = 8;

/// Why a response cannot be used for a certificate. Each is a reason to look elsewhere (a
/// CRL, a later retry), never a verdict on the certificate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OcspError {
    /// Larger than [`MAX_RESPONSE`].
    #[error("the OCSP response is larger than {MAX_RESPONSE} bytes")]
    TooLarge,
    /// Not a well-formed OCSPResponse / BasicOCSPResponse.
    #[error("the OCSP response is not well-formed: {0}")]
    Malformed(&'static str),
    /// The responder answered with an error status instead of a response.
    #[error("the OCSP responder answered {0}")]
    Unsuccessful(&'static str),
    /// A response type other than id-pkix-ocsp-basic.
    #[error("the OCSP response type is not id-pkix-ocsp-basic")]
    NotBasic,
    /// More answers or certificates than the limits allow.
    #[error("the OCSP response carries more than {0} {1}")]
    TooMany(usize, &'static str),
    /// No answer in the response is for this certificate.
    #[error("the OCSP response has no answer for this certificate")]
    NotCovered,
    /// Neither the issuer nor a certificate it delegated to matches the responder ID.
    #[error("the OCSP response is signed by a responder the issuer did not authorise")]
    Unauthorised,
    /// The signature does not verify with the responder's key.
    #[error("the OCSP response's signature does not verify")]
    BadSignature,
    /// The signature algorithm is outside the accepted set.
    #[error("the OCSP response is signed with an unsupported algorithm")]
    Algorithm,
    /// The delegated responder's certificate was not valid at the validation time.
    #[error("the OCSP responder's certificate is not valid at the validation time")]
    ResponderExpired,
    /// The delegated responder's certificate (without id-pkix-ocsp-nocheck) is revoked.
    #[error("the OCSP responder's certificate was revoked at {0}")]
    ResponderRevoked(String),
    /// The delegated responder's certificate (without id-pkix-ocsp-nocheck) has no
    /// revocation status of its own (§4.2.2.2.1).
    #[error("the OCSP responder's certificate has no revocation status: {0}")]
    ResponderUnchecked(String),
    /// thisUpdate lies after the validation time (beyond the skew).
    #[error("the OCSP answer was made after the validation time")]
    NotYetValid,
    /// nextUpdate (or thisUpdate + the maximum age, when there is none) lies before the
    /// validation time (beyond the skew).
    #[error("the OCSP answer is stale at the validation time")]
    Stale,
    /// The response answers twice for the certificate, differently.
    #[error("the OCSP response gives conflicting answers for this certificate")]
    Conflicting,
    /// The response's nonce differs from the request's, or is missing where one is required.
    #[error("the OCSP response's nonce does not match the request")]
    Nonce,
}

/// How fresh an answer must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Clock difference tolerated between the responder and us, in seconds.
    pub skew: i64,
    /// How long an answer without nextUpdate stays usable after its thisUpdate, in seconds.
    pub max_age: i64,
}

impl Default for Window {
    /// Five minutes of skew; an answer without nextUpdate is good for one hour.
    fn default() -> Self {
        Window {
            skew: 300,
            max_age: 3600,
        }
    }
}

/// Who signed an accepted answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signer {
    /// The certificate's issuer itself.
    Issuer,
    /// A delegated responder, with its certificate. `nocheck` is id-pkix-ocsp-nocheck: when
    /// false, the responder's own certificate needs a revocation check of its own.
    Delegated {
        /// The responder's certificate.
        certificate: Arc<Certificate>,
        /// Whether id-pkix-ocsp-nocheck exempts it from revocation checking.
        nocheck: bool,
    },
}

/// A verified answer for one certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// good / revoked / unknown.
    pub status: Status,
    /// The answer's thisUpdate.
    pub this_update: i64,
    /// The answer's nextUpdate, when given.
    pub next_update: Option<i64>,
    /// The response's producedAt.
    pub produced_at: i64,
    /// Who signed it.
    pub signer: Signer,
}

/// What a request asked beyond the certificate: the nonce sent, if any, and whether the
/// response must echo it (some responders ignore nonces; RFC 8954 lets them).
#[derive(Debug, Clone, Copy, Default)]
pub struct Expect<'a> {
    /// The nonce sent in the request.
    pub nonce: Option<&'a [u8]>,
    /// Whether a response without that nonce is refused.
    pub nonce_required: bool,
}

impl Response {
    /// The answer for the certificate with serial `serial` issued by `issuer`, verified: the
    /// signer authorised and its signature good, the CertID computed from `issuer`, the answer
    /// current at `at` within `window`, and the nonce as `expect` says.
    pub fn answer_for(
        &self,
        issuer: &Certificate,
        serial: &[u8],
        at: i64,
        window: Window,
        expect: Expect<'_>,
        cache: &Cache,
    ) -> Result<Answer, OcspError> {
        let mut matching = self
            .singles
            .iter()
            .filter(|s| s.cert_id_matches(issuer, serial));
        let single = matching.next().ok_or(OcspError::NotCovered)?;
        // Two answers for one certificate that disagree say nothing: neither is believed.
        if matching.any(|other| other.status != single.status) {
            return Err(OcspError::Conflicting);
        }
        match (expect.nonce, &self.nonce) {
            (Some(sent), Some(got)) if sent != got.as_slice() => return Err(OcspError::Nonce),
            (Some(_), None) if expect.nonce_required => return Err(OcspError::Nonce),
            _ => {}
        }
        let signer = self.signer(issuer, at, cache)?;
        if single.this_update > at.saturating_add(window.skew) {
            return Err(OcspError::NotYetValid);
        }
        let until = single
            .next_update
            .unwrap_or(single.this_update.saturating_add(window.max_age));
        if until.saturating_add(window.skew) < at {
            return Err(OcspError::Stale);
        }
        Ok(Answer {
            status: single.status,
            this_update: single.this_update,
            next_update: single.next_update,
            produced_at: self.produced_at,
            signer,
        })
    }

    /// Who signed the response, if `issuer` or a responder it delegated to did; checks the
    /// signature.
    fn signer(&self, issuer: &Certificate, at: i64, cache: &Cache) -> Result<Signer, OcspError> {
        if self.responder.names(issuer) {
            self.signed_by(issuer, cache)?;
            return Ok(Signer::Issuer);
        }
        let mut last = OcspError::Unauthorised;
        let named = self
            .certs
            .iter()
            .zip(&self.roles)
            .filter(|(c, _)| self.responder.names(c));
        for (cert, role) in named {
            match self.delegated(cert, *role, issuer, at, cache) {
                Ok(nocheck) => {
                    return Ok(Signer::Delegated {
                        certificate: Arc::clone(cert),
                        nocheck,
                    });
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Checks a delegated responder (§4.2.2.2): issued by `issuer` (its signature too), for
    /// OCSP signing, valid at `at`, and the signer of this response. Returns id-pkix-ocsp-nocheck:
    /// when false, the caller must establish the responder certificate's own revocation status
    /// before believing the answer (§4.2.2.2.1).
    fn delegated(
        &self,
        cert: &Certificate,
        role: Option<parse::ResponderExt>,
        issuer: &Certificate,
        at: i64,
        cache: &Cache,
    ) -> Result<bool, OcspError> {
        if !names::same_name(&cert.issuer_raw, &issuer.subject_raw) {
            return Err(OcspError::Unauthorised);
        }
        cache
            .signed_by(
                &cert.fingerprint,
                cert.tbs(),
                &cert.signed,
                &issuer.fingerprint,
                &issuer.public_key,
            )
            .map_err(|_| OcspError::Unauthorised)?;
        let ext = role.ok_or(OcspError::Unauthorised)?;
        // For OCSP signing, with a key allowed to sign, and no critical extension unprocessed.
        let may_sign = cert.key_usage.is_none_or(|ku| ku.digital_signature);
        if !ext.ocsp_signing || !may_sign || cert.unknown_critical.is_some() {
            return Err(OcspError::Unauthorised);
        }
        if at < cert.not_before || at > cert.not_after {
            return Err(OcspError::ResponderExpired);
        }
        self.signed_by(cert, cache)?;
        Ok(ext.nocheck)
    }

    fn signed_by(&self, signer: &Certificate, cache: &Cache) -> Result<(), OcspError> {
        let tbs = self.basic.get(self.signed.tbs.clone()).unwrap_or_default();
        cache
            .signed_by(
                &self.fingerprint,
                tbs,
                &self.signed,
                &signer.fingerprint,
                &signer.public_key,
            )
            .map_err(|e| match e {
                super::algorithms::AlgError::Unsupported(_) => OcspError::Algorithm,
                super::algorithms::AlgError::Invalid => OcspError::BadSignature,
            })
    }

    /// The signed part of the BasicOCSPResponse, for evidence and tests.
    pub fn signed(&self) -> &Signed {
        &self.signed
    }
}

#[cfg(test)]
mod tests;
