//! Who signed a CRL (RFC 5280 §6.3.3 (f)): the certificate's issuer itself, the same CA under
//! another key (separate certificate and CRL keys, key roll-over with self-issued
//! certificates), or an indirect CRL issuer. Any signer but the issuer on the path is
//! validated on its own path to the *same* trust anchor, its revocation included, within a
//! depth and a work budget shared by the whole validation.

use super::super::RevocationPolicy;
use super::super::certificate::Certificate;
use super::super::names;
use super::super::path;
use super::super::trust::TrustStore;
use super::Context;
use super::crl::Crl;
use std::sync::Arc;

/// How deep CRL signer paths may nest (a signer's CRL signer's …). PKITS needs one level.
pub const MAX_DEPTH: usize = 3;
/// Signer paths validated, in all, for one certificate path: each costs a path search.
pub const MAX_VALIDATIONS: usize = 16;
/// Why no certificate could be taken as a CRL's signer.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum SignerError {
    /// No certificate with the CRL issuer's name and key verifies the CRL.
    #[error("no certificate of the CRL issuer verifies the CRL's signature")]
    NoneVerifies,
    /// The issuer on the path has the name but may not sign CRLs.
    #[error("the issuer's key usage does not allow CRL signing")]
    NoCrlSign,
    /// The issuer on the path has the name but its key did not sign the CRL.
    #[error("the CRL's signature does not verify with the issuer's key")]
    IssuerKey,
    /// A certificate whose key signed the CRL has no valid path of its own.
    #[error("the CRL signer {subject}: {why}")]
    Path {
        /// The signer's subject, for the report.
        subject: String,
        /// Why its path failed.
        why: PathError,
    },
}

/// Why a CRL signer's own path failed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, thiserror::Error)]
pub enum PathError {
    /// It is a trust anchor, but not the one the checked certificate's path ends in.
    #[error("is a different trust anchor")]
    OtherAnchor,
    /// Signers' signers nest too deep.
    #[error("CRL signers nest deeper than {MAX_DEPTH}")]
    TooDeep,
    /// The validation's budget of signer paths is spent.
    #[error("more than {MAX_VALIDATIONS} CRL signer paths")]
    Budget,
    /// No path to the same anchor.
    #[error("no path to the trust anchor")]
    NoPath,
    /// The path has a finding; its sentence.
    #[error("{0}")]
    Finding(String),
}

/// Candidate signer certificates tried per CRL.
const MAX_CANDIDATES: usize = 8;

/// The certificate whose key signed `crl` and whose path leads to `anchor`; or why none.
pub(super) fn find(
    crl: &Crl,
    issuer: &Arc<Certificate>,
    anchor: &Arc<Certificate>,
    ctx: &Context<'_>,
) -> Result<Arc<Certificate>, SignerError> {
    let mut why = SignerError::NoneVerifies;
    if names::crl_issuer_is_subject_of(crl, issuer) {
        if issuer.key_usage.is_some_and(|ku| !ku.crl_sign) {
            why = SignerError::NoCrlSign;
        } else if verifies(crl, issuer, ctx) {
            return Ok(Arc::clone(issuer));
        } else {
            why = SignerError::IssuerKey;
        }
    }
    let candidates = ctx
        .trust
        .anchors()
        .iter()
        .chain(ctx.pool.iter())
        .filter(|c| c.fingerprint != issuer.fingerprint)
        .filter(|c| c.key_usage.is_none_or(|ku| ku.crl_sign))
        .filter(|c| match (&crl.authority_key_id, &c.subject_key_id) {
            (Some(a), Some(s)) => a == s,
            _ => true,
        })
        .filter(|c| names::crl_issuer_is_subject_of(crl, c))
        .take(MAX_CANDIDATES);
    for cand in candidates {
        if !verifies(crl, cand, ctx) {
            continue;
        }
        // A signer whose own path encloses this question: its CRL speaks for its own
        // certificate (an indirect CRL issuer listed in its own CRL's scope). Its path is
        // being validated below us; asking again would only go round in a circle.
        if ctx.visiting.contains(&cand.fingerprint) {
            return Ok(Arc::clone(cand));
        }
        match path_to(cand, anchor, ctx) {
            Ok(()) => return Ok(Arc::clone(cand)),
            Err(e) => {
                why = SignerError::Path {
                    subject: cand.subject.clone(),
                    why: e,
                }
            }
        }
    }
    Err(why)
}

fn verifies(crl: &Crl, signer: &Certificate, ctx: &Context<'_>) -> bool {
    ctx.cache
        .signed_by(
            &crl.fingerprint,
            crl.tbs(),
            &crl.signed,
            &signer.fingerprint,
            &signer.public_key,
        )
        .is_ok()
}

/// Whether `signer` has a valid path, revocation checked, to `anchor` at the validation time.
fn path_to(
    signer: &Arc<Certificate>,
    anchor: &Arc<Certificate>,
    ctx: &Context<'_>,
) -> Result<(), PathError> {
    if ctx.trust.is_anchor(&signer.fingerprint) {
        return if signer.fingerprint == anchor.fingerprint {
            Ok(())
        } else {
            Err(PathError::OtherAnchor)
        };
    }
    let key = (signer.fingerprint, anchor.fingerprint);
    if ctx.budget.valid.borrow().contains(&key) {
        return Ok(());
    }
    if ctx.depth >= MAX_DEPTH {
        return Err(PathError::TooDeep);
    }
    let spent = ctx.budget.validations.get();
    if spent >= MAX_VALIDATIONS {
        return Err(PathError::Budget);
    }
    ctx.budget.validations.set(spent + 1);
    // Only the anchor of the certificate being checked may end the signer's path.
    let only = TrustStore::new(vec![Certificate::clone(anchor)], Vec::new());
    let mut visiting = ctx.visiting.clone();
    visiting.push(signer.fingerprint);
    let nested = Context {
        trust: &only,
        depth: ctx.depth + 1,
        visiting,
        crl_signer: true,
        poe: None,
        ..ctx.clone()
    };
    let out = path::validate_in(signer, &nested, RevocationPolicy::Require);
    let result = match out.findings.first() {
        None if out
            .path
            .last()
            .is_some_and(|a| a.fingerprint == anchor.fingerprint) =>
        {
            Ok(())
        }
        None => Err(PathError::NoPath),
        Some(f) => Err(PathError::Finding(f.detail.clone())),
    };
    // Failures are not remembered: one may come from the cycle guard or the budget, which a
    // later question from elsewhere in the path would not meet.
    if result.is_ok() {
        ctx.budget.valid.borrow_mut().insert(key);
    }
    result
}
