//! Revocation (RFC 5280 §6.3): for each certificate of a path, the CRLs whose scope covers it
//! are found, their signers validated, deltas applied, until every reason is covered.
//!
//! * [`crl`]: the parsed CRL, its number, scope and entries;
//! * [`scope`]: distribution points and issuing distribution points;
//! * [`delta`]: delta CRLs and how they override their base;
//! * [`issuer`]: whether a CRL from elsewhere is issued and signed by a CA of the trust store;
//! * [`signer`]: who signed a CRL, and that signer's own path.

pub mod crl;
pub mod delta;
pub mod issuer;
pub mod scope;
pub mod signer;

use super::cache::Cache;
use super::certificate::Certificate;
use super::names;
use super::trust::TrustStore;
pub use crl::{Crl, CrlNumber, Entry};
use scope::{ALL_REASONS, DistPoint};
use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::sync::Arc;

/// What the CRLs say of one certificate at one time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Usable CRLs covering every reason do not list it.
    Good,
    /// A usable CRL lists it, revoked at this time.
    Revoked(i64),
    /// No usable CRL, or not for every reason: the sentence says why.
    Unknown(String),
}

/// Work shared by one validation and every CRL signer path it opens.
#[derive(Debug, Default)]
pub struct Budget {
    /// CRL signer paths validated so far (at most [`signer::MAX_VALIDATIONS`]).
    pub validations: Cell<usize>,
    /// Signers already found valid, as (signer, anchor) fingerprints.
    pub valid: RefCell<HashSet<([u8; 32], [u8; 32])>>,
}

/// Everything revocation checking looks at, for one validation.
#[derive(Debug, Clone)]
pub struct Context<'a> {
    /// Certificates carried by the signature.
    pub pool: &'a [Arc<Certificate>],
    /// Trust anchors (for a CRL signer's path: only the anchor it must reach).
    pub trust: &'a TrustStore,
    /// Every CRL available: the trust store's and the signature's.
    pub crls: &'a [&'a Crl],
    /// The validation time.
    pub at: i64,
    /// Signature memo.
    pub cache: &'a Cache,
    /// How many CRL signer paths enclose this one (0 for the signer's own path).
    pub depth: usize,
    /// The CRL signers whose paths enclose this one: never used again inside, so a key that
    /// signs the CRL covering its own certificate cannot send validation round in a circle.
    pub visiting: Vec<[u8; 32]>,
    /// The shared work budget.
    pub budget: &'a Budget,
    /// Whether the path's leaf is a CRL signer (its key usage is then cRLSign, not signing).
    pub crl_signer: bool,
    /// When a time-stamp proves the signature existed (proof of existence): a revocation
    /// after it counts only for a compromise (see [`crate::verify::timestamp::apply`]).
    /// `None` for a signature without one, and always for a CRL signer's own path.
    pub poe: Option<i64>,
    /// OCSP responses at hand (carried in the signature or fetched), not yet verified.
    pub ocsp: &'a [Arc<crate::verify::ocsp::Response>],
    /// How fresh an OCSP answer must be.
    pub ocsp_window: crate::verify::ocsp::Window,
}

impl<'a> Context<'a> {
    /// The context of a signer's path validation.
    pub fn new(
        pool: &'a [Arc<Certificate>],
        trust: &'a TrustStore,
        crls: &'a [&'a Crl],
        at: i64,
        cache: &'a Cache,
        budget: &'a Budget,
    ) -> Self {
        Context {
            pool,
            trust,
            crls,
            at,
            cache,
            depth: 0,
            visiting: Vec::new(),
            budget,
            crl_signer: false,
            poe: None,
            ocsp: &[],
            ocsp_window: crate::verify::ocsp::Window::default(),
        }
    }
}

/// Why a CRL was not used, most telling last (the report names the most telling one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Skip {
    NoCrl,
    OutOfScope(&'static str),
    NotCurrent,
    Unusable(String),
    NoSigner(signer::SignerError),
}

