//! Certificate policies (RFC 5280 §4.2.1.4, §4.2.1.5, §4.2.1.11, §4.2.1.14 and §6.1).
//!
//! A certificate policy says under which rules a certificate was issued; a chancellery may
//! accept only signatures made under its national PKI's signing policies. This module holds the
//! relying party's settings ([`PathSettings`], RFC 5280 §6.1.1 (c), (e), (f), (g)), the four
//! extensions as one certificate carries them ([`CertPolicies`]), and — in [`tree`] — the
//! valid_policy_tree that turns a path and the settings into the policies in force.
//!
//! Qualifiers (CPS pointers, user notices) are read past and ignored: they inform a human, they
//! do not constrain the path (§4.2.1.4: "processing of policy qualifiers is optional").

mod tree;

pub use tree::{PolicyError, process};

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use x509_parser::extensions::{ParsedExtension, X509Extension};

/// Most policies one certificatePolicies extension may list; real CAs list one to three.
pub const MAX_POLICIES: usize = 32;
/// Most pairs one policyMappings extension may list.
pub const MAX_MAPPINGS: usize = 32;
/// Longest policy OID accepted, in DER content bytes (a 2.25 UUID OID takes 19).
const MAX_OID_BYTES: usize = 64;

/// A certificate policy identifier, kept as the DER content bytes of its OID so that two
/// identifiers compare as the encodings do (DER has one encoding per OID).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PolicyId(Cow<'static, [u8]>);

/// anyPolicy, 2.5.29.32.0 (§4.2.1.4).
pub static ANY_POLICY: PolicyId = PolicyId(Cow::Borrowed(&[0x55, 0x1d, 0x20, 0x00]));

impl PolicyId {
    /// The identifier with these DER content bytes, when they are a well-formed OID.
    pub fn from_der_content(bytes: &[u8]) -> Option<PolicyId> {
        let ok = !bytes.is_empty()
            && bytes.len() <= MAX_OID_BYTES
            // Each arc ends on a byte without the high bit and never starts with 0x80.
            && bytes.last().is_some_and(|b| b & 0x80 == 0)
            && bytes
                .iter()
                .zip(std::iter::once(&0u8).chain(bytes.iter()))
                .all(|(b, prev)| !(*b == 0x80 && prev & 0x80 == 0));
        ok.then(|| PolicyId(Cow::Owned(bytes.to_vec())))
    }

    /// Whether this is anyPolicy.
    pub fn is_any(&self) -> bool {
        *self == ANY_POLICY
    }

    /// The arcs, for display; an arc too large for 128 bits shows as `?`.
    fn arcs(&self) -> Vec<Option<u128>> {
        let mut out = Vec::new();
        let mut cur: Option<u128> = Some(0);
        for b in self.0.iter() {
            cur = cur
                .and_then(|c| c.checked_mul(128))
                .map(|c| c | u128::from(b & 0x7f));
            if b & 0x80 == 0 {
                out.push(cur);
                cur = Some(0);
            }
        }
        out
    }
}

impl fmt::Display for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The policy of most paths, named in every report: written, not computed.
        if self.is_any() {
            return f.write_str("2.5.29.32.0");
        }
        let arcs = self.arcs();
        let mut first = true;
        for (k, arc) in arcs.iter().enumerate() {
            let sep = if first { "" } else { "." };
            first = false;
            match (k, arc) {
                // The first subidentifier packs the first two arcs (X.690 §8.19.4).
                (0, Some(v)) => {
                    let top = (*v / 40).min(2);
                    write!(f, "{top}.{}", v - top * 40)?
                }
                (_, Some(v)) => write!(f, "{sep}{v}")?,
                (_, None) => write!(f, "{sep}?")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for PolicyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PolicyId({self})")
    }
}

/// Why a dotted OID from a setting was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not an object identifier (dotted decimal such as 1.2.398.3.3.2.1)")]
pub struct OidSyntax {
    /// The text given.
    pub text: String,
}

impl FromStr for PolicyId {
    type Err = OidSyntax;

