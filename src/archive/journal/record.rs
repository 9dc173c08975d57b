//! One journal record: the writes of one batch. Layout, all integers big-endian:
//!
//! ```text
//! header  "TJR1" | meta length u32 | data length u64 | SHA-256(first 16 bytes ‖ meta)
//! meta    durable u64 | op count u32 | ops…
//!         op: 1 (put) | key length u16 | key | value length u32 | SHA-256(value)[..16]
//!             2 (remove) | key length u16 | key
//! data    the put values, in op order
//! ```
//!
//! Values sit outside the checksummed part, each with a digest of its own, because disposal
//! destroys a document's bytes in place (a punched hole reads as zeros) while the record that
//! once held them must still read as intact. `durable` is how far the journal was known to be
//! on stable storage when the record was written: recovery may cut a torn tail only beyond it.

use sha2::{Digest, Sha256};

/// Marks the start of every record.
pub const MAGIC: [u8; 4] = *b"TJR1";
/// Header length.
pub const HEADER: usize = 4 + 4 + 8 + 32;
/// Largest metadata section a reader accepts.
pub const MAX_META: u32 = 16 << 20;
/// Largest data section a reader accepts.
pub const MAX_DATA: u64 = 1 << 32;
/// Largest key a reader accepts.
pub const MAX_KEY: usize = 4096;

const PUT: u8 = 1;
const REMOVE: u8 = 2;

/// A write as the journal records it (keys carry their space prefix).
#[derive(Debug, Clone, Copy)]
pub enum Op<'a> {
    /// Sets a key.
    Put {
        /// Full key.
        key: &'a [u8],
        /// Value.
        value: &'a [u8],
    },
    /// Removes a key (disposal).
    Remove {
        /// Full key.
        key: &'a [u8],
    },
}

/// A value's digest, as kept beside it.
pub fn value_digest(value: &[u8]) -> [u8; 16] {
    let full: [u8; 32] = Sha256::digest(value).into();
    let (d, _) = full.split_first_chunk::<16>().unwrap_or((&[0; 16], &[]));
    *d
}

/// Encodes a record; returns it and where in it the first value starts. `None` when a key or
/// value exceeds what a reader would accept, so that nothing is ever written that recovery
/// would then refuse.
pub fn encode(durable: u64, ops: &[Op<'_>]) -> Option<(Vec<u8>, usize)> {
    let mut meta = Vec::with_capacity(16 + ops.len() * 64);
    meta.extend_from_slice(&durable.to_be_bytes());
    meta.extend_from_slice(&u32::try_from(ops.len()).ok()?.to_be_bytes());
    let mut data_len = 0u64;
    for op in ops {
        let (kind, key) = match op {
            Op::Put { key, .. } => (PUT, key),
            Op::Remove { key } => (REMOVE, key),
        };
        if key.len() > MAX_KEY {
            return None;
        }
        meta.push(kind);
        meta.extend_from_slice(&u16::try_from(key.len()).ok()?.to_be_bytes());
        meta.extend_from_slice(key);
        if let Op::Put { value, .. } = op {
            meta.extend_from_slice(&u32::try_from(value.len()).ok()?.to_be_bytes());
            meta.extend_from_slice(&value_digest(value));
            data_len += value.len() as u64;
        }
    }
    let meta_len = u32::try_from(meta.len()).ok().filter(|&l| l <= MAX_META)?;
    if data_len > MAX_DATA {
        return None;
    }
    let mut out = Vec::with_capacity(HEADER + meta.len() + data_len as usize);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&meta_len.to_be_bytes());
    out.extend_from_slice(&data_len.to_be_bytes());
    let sum = checksum(&out, &meta);
    out.extend_from_slice(&sum);
    out.extend_from_slice(&meta);
    let values_at = out.len();
    for op in ops {
        if let Op::Put { value, .. } = op {
            out.extend_from_slice(value);
        }
    }
    Some((out, values_at))
}

fn checksum(first16: &[u8], meta: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(first16);
    h.update(meta);
    h.finalize().into()
}

/// A record's header, read before its metadata.
#[derive(Debug, Clone, Copy)]
pub struct Header {
    /// Metadata length.
    pub meta_len: u32,
    /// Data length.
    pub data_len: u64,
    raw: [u8; HEADER],
}

