//! Times and calendar dates: UTCTime and GeneralizedTime values, and the day arithmetic that
//! turns them into Unix seconds (and back, for reports) without a calendar library.

use super::{Asn1Error, Tlv, tag};

/// Seconds since the Unix epoch of a UTCTime or GeneralizedTime element (UTC, `Z` form).
pub fn time_value(t: &Tlv<'_>) -> Result<i64, Asn1Error> {
    let s = t.value;
    let bad = Asn1Error::BadValue("time");
    let (year, rest) = match t.tag {
        tag::UTC_TIME => {
            let yy = digits(s.get(..2).ok_or(bad.clone())?)?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, s.get(2..))
        }
        tag::GENERALIZED_TIME => (digits(s.get(..4).ok_or(bad.clone())?)?, s.get(4..)),
        _ => return Err(Asn1Error::Unexpected("a time")),
    };
    fields(year, rest.ok_or(bad)?)
}

/// Seconds since the Unix epoch of a GeneralizedTime value that may carry a fraction of a
/// second (`YYYYMMDDHHMMSS[.fff]Z`, as RFC 3161 allows for genTime). The fraction is cut: the
/// second it falls in is the safe reading of "existed at".
pub fn generalized_time_with_fraction(v: &[u8]) -> Result<i64, Asn1Error> {
    let bad = Asn1Error::BadValue("time");
    let (year, rest) = (
        digits(v.get(..4).ok_or(bad.clone())?)?,
        v.get(4..).ok_or(bad.clone())?,
    );
    match rest.iter().position(|&c| c == b'.') {
        Some(dot) => {
            let (whole, frac) = rest.split_at(dot);
            let frac = frac.get(1..).unwrap_or_default();
            // At least one digit, then only digits up to the final Z.
            let ok = match frac.split_last() {
                Some((b'Z', digits)) => !digits.is_empty() && digits.iter().all(u8::is_ascii_digit),
                _ => false,
            };
            if !ok {
                return Err(bad);
            }
            let mut whole = whole.to_vec();
            whole.push(b'Z');
            fields(year, &whole)
        }
        None => fields(year, rest),
    }
}

/// `MMDDHHMMSSZ` after the year: RFC 5280 profiles both forms to carry seconds and Z.
fn fields(year: i64, rest: &[u8]) -> Result<i64, Asn1Error> {
    let bad = Asn1Error::BadValue("time");
    if rest.len() != 11 || rest.last() != Some(&b'Z') {
        return Err(bad);
    }
    let field = |i: usize| rest.get(i..i + 2).ok_or(bad.clone()).and_then(digits);
    let (month, day, hour, min, sec) = (field(0)?, field(2)?, field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || min > 59 || sec > 60 {
        return Err(bad);
    }
    let days = days_from_civil(year, month, day);
    Ok(days * 86_400 + hour * 3600 + min * 60 + sec)
}

fn digits(s: &[u8]) -> Result<i64, Asn1Error> {
    s.iter().try_fold(0i64, |acc, &c| {
        if c.is_ascii_digit() {
            Ok(acc * 10 + i64::from(c - b'0'))
        } else {
            Err(Asn1Error::BadValue("time"))
        }
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 text (`YYYY-MM-DDTHH:MM:SSZ`) of a Unix time, for reports. Hand-rolled because it
/// runs for every signer of every document (digit by digit: `format!` cost 0.1 µs of it).
pub fn fmt_time(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(0..=9999).contains(&y) {
        // Outside four digits (no certificate's time is): the general formatter's width rules.
        return format!(
            "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60
        );
    }
    let mut out = String::with_capacity(20);
    let mut put = |n: i64, width: u32, sep: Option<char>| {
        for i in (0..width).rev() {
            let digit = n / 10i64.pow(i) % 10;
            out.push(char::from(b'0' + digit.unsigned_abs() as u8));
        }
        if let Some(c) = sep {
            out.push(c);
        }
    };
    put(y, 4, Some('-'));
    put(m, 2, Some('-'));
    put(d, 2, Some('T'));
    put(secs / 3600, 2, Some(':'));
    put(secs % 3600 / 60, 2, Some(':'));
    put(secs % 60, 2, Some('Z'));
    out
}

#[cfg(test)]
mod tests {
    use super::super::Work;
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        for days in [
            -800_000i64,
            -1,
            0,
            59,
            60,
            365,
            10_956,
            11_016,
            20_000,
            2_932_896,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(civil_from_days(19_262), (2022, 9, 27));
    }

    #[test]
    fn times() {
        let t = Tlv {
            tag: tag::UTC_TIME,
            value: b"220927211759Z",
            raw: &[],
            work: Work::for_input(0),
        };
        assert_eq!(time_value(&t).unwrap(), 1_664_313_479);
        let g = Tlv {
            tag: tag::GENERALIZED_TIME,
            value: b"20500101000000Z",
            raw: &[],
            work: Work::for_input(0),
        };
        assert_eq!(time_value(&g).unwrap(), 2_524_608_000);
    }

    #[test]
    fn fmt_time_writes_what_the_formatter_writes() {
        let general = |t: i64| {
            let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
            let (y, m, d) = civil_from_days(days);
            format!(
                "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
                secs / 3600,
                secs % 3600 / 60,
                secs % 60
            )
        };
        assert_eq!(fmt_time(1_780_272_000), "2026-06-01T00:00:00Z");
        assert_eq!(fmt_time(951_782_399), "2000-02-28T23:59:59Z");
        assert_eq!(fmt_time(-62_167_219_200), "0000-01-01T00:00:00Z");
        assert_eq!(fmt_time(253_402_300_799), "9999-12-31T23:59:59Z");
        let mut t: i64 = -70_000_000_000;
        while t < 300_000_000_000 {
            assert_eq!(fmt_time(t), general(t), "{t}");
            t += 7_777_777 + t.rem_euclid(86_401);
        }
        for t in [i64::MIN / 2, -62_167_219_201, 253_402_300_800, i64::MAX / 2] {
            assert_eq!(fmt_time(t), general(t), "{t}");
        }
    }
}
