//! The receipt body: canonical JSON whose field names are a stable API for clients.

use crate::archive::log::{FileRef, SignerSummary};
use crate::reasons::{Reason, Texts};
use serde::{Deserialize, Serialize};

/// `accepted` or `rejected`.
pub type Status = crate::verify::Status;

/// One reason on a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonLine {
    /// Code from the closed list.
    pub code: Reason,
    /// Signer index, when it concerns one.
    pub signer: Option<usize>,
    /// The four texts.
    pub message: Texts,
    /// Technical detail.
    pub detail: String,
}

/// The case a submission was filed to (or named).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseRef {
    /// Index, e.g. `01-05`.
    pub index: String,
    /// Title, when the case exists.
    pub title: Option<String>,
}

/// Registration of an accepted document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// e.g. `01-05/17`.
    pub number: String,
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
}

/// Where the submission's entry lies in the archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArchiveRef {
    /// Entry index.
    pub index: u64,
    /// SHA-256 of the entry, hex.
    pub entry_hash: String,
    /// Tree size including the entry.
    pub tree_size: u64,
}

/// The body of a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReceiptBody {
    /// Receipt id (derived from the submission, so a retry gets the same one).
    pub receipt_id: String,
    /// Accepted or rejected («қабылданбады»).
    pub status: Status,
    /// Why not, when rejected.
    pub reasons: Vec<ReasonLine>,
    /// What the verification could not establish but did not refuse for — above all
    /// `revocation-unchecked` under `--revocation prefer`, so that a receipt never hides that
    /// its signer's revocation status went unchecked. Absent when there is none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::verify::Warning>,
    /// How to appeal, on rejections.
    pub appeal: Option<crate::policy::Texts>,
    /// The organisation.
    pub organization: String,
    /// The case.
    pub case: CaseRef,
    /// The registration, when accepted.
    pub registration: Option<Registration>,
    /// When the submission was received (RFC 3339, UTC).
    pub received_at: String,
    /// SHA-256 of each submitted file.
    pub files: Vec<FileRef>,
    /// Signer summaries.
    pub signers: Vec<SignerSummary>,
    /// The sender's own reference.
    pub sender_ref: Option<String>,
    /// The archive position.
    pub archive: ArchiveRef,
    /// SHA-256 of the service certificate that signs this receipt.
    pub service_certificate_sha256: String,
    /// The signature format when it is not CMS: `xmldsig` for signed XML. Absent for CMS, so
    /// that CMS receipts keep the bytes they always had.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
}

impl ReceiptBody {
    /// The canonical encoding: compact JSON, fields in declaration order.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}
