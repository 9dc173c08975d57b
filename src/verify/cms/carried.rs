//! What a SignedData carries beside its signers: certificates, CRLs and OCSP responses,
//! collected under one count limit per set and one byte limit for all of them together.

use super::{CmsError, MAX_CARRIED_BYTES, MAX_CERTS};
use crate::verify::asn1::{self, Tlv, tag};

/// id-ri-ocsp-response (RFC 5940 §4.1): an `other` RevocationInfoChoice holding an OCSPResponse.
const ID_RI_OCSP_RESPONSE: &str = "1.3.6.1.5.5.7.16.2";

/// Collects the SEQUENCE elements of a `certificates` or `crls` set into `out`, refusing as
/// soon as there are more than [`MAX_CERTS`] or all carried objects together (`carried`
/// counts their bytes) exceed [`MAX_CARRIED_BYTES`]. Attribute and "other" certificates and
/// other CRL formats carry nothing a signature path can use; they are skipped.
pub(super) fn collect<'a>(
    set: &Tlv<'a>,
    depth: usize,
    out: &mut Vec<&'a [u8]>,
    carried: &mut usize,
) -> Result<(), CmsError> {
    let mut r = set.children(depth)?;
    while let Some(c) = r.next()? {
        if c.tag == tag::SEQUENCE {
            keep(c.raw, out, carried, "too many certificates or CRLs")?;
        }
    }
    Ok(())
}

/// Collects the OCSPResponses of the `other [1]` choices of a `crls` set, under the same
/// count and byte limits as the certificates and CRLs; other formats are skipped.
pub(super) fn collect_ocsp<'a>(
    set: &Tlv<'a>,
    depth: usize,
    out: &mut Vec<&'a [u8]>,
    carried: &mut usize,
) -> Result<(), CmsError> {
    let mut r = set.children(depth)?;
    while let Some(c) = r.next()? {
        if c.tag != tag::CTX1 {
            continue;
        }
        // A malformed `other` choice is skipped like any format we do not read: it is
        // evidence offered, not part of what the signature covers.
        let resp = c.children(r.depth()).ok().and_then(|mut o| {
            let oid = asn1::read_oid(&mut o, "otherRevInfoFormat").ok()?;
            (oid == ID_RI_OCSP_RESPONSE)
                .then(|| o.read_tag(tag::SEQUENCE, "OCSPResponse").ok())
                .flatten()
        });
        if let Some(resp) = resp {
            keep(resp.raw, out, carried, "too many carried OCSP responses")?;
        }
    }
    Ok(())
}

/// Adds `raw` to `out` within the limits: at most [`MAX_CERTS`] in `out` (else `too_many`),
/// at most [`MAX_CARRIED_BYTES`] counted in `carried` over everything carried.
fn keep<'a>(
    raw: &'a [u8],
    out: &mut Vec<&'a [u8]>,
    carried: &mut usize,
    too_many: &'static str,
) -> Result<(), CmsError> {
    if out.len() == MAX_CERTS {
        return Err(CmsError::Structure(too_many));
    }
    *carried = carried.saturating_add(raw.len());
    if *carried > MAX_CARRIED_BYTES {
        return Err(CmsError::Structure(
            "carried certificates and CRLs larger than the limit",
        ));
    }
    out.push(raw);
    Ok(())
}
