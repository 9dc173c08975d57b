//! A small, bounded BER/DER reader.
//!
//! CMS arrives in BER as often as in DER: OpenSSL's `-stream` and the Java providers write
//! indefinite lengths and constructed OCTET STRINGs. Decoding into a typed DER model would
//! re-encode what was signed, so this reader hands out *slices of the input* instead: a signed
//! attribute set is verified over the bytes exactly as they arrived. Every length is checked
//! against what is left of the input before it is used, so no length field can make us allocate,
//! and nesting is capped so no input can exhaust the stack. The work is bounded too: each
//! indefinite length is found once and remembered, and every element read is charged to a
//! budget in proportion to the input's size, so any input is decided in time linear in its size.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

mod oids;
mod time;
pub use oids::{oid_str, read_oid_str};
pub use time::{
    civil_from_days, days_from_civil, fmt_time, generalized_time_with_fraction, time_value,
};

/// How deep constructed encodings may nest. Real CMS needs about 12; certificates a few more.
pub const MAX_DEPTH: usize = 48;

/// How many indefinite-length elements one input may hold. Streaming writers (OpenSSL
/// `-stream`, the Java providers) use one per enclosing level with definite-length chunks
/// inside, so a real signature has a dozen; the cap bounds the table of where each one ends.
pub const MAX_INDEFINITE: usize = 1 << 16;

/// Element headers that reading one input may cost, per byte of input, plus [`VISIT_SLACK`].
/// Every element takes at least two bytes, and with each indefinite length computed once an
/// element is read at most three times (when its parent's end is found, when the grammar
/// reaches it, when an OCTET STRING's segments are joined): 1.5 visits per byte at most.
/// The budget is the backstop that keeps it so, whatever the grammar above does.
pub const VISITS_PER_BYTE: usize = 2;
/// Visits allowed on top of [`VISITS_PER_BYTE`], so that tiny inputs are not starved.
pub const VISIT_SLACK: usize = 1024;

