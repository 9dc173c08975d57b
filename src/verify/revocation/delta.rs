//! Delta CRLs (RFC 5280 §5.2.4, §6.3.3 (c), (g)(ii), (i)): a delta lists the changes since
//! its base; combined with a complete CRL numbered at least its BaseCRLNumber it gives the
//! current status. Its entries override the complete CRL's, and `removeFromCRL` un-lists.

use super::super::certificate::Certificate;
use super::super::names;
use super::Context;
use super::crl::{Crl, Entry, REMOVE_FROM_CRL};

/// The deltas that may complete `complete` at the validation time: current, from the same
/// issuer and key, with exactly the same scope (issuingDistributionPoint), based on a number
/// the complete CRL reaches, and newer than it. Signatures are checked by [`choose`].
fn candidates<'a, 'c>(complete: &'c Crl, ctx: &'c Context<'a>) -> impl Iterator<Item = &'a Crl> + 'c
where
    'a: 'c,
{
    ctx.crls.iter().copied().filter(move |d| {
        let Some(base) = &d.delta_base else {
            return false;
        };
        let Some(number) = &complete.number else {
            return false;
        };
        let newer = d.number.as_ref().is_none_or(|dn| dn > number);
        let same_key = match (&d.authority_key_id, &complete.authority_key_id) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        number >= base
            && newer
            && same_key
            && d.unusable.is_none()
            && d.current_at(ctx.at)
            && d.idp_raw == complete.idp_raw
            && names::same_crl_issuer(d, complete)
    })
}

/// Whether some delta could complete `complete` (before its signature is checked): a complete
/// CRL past its nextUpdate is still usable with a current delta (§6.3.3 (a)(1)(i)).
pub(super) fn any(complete: &Crl, ctx: &Context<'_>) -> bool {
    candidates(complete, ctx).next().is_some()
}

/// The newest delta for `complete` signed by `signer`, the key that signed the complete CRL
/// (§6.3.3 (g)(ii)).
pub(super) fn choose<'a>(
    complete: &Crl,
    signer: &Certificate,
    ctx: &Context<'a>,
) -> Option<&'a Crl> {
    candidates(complete, ctx)
        .filter(|d| {
            ctx.cache
                .signed_by(
                    &d.fingerprint,
                    d.tbs(),
                    &d.signed,
                    &signer.fingerprint,
                    &signer.public_key,
                )
                .is_ok()
        })
        .max_by(|a, b| a.number.cmp(&b.number))
}

/// The entry that decides the certificate's status: the delta's when it lists the certificate
/// (none when it says `removeFromCRL`), otherwise the complete CRL's.
pub(super) fn lookup(
    complete: &Crl,
    delta: Option<&Crl>,
    issuer: &[u8],
    serial: &[u8],
) -> Option<Entry> {
    if let Some(e) = delta.and_then(|d| d.lookup(issuer, serial)) {
        return (e.reason != Some(REMOVE_FROM_CRL)).then_some(e);
    }
    complete.lookup(issuer, serial)
}
