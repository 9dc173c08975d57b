//! `[revocation]`: OCSP look-ups (RFC 6960) for certificates whose status the trust store's
//! CRLs do not establish, and how `tamga serve` keeps CRLs current ([`crl`]).
//!
//! ```toml
//! [revocation]
//! crl-refresh = "1h"           # fetch each CRL at least this often (default 1h)
//! crl-hosts = ["crl.example.kz"]  # hosts besides those of the trust store's URLs
//! ocsp = true                  # ask OCSP responders (default false: CRLs only, no network)
//! ocsp-nonce = "send"          # "off" | "send" (default) | "require" (RFC 8954)
//! ocsp-hash = "sha1"           # CertID hash: "sha1" (default) | "sha256"
//! ocsp-max-age = 3600          # seconds an answer without nextUpdate is used (default 3600)
//! ocsp-skew = 300              # clock skew tolerated, seconds (default 300)
//! ocsp-timeout = 5             # seconds for one exchange (default 5)
//! ocsp-cache = 10000           # responses kept (default 10000)
//! ocsp-hosts = ["10.0.0.7"]    # hosts that may be reached beyond the responders' and the
//!                              # trust store's own OCSP URLs
//! [revocation.responders]      # per CA: its subject as tamga prints it, or its key id (hex)
//! "CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA),C=KZ" = "http://ocsp.pki.gov.kz/"
//! ```

use crate::fetch::http::Target;
use crate::fetch::ocsp::{Nonce, Settings};
use crate::verify::ocsp::{CertIdHash, Window};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

mod crl;
pub use crl::CrlSettings;

/// Most responders configured.
const MAX_RESPONDERS: usize = 256;

/// `[revocation]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawRevocation {
    #[serde(default)]
    ocsp: bool,
    #[serde(default)]
    ocsp_nonce: Nonce,
    #[serde(default = "sha1")]
    ocsp_hash: String,
    #[serde(default = "max_age")]
    ocsp_max_age: i64,
    #[serde(default = "skew")]
    ocsp_skew: i64,
    #[serde(default = "timeout")]
    ocsp_timeout: u64,
    #[serde(default = "cache")]
    ocsp_cache: usize,
    #[serde(default)]
    ocsp_hosts: Vec<String>,
    #[serde(default)]
    responders: BTreeMap<String, String>,
    #[serde(default)]
    crl_refresh: Option<String>,
    #[serde(default)]
    crl_hosts: Vec<String>,
}

fn sha1() -> String {
    "sha1".into()
}
fn max_age() -> i64 {
    3600
}
fn skew() -> i64 {
    300
}
fn timeout() -> u64 {
    5
}
fn cache() -> usize {
    10_000
}

impl Default for RawRevocation {
    fn default() -> Self {
        RawRevocation {
            ocsp: false,
            ocsp_nonce: Nonce::default(),
            ocsp_hash: sha1(),
            ocsp_max_age: max_age(),
            ocsp_skew: skew(),
            ocsp_timeout: timeout(),
            ocsp_cache: cache(),
            ocsp_hosts: Vec::new(),
            responders: BTreeMap::new(),
            crl_refresh: None,
            crl_hosts: Vec::new(),
        }
    }
}

/// The loaded `[revocation]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RevocationSettings {
    /// How OCSP look-ups are made; `None` when they are off.
    pub ocsp: Option<Settings>,
}

impl RawRevocation {
    /// The CRL settings (`crl-` keys), checked.
    pub(super) fn crl_settings(&self) -> Result<CrlSettings, super::SettingError> {
        crl::settings(self.crl_refresh.as_deref(), &self.crl_hosts)
    }

