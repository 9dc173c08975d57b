//! Log entries: what happened, in a deterministic encoding, chained by hash.
//!
//! An entry's encoding is compact JSON of a fixed struct (fields in declaration order, no maps),
//! so the same entry always has the same bytes. Its hash (SHA-256 of the bytes) is the next
//! entry's `prev`; its Merkle leaf is `SHA-256(0x00 ‖ bytes)`.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One file of a submission, by hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// `signature` or `content`.
    pub role: String,
    /// SHA-256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
}

/// Who signed, as the receipt and the entry record it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignerSummary {
    /// Valid or invalid.
    pub status: String,
    /// Certificate subject.
    pub subject: Option<String>,
    /// Kazakh IIN.
    pub iin: Option<String>,
    /// Kazakh BIN.
    pub bin: Option<String>,
    /// SHA-256 of the certificate, hex.
    pub certificate_sha256: Option<String>,
    /// Signature scheme.
    pub algorithm: Option<String>,
}

/// What an entry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A document was accepted and registered.
    Accepted {
        /// The receipt issued for it.
        receipt_id: String,
        /// Case index.
        case: String,
        /// Registration number, e.g. `01-05/17`.
        registration: String,
        /// Registration date (UTC), `YYYY-MM-DD`.
        registration_date: String,
        /// The kept files.
        files: Vec<FileRef>,
        /// Who signed.
        signers: Vec<SignerSummary>,
        /// The sender's own reference.
        sender_ref: Option<String>,
        /// What decided the verdict besides the signature, filed with the document (roles
        /// `certificate`, `crl`, `ocsp`; see [`super::evidence`]). Absent from entries
        /// written before evidence was kept, whose encoding this leaves unchanged.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        evidence: Vec<FileRef>,
    },
    /// A hold was placed on a case or a document: no act may touch it until released.
    Hold {
        /// Hold id.
        hold_id: String,
        /// The held case, or
        case: Option<String>,
        /// the held document.
        registration: Option<String>,
        /// Why (a litigation, an inspection, a request).
        reason: String,
        /// Who placed it.
        by: String,
    },
    /// A hold was released.
    Release {
        /// Hold id.
        hold_id: String,
        /// Who released it.
        by: String,
    },
    /// The expert commission's (ЭПК) decision on a case marked `epk`.
    Review {
        /// Case index.
        case: String,
        /// `destroy` or `keep`.
        decision: String,
        /// Who recorded it.
        by: String,
    },
    /// A disposal act was drafted.
    ActDrafted {
        /// Act number.
        act: String,
        /// Drafter.
        by: String,
        /// Case indexes.
        cases: Vec<String>,
        /// Registration numbers of the documents it covers.
        documents: Vec<String>,
    },
    /// A disposal act was approved by one person.
    ActApproved {
        /// Act number.
        act: String,
        /// Approver.
        by: String,
    },
    /// A document's bytes were destroyed under an act; its entries and receipt stay.
    Disposed {
        /// Act number.
        act: String,
        /// Act date, `YYYY-MM-DD`.
        act_date: String,
        /// The document.
        registration: String,
        /// Its case.
        case: String,
        /// Who approved the act.
        approvers: Vec<String>,
    },
    /// A disposal act was executed; the signed act is kept permanently.
    ActExecuted {
        /// Act number.
        act: String,
        /// SHA-256 of the signed act (DER), hex.
        act_sha256: String,
        /// Documents destroyed.
        documents: u64,
    },
    /// A submission was refused; its bytes are not kept, only their hashes.
    Rejected {
        /// The receipt issued for it.
        receipt_id: String,
        /// The case named by the sender.
        case: String,
        /// The refused files, by hash.
        files: Vec<FileRef>,
        /// Reason codes.
        reasons: Vec<String>,
        /// The sender's own reference.
        sender_ref: Option<String>,
    },
}

/// One log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Position in the log, from 0.
    pub index: u64,
    /// Hash of the previous entry's encoding, hex (64 zeros for the first).
    pub prev: String,
    /// When it happened as its maker states it (RFC 3339, UTC): a submission's time of receipt,
    /// an act's date. A caller may claim a time (`--at`), so this alone is not the log's clock.
    pub at: String,
    /// When the log filed it, from the service's clock (RFC 3339, UTC), never earlier than the
    /// entry before it. Absent from entries written before the log recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed: Option<String>,
    /// Set when `at` is a receipt time backfilled: earlier than the time the log had already
    /// reached, or more than [`GRACE`] before this entry was filed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub backfilled: bool,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

impl Event {
    /// Every blob a kept document names: its files, then its evidence (none for other events).
    pub fn kept_blobs(&self) -> impl Iterator<Item = &FileRef> {
        let (files, evidence): (&[FileRef], &[FileRef]) = match self {
            Event::Accepted {
                files, evidence, ..
            } => (files, evidence),
            _ => (&[], &[]),
        };
        files.iter().chain(evidence)
    }

    /// The receipt issued for this event, if it records a submission.
    pub fn receipt_id(&self) -> Option<&str> {
        match self {
            Event::Accepted { receipt_id, .. } | Event::Rejected { receipt_id, .. } => {
                Some(receipt_id)
            }
            _ => None,
        }
    }
}

impl Entry {
    /// The deterministic encoding.
    pub fn encode(&self) -> Vec<u8> {
        // Serialising plain structs and enums into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes an entry.
    pub fn decode(bytes: &[u8]) -> Result<Entry, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}

/// The chain hash of an entry's encoding.
pub fn entry_hash(encoded: &[u8]) -> [u8; 32] {
    Sha256::digest(encoded).into()
}

/// `prev` of the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// How long a submission may take to arrive and be verified before it is filed (seconds): a
/// time of receipt older than that when filed was not taken from the clock as it arrived.
pub const GRACE: i64 = 3600;

/// Whether an entry stating time `at`, filed at `filed` after an entry filed at `before`
/// (0 for none), carries a backfilled time. The writer marks it and the audit re-checks it by
/// this one rule.
pub fn is_backfilled(at: i64, filed: i64, before: i64) -> bool {
    at < before || at < filed - GRACE
}

/// Unix seconds of an entry's RFC 3339 time.
pub fn parse_time(s: &str) -> Option<i64> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_written_before_filing_times_decodes_and_keeps_its_bytes() {
        let old = br#"{"index":3,"prev":"00","at":"2026-06-01T00:00:00Z","event":"release","hold_id":"H1","by":"x"}"#;
        let e = Entry::decode(old).unwrap();
        assert_eq!((e.filed.as_deref(), e.backfilled), (None, false));
        assert_eq!(e.encode(), old.to_vec());
    }
}
