//! A signer's time-stamp tokens applied to its verification: proof of existence (POE).
//!
//! ETSI EN 319 102-1 (§5.6.2, the validation process for signatures with time, and its past
//! certificate validation) lets a valid time-stamp over the signature value fix the
//! *best-signature-time*: the signer's certificates are then judged at that time rather than
//! at the validation time. Concretely, here:
//!
//! * validity periods along the path are judged at the POE (a certificate that expired after
//!   the time-stamp does not make the signature fail);
//! * revocation is judged by the CRLs current at the validation time, as without a token (they
//!   prove the status *after* genTime, which is what matters), but an entry whose
//!   revocationDate lies after the POE does not invalidate the signature: EN 319 102-1's
//!   REVOKED_NO_POE / REVOKED_CA_NO_POE are indeterminate only for want of a proof that the
//!   signature existed before the revocation time, and the process passes when the
//!   best-signature-time is before it —
//! * unless its reason says the key may have been in other hands earlier. This is the reading
//!   of RFC 5280 §5.3.1/§5.3.2 that the standard's revocation time rests on: for keyCompromise
//!   and cACompromise (and aACompromise) the revocationDate is when the CA learnt of it, and
//!   the compromise itself may precede it (invalidityDate, not kept here, would only bound
//!   it); an absent reasonCode is `unspecified` and proves nothing either, and a certificate
//!   on hold is suspended pending exactly that question. Only reasons that say the key was
//!   *not* compromised — affiliationChanged, superseded, cessationOfOperation,
//!   privilegeWithdrawn — leave a signature proven earlier standing.
//!
//! Several tokens: each must verify (a changed token is a rejection, `timestamp-invalid`); the
//! earliest valid one counts. A token whose authority does not chain to the trust store proves
//! nothing and is ignored with a `timestamp-untrusted` warning.

use super::{TimeStamp, TimeStampError};
use crate::reasons::Reason;
use crate::verify::certificate::Certificate;
use crate::verify::cms::SignerInfo;
use crate::verify::revocation::Entry;
use crate::verify::{Finding, Verifier, Warning, fmt_time};
use std::sync::Arc;

/// CRL entry reason codes (RFC 5280 §5.3.1) stating that the key was *not* compromised:
/// affiliationChanged (3), superseded (4), cessationOfOperation (5), privilegeWithdrawn (9).
const NOT_COMPROMISE: [u8; 4] = [3, 4, 5, 9];

/// Whether a CRL entry revokes a certificate for a signature proven to exist at `poe`
/// (`None`: no proof, every entry up to the validation time counts). See the module text.
pub(crate) fn revokes(entry: &Entry, poe: Option<i64>) -> bool {
    match poe {
        None => true,
        Some(poe) => {
            entry.date <= poe || !entry.reason.is_some_and(|r| NOT_COMPROMISE.contains(&r))
        }
    }
}

/// What a path judged at a proof of existence leaves unproven: for each certificate below the
/// anchor that expired before the validation time `at`, a sentence. RFC 5280 §3.3 lets a CA
/// drop a revoked certificate from its CRLs once one regular CRL beyond its expiry has listed
/// it, so the silence of a CRL current at `at` does not prove it was never revoked
/// (expiredCertsOnCRL, X.509 §7.3, is not read here).
pub(crate) fn expired_since(path: &[Arc<Certificate>], at: i64) -> Vec<String> {
    let below_anchor = path.len().saturating_sub(1);
    path.iter()
        .take(below_anchor)
        .filter(|c| c.not_after < at)
        .map(|c| {
            format!(
                "{} expired at {}, after the time-stamp; a CA may leave an expired \
                 certificate off its later CRLs (RFC 5280 §3.3), so their silence does not \
                 prove it was never revoked",
                c.subject,
                fmt_time(c.not_after)
            )
        })
        .collect()
}

impl TimeStamp {
    /// The latest time at which the token proves the signature existed: genTime plus the
    /// stated accuracy (RFC 3161 §2.4.2: the time may lie anywhere within it), never after the
    /// validation time `at`, when the signature is in hand anyway.
    pub fn proven_at(&self, at: i64) -> i64 {
        let slack = self.accuracy_ms.map_or(0, |ms| ms.div_ceil(1000));
        let slack = i64::try_from(slack).unwrap_or(i64::MAX);
        self.gen_time.saturating_add(slack).min(at)
    }
}