/// Why a piece of ASN.1 could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Asn1Error {
    /// The input ended inside a header or a value.
    #[error("truncated encoding")]
    Truncated,
    /// A length field is longer than 4 bytes, non-minimal in a way BER forbids, or points past the end.
    #[error("invalid length field")]
    BadLength,
    /// Nesting is deeper than [`MAX_DEPTH`].
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    /// Reading the input would cost more than its size allows (see [`VISITS_PER_BYTE`],
    /// [`MAX_INDEFINITE`]); names what ran out.
    #[error("work budget exhausted: too many {0}")]
    Budget(&'static str),
    /// A tag that this reader does not accept (high tag numbers, which CMS never needs).
    #[error("unsupported tag")]
    BadTag,
    /// The element is not the one the grammar expects here.
    #[error("expected {0}")]
    Unexpected(&'static str),
    /// A value is not well formed for its type (an OID, a time, an INTEGER).
    #[error("invalid {0}")]
    BadValue(&'static str),
}

/// Universal tags used by CMS and X.509.
pub mod tag {
    /// BOOLEAN
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING (primitive form)
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING (primitive form)
    pub const OCTET_STRING: u8 = 0x04;
    /// OCTET STRING (constructed form, BER only)
    pub const OCTET_STRING_CONSTRUCTED: u8 = 0x24;
    /// NULL
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER
    pub const OID: u8 = 0x06;
    /// UTCTime
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE
    pub const SEQUENCE: u8 = 0x30;
    /// SET
    pub const SET: u8 = 0x31;
    /// `[0]` constructed, context-specific
    pub const CTX0: u8 = 0xA0;
    /// `[1]` constructed, context-specific
    pub const CTX1: u8 = 0xA1;
    /// `[0]` primitive, context-specific
    pub const CTX0_PRIM: u8 = 0x80;
}

/// The work account of one input, shared by every reader and element taken from it.
///
/// Modelled on rustls-webpki's `Budget`: a counter passed down that fails the read when it
/// runs out. It also remembers where each indefinite-length element ends, so that descending
/// into one never scans its contents again: without that, every level of nesting rescanned
/// everything below it, and CPU grew with depth × elements.
#[derive(Debug)]
struct Work {
    /// Element headers still allowed to be read.
    visits: Cell<usize>,
    /// The value length of each indefinite-length element found so far, keyed by the address
    /// of its first byte (all elements are slices of the one input, so addresses are unique).
    ends: RefCell<HashMap<usize, usize>>,
}

impl Work {
    fn for_input(len: usize) -> Rc<Work> {
        Rc::new(Work {
            visits: Cell::new(
                len.saturating_mul(VISITS_PER_BYTE)
                    .saturating_add(VISIT_SLACK),
            ),
            ends: RefCell::new(HashMap::new()),
        })
    }

    fn spend(&self) -> Result<(), Asn1Error> {
        let left = self.visits.get();
        if left == 0 {
            return Err(Asn1Error::Budget("element visits"));
        }
        self.visits.set(left - 1);
        Ok(())
    }

    fn known_end(&self, key: usize) -> Option<usize> {
        self.ends.borrow().get(&key).copied()
    }

    fn remember_end(&self, key: usize, value_len: usize) -> Result<(), Asn1Error> {
        let mut ends = self.ends.borrow_mut();
        if ends.len() >= MAX_INDEFINITE {
            return Err(Asn1Error::Budget("indefinite-length elements"));
        }
        ends.insert(key, value_len);
        Ok(())
    }
}

/// One encoded element: its tag, its value bytes, and its whole encoding.
#[derive(Debug, Clone)]
pub struct Tlv<'a> {
    /// The identifier octet (class, constructed bit and tag number).
    pub tag: u8,
    /// The value: for indefinite lengths, the nested elements without the end-of-contents marker.
    pub value: &'a [u8],
    /// The element exactly as it appears in the input, header (and end marker) included.
    pub raw: &'a [u8],
    work: Rc<Work>,
}

impl<'a> Tlv<'a> {
    /// Whether the constructed bit is set.
    pub fn constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }

    /// A reader over the nested elements of a constructed value.
    pub fn children(&self, depth: usize) -> Result<Reader<'a>, Asn1Error> {
        if !self.constructed() {
            return Err(Asn1Error::Unexpected("a constructed element"));
        }
        Reader::nested(self.value, depth + 1, Rc::clone(&self.work))
    }

    /// The content of an OCTET STRING, joining the segments of the BER constructed form.
    pub fn octets(&self, depth: usize) -> Result<Cow<'a, [u8]>, Asn1Error> {
        match self.tag {
            tag::OCTET_STRING => Ok(Cow::Borrowed(self.value)),
            tag::OCTET_STRING_CONSTRUCTED => {
                // The joined content is never longer than the value that holds its segments.
                let mut out = Vec::with_capacity(self.value.len());
                self.for_each_segment(depth, &mut |s| out.extend_from_slice(s))?;
                Ok(Cow::Owned(out))
            }
            _ => Err(Asn1Error::Unexpected("an OCTET STRING")),
        }
    }

    /// Hands the primitive segments of an OCTET STRING to `f` in order: one pass over the
    /// leaves, however deep the constructed form nests, and each byte seen once.
    pub fn for_each_segment(
        &self,
        depth: usize,
        f: &mut dyn FnMut(&'a [u8]),
    ) -> Result<(), Asn1Error> {
        match self.tag {
            tag::OCTET_STRING => {
                f(self.value);
                Ok(())
            }
            tag::OCTET_STRING_CONSTRUCTED => {
                let mut r = self.children(depth)?;
                while let Some(part) = r.next()? {
                    part.for_each_segment(r.depth(), f)?;
                }
                Ok(())
            }
            _ => Err(Asn1Error::Unexpected("an OCTET STRING")),
        }
    }

    /// Fails unless the tag is `expected`; `what` names it in the error.
    pub fn must_be(self, expected: u8, what: &'static str) -> Result<Self, Asn1Error> {
        if self.tag == expected {
            Ok(self)
        } else {
            Err(Asn1Error::Unexpected(what))
        }
    }
}

/// Reads consecutive elements from a byte slice.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
    depth: usize,
    work: Rc<Work>,
}

impl<'a> Reader<'a> {
    /// A reader over top-level input, with a work budget in proportion to its size.
    pub fn new(input: &'a [u8]) -> Self {
        Reader {
            rest: input,
            depth: 0,
            work: Work::for_input(input.len()),
        }
    }

    fn nested(input: &'a [u8], depth: usize, work: Rc<Work>) -> Result<Self, Asn1Error> {
        if depth > MAX_DEPTH {
            return Err(Asn1Error::TooDeep);
        }
        Ok(Reader {
            rest: input,
            depth,
            work,
        })
    }

    /// The nesting depth of the elements this reader returns.
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// Whether all input has been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next element, or `None` at the end.
    #[allow(clippy::should_implement_trait)] // fallible, so not an Iterator
    pub fn next(&mut self) -> Result<Option<Tlv<'a>>, Asn1Error> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (tlv, rest) = read_tlv(self.rest, self.depth, &self.work)?;
        self.rest = rest;
        Ok(Some(tlv))
    }

    /// The next element, which must exist.
    pub fn read(&mut self, what: &'static str) -> Result<Tlv<'a>, Asn1Error> {
        self.next()?.ok_or(Asn1Error::Unexpected(what))
    }

    /// The next element, which must carry `expected`.
    pub fn read_tag(&mut self, expected: u8, what: &'static str) -> Result<Tlv<'a>, Asn1Error> {
        self.read(what)?.must_be(expected, what)
    }

    /// The next element if it carries `expected`; otherwise nothing is consumed.
    pub fn optional(&mut self, expected: u8) -> Result<Option<Tlv<'a>>, Asn1Error> {
        match self.rest.first() {
            Some(&t) if t == expected => self.next(),
            _ => Ok(None),
        }
    }

    /// Fails if anything is left.
    pub fn finish(&self, what: &'static str) -> Result<(), Asn1Error> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(Asn1Error::Unexpected(what))
        }
    }
}

