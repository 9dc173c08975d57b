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
    /// When it was recorded (RFC 3339, UTC).
    pub at: String,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

impl Event {
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
