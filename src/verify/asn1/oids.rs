//! The dotted forms of the OBJECT IDENTIFIERs every signature carries, borrowed instead of
//! formatted.
//!
//! A CMS signature names a dozen OIDs (content types, attribute types, algorithms); formatting
//! each into a fresh `String` cost a tenth of a verification beside the signature itself.
//! The ones below are matched on their content bytes (X.690 §8.19) and handed out as
//! `&'static str`; any other OID is formatted as before. A test checks each entry against
//! the formatter, so the table cannot say anything the formatter would not.

use super::{Asn1Error, Reader, oid_string, tag};
use std::borrow::Cow;

/// Declares the table once, as a `match` (a decision tree on the bytes, no search) and, for
/// the test, as a list.
macro_rules! known_oids {
    ($($dotted:literal = [$($b:literal),+];)+) => {
        /// The dotted form of a well-known OID's content bytes.
        fn known(bytes: &[u8]) -> Option<&'static str> {
            match bytes {
                $([$($b),+] => Some($dotted),)+
                _ => None,
            }
        }

        /// Every entry, for the test.
        #[cfg(test)]
        const KNOWN: &[(&str, &[u8])] = &[$(($dotted, &[$($b),+]),)+];
    };
}

known_oids! {
    // RFC 5652 content types and attributes.
    "1.2.840.113549.1.7.1" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];
    "1.2.840.113549.1.7.2" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    "1.2.840.113549.1.9.3" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x03];
    "1.2.840.113549.1.9.4" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x04];
    "1.2.840.113549.1.9.5" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x05];
    "1.2.840.113549.1.9.15" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x0F];
    // RFC 3161 TSTInfo and token attribute, RFC 5035 ESS signing-certificate v1 and v2.
    "1.2.840.113549.1.9.16.1.4" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x01, 0x04];
    "1.2.840.113549.1.9.16.2.12" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0C];
    "1.2.840.113549.1.9.16.2.14" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x0E];
    "1.2.840.113549.1.9.16.2.47" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x10, 0x02, 0x2F];
    // RFC 8017 / RFC 4055 RSA.
    "1.2.840.113549.1.1.1" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x01];
    "1.2.840.113549.1.1.5" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x05];
    "1.2.840.113549.1.1.8" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x08];
    "1.2.840.113549.1.1.10" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0A];
    "1.2.840.113549.1.1.11" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B];
    "1.2.840.113549.1.1.12" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0C];
    "1.2.840.113549.1.1.13" = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0D];
    // RFC 5480 / RFC 5758 ECDSA, the NIST curves, RFC 8410 Ed25519.
    "1.2.840.10045.2.1" = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
    "1.2.840.10045.3.1.7" = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];
    "1.2.840.10045.4.3.2" = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x02];
    "1.2.840.10045.4.3.3" = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x03];
    "1.2.840.10045.4.3.4" = [0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x04, 0x03, 0x04];
    "1.3.132.0.34" = [0x2B, 0x81, 0x04, 0x00, 0x22];
    "1.3.101.112" = [0x2B, 0x65, 0x70];
    // NIST SHA-2 (RFC 5754).
    "2.16.840.1.101.3.4.2.1" = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    "2.16.840.1.101.3.4.2.2" = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
    "2.16.840.1.101.3.4.2.3" = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
}

/// The dotted form of an OBJECT IDENTIFIER's content bytes: borrowed for a well-known one,
/// formatted by [`oid_string`] (with its checks) otherwise.
pub fn oid_str(bytes: &[u8]) -> Result<Cow<'static, str>, Asn1Error> {
    match known(bytes) {
        Some(s) => Ok(Cow::Borrowed(s)),
        None => oid_string(bytes).map(Cow::Owned),
    }
}

/// Reads an OBJECT IDENTIFIER element into dotted form, borrowed when well known.
pub fn read_oid_str(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Cow<'static, str>, Asn1Error> {
    oid_str(r.read_tag(tag::OID, what)?.value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_what_the_formatter_makes_of_its_bytes() {
        for (dotted, bytes) in KNOWN {
            assert_eq!(oid_string(bytes).unwrap(), *dotted);
            assert!(matches!(oid_str(bytes).unwrap(), Cow::Borrowed(s) if s == *dotted));
        }
    }

    #[test]
    fn other_oids_are_formatted_and_bad_ones_refused() {
        // 1.2.643.7.1.1.2.2 (Streebog-256) is not in the table.
        let streebog = [0x2A, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x02];
        assert!(matches!(oid_str(&streebog).unwrap(), Cow::Owned(s) if s == "1.2.643.7.1.1.2.2"));
        assert!(oid_str(&[]).is_err());
        assert!(oid_str(&[0x2A, 0x86]).is_err());
    }
}