/// Reads one element from the front of `input`; returns it and the remainder.
fn read_tlv<'a>(
    input: &'a [u8],
    depth: usize,
    work: &Rc<Work>,
) -> Result<(Tlv<'a>, &'a [u8]), Asn1Error> {
    if depth > MAX_DEPTH {
        return Err(Asn1Error::TooDeep);
    }
    work.spend()?;
    let (&tag, after_tag) = input.split_first().ok_or(Asn1Error::Truncated)?;
    if tag & 0x1F == 0x1F {
        return Err(Asn1Error::BadTag);
    }
    let (&first, mut after_len) = after_tag.split_first().ok_or(Asn1Error::Truncated)?;
    let header_len;
    let len = if first < 0x80 {
        header_len = 2;
        usize::from(first)
    } else if first == 0x80 {
        // Indefinite length: only for constructed encodings; ends at an end-of-contents marker.
        if tag & 0x20 == 0 {
            return Err(Asn1Error::BadLength);
        }
        let key = input.as_ptr() as usize;
        let value_len = match work.known_end(key) {
            Some(n) => n,
            None => {
                let n = indefinite_len(after_len, depth, work)?;
                work.remember_end(key, n)?;
                n
            }
        };
        let total = 2 + value_len + 2;
        let raw = input.get(..total).ok_or(Asn1Error::Truncated)?;
        let value = after_len.get(..value_len).ok_or(Asn1Error::Truncated)?;
        let rest = input.get(total..).ok_or(Asn1Error::Truncated)?;
        return Ok((tlv(tag, value, raw, work), rest));
    } else {
        let n = usize::from(first & 0x7F);
        if n > 4 || n == 0x7F {
            return Err(Asn1Error::BadLength);
        }
        let bytes = after_len.get(..n).ok_or(Asn1Error::Truncated)?;
        after_len = after_len.get(n..).ok_or(Asn1Error::Truncated)?;
        header_len = 2 + n;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    if len > after_len.len() {
        return Err(Asn1Error::BadLength);
    }
    let (value, rest) = after_len.split_at(len);
    let raw = input.get(..header_len + len).ok_or(Asn1Error::Truncated)?;
    Ok((tlv(tag, value, raw, work), rest))
}

/// An element of the input read under `work`.
fn tlv<'a>(tag: u8, value: &'a [u8], raw: &'a [u8], work: &Rc<Work>) -> Tlv<'a> {
    Tlv {
        tag,
        value,
        raw,
        work: Rc::clone(work),
    }
}

/// The length of the value of an indefinite-length element whose value starts `body`: the
/// elements up to the end-of-contents marker, walked once (nested indefinite ones are
/// remembered as they are found, so no later read walks them again).
fn indefinite_len(body: &[u8], depth: usize, work: &Rc<Work>) -> Result<usize, Asn1Error> {
    let mut r = Reader::nested(body, depth + 1, Rc::clone(work))?;
    loop {
        if r.rest.starts_with(&[0, 0]) {
            return Ok(body.len() - r.rest.len());
        }
        if r.next()?.is_none() {
            return Err(Asn1Error::Truncated);
        }
    }
}

/// Parses exactly one element that spans all of `input`.
pub fn parse_single(input: &[u8]) -> Result<Tlv<'_>, Asn1Error> {
    let mut r = Reader::new(input);
    let tlv = r.read("an element")?;
    r.finish("end of input")?;
    Ok(tlv)
}