impl Header {
    /// Parses a header; `None` when it is not one (wrong magic, lengths beyond the limits).
    pub fn parse(raw: [u8; HEADER]) -> Option<Header> {
        let (magic, rest) = raw.split_first_chunk::<4>()?;
        let (meta_len, rest) = rest.split_first_chunk::<4>()?;
        let (data_len, _) = rest.split_first_chunk::<8>()?;
        let meta_len = u32::from_be_bytes(*meta_len);
        let data_len = u64::from_be_bytes(*data_len);
        (*magic == MAGIC && meta_len <= MAX_META && data_len <= MAX_DATA).then_some(Header {
            meta_len,
            data_len,
            raw,
        })
    }

    /// The checksum field: what names this record (the index's manifest keeps the first and
    /// the last covered record's, to know the journal it was built from).
    pub fn sum(&self) -> [u8; 32] {
        let (_, sum) = self.raw.split_at(16);
        sum.try_into().unwrap_or([0; 32])
    }

    /// The whole record's length.
    pub fn record_len(&self) -> u64 {
        HEADER as u64 + u64::from(self.meta_len) + self.data_len
    }
}

/// One operation of a decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaOp {
    /// A put; its value follows in the data section.
    Put {
        /// Full key.
        key: Vec<u8>,
        /// Value length.
        len: u32,
        /// The value's digest.
        digest: [u8; 16],
    },
    /// A removal.
    Remove {
        /// Full key.
        key: Vec<u8>,
    },
}

/// A record's checked metadata.
#[derive(Debug, Clone)]
pub struct Meta {
    /// How far the journal was durable when the record was written.
    pub durable: u64,
    /// The operations, in order.
    pub ops: Vec<MetaOp>,
}

/// Checks the metadata against the header's checksum and decodes it; `None` when it does not
/// match or does not parse (a torn or damaged record), or when its values do not add up to the
/// header's data length.
pub fn parse_meta(header: &Header, meta: &[u8]) -> Option<Meta> {
    let (first16, rest) = header.raw.split_first_chunk::<16>()?;
    if checksum(first16, meta) != *rest {
        return None;
    }
    let mut r = Reader(meta);
    let durable = u64::from_be_bytes(r.take()?);
    let count = u32::from_be_bytes(r.take()?);
    let mut ops = Vec::new();
    let mut total = 0u64;
    for _ in 0..count {
        let kind = r.take::<1>()?[0];
        let key_len = usize::from(u16::from_be_bytes(r.take()?));
        if key_len > MAX_KEY {
            return None;
        }
        let key = r.bytes(key_len)?.to_vec();
        match kind {
            PUT => {
                let len = u32::from_be_bytes(r.take()?);
                total += u64::from(len);
                ops.push(MetaOp::Put {
                    key,
                    len,
                    digest: r.take()?,
                });
            }
            REMOVE => ops.push(MetaOp::Remove { key }),
            _ => return None,
        }
    }
    (r.0.is_empty() && total == header.data_len).then_some(Meta { durable, ops })
}

/// A cursor over bytes that are checked already (the metadata, the index's manifest).
pub struct Reader<'a>(pub &'a [u8]);

impl Reader<'_> {
    /// The next `N` bytes.
    pub fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }

    /// The next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Option<&[u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(raw: &[u8]) -> Option<Meta> {
        let header = Header::parse(raw.get(..HEADER)?.try_into().ok()?)?;
        parse_meta(&header, raw.get(HEADER..HEADER + header.meta_len as usize)?)
    }

    #[test]
    fn a_record_reads_back_and_every_flipped_metadata_byte_is_caught() {
        let ops = [
            Op::Put {
                key: b"Lkey",
                value: b"value one",
            },
            Op::Remove { key: b"Cgone" },
            Op::Put {
                key: b"Ihead",
                value: b"",
            },
        ];
        let (raw, values_at) = encode(77, &ops).unwrap();
        let meta = decode(&raw).unwrap();
        assert_eq!(meta.durable, 77);
        assert_eq!(
            meta.ops,
            vec![
                MetaOp::Put {
                    key: b"Lkey".to_vec(),
                    len: 9,
                    digest: value_digest(b"value one")
                },
                MetaOp::Remove {
                    key: b"Cgone".to_vec()
                },
                MetaOp::Put {
                    key: b"Ihead".to_vec(),
                    len: 0,
                    digest: value_digest(b"")
                },
            ]
        );
        assert_eq!(&raw[values_at..], b"value one");
        for i in 0..values_at {
            let mut bad = raw.clone();
            bad[i] ^= 0x20;
            assert!(decode(&bad).is_none(), "byte {i} flipped went unnoticed");
        }
    }

    #[test]
    fn keys_beyond_the_limit_are_never_written() {
        let key = vec![b'L'; MAX_KEY + 1];
        assert!(
            encode(
                0,
                &[Op::Put {
                    key: &key,
                    value: b""
                }]
            )
            .is_none()
        );
    }
}
