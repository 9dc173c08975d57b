//! Hostile but well-formed CMS bodies, built around a real detached signature: deeply nested
//! BER content, floods of carried certificates. Shared by `benches/hostile.rs` and
//! `tests/hostile.rs` and the `cms_limits` fuzz target (included there by path), so the bench
//! measures what the tests prove.
#![allow(dead_code)]

use tamga::verify::asn1::{self, Tlv};

/// id-signedData, encoded as an OBJECT IDENTIFIER element.
const ID_SIGNED_DATA: [u8; 11] = [
    0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02,
];

/// Appends a definite-length header for `tag` and `len`.
pub fn header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    match len {
        0..=0x7F => out.push(len as u8),
        0x80..=0xFF => out.extend_from_slice(&[0x81, len as u8]),
        0x100..=0xFFFF => out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]),
        _ => {
            out.push(0x84);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
    }
}

/// The BER of an OCTET STRING holding `content` in `leaf`-byte segments, wrapped in `depth`
/// indefinite-length constructed OCTET STRINGs (`depth` 1 is the usual streaming form).
pub fn nested_octets(content: &[u8], leaf: usize, depth: usize) -> Vec<u8> {
    let leaf = leaf.max(1);
    let leaves = content.len().div_ceil(leaf);
    let mut out = Vec::with_capacity(content.len() + leaves * 6 + depth * 4);
    for _ in 0..depth {
        out.extend_from_slice(&[0x24, 0x80]);
    }
    for chunk in content.chunks(leaf) {
        header(&mut out, 0x04, chunk.len());
        out.extend_from_slice(chunk);
    }
    for _ in 0..depth {
        out.extend_from_slice(&[0, 0]);
    }
    out
}

/// `[0] IMPLICIT SET OF` with `n` empty SEQUENCEs (each a "certificate" of two bytes), in the
/// indefinite form so that no length field has to announce the flood.
pub fn certificate_flood(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 * n + 4);
    out.extend_from_slice(&[0xA0, 0x80]);
    for _ in 0..n {
        out.extend_from_slice(&[0x30, 0x00]);
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// The SignedData of `detached` re-encoded (indefinite lengths outside, every signed element
/// byte for byte as it was) with `econtent` as its encapsulated content (the OCTET STRING
/// element, any form) and, when given, `certificates` (a whole `[0]` element) in place of
/// the certificates it carried. The signature still covers what it covered.
pub fn assemble(detached: &[u8], econtent: Option<&[u8]>, certificates: Option<&[u8]>) -> Vec<u8> {
    let ci = asn1::parse_single(detached).expect("ContentInfo");
    let mut r = ci.children(0).expect("ContentInfo children");
    r.read("contentType").expect("contentType");
    let explicit = r.read("[0]").expect("[0]");
    let mut x = explicit.children(r.depth()).expect("[0] children");
    let sd = x.read("SignedData").expect("SignedData");
    let mut s = sd.children(x.depth()).expect("SignedData children");
    let mut parts: Vec<Tlv<'_>> = Vec::new();
    while let Some(t) = s.next().expect("SignedData element") {
        parts.push(t);
    }
    let [version, digest_algs, encap, rest @ ..] = parts.as_slice() else {
        panic!("SignedData too short");
    };
    let mut er = encap.children(s.depth()).expect("encapContentInfo");
    let content_type = er.read("eContentType").expect("eContentType");

    let extra = econtent.map_or(0, <[u8]>::len) + certificates.map_or(0, <[u8]>::len);
    let mut out = Vec::with_capacity(detached.len() + extra + 64);
    out.extend_from_slice(&[0x30, 0x80]);
    out.extend_from_slice(&ID_SIGNED_DATA);
    out.extend_from_slice(&[0xA0, 0x80, 0x30, 0x80]);
    out.extend_from_slice(version.raw);
    out.extend_from_slice(digest_algs.raw);
    out.extend_from_slice(&[0x30, 0x80]);
    out.extend_from_slice(content_type.raw);
    if let Some(e) = econtent {
        out.extend_from_slice(&[0xA0, 0x80]);
        out.extend_from_slice(e);
        out.extend_from_slice(&[0, 0]);
    }
    out.extend_from_slice(&[0, 0]);
    if let Some(c) = certificates {
        out.extend_from_slice(c);
    }
    for t in rest {
        if certificates.is_some() && t.tag == 0xA0 {
            continue;
        }
        out.extend_from_slice(t.raw);
    }
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    out
}