    /// Parses dotted decimal strictly: at least two arcs, no signs, no leading zeros, the first
    /// arc 0–2 and the second below 40 under 0 and 1 (X.660).
    fn from_str(s: &str) -> Result<PolicyId, OidSyntax> {
        let bad = || OidSyntax { text: s.to_owned() };
        let mut arcs = Vec::new();
        for part in s.split('.') {
            let digits_ok = !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_digit())
                && (part == "0" || !part.starts_with('0'));
            if !digits_ok {
                return Err(bad());
            }
            arcs.push(part.parse::<u128>().map_err(|_| bad())?);
        }
        let (first, second) = match arcs.as_slice() {
            [a, b, ..] if *a <= 2 && (*a == 2 || *b < 40) => (*a, *b),
            _ => return Err(bad()),
        };
        let mut der = Vec::new();
        let head = (first * 40).checked_add(second).ok_or_else(bad)?;
        for arc in std::iter::once(head).chain(arcs.iter().skip(2).copied()) {
            let mut chunk = vec![(arc & 0x7f) as u8];
            let mut rest = arc >> 7;
            while rest > 0 {
                chunk.push((rest & 0x7f) as u8 | 0x80);
                rest >>= 7;
            }
            der.extend(chunk.iter().rev());
        }
        PolicyId::from_der_content(&der).ok_or_else(bad)
    }
}

/// The user-initial-policy-set (RFC 5280 §6.1.1 (c)): the policies this service accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum InitialPolicies {
    /// {anyPolicy}: any policy, or none at all unless one is required explicitly.
    #[default]
    Any,
    /// Only these (never empty, never containing anyPolicy).
    Only(Vec<PolicyId>),
}

impl InitialPolicies {
    /// The set from a list; an empty list or one naming anyPolicy means [`InitialPolicies::Any`].
    pub fn from_list(list: Vec<PolicyId>) -> InitialPolicies {
        if list.is_empty() || list.iter().any(PolicyId::is_any) {
            return InitialPolicies::Any;
        }
        let mut list = list;
        list.sort();
        list.dedup();
        InitialPolicies::Only(list)
    }
}

/// The relying party's inputs to RFC 5280 §6.1 policy processing. The defaults are those of
/// NIST PKITS and of the RFC's own examples: any policy, none required, nothing inhibited.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathSettings {
    /// user-initial-policy-set (§6.1.1 (c)).
    pub initial_policies: InitialPolicies,
    /// initial-explicit-policy (§6.1.1 (f)): the path must be valid for at least one policy
    /// of the initial set.
    pub require_explicit_policy: bool,
    /// initial-policy-mapping-inhibit (§6.1.1 (e)).
    pub inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit (§6.1.1 (g)).
    pub inhibit_any_policy: bool,
}

impl PathSettings {
    /// The defaults, usable in constants.
    pub const DEFAULT: PathSettings = PathSettings {
        initial_policies: InitialPolicies::Any,
        require_explicit_policy: false,
        inhibit_policy_mapping: false,
        inhibit_any_policy: false,
    };
}

/// The four policy extensions of one certificate, as §6.1 uses them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertPolicies {
    /// certificatePolicies (2.5.29.32), repeats removed; `None` when absent.
    pub policies: Option<Vec<PolicyId>>,
    /// policyMappings (2.5.29.33): (issuerDomainPolicy, subjectDomainPolicy) pairs.
    pub mappings: Vec<(PolicyId, PolicyId)>,
    /// policyConstraints (2.5.29.36) requireExplicitPolicy.
    pub require_explicit_policy: Option<u32>,
    /// policyConstraints inhibitPolicyMapping.
    pub inhibit_policy_mapping: Option<u32>,
    /// inhibitAnyPolicy (2.5.29.54) skipCerts.
    pub inhibit_any_policy: Option<u32>,
    /// Why one of them cannot be used: a path through this certificate is then refused.
    pub error: Option<ExtensionError>,
    /// Which of the four were seen, to refuse a repeated one (§4.2: at most one instance).
    seen: u8,
}

