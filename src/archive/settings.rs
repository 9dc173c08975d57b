//! The verification settings that decided an accepted document's verdict, kept as evidence
//! (role [`SETTINGS`]): the revocation mode the service ran under (`serve --revocation`), the
//! `[signatures]` certificate-policy settings (RFC 5280 §6.1.1 (c), (e)–(g)) and the
//! `[revocation]` OCSP freshness window (RFC 6960 §4.2.2.1, §3.2 (5)).
//!
//! A policy changes over the years; the re-check ([`super::recheck`]) must judge a document
//! by the settings in force when it was filed, not by the verifier's defaults nor by today's
//! file. The settings are a small canonical JSON blob, content-addressed like every piece of
//! evidence: every document filed under the same settings names the same blob, and its
//! SHA-256 in the entry (hash-chained) makes any later alteration visible.

use super::evidence::{Item, SETTINGS};
use crate::verify::ocsp::Window;
use crate::verify::policy::{InitialPolicies, PathSettings, PolicyId};
use crate::verify::{Policy, RevocationPolicy};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// The format written; a blob of another format is refused, not guessed at.
const FORMAT: u32 = 1;
/// Largest settings blob read: 64 policy OIDs fit many times over.
const MAX_BYTES: usize = 16 * 1024;
/// Most certificate policies read (as `[signatures]` allows).
const MAX_POLICIES: usize = 64;

/// Why a settings blob was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// Larger than [`MAX_BYTES`].
    #[error("settings larger than {MAX_BYTES} bytes")]
    TooLarge,
    /// Not the JSON this module writes.
    #[error("settings are not valid JSON of format {FORMAT}: {0}")]
    Syntax(String),
    /// A format this version does not know.
    #[error("settings format {0} is unknown")]
    Format(u32),
    /// More certificate policies than [`MAX_POLICIES`].
    #[error("settings list more than {MAX_POLICIES} certificate policies")]
    TooManyPolicies,
    /// A certificate policy that is not an OID.
    #[error("settings name certificate policy {0:?}, not an OID")]
    Policy(String),
    /// A negative OCSP skew or age.
    #[error("settings hold a negative OCSP window")]
    Window,
}

/// The settings as kept. Field order is the serialised order, so the same settings always
/// give the same bytes and hence the same blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// [`FORMAT`].
    pub format: u32,
    /// `require`, `prefer` or `off`.
    pub revocation: Mode,
    /// user-initial-policy-set (§6.1.1 (c)); `None` for {anyPolicy}.
    pub certificate_policies: Option<Vec<String>>,
    /// initial-explicit-policy (§6.1.1 (f)).
    pub require_explicit_policy: bool,
    /// initial-policy-mapping-inhibit (§6.1.1 (e)).
    pub inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit (§6.1.1 (g)).
    pub inhibit_any_policy: bool,
    /// OCSP clock skew tolerated, seconds.
    pub ocsp_skew: i64,
    /// How long an OCSP answer without nextUpdate stays usable, seconds.
    pub ocsp_max_age: i64,
}

/// The revocation mode, as `serve --revocation` spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// [`RevocationPolicy::Require`].
    Require,
    /// [`RevocationPolicy::Prefer`].
    Prefer,
    /// [`RevocationPolicy::Off`].
    Off,
}

impl Settings {
    /// The settings of a verifier's `policy` and the OCSP `window` it was handed.
    pub fn of(policy: &Policy, window: Window) -> Settings {
        let p = &policy.path;
        Settings {
            format: FORMAT,
            revocation: match policy.revocation {
                RevocationPolicy::Require => Mode::Require,
                RevocationPolicy::Prefer => Mode::Prefer,
                RevocationPolicy::Off => Mode::Off,
            },
            certificate_policies: match &p.initial_policies {
                InitialPolicies::Any => None,
                InitialPolicies::Only(set) => Some(set.iter().map(|o| o.to_string()).collect()),
            },
            require_explicit_policy: p.require_explicit_policy,
            inhibit_policy_mapping: p.inhibit_policy_mapping,
            inhibit_any_policy: p.inhibit_any_policy,
            ocsp_skew: window.skew,
            ocsp_max_age: window.max_age,
        }
    }

