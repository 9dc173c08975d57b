//! Checkpoints: (tree size, root, chain head, time) as a C2SP signed note.
//!
//! ```text
//! tamga/<organisation>
//! 42
//! <base64 root>
//! chain <hex chain head>
//! access <access-log size> <hex access-log head>
//! time <RFC 3339>
//!
//! — tamga/<organisation> <base64(key id ‖ ECDSA signature)>
//! ```
//! The signature is signature type 0x02 of c2sp.org/signed-note (ECDSA P-256 over the note
//! text, key id = first 4 bytes of SHA-256 of the key's SubjectPublicKeyInfo), made with the
//! service's receipt key. An auditor keeps checkpoints elsewhere; a later consistency proof
//! between two of them shows the archive only grew.

use super::merkle::Hash;
use base64::Engine;
use sha2::{Digest, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A checkpoint's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's name (also the key name).
    pub origin: String,
    /// Tree size.
    pub size: u64,
    /// Merkle root at that size.
    pub root: Hash,
    /// Hash of the last entry (the chain head).
    pub chain: Hash,
    /// Size and head of the access log.
    pub access: (u64, Hash),
    /// When it was signed, RFC 3339.
    pub time: String,
}

/// Why a note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checkpoint: {0}")]
pub struct NoteError(pub String);

impl Checkpoint {
    /// The note text (ends in a newline).
    pub fn text(&self) -> String {
        format!(
            "{}\n{}\n{}\nchain {}\naccess {} {}\ntime {}\n",
            self.origin,
            self.size,
            B64.encode(self.root),
            crate::verify::certificate::hex(&self.chain),
            self.access.0,
            crate::verify::certificate::hex(&self.access.1),
            self.time
        )
    }

    /// The signed note, given a signing function over the text.
    pub fn sign(&self, spki: &[u8], sign: impl FnOnce(&[u8]) -> Option<Vec<u8>>) -> Option<String> {
        let text = self.text();
        let mut sig = key_id(spki).to_vec();
        sig.extend(sign(text.as_bytes())?);
        Some(format!(
            "{text}\n\u{2014} {} {}\n",
            self.origin,
            B64.encode(sig)
        ))
    }

    /// Parses a signed note and checks its signature with the service key (`spki`, DER).
    pub fn verify(note: &str, spki: &[u8]) -> Result<Checkpoint, NoteError> {
        let bad = |s: &str| NoteError(s.into());
        let (text, sigs) = note
            .split_once("\n\n")
            .ok_or_else(|| bad("no blank line before signatures"))?;
        let text = format!("{text}\n");
        let mut lines = text.lines();
        let origin = lines.next().ok_or_else(|| bad("no origin"))?.to_owned();
        let size = lines
            .next()
            .and_then(|l| l.parse().ok())
            .ok_or_else(|| bad("bad size"))?;
        let root = lines
            .next()
            .and_then(|l| B64.decode(l).ok())
            .and_then(|v| <[u8; 32]>::try_from(v).ok())
            .ok_or_else(|| bad("bad root"))?;
        let chain = lines
            .next()
            .and_then(|l| l.strip_prefix("chain "))
            .and_then(unhex32)
            .ok_or_else(|| bad("bad chain line"))?;
        let access = lines
            .next()
            .and_then(|l| l.strip_prefix("access "))
            .and_then(|l| l.split_once(' '))
            .and_then(|(n, h)| Some((n.parse().ok()?, unhex32(h)?)))
            .ok_or_else(|| bad("bad access line"))?;
        let time = lines
            .next()
            .and_then(|l| l.strip_prefix("time "))
            .ok_or_else(|| bad("bad time line"))?
            .to_owned();
        let want_id = key_id(spki);
        let key = spki_point(spki).ok_or_else(|| bad("service key is not ECDSA P-256"))?;
        let prefix = format!("\u{2014} {origin} ");
        for line in sigs.lines() {
            let Some(b64) = line.strip_prefix(&prefix) else {
                continue;
            };
            let Ok(raw) = B64.decode(b64) else { continue };
            let Some((id, sig)) = raw.split_at_checked(4) else {
                continue;
            };
            if id != want_id {
                continue;
            }
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, &key)
                .verify(text.as_bytes(), sig)
                .map_err(|_| bad("signature does not verify with the service key"))?;
            return Ok(Checkpoint {
                origin,
                size,
                root,
                chain,
                access,
                time,
            });
        }
        Err(bad("no signature by the service key"))
    }
}

fn key_id(spki: &[u8]) -> [u8; 4] {
    let h: [u8; 32] = Sha256::digest(spki).into();
    [h[0], h[1], h[2], h[3]]
}

/// The uncompressed point of a P-256 SubjectPublicKeyInfo.
fn spki_point(spki: &[u8]) -> Option<Vec<u8>> {
    use crate::verify::asn1::{Reader, tag};
    let seq = Reader::new(spki).read_tag(tag::SEQUENCE, "SPKI").ok()?;
    let mut r = seq.children(0).ok()?;
    r.read_tag(tag::SEQUENCE, "algorithm").ok()?;
    let bits = r.read_tag(tag::BIT_STRING, "key").ok()?;
    bits.value
        .split_first()
        .filter(|(u, _)| **u == 0)
        .map(|(_, k)| k.to_vec())
}

/// Parses 64 hex digits.
pub fn unhex32(s: &str) -> Option<[u8; 32]> {
    crate::verify::certificate::unhex(s)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::unhex32;

    #[test]
    fn sixty_four_hex_digits_and_nothing_else_parse() {
        let bytes: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37));
        let hex = crate::verify::certificate::hex(&bytes);
        assert_eq!(unhex32(&hex), Some(bytes));
        assert_eq!(unhex32(&hex.to_uppercase()), Some(bytes));
        for bad in ["+f", "g0", " 0", "0x"] {
            let s = format!("{bad}{}", &hex[2..]);
            assert_eq!(unhex32(&s), None, "{s}");
        }
        assert_eq!(unhex32(&hex[2..]), None);
        assert_eq!(unhex32(&format!("{hex}00")), None);
        // Multi-byte characters are not digits (and never split into pairs that parse).
        assert_eq!(unhex32(&format!("é{}", &hex[2..])), None);
    }
}
