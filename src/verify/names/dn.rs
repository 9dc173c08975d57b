//! Distinguished names in their prepared form (RFC 5280 §7.1).
//!
//! The prepared form is a byte string built so that byte equality is name equality: each RDN
//! becomes one length-prefixed record of its attributes (type, then value prepared per
//! RFC 4518), sorted so that a multi-valued RDN compares as a set. Because records are
//! self-delimiting, "name A lies under name B" (a directoryName subtree, §4.2.1.10) is "B's
//! form is a byte prefix of A's".

use super::prep;
use crate::verify::asn1::{Reader, Tlv, tag};

/// Longest Name encoding that is prepared; a longer one compares by its bytes only.
const MAX_NAME_BYTES: usize = 16 * 1024;
/// Most RDNs in a prepared Name.
const MAX_RDNS: usize = 64;
/// Most attributes over all RDNs of a prepared Name.
const MAX_ATTRIBUTES: usize = 128;
/// Longest attribute value (encoded) that is prepared.
const MAX_VALUE_BYTES: usize = 4096;

/// OID content bytes of emailAddress (PKCS #9, 1.2.840.113549.1.9.1).
const EMAIL_ADDRESS: &[u8] = &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x09, 0x01];

/// Marks a value kept as its encoding (not a character string).
const KIND_RAW: u8 = 0;
/// Marks a character string value, prepared.
const KIND_STRING: u8 = 1;

/// The prepared form of a DER Name (`SEQUENCE OF SET OF AttributeTypeAndValue`), or `None`
/// when it cannot be parsed or exceeds the bounds above.
pub fn canonical(der: &[u8]) -> Option<Vec<u8>> {
    if der.len() > MAX_NAME_BYTES {
        return None;
    }
    let mut out = Vec::with_capacity(der.len());
    let mut attributes = 0usize;
    let mut rdns = 0usize;
    for_each_rdn(der, &mut |rdn| {
        rdns += 1;
        if rdns > MAX_RDNS {
            return None;
        }
        let mut records: Vec<Vec<u8>> = Vec::new();
        let mut r = rdn.children(1).ok()?;
        while let Some(atv) = r.next().ok()? {
            attributes += 1;
            if attributes > MAX_ATTRIBUTES {
                return None;
            }
            records.push(attribute(&atv)?);
        }
        if records.is_empty() {
            return None; // RelativeDistinguishedName is SET SIZE (1..MAX)
        }
        // A multi-valued RDN is a set: the order of its attributes carries no meaning.
        records.sort_unstable();
        let len: usize = records.iter().map(Vec::len).sum();
        out.extend_from_slice(&u32::try_from(len).ok()?.to_be_bytes());
        records.iter().for_each(|rec| out.extend_from_slice(rec));
        Some(())
    })?;
    Some(out)
}

/// Calls `f` on each RDN (a SET) of a DER Name; `None` when the Name is malformed or `f`
/// refuses.
fn for_each_rdn(der: &[u8], f: &mut dyn FnMut(&Tlv<'_>) -> Option<()>) -> Option<()> {
    let mut top = Reader::new(der);
    let seq = top.read_tag(tag::SEQUENCE, "Name").ok()?;
    top.finish("end of Name").ok()?;
    let mut r = seq.children(0).ok()?;
    while let Some(rdn) = r.next().ok()? {
        if rdn.tag != tag::SET {
            return None;
        }
        f(&rdn)?;
    }
    Some(())
}

/// One AttributeTypeAndValue as a self-delimiting record: type, kind, prepared value.
fn attribute(atv: &Tlv<'_>) -> Option<Vec<u8>> {
    if atv.tag != tag::SEQUENCE {
        return None;
    }
    let mut r = atv.children(2).ok()?;
    let oid = r.read_tag(tag::OID, "attribute type").ok()?;
    let value = r.read("attribute value").ok()?;
    r.finish("end of attribute").ok()?;
    if value.raw.len() > MAX_VALUE_BYTES || oid.value.len() > 64 {
        return None;
    }
    let (kind, bytes) = match prep::decode(value.tag, value.value) {
        Some(text) => (KIND_STRING, prep::prepare(&text)?.into_bytes()),
        // Other types (rare in names) must match exactly, tag included.
        None => (KIND_RAW, value.raw.to_vec()),
    };
    let mut rec = Vec::with_capacity(oid.value.len() + bytes.len() + 6);
    rec.push(u8::try_from(oid.value.len()).ok()?);
    rec.extend_from_slice(oid.value);
    rec.push(kind);
    rec.extend_from_slice(&u32::try_from(bytes.len()).ok()?.to_be_bytes());
    rec.extend_from_slice(&bytes);
    Some(rec)
}

/// The emailAddress attributes of a DER Name (as rfc822Names for name constraints,
/// §4.2.1.10), or `None` when the Name cannot be parsed or an emailAddress value is not an
/// ASCII string.
pub fn email_addresses(der: &[u8]) -> Option<Vec<String>> {
    if der.len() > MAX_NAME_BYTES {
        return None;
    }
    let mut out = Vec::new();
    for_each_rdn(der, &mut |rdn| {
        let mut r = rdn.children(1).ok()?;
        while let Some(atv) = r.next().ok()? {
            let mut a = atv.children(2).ok()?;
            let oid = a.read_tag(tag::OID, "attribute type").ok()?;
            let value = a.read("attribute value").ok()?;
            if oid.value == EMAIL_ADDRESS {
                let text = prep::decode(value.tag, value.value)?;
                if !text.is_ascii() || out.len() >= MAX_ATTRIBUTES {
                    return None;
                }
                out.push(text);
            }
        }
        Some(())
    })?;
    Some(out)
}

/// Whether a DER Name has no RDNs (an empty subject, §4.1.2.6).
pub fn is_empty(der: &[u8]) -> bool {
    der == [tag::SEQUENCE, 0]
}

#[cfg(test)]
mod tests;
