//! Name constraints along a path (RFC 5280 §4.2.1.10, §6.1.3 (b)(c), §6.1.4 (g)).
//!
//! Permitted subtrees are kept as one set per constraining CA rather than intersected: a name
//! of some form must lie in every set that constrains that form, which is what the
//! intersection of §6.1.4 (g) means and needs no algebra of subtrees. Excluded subtrees are
//! a union. A name that a constraint restricts but whose containment cannot be decided is a
//! violation (fail closed).

use super::NameError;
use super::dn;
use super::general::{self, Form, GeneralName, Within};
use crate::reasons::Reason;
use crate::verify::Finding;
use crate::verify::asn1::{Reader, tag};
use crate::verify::certificate::Certificate;
use std::sync::Arc;

/// Most subtrees (permitted and excluded) one nameConstraints extension may carry.
const MAX_SUBTREES: usize = 128;
/// Most names (subjectAltName entries and emailAddress attributes) checked in one certificate.
const MAX_NAMES: usize = 256;
/// Most name-against-base comparisons for one path.
const MAX_COMPARISONS: usize = 1 << 16;

/// A name, or a subtree base, owned and prepared for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    /// directoryName (or the subject DN), in its prepared form (`None`: could not be
    /// prepared).
    Directory(Option<Vec<u8>>),
    /// rfc822Name (or an emailAddress attribute of the subject).
    Rfc822(String),
    /// dNSName
    Dns(String),
    /// uniformResourceIdentifier
    Uri(String),
    /// iPAddress
    Ip(Vec<u8>),
    /// A form we cannot match.
    Other(u8),
}

impl Name {
    fn form(&self) -> Form {
        match self {
            Name::Directory(_) => Form::Directory,
            Name::Rfc822(_) => Form::Rfc822,
            Name::Dns(_) => Form::Dns,
            Name::Uri(_) => Form::Uri,
            Name::Ip(_) => Form::Ip,
            Name::Other(t) => Form::Other(*t),
        }
    }

    fn from_general(g: GeneralName<'_>) -> Name {
        match g {
            GeneralName::Directory(der) => Name::Directory(dn::canonical(der)),
            GeneralName::Rfc822(s) => Name::Rfc822(s.to_owned()),
            GeneralName::Dns(s) => Name::Dns(s.to_owned()),
            GeneralName::Uri(s) => Name::Uri(s.to_owned()),
            GeneralName::Ip(b) => Name::Ip(b.to_vec()),
            GeneralName::Other(t) => Name::Other(t),
        }
    }

    /// Whether this name lies within `base` (a subtree base of the same form).
    fn within(&self, base: &Name) -> Within {
        match (self, base) {
            (Name::Directory(Some(n)), Name::Directory(Some(b))) => n.starts_with(b).into(),
            (Name::Rfc822(n), Name::Rfc822(b)) => general::rfc822_within(n, b),
            (Name::Dns(n), Name::Dns(b)) => general::dns_within(n, b),
            (Name::Uri(n), Name::Uri(b)) => general::uri_within(n, b),
            (Name::Ip(n), Name::Ip(b)) => general::ip_within(n, b),
            _ => Within::Unknown,
        }
    }
}

/// One certificate's nameConstraints extension.
#[derive(Debug, Default, PartialEq, Eq)]
struct Constraints {
    permitted: Vec<Name>,
    excluded: Vec<Name>,
}

/// Parses the value of a nameConstraints extension (§4.2.1.10):
/// `SEQUENCE { permittedSubtrees [0] GeneralSubtrees OPTIONAL, excludedSubtrees [1] … }`.
fn parse(der: &[u8]) -> Result<Constraints, NameError> {
    let mut top = Reader::new(der);
    let seq = top.read_tag(tag::SEQUENCE, "NameConstraints")?;
    top.finish("end of NameConstraints")?;
    let mut r = seq.children(0)?;
    let mut out = Constraints::default();
    if let Some(p) = r.optional(tag::CTX0)? {
        out.permitted = subtrees(&p.children(1)?)?;
    }
    if let Some(x) = r.optional(tag::CTX1)? {
        out.excluded = subtrees(&x.children(1)?)?;
    }
    r.finish("end of NameConstraints")?;
    if out.permitted.len() + out.excluded.len() > MAX_SUBTREES {
        return Err(NameError::TooMany("subtrees"));
    }
    Ok(out)
}

