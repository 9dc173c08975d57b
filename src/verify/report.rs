//! The verdict: per-signer results folded into one status and a list of reasons.

use crate::reasons::{Reason, Texts};
use serde::Serialize;

/// Accepted or rejected: the only two answers a chancellery gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every check required by policy passed.
    Accepted,
    /// At least one reason applies.
    Rejected,
}

/// One reason, with where it applies, its published texts, and the technical detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonEntry {
    /// The reason code.
    pub code: Reason,
    /// Index of the signer it concerns; `None` for the submission as a whole.
    pub signer: Option<usize>,
    /// The texts in Kazakh, Kyrgyz, Russian and English.
    pub message: Texts,
    /// What exactly was found (English, for officers and logs).
    pub detail: String,
}

/// Something that did not reject but that a reader should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// A short code, e.g. `revocation-unchecked`.
    pub code: &'static str,
    /// Index of the signer it concerns, if any.
    pub signer: Option<usize>,
    /// What exactly.
    pub detail: String,
}

/// Valid, invalid or indeterminate, per signer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SignerStatus {
    /// The signature, its content digest and its certificate path all check out.
    Valid,
    /// Something failed; see the signer's reasons.
    Invalid,
    /// Nothing failed, but the signature was not checked against the content it covers,
    /// because that content was not supplied (a detached signature alone): its digest was
    /// never compared, so the signer cannot be called valid. The term is ETSI EN 319 102-1's.
    Indeterminate,
}

impl SignerStatus {
    /// The status as receipts and log entries write it.
    pub fn as_str(self) -> &'static str {
        match self {
            SignerStatus::Valid => "valid",
            SignerStatus::Invalid => "invalid",
            SignerStatus::Indeterminate => "indeterminate",
        }
    }
}

/// What was found about one SignerInfo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignerReport {
    /// Valid, invalid or indeterminate.
    pub status: SignerStatus,
    /// The signature scheme, e.g. `rsa-pkcs1-sha256`, or the refused algorithm.
    pub algorithm: Option<String>,
    /// The content digest algorithm.
    pub digest: Option<String>,
    /// Signer certificate subject (RFC 4514).
    pub subject: Option<String>,
    /// Signer certificate issuer.
    pub issuer: Option<String>,
    /// Serial number, hex.
    pub serial: Option<String>,
    /// SHA-256 of the signer certificate, hex.
    pub certificate_sha256: Option<String>,
    /// The signingTime attribute (RFC 3339), when present. Claimed by the signer, not proven.
    pub signing_time: Option<String>,
    /// Kazakh IIN from the certificate subject.
    pub iin: Option<String>,
    /// Kazakh BIN from the certificate subject.
    pub bin: Option<String>,
    /// The path used, leaf first, as subjects.
    pub path: Vec<String>,
    /// Which ESS signing-certificate attribute bound the signer's certificate (`v1`, `v2`;
    /// the later when both), checked against the certificate used (RFC 5035).
    pub signing_certificate: Option<&'static str>,
    /// The reason codes that made it invalid, or (`content-missing`) left it indeterminate.
    pub reasons: Vec<Reason>,
    /// The certificate policies in force along the path (RFC 5280 §6.1.6, the
    /// user-constrained policy set), dotted; `2.5.29.32.0` (anyPolicy) when any would do.
    pub policies: Vec<String>,
    /// The time-stamp token that fixed when the signature existed (the earliest valid one),
    /// when one counted: the signer's certificates were judged at its time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<TimestampReport>,
    /// The certificates of the path whose revocation status nothing at hand established, for
    /// a fetcher above `verify` to ask about (not part of the published report).
    #[serde(skip)]
    pub unresolved: Vec<super::ocsp::Unresolved>,
    /// The path chosen, leaf first, anchor last, as certificates: what the archive files as
    /// the evidence of the verdict (the anchor, the CRLs of its CAs). Not published.
    #[serde(skip)]
    pub chain: Vec<std::sync::Arc<super::certificate::Certificate>>,
    /// The path of the time-stamp token that counted, if one did (evidence too).
    #[serde(skip)]
    pub tsa_chain: Vec<std::sync::Arc<super::certificate::Certificate>>,
}

