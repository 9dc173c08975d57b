//! Certification path building and validation (RFC 5280 §6, the parts a signature needs).
//!
//! Building looks only at names, key identifiers and signatures; validation then judges a
//! complete path at the validation time. Splitting the two lets a path that fails on time or
//! usage be reported as exactly that, rather than as "untrusted".

use super::algorithms::AlgError;
use super::cache::Cache;
use super::certificate::Certificate;
use super::names;
use super::policy::{self, PathSettings, PolicyId};
use super::revocation::{self, Crl};
use super::trust::TrustStore;
use super::{Finding, RevocationPolicy, fmt_time};
use crate::reasons::Reason;
use std::sync::Arc;

/// Longest path tried, anchor included.
const MAX_PATH: usize = 8;
/// Most signature checks spent on building one signer's path; bounds the search on hostile
/// bags of certificates that all claim the same name.
const MAX_ATTEMPTS: usize = 64;
/// Complete paths collected before choosing.
const MAX_PATHS: usize = 4;

/// The result of validating one signer's certificate.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The path chosen, leaf first, anchor last (empty when none was found).
    pub path: Vec<Arc<Certificate>>,
    /// What is wrong with it.
    pub findings: Vec<Finding>,
    /// What could not be checked but, by policy, does not reject.
    pub warnings: Vec<String>,
    /// The certificate policies in force (RFC 5280 §6.1.6).
    pub policies: Vec<PolicyId>,
}

/// Builds and validates a path from `leaf` to an anchor of `trust` at `at`.
#[allow(clippy::too_many_arguments)]
pub fn validate(
    leaf: &Arc<Certificate>,
    pool: &[Arc<Certificate>],
    trust: &TrustStore,
    crls: &[&Crl],
    at: i64,
    revocation: RevocationPolicy,
    cache: &Cache,
    settings: &PathSettings,
) -> Outcome {
    let budget = revocation::Budget::default();
    let ctx = revocation::Context::new(pool, trust, crls, at, cache, &budget);
    validate_with(leaf, &ctx, revocation, settings)
}

/// [`validate`] for a signature a time-stamp proves existed at `poe` (≤ `at`): validity
/// periods are judged at `poe`, revocation by the CRLs current at `at`, of which an entry
/// after `poe` counts only for a compromise (ETSI EN 319 102-1 §5.6.2; see
/// [`super::timestamp::apply`]).
#[allow(clippy::too_many_arguments)]
pub fn validate_existed(
    leaf: &Arc<Certificate>,
    pool: &[Arc<Certificate>],
    trust: &TrustStore,
    crls: &[&Crl],
    (at, poe): (i64, i64),
    revocation: RevocationPolicy,
    cache: &Cache,
    settings: &PathSettings,
) -> Outcome {
    let budget = revocation::Budget::default();
    let mut ctx = revocation::Context::new(pool, trust, crls, at, cache, &budget);
    ctx.poe = Some(poe);
    let mut out = validate_with(leaf, &ctx, revocation, settings);
    if revocation != RevocationPolicy::Off {
        out.warnings
            .extend(super::timestamp::apply::expired_since(&out.path, at));
    }
    out
}

/// [`validate`] within a revocation context: also the path of a CRL signer (RFC 5280 §6.3.3
/// (f)), whose context limits the anchors to the one the checked certificate reached.
pub(crate) fn validate_in(
    leaf: &Arc<Certificate>,
    ctx: &revocation::Context<'_>,
    revocation: RevocationPolicy,
) -> Outcome {
    // A CRL signer's path is judged under the default policy settings: the service's accepted
    // policies are for signers of documents, not for CRL issuers.
    validate_with(leaf, ctx, revocation, &PathSettings::DEFAULT)
}

fn validate_with(
    leaf: &Arc<Certificate>,
    ctx: &revocation::Context<'_>,
    revocation: RevocationPolicy,
    settings: &PathSettings,
) -> Outcome {
    let (pool, trust, at, cache) = (ctx.pool, ctx.trust, ctx.at, ctx.cache);
    let mut search = Search {
        pool,
        trust,
        cache,
        attempts: 0,
        found: Vec::new(),
        error: None,
    };
    search.extend(&mut vec![Arc::clone(leaf)]);
    if search.found.is_empty() {
        let finding = search.error.unwrap_or_else(|| Finding {
            reason: Reason::CertificateUntrusted,
            detail: format!("no trusted issuer found for {}", leaf.issuer),
        });
        return Outcome {
            findings: vec![finding],
            ..Outcome::default()
        };
    }
    let mut first: Option<Outcome> = None;
    for path in search.found {
        let mut out = Outcome {
            findings: check(&path, ctx.poe.unwrap_or(at), ctx.crl_signer),
            ..Outcome::default()
        };
        check_policies(&path, settings, &mut out);
        check_revocation(&path, ctx, revocation, &mut out);
        out.path = path;
        if out.findings.is_empty() {
            return out;
        }
        first.get_or_insert(out);
    }
    first.unwrap_or_default()
}

struct Search<'a> {
    pool: &'a [Arc<Certificate>],
    trust: &'a TrustStore,
    cache: &'a Cache,
    attempts: usize,
    found: Vec<Vec<Arc<Certificate>>>,
    error: Option<Finding>,
}