/// `GeneralSubtrees ::= SEQUENCE SIZE (1..MAX) OF GeneralSubtree`, where
/// `GeneralSubtree ::= SEQUENCE { base GeneralName, minimum [0] DEFAULT 0, maximum [1] OPTIONAL }`.
fn subtrees(r: &Reader<'_>) -> Result<Vec<Name>, NameError> {
    let mut r = r.clone();
    let mut out = Vec::new();
    while let Some(sub) = r.next()? {
        if out.len() >= MAX_SUBTREES {
            return Err(NameError::TooMany("subtrees"));
        }
        let sub = sub.must_be(tag::SEQUENCE, "GeneralSubtree")?;
        let mut s = sub.children(r.depth())?;
        let base = s.read("base")?;
        let base = general::read(&base, s.depth())?;
        // §4.2.1.10: minimum MUST be zero and maximum MUST be absent; anything else is a
        // distance we do not implement, so the constraint cannot be honoured.
        if let Some(min) = s.optional(tag::CTX0_PRIM)?
            && min.value != [0]
        {
            return Err(NameError::Malformed("subtree minimum other than 0"));
        }
        if s.optional(0x81)?.is_some() {
            return Err(NameError::Malformed("subtree maximum"));
        }
        s.finish("end of GeneralSubtree")?;
        out.push(Name::from_general(base));
    }
    if out.is_empty() {
        return Err(NameError::Malformed("empty GeneralSubtrees"));
    }
    Ok(out)
}

/// The names of `cert` that constraints apply to (§6.1.3 (b)(c)): the subject DN when it is
/// not empty, its emailAddress attributes (as rfc822Names) and every subjectAltName entry.
fn names_of(cert: &Certificate) -> Result<Vec<Name>, NameError> {
    let mut out = Vec::new();
    if !dn::is_empty(&cert.subject_raw) {
        out.push(Name::Directory(dn::canonical(&cert.subject_raw)));
        let emails = dn::email_addresses(&cert.subject_raw)
            .ok_or(NameError::Malformed("emailAddress in the subject"))?;
        out.extend(emails.into_iter().map(Name::Rfc822));
    }
    if let Some(san) = &cert.names.alt_names {
        let mut top = Reader::new(san);
        let seq = top.read_tag(tag::SEQUENCE, "subjectAltName")?;
        top.finish("end of subjectAltName")?;
        let mut r = seq.children(0)?;
        while let Some(t) = r.next()? {
            if out.len() >= MAX_NAMES {
                return Err(NameError::TooMany("names in one certificate"));
            }
            out.push(Name::from_general(general::read(&t, r.depth())?));
        }
    }
    Ok(out)
}

/// Why a certificate's names break the constraints above it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Violation {
    /// A name outside every permitted subtree of its form of some CA.
    #[error("{0} lies outside the permitted subtrees")]
    NotPermitted(String),
    /// A name inside an excluded subtree.
    #[error("{0} lies in an excluded subtree")]
    Excluded(String),
    /// A name whose form is constrained but whose containment cannot be decided.
    #[error("{0} is constrained but cannot be checked")]
    Undecidable(String),
    /// The comparison budget ran out.
    #[error("more than {MAX_COMPARISONS} name comparisons")]
    Budget,
    /// The certificate's names could not be read.
    #[error("names cannot be read: {0}")]
    Unreadable(NameError),
}

/// How a name is shown in a finding.
fn describe(name: &Name) -> String {
    match name {
        Name::Directory(_) => "a directory name".into(),
        Name::Rfc822(s) => format!("e-mail address {s}"),
        Name::Dns(s) => format!("DNS name {s}"),
        Name::Uri(s) => format!("URI {s}"),
        Name::Ip(b) => format!("IP address {}", crate::verify::certificate::hex(b)),
        Name::Other(t) => format!("a name of form [{t}]"),
    }
}

/// The state of §6.1.2 (b)(c): permitted sets (one per constraining CA) and excluded bases.
#[derive(Debug, Default)]
struct State {
    permitted: Vec<Vec<Name>>,
    excluded: Vec<Name>,
    comparisons: usize,
}

