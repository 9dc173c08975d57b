//! The comparison rules of RFC 5280 §7.1 / RFC 4518, on Names built byte by byte.

use super::*;
use crate::verify::names::same_name;

const CN: &[u8] = &[0x55, 0x04, 0x03];
const O: &[u8] = &[0x55, 0x04, 0x0A];
const OU: &[u8] = &[0x55, 0x04, 0x0B];
const C: &[u8] = &[0x55, 0x04, 0x06];
const PRINTABLE: u8 = 0x13;
const UTF8: u8 = 0x0C;
const BMP: u8 = 0x1E;
const IA5: u8 = 0x16;

fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = value.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(value);
    out
}

/// An attribute: type OID content, string tag, value bytes.
type Attr<'a> = (&'a [u8], u8, &'a [u8]);

/// A Name from RDNs, each a list of (type OID content, string tag, value bytes).
fn name(rdns: &[&[Attr<'_>]]) -> Vec<u8> {
    let mut seq = Vec::new();
    for rdn in rdns {
        let mut set = Vec::new();
        for (oid, t, v) in rdn.iter() {
            set.extend(tlv(0x30, &[tlv(0x06, oid), tlv(*t, v)].concat()));
        }
        seq.extend(tlv(0x31, &set));
    }
    tlv(0x30, &seq)
}

fn simple(o: &str, cn: &str, t: u8) -> Vec<u8> {
    name(&[
        &[(C, PRINTABLE, b"US")],
        &[(O, t, o.as_bytes())],
        &[(CN, t, cn.as_bytes())],
    ])
}

#[test]
fn equal_encodings_are_equal_names() {
    let a = simple("Test Certificates", "Good CA", PRINTABLE);
    assert!(same_name(&a, &a));
    // Even a Name we cannot parse equals its own bytes.
    assert!(same_name(&[0xFF, 0x01], &[0xFF, 0x01]));
    assert!(!same_name(&[0xFF, 0x01], &[0xFF, 0x02]));
}

#[test]
fn case_is_ignored() {
    let a = simple("Test Certificates", "Good CA", PRINTABLE);
    assert!(same_name(
        &a,
        &simple("TEST certificates", "GOOD ca", PRINTABLE)
    ));
    // Beyond ASCII too: Kazakh Cyrillic in UTF8String.
    let kk = simple("Қазақстан", "Ұлттық куәландырушы орталық", UTF8);
    let upper = simple("ҚАЗАҚСТАН", "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ", UTF8);
    assert!(same_name(&kk, &upper));
}

#[test]
fn insignificant_spaces_are_ignored() {
    let a = simple("Test Certificates", "Good CA", PRINTABLE);
    assert!(same_name(
        &a,
        &simple("  Test   Certificates ", "Good     CA", PRINTABLE)
    ));
    // Tabs and no-break spaces count as spaces (RFC 4518 §2.2).
    assert!(same_name(
        &a,
        &simple("Test\tCertificates", "Good\u{A0}CA", UTF8)
    ));
    // But a space is not nothing.
    assert!(!same_name(
        &a,
        &simple("TestCertificates", "Good CA", PRINTABLE)
    ));
}

#[test]
fn string_types_do_not_matter() {
    let printable = simple("Test Certificates", "Good CA", PRINTABLE);
    assert!(same_name(
        &printable,
        &simple("Test Certificates", "Good CA", UTF8)
    ));
    let bmp: Vec<u8> = "Good CA"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let as_bmp = name(&[
        &[(C, PRINTABLE, b"US")],
        &[(O, UTF8, b"Test Certificates")],
        &[(CN, BMP, &bmp)],
    ]);
    assert!(same_name(&printable, &as_bmp));
}

#[test]
fn unicode_is_normalised_and_ignorables_dropped() {
    // NFKC: a ligature and full-width letters are their plain forms.
    assert!(same_name(
        &simple("ﬁrm", "ＧＯＯＤ CA", UTF8),
        &simple("firm", "good ca", UTF8)
    ));
    // A soft hyphen and a zero-width space are mapped to nothing.
    assert!(same_name(
        &simple("Te\u{AD}st", "Go\u{200B}od CA", UTF8),
        &simple("Test", "Good CA", UTF8)
    ));
    // Private-use code points are prohibited: such a name equals only its own bytes.
    let private = simple("Test", "Good \u{E000}", UTF8);
    assert_eq!(canonical(&private), None);
    assert!(same_name(&private, &private.clone()));
}

#[test]
fn rdn_order_matters() {
    let a = name(&[&[(OU, PRINTABLE, b"Unit 1")], &[(OU, PRINTABLE, b"Unit 2")]]);
    let b = name(&[&[(OU, PRINTABLE, b"Unit 2")], &[(OU, PRINTABLE, b"Unit 1")]]);
    assert!(!same_name(&a, &b));
}

#[test]
fn multi_valued_rdns_compare_as_sets() {
    let a = name(&[&[(CN, PRINTABLE, b"Good CA"), (OU, PRINTABLE, b"Unit")]]);
    let b = name(&[&[(OU, UTF8, b"unit"), (CN, PRINTABLE, b"good ca")]]);
    assert!(same_name(&a, &b));
    // The same attributes split over two RDNs are a different name.
    let split = name(&[&[(CN, PRINTABLE, b"Good CA")], &[(OU, PRINTABLE, b"Unit")]]);
    assert!(!same_name(&a, &split));
}

#[test]
fn types_and_values_must_agree() {
    let a = name(&[&[(CN, PRINTABLE, b"Good CA")]]);
    assert!(!same_name(&a, &name(&[&[(OU, PRINTABLE, b"Good CA")]])));
    assert!(!same_name(&a, &name(&[&[(CN, PRINTABLE, b"Good CB")]])));
    assert!(!same_name(
        &a,
        &name(&[&[(CN, PRINTABLE, b"Good CA")], &[(CN, PRINTABLE, b"x")]])
    ));
    // A value that is not a string compares by its encoding, tag included.
    let int = name(&[&[(CN, 0x02, &[0x01])]]);
    assert!(same_name(&int, &name(&[&[(CN, 0x02, &[0x01])]])));
    assert!(!same_name(&int, &name(&[&[(CN, 0x04, &[0x01])]])));
}

#[test]
fn bounds_fall_back_to_bytes() {
    let many: Vec<&[Attr<'_>]> = vec![&[(OU, PRINTABLE, b"x")]; MAX_RDNS + 1];
    let big = name(&many);
    assert_eq!(canonical(&big), None);
    let long_value = vec![b'a'; MAX_VALUE_BYTES + 1];
    assert_eq!(canonical(&name(&[&[(CN, PRINTABLE, &long_value)]])), None);
    // Malformed encodings: trailing bytes, an RDN that is not a SET, an empty RDN.
    let mut trailing = simple("a", "b", PRINTABLE);
    trailing.push(0);
    assert_eq!(canonical(&trailing), None);
    assert_eq!(canonical(&tlv(0x30, &tlv(0x30, &[]))), None);
    assert_eq!(canonical(&tlv(0x30, &tlv(0x31, &[]))), None);
    // The empty Name is a name.
    assert_eq!(canonical(&[0x30, 0x00]), Some(Vec::new()));
    assert!(is_empty(&[0x30, 0x00]));
}

#[test]
fn a_subtree_is_a_prefix_of_rdns() {
    let base = canonical(&name(&[
        &[(C, PRINTABLE, b"US")],
        &[(O, PRINTABLE, b"Test")],
    ]))
    .unwrap();
    let under = canonical(&name(&[
        &[(C, PRINTABLE, b"us")],
        &[(O, UTF8, b" test ")],
        &[(CN, PRINTABLE, b"Someone")],
    ]))
    .unwrap();
    assert!(under.starts_with(&base));
    // A value that merely starts like the base's last value is not under it.
    let beside = canonical(&name(&[
        &[(C, PRINTABLE, b"US")],
        &[(O, PRINTABLE, b"Testing")],
    ]))
    .unwrap();
    assert!(!beside.starts_with(&base));
}

#[test]
fn email_addresses_are_found() {
    let email = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01];
    let n = name(&[
        &[(CN, PRINTABLE, b"Someone")],
        &[(&email, IA5, b"someone@example.kz")],
    ]);
    assert_eq!(
        email_addresses(&n),
        Some(vec!["someone@example.kz".to_owned()])
    );
    assert_eq!(
        email_addresses(&simple("a", "b", PRINTABLE)),
        Some(Vec::new())
    );
    let bad = name(&[&[(&email, 0x02, b"\x01")]]);
    assert_eq!(email_addresses(&bad), None);
}

#[test]
fn memoised_comparison_agrees_and_memos_never_differ() {
    use crate::verify::names::{Prepared, same_name_memo};
    let a = simple("Test Certificates", "Good CA", PRINTABLE);
    let b = simple("TEST  certificates", "good ca", UTF8);
    let c = simple("Test Certificates", "Other CA", PRINTABLE);
    let (ma, mb, mc) = (
        Prepared::default(),
        Prepared::default(),
        Prepared::default(),
    );
    for _ in 0..2 {
        assert!(same_name_memo(&a, &ma, &b, &mb));
        assert!(!same_name_memo(&a, &ma, &c, &mc));
    }
    // A filled memo and an empty one are equal: they must not make two certificates differ.
    assert_eq!(ma, Prepared::default());
}