/// What is wrong with a policy extension.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    /// It does not parse.
    #[error("extension {oid} is malformed: {why}")]
    Malformed {
        /// The extension's OID.
        oid: &'static str,
        /// The parser's words.
        why: String,
    },
    /// It appears twice.
    #[error("extension {0} appears more than once")]
    Repeated(&'static str),
    /// It lists more than this service reads.
    #[error("extension {oid} lists more than {max} entries")]
    TooMany {
        /// The extension's OID.
        oid: &'static str,
        /// The limit.
        max: usize,
    },
}

const OID_POLICIES: &str = "2.5.29.32";
const OID_MAPPINGS: &str = "2.5.29.33";
const OID_CONSTRAINTS: &str = "2.5.29.36";
const OID_INHIBIT_ANY: &str = "2.5.29.54";

/// The OIDs of the four extensions this module processes, so that a critical flag on them is
/// no reason to refuse a certificate.
pub const PROCESSED: [&str; 4] = [OID_POLICIES, OID_MAPPINGS, OID_CONSTRAINTS, OID_INHIBIT_ANY];

/// Takes in `ext` if it is one of the four policy extensions; `slot` is created on the first
/// one, so a certificate without any costs nothing.
pub fn read_extension(slot: &mut Option<Box<CertPolicies>>, oid: &str, ext: &X509Extension<'_>) {
    let Some(k) = PROCESSED.iter().position(|p| *p == oid) else {
        return;
    };
    let Some(name) = PROCESSED.get(k).copied() else {
        return;
    };
    let cp = slot.get_or_insert_with(Box::default);
    if cp.seen & (1 << k) != 0 {
        cp.error.get_or_insert(ExtensionError::Repeated(name));
        return;
    }
    cp.seen |= 1 << k;
    if let Err(e) = take(cp, name, ext.parsed_extension()) {
        cp.error.get_or_insert(e);
    }
}

fn take(
    cp: &mut CertPolicies,
    oid: &'static str,
    ext: &ParsedExtension<'_>,
) -> Result<(), ExtensionError> {
    let malformed = |why: &str| ExtensionError::Malformed {
        oid,
        why: why.to_owned(),
    };
    let id = |o: &x509_parser::der_parser::oid::Oid<'_>| {
        PolicyId::from_der_content(o.as_bytes()).ok_or_else(|| malformed("bad policy OID"))
    };
    match ext {
        ParsedExtension::CertificatePolicies(list) => {
            if list.len() > MAX_POLICIES {
                return Err(ExtensionError::TooMany {
                    oid,
                    max: MAX_POLICIES,
                });
            }
            if list.is_empty() {
                return Err(malformed("no policy listed"));
            }
            let mut ids: Vec<PolicyId> = Vec::with_capacity(list.len());
            for info in list {
                let p = id(&info.policy_id)?;
                if !ids.contains(&p) {
                    ids.push(p);
                }
            }
            cp.policies = Some(ids);
        }
        ParsedExtension::PolicyMappings(m) => {
            if m.mappings.len() > MAX_MAPPINGS {
                return Err(ExtensionError::TooMany {
                    oid,
                    max: MAX_MAPPINGS,
                });
            }
            if m.mappings.is_empty() {
                return Err(malformed("no mapping listed"));
            }
            for pair in &m.mappings {
                let pair = (
                    id(&pair.issuer_domain_policy)?,
                    id(&pair.subject_domain_policy)?,
                );
                if !cp.mappings.contains(&pair) {
                    cp.mappings.push(pair);
                }
            }
        }
        ParsedExtension::PolicyConstraints(pc) => {
            // §4.2.1.11: "Conforming CAs MUST NOT issue certificates where policy
            // constraints is an empty sequence."
            if pc.require_explicit_policy.is_none() && pc.inhibit_policy_mapping.is_none() {
                return Err(malformed("empty sequence"));
            }
            cp.require_explicit_policy = pc.require_explicit_policy;
            cp.inhibit_policy_mapping = pc.inhibit_policy_mapping;
        }
        ParsedExtension::InhibitAnyPolicy(ia) => cp.inhibit_any_policy = Some(ia.skip_certs),
        ParsedExtension::ParseError { error } => return Err(malformed(&error.to_string())),
        _ => return Err(malformed("not understood by the parser")),
    }
    Ok(())
}

#[cfg(test)]
mod tests;