impl State {
    /// Takes in one CA's constraints (§6.1.4 (g)).
    fn add(&mut self, c: Constraints) {
        if !c.permitted.is_empty() {
            self.permitted.push(c.permitted);
        }
        self.excluded.extend(c.excluded);
    }

    /// Whether `name` lies within `base`, counted against the budget.
    fn within(&mut self, name: &Name, base: &Name) -> Result<Within, Violation> {
        self.comparisons += 1;
        if self.comparisons > MAX_COMPARISONS {
            return Err(Violation::Budget);
        }
        Ok(name.within(base))
    }

    /// Checks one name (§6.1.3 (b)(c)).
    fn check(&mut self, name: &Name) -> Result<(), Violation> {
        let form = name.form();
        let permitted = std::mem::take(&mut self.permitted);
        let verdict = self.check_permitted(name, form, &permitted);
        self.permitted = permitted;
        verdict?;
        let excluded = std::mem::take(&mut self.excluded);
        let verdict = self.check_excluded(name, form, &excluded);
        self.excluded = excluded;
        verdict
    }

    /// Inside at least one base of its form in each set that has bases of its form.
    fn check_permitted(
        &mut self,
        name: &Name,
        form: Form,
        sets: &[Vec<Name>],
    ) -> Result<(), Violation> {
        for set in sets {
            let mut constrained = false;
            let mut unknown = false;
            let mut inside = false;
            for base in set.iter().filter(|b| b.form() == form) {
                constrained = true;
                match self.within(name, base)? {
                    Within::Yes => {
                        inside = true;
                        break;
                    }
                    Within::Unknown => unknown = true,
                    Within::No => {}
                }
            }
            if constrained && !inside {
                return Err(if unknown {
                    Violation::Undecidable(describe(name))
                } else {
                    Violation::NotPermitted(describe(name))
                });
            }
        }
        Ok(())
    }

    /// Inside no excluded base of its form (and decidably so).
    fn check_excluded(&mut self, name: &Name, form: Form, bases: &[Name]) -> Result<(), Violation> {
        for base in bases.iter().filter(|b| b.form() == form) {
            match self.within(name, base)? {
                Within::Yes => return Err(Violation::Excluded(describe(name))),
                Within::Unknown => return Err(Violation::Undecidable(describe(name))),
                Within::No => {}
            }
        }
        Ok(())
    }

    /// Checks every name of `cert`.
    fn check_cert(&mut self, cert: &Certificate) -> Result<(), Violation> {
        for name in &names_of(cert).map_err(Violation::Unreadable)? {
            self.check(name)?;
        }
        Ok(())
    }
}

/// Applies the name constraints of `path` (leaf first, anchor last) to the names below each
/// constraining CA, adding a `name-constraints` finding on the first violation.
///
/// The anchor's own constraints are applied too: a constrained root is the operator's word on
/// what it may certify. Self-issued intermediates are exempt (§6.1.3 (b)); the leaf never is.
/// A path without any nameConstraints extension costs one scan of a field.
pub fn check_constraints(path: &[Arc<Certificate>], out: &mut Vec<Finding>) {
    let Some(top) = path.iter().rposition(|c| c.names.constraints.is_some()) else {
        return;
    };
    let mut state = State::default();
    let mut fail = |cert: &Certificate, detail: String| {
        out.push(Finding {
            reason: Reason::NameConstraints,
            detail: format!("{}: {detail}", cert.subject),
        })
    };
    // From the topmost constraining CA down to the leaf, in the order of §6.1.
    for (i, cert) in path.iter().enumerate().take(top + 1).rev() {
        let exempt = i > 0 && cert.self_issued();
        if i < top
            && !exempt
            && let Err(v) = state.check_cert(cert)
        {
            return fail(cert, v.to_string());
        }
        if i == 0 {
            break;
        }
        if let Some(der) = &cert.names.constraints {
            match parse(der) {
                Ok(c) => state.add(c),
                Err(e) => return fail(cert, format!("nameConstraints cannot be applied: {e}")),
            }
        }
    }
}

#[cfg(test)]
mod tests;