impl Skip {
    fn text(&self) -> String {
        match self {
            Skip::NoCrl => "no CRL from the issuer".into(),
            Skip::OutOfScope(why) => format!("no CRL from the issuer covers it ({why})"),
            Skip::NotCurrent => "no CRL from the issuer is current at the validation time".into(),
            Skip::Unusable(why) => format!("the CRL cannot be used: {why}"),
            Skip::NoSigner(why) => why.to_string(),
        }
    }
}

/// The status of `cert` at the validation time; `up` is the rest of its path (its issuer
/// first, the trust anchor last). A verified, current OCSP answer decides (RFC 6960,
/// [`crate::verify::ocsp::status`]); without one, the CRLs do ([`crl_status`]). A revocation
/// from either source wins: a "good" answer — perhaps one the signature carries, obtained
/// before the revocation and still within its window — never hides a CRL that lists it.
pub fn status(cert: &Certificate, up: &[Arc<Certificate>], ctx: &Context<'_>) -> Status {
    use crate::verify::ocsp::status::{self as ocsp, Said};
    match ocsp::status(cert, up, ctx) {
        Said::Decided(Status::Good) => match crl_status(cert, up, ctx) {
            Status::Revoked(t) => Status::Revoked(t),
            _ => Status::Good,
        },
        Said::Decided(s) => s,
        Said::Nothing(why) => match (crl_status(cert, up, ctx), why) {
            (Status::Unknown(crl), Some(ocsp)) => Status::Unknown(format!("{crl}; {ocsp}")),
            (s, _) => s,
        },
    }
}

/// The status of `cert` by CRLs alone. §6.3.3: for each distribution point (or, without any, the
/// issuer's complete CRLs), each usable CRL adds the reasons it covers; the certificate is
/// good once all reasons are covered and no CRL lists it.
pub fn crl_status(cert: &Certificate, up: &[Arc<Certificate>], ctx: &Context<'_>) -> Status {
    let (Some(issuer), Some(anchor)) = (up.first(), up.last()) else {
        return Status::Unknown("no issuer on the path".into());
    };
    if let Some(e) = &cert.revocation.malformed {
        return Status::Unknown(format!("its CRL distribution points are malformed: {e}"));
    }
    let implicit = [DistPoint::default()];
    let points = match cert.revocation.points.as_slice() {
        [] => &implicit[..],
        p => p,
    };
    // Newest first: a CRL says what held at its thisUpdate, so the newest of those that cover
    // the certificate is the authority (a hold released since, a revocation since), whatever
    // order the trust store and the signature list them in.
    let mut complete: Vec<&Crl> = ctx
        .crls
        .iter()
        .copied()
        .filter(|c| c.delta_base.is_none())
        .collect();
    complete.sort_by(|a, b| (b.this_update, &b.number).cmp(&(a.this_update, &a.number)));
    let mut mask = 0u16;
    let mut skip = Skip::NoCrl;
    for dp in points {
        for crl in complete.iter().copied() {
            if mask == ALL_REASONS {
                return Status::Good;
            }
            match use_crl(cert, issuer, anchor, dp, crl, mask, ctx) {
                Ok(Verdict::Listed(e)) => return Status::Revoked(e.date),
                Ok(Verdict::Covers(reasons)) => mask |= reasons,
                Err(s) => skip = skip.max(s),
            }
        }
    }
    if mask == ALL_REASONS {
        Status::Good
    } else if mask != 0 {
        Status::Unknown(format!(
            "the usable CRLs cover only some revocation reasons ({})",
            cert.issuer
        ))
    } else {
        Status::Unknown(format!("{} ({})", skip.text(), cert.issuer))
    }
}

/// What one usable CRL says.
enum Verdict {
    /// It lists the certificate.
    Listed(Entry),
    /// It does not, for these reasons.
    Covers(u16),
}