    /// The canonical bytes (compact JSON, fields in declaration order).
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain fields cannot fail; an empty blob would be refused on reading.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a blob, bounded and checked.
    pub fn from_bytes(bytes: &[u8]) -> Result<Settings, SettingsError> {
        if bytes.len() > MAX_BYTES {
            return Err(SettingsError::TooLarge);
        }
        let s: Settings =
            serde_json::from_slice(bytes).map_err(|e| SettingsError::Syntax(e.to_string()))?;
        if s.format != FORMAT {
            return Err(SettingsError::Format(s.format));
        }
        if s.certificate_policies.as_ref().map_or(0, Vec::len) > MAX_POLICIES {
            return Err(SettingsError::TooManyPolicies);
        }
        if s.ocsp_skew < 0 || s.ocsp_max_age < 0 {
            return Err(SettingsError::Window);
        }
        s.path()?;
        Ok(s)
    }

    /// The revocation policy.
    pub fn revocation(&self) -> RevocationPolicy {
        match self.revocation {
            Mode::Require => RevocationPolicy::Require,
            Mode::Prefer => RevocationPolicy::Prefer,
            Mode::Off => RevocationPolicy::Off,
        }
    }

    /// The certificate-policy settings of path validation.
    pub fn path(&self) -> Result<PathSettings, SettingsError> {
        let initial_policies = match &self.certificate_policies {
            None => InitialPolicies::Any,
            Some(list) => InitialPolicies::from_list(
                list.iter()
                    .map(|o| o.parse::<PolicyId>())
                    .collect::<Result<_, _>>()
                    .map_err(|_| SettingsError::Policy(list.join(", ")))?,
            ),
        };
        Ok(PathSettings {
            initial_policies,
            require_explicit_policy: self.require_explicit_policy,
            inhibit_policy_mapping: self.inhibit_policy_mapping,
            inhibit_any_policy: self.inhibit_any_policy,
        })
    }

    /// The OCSP freshness window.
    pub fn window(&self) -> Window {
        Window {
            skew: self.ocsp_skew,
            max_age: self.ocsp_max_age,
        }
    }

    /// As a piece of evidence to file.
    pub fn item(&self) -> Item<'static> {
        let der = self.to_bytes();
        let name = Sha256::digest(&der).into();
        Item {
            role: SETTINGS,
            der: Cow::Owned(der),
            name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> Policy {
        Policy {
            revocation: RevocationPolicy::Off,
            path: PathSettings {
                initial_policies: InitialPolicies::from_list(vec![
                    "1.2.398.3.3.2.1".parse().unwrap(),
                ]),
                require_explicit_policy: true,
                inhibit_policy_mapping: false,
                inhibit_any_policy: true,
            },
            ..Policy::default()
        }
    }

    #[test]
    fn settings_round_trip_and_are_canonical() {
        let window = Window {
            skew: 10,
            max_age: 86_400,
        };
        let s = Settings::of(&strict(), window);
        let back = Settings::from_bytes(&s.to_bytes()).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.path().unwrap(), strict().path);
        assert_eq!(back.revocation(), RevocationPolicy::Off);
        assert_eq!(back.window(), window);
        // Same settings, same blob: shared by every document filed under them.
        assert_eq!(
            Settings::of(&strict(), window).item().name,
            back.item().name
        );
        assert_ne!(
            Settings::of(&Policy::default(), window).item().name,
            back.item().name
        );
    }

    #[test]
    fn hostile_settings_are_refused() {
        let good =
            String::from_utf8(Settings::of(&strict(), Window::default()).to_bytes()).unwrap();
        let cases = [
            good.replace("\"format\":1", "\"format\":2"),
            good.replace("1.2.398.3.3.2.1", "not an oid"),
            good.replace("\"ocsp_skew\":300", "\"ocsp_skew\":-1"),
            good.replace("\"revocation\":\"off\"", "\"revocation\":\"maybe\""),
            good.replace('}', ",\"extra\":1}"),
            format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_BYTES)),
        ];
        for c in cases {
            assert!(Settings::from_bytes(c.as_bytes()).is_err(), "{c}");
        }
        let many: Vec<String> = (0..=MAX_POLICIES).map(|i| format!("1.2.{i}")).collect();
        let mut s = Settings::of(&strict(), Window::default());
        s.certificate_policies = Some(many);
        assert_eq!(
            Settings::from_bytes(&s.to_bytes()),
            Err(SettingsError::TooManyPolicies)
        );
    }
}
