//! What a submission's bytes hash to, computed once per submission: the receipt id, the
//! filed event's file list and the blobs' names all name the same SHA-256 values, and a
//! document hashed four times over cost more than its signature check.

use super::Submission;
use crate::archive::log::FileRef;
use crate::verify::certificate::hex;
use sha2::{Digest, Sha256};

/// The SHA-256 of a submission's signature file and of its content.
#[derive(Debug, Clone)]
pub struct Digests {
    /// Of the signature file (the CMS, with its content when attached).
    pub signature: [u8; 32],
    /// Of the detached content; that of no bytes when there is none.
    pub content: Vec<u8>,
}

impl Digests {
    /// Hashes `s`'s signature file; the content's SHA-256 is `content` (the verifier's digest,
    /// read once with every other digest it needs), or that of no bytes.
    pub fn of(s: &Submission<'_>, content: Option<Vec<u8>>) -> Digests {
        Digests {
            signature: Sha256::digest(s.signature).into(),
            content: content.unwrap_or_else(|| Sha256::digest(b"").to_vec()),
        }
    }

    /// The receipt id of `s`, whose digests these are: same bytes, case and sender reference
    /// → same id.
    pub fn receipt_id(&self, s: &Submission<'_>) -> String {
        let mut h = Sha256::new();
        h.update(b"tamga-submission-v1\0");
        for part in [s.case.as_bytes(), s.sender_ref.unwrap_or("").as_bytes()] {
            h.update((part.len() as u64).to_be_bytes());
            h.update(part);
        }
        h.update([
            u8::from(s.sender_ref.is_some()),
            u8::from(s.content.is_some()),
        ]);
        h.update(self.signature);
        h.update(&self.content);
        let digest: [u8; 32] = h.finalize().into();
        hex(digest.get(..16).unwrap_or_default())
    }

    /// The files of `s` as its event names them: the signature file, then any content.
    pub fn file_refs(&self, s: &Submission<'_>) -> Vec<FileRef> {
        let mut v = vec![FileRef {
            role: "signature".into(),
            sha256: hex(&self.signature),
            size: s.signature.len() as u64,
        }];
        if let Some(c) = s.content {
            v.push(FileRef {
                role: "content".into(),
                sha256: hex(&self.content),
                size: c.len(),
            });
        }
        v
    }
}
