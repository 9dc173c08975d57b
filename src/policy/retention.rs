//! Retention periods and when they run out.
//!
//! The rule of Kazakh and Kyrgyz records management: a case's period runs from 1 January of the
//! year after the case was closed. A case closed in 2025 and kept 5 years is due for review
//! from 2031-01-01; a permanent one never is; an open one never is.

use std::fmt;
use std::str::FromStr;

/// How long a case's documents are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Kept forever (постоянно / тұрақты).
    Permanent,
    /// Kept this many full years.
    Years(u16),
}

impl FromStr for Retention {
    type Err = super::SettingError;

    fn from_str(s: &str) -> Result<Self, super::SettingError> {
        let s = s.trim();
        if s == "permanent" {
            return Ok(Retention::Permanent);
        }
        let bad = || super::SettingError::NotOneOf {
            key: "retention",
            value: s.to_owned(),
            allowed: "\"permanent\" nor a number of years like \"5y\"",
        };
        let years = s.strip_suffix('y').ok_or_else(bad)?;
        if years.is_empty() || !years.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        match years.parse::<u16>() {
            Ok(n) if (1..=200).contains(&n) => Ok(Retention::Years(n)),
            _ => Err(super::SettingError::ValueOutOfRange {
                key: "retention",
                value: s.to_owned(),
                sep: ": years",
                range: "1 to 200",
            }),
        }
    }
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Retention::Permanent => f.write_str("permanent"),
            Retention::Years(n) => write!(f, "{n}y"),
        }
    }
}

impl Retention {
    /// The year from whose 1 January a case closed in `closed` is due; `None` when never.
    pub fn due_year(self, closed: Option<i32>) -> Option<i32> {
        match (self, closed) {
            (Retention::Years(n), Some(c)) => Some(c + 1 + i32::from(n)),
            _ => None,
        }
    }
}
