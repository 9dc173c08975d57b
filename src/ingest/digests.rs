//! What a submission's bytes hash to, computed once per submission: the receipt id, the
//! filed event's file list and the blobs' names all name the same SHA-256 values. The
//! signature file was hashed four times (a 6.6 KB CMS: the receipt id, the file list under
//! the writer lock, the blob's name, its one chunk's name), the content twice.

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

    /// The content's SHA-256 as the name its blob is filed under.
    pub fn content_sha256(&self) -> Result<[u8; 32], crate::archive::ArchiveError> {
        <[u8; 32]>::try_from(self.content.as_slice()).map_err(|_| {
            crate::archive::ArchiveError::Refused("the content's SHA-256 is not 32 bytes".into())
        })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::Payload;

    fn submission<'a>(sender_ref: Option<&'a str>, content: Option<&'a [u8]>) -> Submission<'a> {
        Submission {
            case: "01-05",
            signature: b"signature bytes",
            content: content.map(Payload::Bytes),
            sender_ref,
            received_at: 0,
            submitter: None,
        }
    }

    /// Receipt ids are how a retry finds its receipt, across versions: pinned to values
    /// computed apart from this code (Python's hashlib over the documented layout).
    #[test]
    fn receipt_ids_stay_what_they_were() {
        let s = submission(Some("REF-1"), None);
        assert_eq!(
            Digests::of(&s, None).receipt_id(&s),
            "e46cca5ff4edf9bbb370c15db1b73b46"
        );
        let s = submission(None, Some(b"content"));
        let content = Sha256::digest(b"content").to_vec();
        assert_eq!(
            Digests::of(&s, Some(content)).receipt_id(&s),
            "b6a65804572bdec05887f9a67475612e"
        );
    }
}
