//! Names: how two X.500 names are compared when a path is built and a CRL matched to its
//! issuer (RFC 5280 §7.1).

/// Whether two DER-encoded Names denote the same name.
///
/// Today: byte equality of the encodings, which is exact for names that were copied from one
/// certificate to the next (as nearly every CA does).
pub fn same_name(a: &[u8], b: &[u8]) -> bool {
    a == b
}
