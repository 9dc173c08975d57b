//! The durable part: an append-only, hash-chained log whose entries are the leaves of an
//! RFC 9162 Merkle tree.

pub mod merkle;
