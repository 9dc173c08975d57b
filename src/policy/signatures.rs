//! `[signatures]`: which certificate policies a signer's path must hold (RFC 5280 §6.1.1).
//!
//! ```toml
//! [signatures]
//! certificate-policies = ["1.2.398.3.3.2.1"]   # accepted policies (default: any policy)
//! require-explicit-policy = true               # a path must hold one of them (default false)
//! inhibit-policy-mapping = false               # do not follow CAs' policy mappings
//! inhibit-any-policy = false                   # anyPolicy in a CA does not stand for others
//! ```
//!
//! The defaults are NIST PKITS's: any policy, none required, nothing inhibited.

use crate::verify::policy::{InitialPolicies, PathSettings, PolicyId};
use serde::Deserialize;
use toml::Spanned;

/// Most accepted policies listed; a national PKI has a handful of signing policies.
const MAX_LISTED: usize = 64;

/// `[signatures]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) struct RawSignatures {
    #[serde(default)]
    certificate_policies: Vec<Spanned<String>>,
    #[serde(default)]
    require_explicit_policy: bool,
    #[serde(default)]
    inhibit_policy_mapping: bool,
    #[serde(default)]
    inhibit_any_policy: bool,
}

/// Why `[signatures]` was refused: where (byte offset into the file) and what.
pub(super) struct Refusal {
    pub(super) at: Option<usize>,
    pub(super) reason: super::SettingError,
}

impl RawSignatures {
    /// The path settings, every OID checked.
    pub(super) fn settings(self) -> Result<PathSettings, Refusal> {
        if self.certificate_policies.len() > MAX_LISTED {
            return Err(Refusal {
                at: None,
                reason: super::SettingError::TooMany {
                    key: "signatures.certificate-policies",
                    max: MAX_LISTED,
                },
            });
        }
        let mut set = Vec::with_capacity(self.certificate_policies.len());
        for oid in &self.certificate_policies {
            let id = oid
                .get_ref()
                .trim()
                .parse::<PolicyId>()
                .map_err(|e| Refusal {
                    at: Some(oid.span().start),
                    reason: e.into(),
                })?;
            set.push(id);
        }
        Ok(PathSettings {
            initial_policies: InitialPolicies::from_list(set),
            require_explicit_policy: self.require_explicit_policy,
            inhibit_policy_mapping: self.inhibit_policy_mapping,
            inhibit_any_policy: self.inhibit_any_policy,
        })
    }
}
