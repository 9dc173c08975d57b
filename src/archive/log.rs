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