/// A signer's time-stamp token as the report shows it (RFC 3161 TSTInfo).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimestampReport {
    /// genTime (RFC 3339).
    pub time: String,
    /// The time-stamping authority's certificate subject (RFC 4514).
    pub tsa: String,
    /// The TSA's policy OID, dotted.
    pub policy: String,
    /// The token's serial number, hex.
    pub serial: String,
}

impl From<&super::timestamp::TimeStamp> for TimestampReport {
    fn from(t: &super::timestamp::TimeStamp) -> Self {
        TimestampReport {
            time: super::fmt_time(t.gen_time),
            tsa: t.tsa.clone(),
            policy: t.policy.clone(),
            serial: t.serial.clone(),
        }
    }
}

impl SignerReport {
    /// A report with nothing known yet.
    pub fn empty() -> Self {
        SignerReport {
            status: SignerStatus::Invalid,
            algorithm: None,
            digest: None,
            subject: None,
            issuer: None,
            serial: None,
            certificate_sha256: None,
            signing_time: None,
            iin: None,
            bin: None,
            path: Vec::new(),
            signing_certificate: None,
            reasons: Vec::new(),
            policies: Vec::new(),
            timestamp: None,
            unresolved: Vec::new(),
            chain: Vec::new(),
            tsa_chain: Vec::new(),
        }
    }
}

/// The whole verdict on one submission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Accepted or rejected.
    pub status: Status,
    /// Every reason found, for the submission and per signer.
    pub reasons: Vec<ReasonEntry>,
    /// Per-signer detail, in SignerInfo order.
    pub signers: Vec<SignerReport>,
    /// What policy let pass unchecked.
    pub warnings: Vec<Warning>,
}

impl Report {
    /// A rejection for the submission as a whole.
    pub fn rejected(code: Reason, detail: impl Into<String>) -> Report {
        Report {
            status: Status::Rejected,
            reasons: vec![entry(code, None, detail.into())],
            signers: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The distinct reason codes, in list order.
    pub fn codes(&self) -> Vec<Reason> {
        let mut v: Vec<Reason> = self.reasons.iter().map(|r| r.code).collect();
        v.sort();
        v.dedup();
        v
    }

    /// Whether this rejection is not a verdict at all: every reason is missing revocation
    /// information, which may be there later (a CRL past its nextUpdate, a source not yet
    /// reached). Such a submission must be answered "try later", never with a final rejection
    /// the sender's retry would get back for ever. Any other reason is final.
    pub fn indeterminate(&self) -> bool {
        self.status == Status::Rejected
            && !self.reasons.is_empty()
            && self
                .reasons
                .iter()
                .all(|r| r.code == Reason::RevocationUnavailable)
    }

    /// The details of the missing revocation information, one line each, for the "try later"
    /// answer.
    pub fn missing_revocation(&self) -> Vec<&str> {
        self.reasons
            .iter()
            .filter(|r| r.code == Reason::RevocationUnavailable)
            .map(|r| r.detail.as_str())
            .collect()
    }

    /// The (certificate, issuer) pairs of every signer's path whose revocation status nothing
    /// established, each once: what an OCSP fetcher should ask about before verifying again.
    pub fn unresolved(&self) -> Vec<&super::ocsp::Unresolved> {
        let mut out: Vec<&super::ocsp::Unresolved> = Vec::new();
        for u in self.signers.iter().flat_map(|s| &s.unresolved) {
            if !out.iter().any(|o| {
                o.certificate.fingerprint == u.certificate.fingerprint
                    && o.issuer.fingerprint == u.issuer.fingerprint
            }) {
                out.push(u);
            }
        }
        out
    }

    /// Adds a reason.
    pub fn push(&mut self, code: Reason, signer: Option<usize>, detail: String) {
        self.reasons.push(entry(code, signer, detail));
    }
}

fn entry(code: Reason, signer: Option<usize>, detail: String) -> ReasonEntry {
    ReasonEntry {
        code,
        signer,
        message: code.texts(),
        detail,
    }
}
