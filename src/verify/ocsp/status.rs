//! What the verified OCSP answers at hand say of one certificate on a path (RFC 6960), asked
//! by [`crate::verify::revocation::status`] before the CRLs.
//!
//! An answer counts when [`Response::answer_for`] accepts it for the certificate's issuer on
//! the path at the validation time, and, when a delegated responder without
//! id-pkix-ocsp-nocheck signed it, that responder's own certificate is not revoked by the
//! issuer's CRLs (§4.2.2.2.1: "the client … should check the status of the responder's
//! certificate"; checked like a CRL signer's, by CRL, because asking the responder about
//! itself proves nothing). Of several usable answers the newest (thisUpdate) speaks.

use super::{Answer, Expect, OcspError, Response, Signer, Status as OcspStatus};
use crate::verify::certificate::Certificate;
use crate::verify::fmt_time;
use crate::verify::revocation::{self, Context, Status};
use std::sync::Arc;

/// A certificate whose revocation status nothing at hand established, with its issuer on the
/// path: what a fetcher above `verify` asks an OCSP responder about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The certificate.
    pub certificate: Arc<Certificate>,
    /// Its issuer (the CertID is computed from its name and key).
    pub issuer: Arc<Certificate>,
}

/// What the OCSP responses say of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Said {
    /// A usable, current answer decides: good or revoked.
    Decided(Status),
    /// No usable answer decides; the sentence says why when some response was about it.
    Nothing(Option<String>),
}

/// What the responses of `ctx` say of `cert`; `up` is the rest of its path, issuer first.
pub fn status(cert: &Certificate, up: &[Arc<Certificate>], ctx: &Context<'_>) -> Said {
    let Some(issuer) = up.first() else {
        return Said::Nothing(None);
    };
    let mut best: Option<Answer> = None;
    let mut why = None;
    for resp in ctx.ocsp {
        match usable(resp, cert, issuer, up, ctx) {
            Ok(a) if best.as_ref().is_none_or(|b| a.this_update > b.this_update) => best = Some(a),
            Ok(_) | Err(OcspError::NotCovered) => {}
            Err(e) => why = Some(format!("OCSP: {e}")),
        }
    }
    match best.map(|a| a.status) {
        Some(OcspStatus::Good) => Said::Decided(Status::Good),
        // certificateHold (reason 6) is a revocation while it stands (RFC 5280 §5.3.1).
        // A revocation after a time-stamp's proof of existence counts as a CRL entry's would
        // (only for a compromise: timestamp::apply::revokes).
        Some(OcspStatus::Revoked { time, reason })
            if time <= ctx.at
                && crate::verify::timestamp::apply::revokes(
                    &crate::verify::revocation::Entry { date: time, reason },
                    ctx.poe,
                ) =>
        {
            Said::Decided(Status::Revoked(time))
        }
        // Revoked only after the validation time (or after a proof of existence, for a reason
        // that is no compromise): good at it, as such a CRL entry is.
        Some(OcspStatus::Revoked { .. }) => Said::Decided(Status::Good),
        // §2.2: "unknown" is no status at all (the responder does not serve this issuer or
        // does not know the serial): neither good nor a revocation; another source may know.
        Some(OcspStatus::Unknown) => Said::Nothing(Some(format!(
            "the OCSP responder answered \"unknown\" ({})",
            cert.issuer
        ))),
        None => Said::Nothing(why),
    }
}

/// The answer of `resp` for `cert`, if it may be believed.
fn usable(
    resp: &Response,
    cert: &Certificate,
    issuer: &Certificate,
    up: &[Arc<Certificate>],
    ctx: &Context<'_>,
) -> Result<Answer, OcspError> {
    let a = resp.answer_for(
        issuer,
        &cert.serial,
        ctx.at,
        ctx.ocsp_window,
        Expect::default(),
        ctx.cache,
    )?;
    if let Signer::Delegated {
        certificate,
        nocheck: false,
    } = &a.signer
    {
        let crl_only = Context {
            ocsp: &[],
            ..ctx.clone()
        };
        match revocation::crl_status(certificate, up, &crl_only) {
            Status::Good => {}
            Status::Revoked(t) => return Err(OcspError::ResponderRevoked(fmt_time(t))),
            Status::Unknown(why) => return Err(OcspError::ResponderUnchecked(why)),
        }
    }
    Ok(a)
}
