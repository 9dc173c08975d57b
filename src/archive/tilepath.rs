//! Tile paths as C2SP tlog-tiles spells them (`tile/<L>/<N>[.p/<W>]`, `tile/entries/…`):
//! written for the audit's findings and the service's URLs, and parsed strictly, so that one
//! tile has exactly one name.

/// The path of a tile (`level` `Some`) or an entry bundle (`None`) under a log's prefix, as
/// C2SP tlog-tiles spells it: `tile/<L>/<N>[.p/<W>]`, `tile/entries/<N>[.p/<W>]`, with `N` in
/// zero-padded 3-digit groups, all but the last prefixed by `x`.
pub fn path(level: Option<u32>, n: u64, partial: Option<u64>) -> String {
    let mut groups = vec![format!("{:03}", n % 1000)];
    let mut rest = n / 1000;
    while rest > 0 {
        groups.push(format!("x{:03}", rest % 1000));
        rest /= 1000;
    }
    groups.reverse();
    let what = level.map_or_else(|| "entries".to_owned(), |l| l.to_string());
    let mut p = format!("tile/{what}/{}", groups.join("/"));
    if let Some(w) = partial {
        p.push_str(&format!(".p/{w}"));
    }
    p
}

/// What a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRef {
    /// The level, or `None` for an entry bundle.
    pub level: Option<u32>,
    /// The tile's index within its level.
    pub n: u64,
    /// The width of a partial tile (1–255), `None` for a full one.
    pub partial: Option<u64>,
}

/// Parses the part of a tile path after `tile/`; `None` unless it is exactly as [`path`]
/// writes it (no leading zeros, no needless groups, levels 0–63, widths 1–255).
pub fn parse(rest: &str) -> Option<TileRef> {
    let (head, tail) = rest.split_once('/')?;
    let level = match head {
        "entries" => None,
        l if l == "0" || (!l.starts_with('0') && l.len() <= 2) => {
            Some(l.parse::<u32>().ok().filter(|l| *l <= 63)?)
        }
        _ => return None,
    };
    let (index, partial) = match tail.split_once(".p/") {
        Some((index, w)) => {
            let width: u64 = w.parse().ok().filter(|w| (1..256).contains(w))?;
            (index, Some(width).filter(|_| !w.starts_with('0')))
        }
        None => (tail, None),
    };
    let mut n: u64 = 0;
    let groups: Vec<&str> = index.split('/').collect();
    for (i, g) in groups.iter().enumerate() {
        let digits = if i + 1 < groups.len() {
            g.strip_prefix('x')?
        } else {
            g
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n = n
            .checked_mul(1000)?
            .checked_add(digits.parse::<u64>().ok()?)?;
    }
    if tail.contains(".p/") && partial.is_none() {
        return None;
    }
    let r = TileRef { level, n, partial };
    (path(level, n, partial) == format!("tile/{rest}")).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths_are_spelled_exactly_as_the_spec_says() {
        assert_eq!(path(Some(0), 1_234_067, None), "tile/0/x001/x234/067");
        assert_eq!(path(None, 5, Some(7)), "tile/entries/005.p/7");
        assert_eq!(path(Some(1), 1000, None), "tile/1/x001/000");
        for (s, want) in [
            ("0/x001/x234/067", Some((Some(0), 1_234_067, None))),
            ("entries/005.p/7", Some((None, 5, Some(7)))),
            ("63/000.p/255", Some((Some(63), 0, Some(255)))),
            ("12/x001/000", Some((Some(12), 1000, None))),
            ("0/5", None),
            ("0/0005", None),
            ("0/x000/005", None),
            ("0/001/002", None),
            ("00/000", None),
            ("64/000", None),
            ("0/000.p/0", None),
            ("0/000.p/256", None),
            ("0/000.p/07", None),
            ("0/000.p/", None),
            ("0/x01/000", None),
            ("0/+01", None),
            ("entries/", None),
            ("1/000/", None),
            ("0/x18446744073709551/615", None),
        ] {
            let got = parse(s).map(|r| (r.level, r.n, r.partial));
            assert_eq!(got, want, "{s}");
        }
    }
}
