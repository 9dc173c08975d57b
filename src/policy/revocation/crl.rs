//! The `crl-` keys of `[revocation]`: how `tamga serve` keeps CRLs current (RFC 5280 §5: a
//! CRL is good until its nextUpdate, and the CA publishes the next one before then).

use crate::policy::SettingError;
use std::time::Duration;

/// Longest refresh period accepted: a week (national CAs publish daily).
const MAX_REFRESH: u64 = 7 * 86_400;
/// Most hosts listed.
const MAX_HOSTS: usize = 64;

/// The CRL settings of the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlSettings {
    /// Each CRL is fetched at least this often, and sooner when its nextUpdate nears.
    pub refresh: Duration,
    /// Hosts CRLs may be fetched from besides those in the trust store's URLs.
    pub hosts: Vec<String>,
}

impl Default for CrlSettings {
    fn default() -> Self {
        CrlSettings {
            refresh: Duration::from_secs(3600),
            hosts: Vec::new(),
        }
    }
}

/// The checked settings, or the sentence saying what is wrong.
pub(super) fn settings(
    refresh: Option<&str>,
    hosts: &[String],
) -> Result<CrlSettings, SettingError> {
    let refresh = match refresh {
        None => CrlSettings::default().refresh,
        Some(s) => parse_duration(s)?,
    };
    if hosts.len() > MAX_HOSTS {
        return Err(SettingError::TooMany {
            key: "revocation.crl-hosts",
            max: MAX_HOSTS,
        });
    }
    let mut checked = Vec::new();
    for h in hosts {
        let ok = !h.is_empty()
            && h.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:".contains(&b));
        if !ok {
            return Err(SettingError::NotAHost(h.clone()));
        }
        checked.push(h.to_ascii_lowercase());
    }
    Ok(CrlSettings {
        refresh,
        hosts: checked,
    })
}

/// `"90s"`, `"15m"`, `"1h"`, `"1d"`: 1 s to a week.
fn parse_duration(s: &str) -> Result<Duration, SettingError> {
    let bad = || SettingError::NotAPeriod {
        key: "revocation.crl-refresh",
        value: s.to_owned(),
    };
    let unit = match s.chars().last() {
        Some('s') => 1,
        Some('m') => 60,
        Some('h') => 3600,
        Some('d') => 86_400,
        _ => return Err(bad()),
    };
    let digits = s.get(..s.len() - 1).ok_or_else(bad)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    match n.checked_mul(unit) {
        Some(secs) if (1..=MAX_REFRESH).contains(&secs) => Ok(Duration::from_secs(secs)),
        _ => Err(SettingError::ValueOutOfRange {
            key: "revocation.crl-refresh",
            value: s.to_owned(),
            sep: "",
            range: "1 s to 7 days",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(refresh: Option<&str>, hosts: &[&str]) -> Result<CrlSettings, SettingError> {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        super::settings(refresh, &hosts)
    }

    #[test]
    fn periods_and_hosts() {
        assert_eq!(settings(None, &[]).unwrap(), CrlSettings::default());
        assert_eq!(settings(Some("90s"), &[]).unwrap().refresh.as_secs(), 90);
        assert_eq!(settings(Some("2h"), &[]).unwrap().refresh.as_secs(), 7200);
        assert_eq!(
            settings(Some("1d"), &["CRL.Example.kz"]).unwrap().hosts,
            ["crl.example.kz"]
        );
        for bad in ["", "h", "0s", "8d", "1.5h", "-1h", "1w"] {
            assert!(settings(Some(bad), &[]).is_err(), "{bad}");
        }
        assert!(settings(None, &["a/b"]).is_err());
    }
}