/// §6.3.3 (a)–(j) for one distribution point and one complete CRL.
fn use_crl(
    cert: &Certificate,
    issuer: &Arc<Certificate>,
    anchor: &Arc<Certificate>,
    dp: &DistPoint,
    crl: &Crl,
    mask: u16,
    ctx: &Context<'_>,
) -> Result<Verdict, Skip> {
    in_scope(cert, dp, crl)?;
    if let Some(why) = &crl.unusable {
        return Err(Skip::Unusable(why.clone()));
    }
    if !crl.current_at(ctx.at) && !delta::any(crl, ctx) {
        return Err(Skip::NotCurrent);
    }
    // (d), (e): the reasons this CRL adds; one that adds none is not worth its signature.
    let only = crl.idp.as_ref().and_then(|i| i.only_some_reasons);
    // Bit 0 ("unused") may be set in either; it is no reason, so it never counts.
    let interim = dp.reasons.unwrap_or(ALL_REASONS) & only.unwrap_or(ALL_REASONS) & ALL_REASONS;
    if interim & !mask == 0 {
        return Err(Skip::NoCrl);
    }
    let signer = signer::find(crl, issuer, anchor, ctx).map_err(Skip::NoSigner)?;
    let delta = delta::choose(crl, &signer, ctx);
    if !crl.current_at(ctx.at) && delta.is_none() {
        return Err(Skip::NotCurrent);
    }
    match delta::lookup(crl, delta, &cert.issuer_raw, &cert.serial) {
        Some(e) if e.date <= ctx.at && super::timestamp::apply::revokes(&e, ctx.poe) => {
            Ok(Verdict::Listed(e))
        }
        _ => Ok(Verdict::Covers(interim)),
    }
}

/// §6.3.3 (b): the CRL is from the right issuer and its scope covers the certificate.
fn in_scope(cert: &Certificate, dp: &DistPoint, crl: &Crl) -> Result<(), Skip> {
    // (b)(1): a cRLIssuer in the distribution point names an indirect CRL's issuer.
    let crl_issuer_dn = |n: &Vec<u8>| {
        scope::directory_name(n).is_some_and(|d| names::same_name(d, &crl.issuer_raw))
    };
    if dp.crl_issuer.is_empty() {
        if !names::crl_issued_by(crl, cert) {
            return Err(Skip::NoCrl);
        }
    } else if !dp.crl_issuer.iter().any(crl_issuer_dn) {
        return Err(Skip::NoCrl);
    } else if !crl.indirect() {
        return Err(Skip::OutOfScope("the CRL of the cRLIssuer is not indirect"));
    }
    let Some(idp) = &crl.idp else {
        return Ok(());
    };
    // (b)(2)(i): the IDP's name is one of the distribution point's names, or of its cRLIssuer.
    if let Some(idp_name) = &idp.name {
        let idp_names = scope::resolve(idp_name, &crl.issuer_raw);
        let matched = match &dp.name {
            Some(n) => {
                let base = dp
                    .crl_issuer
                    .iter()
                    .find_map(|g| scope::directory_name(g))
                    .unwrap_or(&cert.issuer_raw);
                scope::any_same(&idp_names, &scope::resolve(n, base))
            }
            None => scope::any_same(&idp_names, &dp.crl_issuer),
        };
        if !matched {
            return Err(Skip::OutOfScope("distribution point names differ"));
        }
    }
    let is_ca = cert.basic_constraints.is_some_and(|(ca, _)| ca);
    if idp.only_user && is_ca {
        return Err(Skip::OutOfScope(
            "the CRL covers only end-entity certificates",
        ));
    }
    if idp.only_ca && !is_ca {
        return Err(Skip::OutOfScope("the CRL covers only CA certificates"));
    }
    if idp.only_attribute {
        return Err(Skip::OutOfScope(
            "the CRL covers only attribute certificates",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