/// The dotted form of an OBJECT IDENTIFIER's content bytes.
pub fn oid_string(bytes: &[u8]) -> Result<String, Asn1Error> {
    if bytes.is_empty() || bytes.len() > 64 || bytes.last().is_some_and(|b| b & 0x80 != 0) {
        return Err(Asn1Error::BadValue("object identifier"));
    }
    // Hand-rolled rather than `write!`: this runs for every algorithm of every signature.
    fn push_num(out: &mut String, mut n: u64) {
        let mut buf = [0u8; 20];
        let mut i = buf.len();
        loop {
            i -= 1;
            if let Some(slot) = buf.get_mut(i) {
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || i == 0 {
                break;
            }
        }
        for &d in buf.get(i..).unwrap_or_default() {
            out.push(char::from(d));
        }
    }
    let mut out = String::with_capacity(bytes.len() * 3);
    let mut acc: u64 = 0;
    let mut first = true;
    for &b in bytes {
        if acc > (u64::MAX >> 8) {
            return Err(Asn1Error::BadValue("object identifier"));
        }
        acc = (acc << 7) | u64::from(b & 0x7F);
        if b & 0x80 == 0 {
            if first {
                let (a, rest) = match acc {
                    0..=39 => (0, acc),
                    40..=79 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                push_num(&mut out, a);
                out.push('.');
                push_num(&mut out, rest);
                first = false;
            } else {
                out.push('.');
                push_num(&mut out, acc);
            }
            acc = 0;
        }
    }
    Ok(out)
}

/// Reads an OBJECT IDENTIFIER element into dotted form.
pub fn read_oid(r: &mut Reader<'_>, what: &'static str) -> Result<String, Asn1Error> {
    read_oid_str(r, what).map(Cow::into_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_length_and_constructed_octets() {
        // [0] indefinite { OCTET STRING constructed indefinite { "te" "st" } }
        let ber = [
            0xA0, 0x80, 0x24, 0x80, 0x04, 0x02, b't', b'e', 0x04, 0x02, b's', b't', 0, 0, 0, 0,
        ];
        let outer = parse_single(&ber).unwrap();
        assert_eq!(outer.raw.len(), ber.len());
        let inner = outer.children(0).unwrap().read("inner").unwrap();
        assert_eq!(&*inner.octets(1).unwrap(), b"test");
    }

    #[test]
    fn absurd_lengths_are_refused() {
        assert_eq!(
            parse_single(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF]).unwrap_err(),
            Asn1Error::BadLength
        );
        assert_eq!(
            parse_single(&[0x30, 0x89, 1, 1, 1, 1, 1, 1, 1, 1, 1]).unwrap_err(),
            Asn1Error::BadLength
        );
        assert_eq!(
            parse_single(&[0x04, 0x80, 0, 0]).unwrap_err(),
            Asn1Error::BadLength
        );
        assert_eq!(parse_single(&[0x30]).unwrap_err(), Asn1Error::Truncated);
    }

    #[test]
    fn deep_nesting_is_refused() {
        let mut v = Vec::new();
        for _ in 0..10_000 {
            v.extend_from_slice(&[0x30, 0x80]);
        }
        assert_eq!(parse_single(&v).unwrap_err(), Asn1Error::TooDeep);
    }

    /// `depth` indefinite-length constructed OCTET STRINGs around `leaves` one-byte segments.
    fn nested_octets(depth: usize, leaves: usize) -> Vec<u8> {
        let mut v = Vec::with_capacity(4 * depth + 3 * leaves);
        for _ in 0..depth {
            v.extend_from_slice(&[0x24, 0x80]);
        }
        for i in 0..leaves {
            v.extend_from_slice(&[0x04, 0x01, i as u8]);
        }
        for _ in 0..depth {
            v.extend_from_slice(&[0, 0]);
        }
        v
    }

    #[test]
    fn each_indefinite_length_is_found_once() {
        // Rescanning at every level would read 40 × 100 000 headers; the budget allows about
        // 600 000 for this input, and the reader needs two reads per segment.
        let ber = nested_octets(40, 100_000);
        let t = parse_single(&ber).unwrap();
        let content = t.octets(0).unwrap();
        assert_eq!(content.len(), 100_000);
        assert!(content.iter().enumerate().all(|(i, &b)| b == i as u8));
    }

    #[test]
    fn the_work_budget_runs_out() {
        // A grammar that reads the same element again and again is stopped by the budget.
        let input = [0x05, 0x00];
        let r = Reader::new(&input);
        let allowed = input.len() * VISITS_PER_BYTE + VISIT_SLACK;
        for _ in 0..allowed {
            assert!(r.clone().next().unwrap().is_some());
        }
        assert_eq!(
            r.clone().next().unwrap_err(),
            Asn1Error::Budget("element visits")
        );
        // So is an input of more indefinite-length elements than the table of ends may hold.
        let mut many = vec![0x24, 0x80];
        for _ in 0..MAX_INDEFINITE {
            many.extend_from_slice(&[0x24, 0x80, 0, 0]);
        }
        many.extend_from_slice(&[0, 0]);
        assert_eq!(
            parse_single(&many).unwrap_err(),
            Asn1Error::Budget("indefinite-length elements")
        );
    }

    #[test]
    fn oids() {
        assert_eq!(
            oid_string(&[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02]).unwrap(),
            "1.2.840.113549.1.7.2"
        );
    }
}