    /// The settings, every value checked; the sentence says which key is wrong.
    pub(super) fn settings(self) -> Result<RevocationSettings, super::SettingError> {
        use super::SettingError::{NotHttpUrl, NotOneOf, OutOfRange, TooMany};
        let hash = match self.ocsp_hash.as_str() {
            "sha1" => CertIdHash::Sha1,
            "sha256" => CertIdHash::Sha256,
            other => {
                return Err(NotOneOf {
                    key: "revocation.ocsp-hash",
                    value: other.to_owned(),
                    allowed: "\"sha1\" nor \"sha256\"",
                });
            }
        };
        let range = |ok: bool, key, range| {
            if ok {
                Ok(())
            } else {
                Err(OutOfRange { key, range })
            }
        };
        range(
            (1..=31 * 86_400).contains(&self.ocsp_max_age),
            "revocation.ocsp-max-age",
            "1 s to 31 days",
        )?;
        range(
            (0..=3600).contains(&self.ocsp_skew),
            "revocation.ocsp-skew",
            "0 to 3600 s",
        )?;
        range(
            (1..=60).contains(&self.ocsp_timeout),
            "revocation.ocsp-timeout",
            "1 to 60 s",
        )?;
        range(
            self.ocsp_cache <= 1_000_000,
            "revocation.ocsp-cache",
            "at most 1000000",
        )?;
        if self.responders.len() > MAX_RESPONDERS {
            return Err(TooMany {
                key: "revocation.responders",
                max: MAX_RESPONDERS,
            });
        }
        for (ca, url) in &self.responders {
            Target::parse(url).map_err(|_| NotHttpUrl {
                ca: ca.clone(),
                url: url.clone(),
            })?;
        }
        if !self.ocsp {
            return Ok(RevocationSettings { ocsp: None });
        }
        Ok(RevocationSettings {
            ocsp: Some(Settings {
                hash,
                nonce: self.ocsp_nonce,
                responders: self.responders.into_iter().collect(),
                allow_hosts: self.ocsp_hosts,
                window: Window {
                    skew: self.ocsp_skew,
                    max_age: self.ocsp_max_age,
                },
                cache_entries: self.ocsp_cache,
                timeout: Duration::from_secs(self.ocsp_timeout),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const BASE: &str = r#"
[organization]
name = "Demo"
appeal = { kk = "a", ky = "b", ru = "c", en = "d" }

[[case]]
index = "01-05"
title = "Приказы"
retention = "permanent"
access = ["archivist"]
"#;

    fn load(extra: &str) -> Result<RevocationSettings, String> {
        crate::policy::parse(&format!("{BASE}\n{extra}"), Path::new("p.toml"))
            .map(|p| p.revocation)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn ocsp_is_off_unless_asked_for() {
        assert_eq!(load("").unwrap().ocsp, None);
        assert_eq!(load("[revocation]\nocsp = false\n").unwrap().ocsp, None);
        let s = load("[revocation]\nocsp = true\n").unwrap().ocsp.unwrap();
        assert_eq!(s, Settings::default());
    }

    #[test]
    fn every_key_is_read() {
        let s = load(
            "[revocation]\nocsp = true\nocsp-nonce = \"require\"\nocsp-hash = \"sha256\"\n\
             ocsp-max-age = 60\nocsp-skew = 10\nocsp-timeout = 2\nocsp-cache = 5\n\
             ocsp-hosts = [\"10.0.0.7\"]\n[revocation.responders]\n\"CN=CA\" = \"http://ocsp.example/\"\n",
        )
        .unwrap()
        .ocsp
        .unwrap();
        assert_eq!(s.nonce, Nonce::Require);
        assert_eq!(s.hash, CertIdHash::Sha256);
        assert_eq!(
            s.window,
            Window {
                skew: 10,
                max_age: 60
            }
        );
        assert_eq!((s.timeout, s.cache_entries), (Duration::from_secs(2), 5));
        assert_eq!(s.allow_hosts, ["10.0.0.7"]);
        assert_eq!(
            s.responders,
            [("CN=CA".into(), "http://ocsp.example/".into())]
        );
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (extra, key) in [
            ("ocsp-hash = \"md5\"", "ocsp-hash"),
            ("ocsp-max-age = 0", "ocsp-max-age"),
            ("ocsp-timeout = 600", "ocsp-timeout"),
            ("ocsp-nonce = \"maybe\"", "maybe"),
            ("[revocation.responders]\nx = \"https://a/\"", "responders"),
            ("ocsp-typo = 1", "ocsp-typo"),
        ] {
            let e = load(&format!("[revocation]\nocsp = true\n{extra}\n")).unwrap_err();
            assert!(e.contains(key), "{extra}: {e}");
        }
    }
}
