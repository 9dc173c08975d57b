//! A minimal DER writer: enough to build the SignedData of a receipt.

/// One encoded element: tag, definite length, value.
pub fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    out.push(tag);
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let len = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | len.len() as u8);
        out.extend_from_slice(len);
    }
    out.extend_from_slice(value);
    out
}

/// A SEQUENCE of already-encoded elements.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// A SET OF already-encoded elements, sorted as DER requires (X.690 §11.6).
pub fn set_of(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(0x31, &parts.concat())
}

/// An OBJECT IDENTIFIER from its dotted form. Only called with the constants of this crate.
pub fn oid(dotted: &str) -> Vec<u8> {
    let arcs: Vec<u64> = dotted.split('.').filter_map(|a| a.parse().ok()).collect();
    let mut body = Vec::new();
    if let [a, b, rest @ ..] = arcs.as_slice() {
        base128(&mut body, a * 40 + b);
        for &arc in rest {
            base128(&mut body, arc);
        }
    }
    tlv(0x06, &body)
}

fn base128(out: &mut Vec<u8>, mut v: u64) {
    let mut tmp = vec![(v & 0x7F) as u8];
    v >>= 7;
    while v > 0 {
        tmp.push(0x80 | (v & 0x7F) as u8);
        v >>= 7;
    }
    out.extend(tmp.iter().rev());
}

/// A small non-negative INTEGER.
pub fn uint(v: u64) -> Vec<u8> {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count().min(7);
    let mut body = bytes.get(skip..).unwrap_or_default().to_vec();
    if body.first().is_some_and(|b| b & 0x80 != 0) {
        body.insert(0, 0);
    }
    tlv(0x02, &body)
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` (RFC 5652 allows it for signingTime from 2050 on; UTCTime
/// before, which is what [`signing_time`] chooses).
pub fn signing_time(unix: i64) -> Vec<u8> {
    let text = crate::verify::fmt_time(unix); // YYYY-MM-DDTHH:MM:SSZ
    let digits: String = text.chars().filter(|c| c.is_ascii_digit()).collect();
    let year: i64 = digits.get(..4).and_then(|y| y.parse().ok()).unwrap_or(0);
    if (1950..2050).contains(&year) {
        tlv(
            0x17,
            format!("{}Z", digits.get(2..).unwrap_or_default()).as_bytes(),
        )
    } else {
        tlv(0x18, format!("{digits}Z").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(
            oid("1.2.840.113549.1.7.2"),
            [0x06, 9, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 1, 7, 2]
        );
        assert_eq!(uint(0), [2, 1, 0]);
        assert_eq!(uint(128), [2, 2, 0, 128]);
        assert_eq!(tlv(4, &[0; 200])[..3], [4, 0x81, 200]);
        assert_eq!(tlv(4, &[0; 300])[..4], [4, 0x82, 1, 44]);
        assert_eq!(signing_time(1_664_313_479), tlv(0x17, b"220927211759Z"));
        assert_eq!(signing_time(2_524_608_000), tlv(0x18, b"20500101000000Z"));
    }
}
