//! String preparation for attribute values (RFC 4518, as RFC 5280 §7.1 requires), for the
//! caseIgnoreMatch rule: transcode, map, normalise (NFKC), prohibit, and insignificant space
//! handling.
//!
//! Case folding uses Unicode lower-casing, applied before and after NFKC so that compatibility
//! characters that decompose to capitals fold too; both sides of a comparison are prepared the
//! same way, which is all equality needs.

use icu_normalizer::ComposingNormalizerBorrowed;

/// UTF8String
const UTF8: u8 = 0x0C;
/// NumericString
const NUMERIC: u8 = 0x12;
/// PrintableString
const PRINTABLE: u8 = 0x13;
/// TeletexString (T61String)
const TELETEX: u8 = 0x14;
/// IA5String
const IA5: u8 = 0x16;
/// VisibleString
const VISIBLE: u8 = 0x1A;
/// UniversalString (UCS-4)
const UNIVERSAL: u8 = 0x1C;
/// BMPString (UCS-2)
const BMP: u8 = 0x1E;

/// The text of a character-string value, or `None` when `tag` is not a string type or the
/// bytes are not valid for it.
///
/// All string types decode to Unicode, so that a PrintableString and a UTF8String of the same
/// text are the same value (§7.1). TeletexString is read as Latin-1, as CAs that use it do.
pub fn decode(tag: u8, v: &[u8]) -> Option<String> {
    match tag {
        UTF8 => std::str::from_utf8(v).ok().map(str::to_owned),
        NUMERIC | PRINTABLE | IA5 | VISIBLE => std::str::from_utf8(v)
            .ok()
            .filter(|s| s.is_ascii())
            .map(str::to_owned),
        TELETEX => Some(v.iter().map(|&b| char::from(b)).collect()),
        BMP if v.len().is_multiple_of(2) => {
            let units = v.chunks_exact(2).map(|c| match c {
                [a, b] => u16::from_be_bytes([*a, *b]),
                _ => 0,
            });
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        UNIVERSAL if v.len().is_multiple_of(4) => v
            .chunks_exact(4)
            .map(|c| match c {
                [a, b, d, e] => char::from_u32(u32::from_be_bytes([*a, *b, *d, *e])),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

/// What RFC 4518 §2.2 does with one code point.
enum Map {
    Nothing,
    Space,
    Keep,
}

/// RFC 4518 §2.2 (the complete lists given there).
fn map(c: char) -> Map {
    match c {
        '\u{09}'..='\u{0D}' | '\u{85}' => Map::Space,
        '\u{00}'..='\u{08}'
        | '\u{0E}'..='\u{1F}'
        | '\u{7F}'..='\u{84}'
        | '\u{86}'..='\u{9F}'
        | '\u{AD}'
        | '\u{034F}'
        | '\u{06DD}'
        | '\u{070F}'
        | '\u{1806}'
        | '\u{180B}'..='\u{180E}'
        | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2063}'
        | '\u{206A}'..='\u{206F}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{FEFF}'
        | '\u{FFF9}'..='\u{FFFC}'
        | '\u{1D173}'..='\u{1D17A}'
        | '\u{E0001}'
        | '\u{E0020}'..='\u{E007F}' => Map::Nothing,
        '\u{A0}'
        | '\u{1680}'
        | '\u{2000}'..='\u{200A}'
        | '\u{2028}'
        | '\u{2029}'
        | '\u{202F}'
        | '\u{205F}'
        | '\u{3000}' => Map::Space,
        _ => Map::Keep,
    }
}

/// RFC 4518 §2.4 (those of its prohibited code points that can be told without Unicode's
/// table of unassigned ones): private use, non-characters and the replacement character.
fn prohibited(c: char) -> bool {
    let u = u32::from(c);
    matches!(u, 0xE000..=0xF8FF | 0xF0000.. | 0xFDD0..=0xFDEF | 0xFFFD | 0x0340 | 0x0341)
        || u & 0xFFFE == 0xFFFE
}

/// The value prepared for caseIgnoreMatch, or `None` when it holds a prohibited code point
/// (such a value then compares by its encoding only).
pub fn prepare(text: &str) -> Option<String> {
    let folded = if text.is_ascii() {
        // ASCII is NFKC already and has no prohibited code points: map and fold only.
        text.chars()
            .filter_map(|c| match map(c) {
                Map::Nothing => None,
                Map::Space => Some(' '),
                Map::Keep => Some(c.to_ascii_lowercase()),
            })
            .collect::<String>()
    } else {
        let mut mapped = String::with_capacity(text.len());
        for c in text.chars() {
            match map(c) {
                Map::Nothing => {}
                Map::Space => mapped.push(' '),
                Map::Keep => mapped.extend(c.to_lowercase()),
            }
        }
        let nfkc = ComposingNormalizerBorrowed::new_nfkc();
        let normal = nfkc.normalize(&mapped).to_lowercase();
        if normal.chars().any(prohibited) {
            return None;
        }
        normal
    };
    Some(squeeze_spaces(&folded))
}

/// Insignificant space handling (RFC 4518 §2.6.1): leading and trailing spaces dropped, each
/// inner run of spaces counted as one. (The RFC's own form doubles inner spaces and keeps a
/// space at either end; for equality the two forms agree.)
fn squeeze_spaces(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}