/// The time-stamp a signer is judged by.
#[derive(Debug, Clone)]
pub(crate) struct Poe {
    /// The earliest token that verified, or that would have but for its TSA's revocation
    /// status being unknown (then `proven` is false).
    pub stamp: TimeStamp,
    /// Whether it proves anything yet. A pending token is used only provisionally: its
    /// signer's findings always include `revocation-unavailable`, so the verdict is "try
    /// later" or a rejection that holds whether the token turns out valid (then the signer is
    /// judged at its time, as now) or not (then `timestamp-invalid` rejects anyway).
    pub proven: bool,
    /// The TSA's path, leaf first, anchor last.
    pub chain: Vec<Arc<Certificate>>,
}

impl Poe {
    /// What the report shows: only a token that counted.
    pub fn shown(&self) -> Option<crate::verify::report::TimestampReport> {
        self.proven.then(|| (&self.stamp).into())
    }
}

impl Verifier {
    /// The signer's time-stamp tokens checked at validation time `at`: the earliest valid one,
    /// if any. A token that does not verify adds a `timestamp-invalid` finding; one from an
    /// untrusted authority a `timestamp-untrusted` warning; one whose authority's revocation
    /// status is unavailable (under `require`) a `revocation-unavailable` finding, so that the
    /// sender is told to try later, and is used provisionally (see [`Poe`]). `signer` is the
    /// SignerInfo's index, for the warnings.
    pub(crate) fn proof_of_existence(
        &self,
        si: &SignerInfo<'_>,
        at: i64,
        signer: usize,
        findings: &mut Vec<Finding>,
        warnings: &mut Vec<Warning>,
    ) -> Option<Poe> {
        let mut best: Option<Poe> = None;
        for (i, token) in si.timestamp_tokens.iter().enumerate() {
            let verified = match self.check_token(token, &si.signature, at) {
                Ok(v) => v,
                Err(TimeStampError::Untrusted(why)) => {
                    warnings.push(Warning {
                        code: "timestamp-untrusted",
                        signer: Some(signer),
                        detail: format!(
                            "time-stamp token {i} ignored, its authority is not trusted \
                             ({why}); the signer is judged at the validation time"
                        ),
                    });
                    continue;
                }
                Err(e) => {
                    findings.push(Finding {
                        reason: Reason::TimestampInvalid,
                        detail: format!("time-stamp token {i}: {e}"),
                    });
                    continue;
                }
            };
            if let Some(why) = &verified.pending {
                findings.push(Finding {
                    reason: Reason::RevocationUnavailable,
                    detail: format!("time-stamp token {i}'s authority: {why}"),
                });
            }
            warnings.extend(verified.warnings.into_iter().map(|w| Warning {
                code: w.code,
                signer: Some(signer),
                detail: format!("time-stamp token {i}: {}", w.detail),
            }));
            // The earliest, pending or not: with one pending the verdict is never "accepted",
            // and the earliest is what a complete answer would use if it holds.
            if best
                .as_ref()
                .is_none_or(|b| verified.stamp.gen_time < b.stamp.gen_time)
            {
                best = Some(Poe {
                    proven: verified.pending.is_none(),
                    stamp: verified.stamp,
                    chain: verified.chain,
                });
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn after_the_proof_only_a_compromise_revokes() {
        let entry = |date, reason| Entry { date, reason };
        // Without a proof of existence every entry counts, whatever its reason.
        assert!(revokes(&entry(100, Some(4)), None));
        // Before (or at) the proof: revoked, whatever the reason.
        assert!(revokes(&entry(50, Some(4)), Some(60)));
        assert!(revokes(&entry(60, Some(4)), Some(60)));
        // After it: only reasons that leave the key uncompromised let the signature stand.
        for r in NOT_COMPROMISE {
            assert!(!revokes(&entry(70, Some(r)), Some(60)), "reason {r}");
        }
        // unspecified, keyCompromise, cACompromise, certificateHold, aACompromise, absent.
        for r in [Some(0), Some(1), Some(2), Some(6), Some(10), None] {
            assert!(revokes(&entry(70, r), Some(60)), "reason {r:?}");
        }
    }

    #[test]
    fn proven_at_counts_the_accuracy_and_never_passes_the_validation_time() {
        let ts = |gen_time, accuracy_ms| TimeStamp {
            gen_time,
            policy: String::new(),
            serial: String::new(),
            tsa: String::new(),
            accuracy_ms,
        };
        assert_eq!(ts(1000, None).proven_at(2000), 1000);
        assert_eq!(ts(1000, Some(1500)).proven_at(2000), 1002);
        assert_eq!(ts(1000, Some(u64::MAX)).proven_at(2000), 2000);
        assert_eq!(ts(3000, None).proven_at(2000), 2000);
    }
}