impl Search<'_> {
    fn extend(&mut self, path: &mut Vec<Arc<Certificate>>) {
        let Some(cur) = path.last().cloned() else {
            return;
        };
        if self.trust.is_anchor(&cur.fingerprint) {
            self.found.push(path.clone());
            return;
        }
        if path.len() >= MAX_PATH {
            self.note(
                Reason::CertificateUntrusted,
                format!("path longer than {MAX_PATH}"),
            );
            return;
        }
        let candidates = self.trust.anchors().iter().chain(self.pool.iter());
        for cand in candidates {
            if self.found.len() >= MAX_PATHS || self.attempts >= MAX_ATTEMPTS {
                return;
            }
            let ids_agree = match (&cur.authority_key_id, &cand.subject_key_id) {
                (Some(a), Some(s)) => a == s,
                _ => true,
            };
            // Identifiers first: they are cheaper than names whose encodings differ.
            if !ids_agree
                || !names::issued_by(&cur, cand)
                || path.iter().any(|p| p.fingerprint == cand.fingerprint)
            {
                continue;
            }
            self.attempts += 1;
            let link = self.cache.signed_by(
                &cur.fingerprint,
                cur.tbs(),
                &cur.signed,
                &cand.fingerprint,
                &cand.public_key,
            );
            match link {
                Ok(()) => {
                    path.push(Arc::clone(cand));
                    self.extend(path);
                    path.pop();
                }
                Err(AlgError::Unsupported(why)) => self.note(
                    Reason::AlgorithmUnsupported,
                    format!("signature on {}: {why}", cur.subject),
                ),
                Err(AlgError::Invalid) => self.note(
                    Reason::CertificateUntrusted,
                    format!(
                        "signature on {} does not verify with the key of {}",
                        cur.subject, cand.subject
                    ),
                ),
            }
        }
    }

    /// Keeps the most telling error: an unsupported algorithm explains more than a bad link,
    /// which explains more than a missing issuer.
    fn note(&mut self, reason: Reason, detail: String) {
        let replace = match &self.error {
            None => true,
            Some(f) => {
                f.reason != Reason::AlgorithmUnsupported && reason == Reason::AlgorithmUnsupported
            }
        };
        if replace {
            self.error = Some(Finding { reason, detail });
        }
    }
}

/// Time, usage and CA constraints along a complete path (leaf first, anchor last).
/// `crl_signer`: the leaf signs CRLs rather than documents, so its key usage is cRLSign.
fn check(path: &[Arc<Certificate>], at: i64, crl_signer: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |reason, detail: String| out.push(Finding { reason, detail });
    let last = path.len().saturating_sub(1);
    for (i, c) in path.iter().enumerate() {
        if at < c.not_before {
            add(
                Reason::CertificateNotYetValid,
                format!("{} is valid from {}", c.subject, fmt_time(c.not_before)),
            );
        }
        if at > c.not_after {
            add(
                Reason::CertificateExpired,
                format!("{} expired at {}", c.subject, fmt_time(c.not_after)),
            );
        }
        if let Some(oid) = &c.unknown_critical {
            add(
                Reason::CertificateUsage,
                format!("{} has an unprocessed critical extension {oid}", c.subject),
            );
        }
        if i == 0 {
            if !crl_signer
                && c.key_usage
                    .is_some_and(|ku| !ku.digital_signature && !ku.non_repudiation)
            {
                add(
                    Reason::CertificateUsage,
                    format!("{} is not for signing (key usage)", c.subject),
                );
            }
            continue;
        }
        match c.basic_constraints {
            Some((true, Some(max))) => {
                // Self-issued intermediates do not count against pathLenConstraint (§4.2.1.9).
                let below = path
                    .get(1..i)
                    .unwrap_or_default()
                    .iter()
                    .filter(|p| !p.self_issued())
                    .count();
                if below > max as usize {
                    add(
                        Reason::CertificateUsage,
                        format!(
                            "{} allows {max} CAs below it, the path has {below}",
                            c.subject
                        ),
                    );
                }
            }
            Some((true, None)) => {}
            // An anchor without basicConstraints is a v1 root; trusting it was the operator's call.
            None if i == last => {}
            _ => add(
                Reason::CertificateUsage,
                format!("{} is not a CA", c.subject),
            ),
        }
        if c.key_usage.is_some_and(|ku| !ku.key_cert_sign) {
            add(
                Reason::CertificateUsage,
                format!("{} may not sign certificates (key usage)", c.subject),
            );
        }
    }
    names::check_constraints(path, &mut out);
    out
}

/// RFC 5280 §6.1 certificate-policy processing (see [`policy`]).
fn check_policies(path: &[Arc<Certificate>], settings: &PathSettings, out: &mut Outcome) {
    match policy::process(path, settings) {
        Ok(in_force) => out.policies = in_force,
        Err(e) => out.findings.push(Finding {
            reason: Reason::CertificatePolicy,
            detail: e.to_string(),
        }),
    }
}

fn check_revocation(
    path: &[Arc<Certificate>],
    ctx: &revocation::Context<'_>,
    policy: RevocationPolicy,
    out: &mut Outcome,
) {
    if policy == RevocationPolicy::Off {
        return;
    }
    // Anchors are trusted as configured; every certificate below one is checked.
    for (i, cert) in path.iter().enumerate() {
        let Some(up) = path.get(i + 1..).filter(|u| !u.is_empty()) else {
            continue;
        };
        match revocation::status(cert, up, ctx) {
            revocation::Status::Good => {}
            revocation::Status::Revoked(when) => out.findings.push(Finding {
                reason: Reason::CertificateRevoked,
                detail: format!("{} was revoked at {}", cert.subject, fmt_time(when)),
            }),
            revocation::Status::Unknown(why) if policy == RevocationPolicy::Require => {
                out.findings.push(Finding {
                    reason: Reason::RevocationUnavailable,
                    detail: format!("{}: {why}", cert.subject),
                })
            }
            revocation::Status::Unknown(why) => {
                out.warnings.push(format!("{}: {why}", cert.subject))
            }
        }
    }
}
