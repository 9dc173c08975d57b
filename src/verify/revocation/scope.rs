//! Distribution points and the scope of a CRL (RFC 5280 §4.2.1.13, §5.2.5, §6.3.3 (b), (d)).
//!
//! The extensions are read with our bounded reader rather than x509-parser's model because
//! scope matching needs the names *as encoded*: a `nameRelativeToCRLIssuer` is turned into a
//! full name by appending its RDN to the issuer's encoded Name, and every directoryName is then
//! compared with [`names::same_name`] (RFC 5280 §7.1), never as text.

use super::super::asn1::{self, Asn1Error, Reader, Tlv, tag};
use super::super::names;
use x509_parser::prelude::X509Extension;

/// Every reason flag RFC 5280 §5.3.1 defines (bits 1 to 8 of ReasonFlags; bit 0 is unused).
pub const ALL_REASONS: u16 = 0x01FE;
/// Most DistributionPoints read from one extension, and most names in one GeneralNames.
/// Real certificates carry one to three; the cap bounds the matching work (points × names).
const MAX_ITEMS: usize = 16;

/// Why a distribution point extension could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// The DER is not well formed.
    #[error("{0}")]
    Asn1(#[from] Asn1Error),
    /// More points or names than [`MAX_ITEMS`].
    #[error("more than {MAX_ITEMS} {0}")]
    TooMany(&'static str),
}

/// A DistributionPointName: full names, or an RDN relative to the CRL issuer's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DpName {
    /// `fullName`: GeneralName encodings.
    Full(Vec<Vec<u8>>),
    /// `nameRelativeToCRLIssuer`: the RDN's AttributeTypeAndValue encodings, concatenated.
    Relative(Vec<u8>),
}

/// One DistributionPoint of a cRLDistributionPoints or freshestCRL extension.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DistPoint {
    /// `distributionPoint`.
    pub name: Option<DpName>,
    /// `reasons` as a mask of [`ALL_REASONS`] bits; `None` means all reasons.
    pub reasons: Option<u16>,
    /// `cRLIssuer` GeneralName encodings; empty when the certificate's issuer signs the CRL.
    pub crl_issuer: Vec<Vec<u8>>,
}

/// A CRL's issuingDistributionPoint (RFC 5280 §5.2.5).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Idp {
    /// `distributionPoint`.
    pub name: Option<DpName>,
    /// `onlyContainsUserCerts`.
    pub only_user: bool,
    /// `onlyContainsCACerts`.
    pub only_ca: bool,
    /// `onlySomeReasons` as a mask; `None` means all reasons.
    pub only_some_reasons: Option<u16>,
    /// `indirectCRL`.
    pub indirect: bool,
    /// `onlyContainsAttributeCerts`.
    pub only_attribute: bool,
}

/// What a certificate says about where its revocation status is published.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertScope {
    /// cRLDistributionPoints (2.5.29.31); empty when absent.
    pub points: Vec<DistPoint>,
    /// freshestCRL (2.5.29.46): where delta CRLs are published; empty when absent.
    pub freshest: Vec<DistPoint>,
    /// Set when one of the two could not be read: the certificate's CRL scope is then unknown,
    /// so no CRL can be said to cover it.
    pub malformed: Option<ScopeError>,
}

/// The DER content bytes of the OID 2.5.29.`n`.
pub(super) fn ext_oid(n: u8) -> [u8; 3] {
    [0x55, 0x1D, n]
}

impl CertScope {
    /// Reads cRLDistributionPoints and freshestCRL from a certificate's extensions.
    pub fn from_extensions(exts: &[X509Extension<'_>]) -> CertScope {
        let mut out = CertScope::default();
        for ext in exts {
            let oid = ext.oid.as_bytes();
            let into = if oid == ext_oid(31) {
                &mut out.points
            } else if oid == ext_oid(46) {
                &mut out.freshest
            } else {
                continue;
            };
            match parse_points(ext.value) {
                Ok(p) => *into = p,
                Err(e) => out.malformed = Some(e),
            }
        }
        out
    }
}

/// Parses `CRLDistributionPoints ::= SEQUENCE SIZE (1..MAX) OF DistributionPoint`.
pub fn parse_points(value: &[u8]) -> Result<Vec<DistPoint>, ScopeError> {
    let outer = asn1::parse_single(value)?.must_be(tag::SEQUENCE, "DistributionPoints")?;
    let mut r = outer.children(0)?;
    let mut out = Vec::new();
    while let Some(dp) = r.next()? {
        if out.len() >= MAX_ITEMS {
            return Err(ScopeError::TooMany("distribution points"));
        }
        let dp = dp.must_be(tag::SEQUENCE, "DistributionPoint")?;
        let mut f = dp.children(r.depth())?;
        let name = match f.optional(0xA0)? {
            Some(n) => Some(parse_dp_name(&n, f.depth())?),
            None => None,
        };
        let reasons = match f.optional(0x81)? {
            Some(b) => Some(reason_bits(b.value)?),
            None => None,
        };
        let crl_issuer = match f.optional(0xA2)? {
            Some(g) => general_names(&g, f.depth())?,
            None => Vec::new(),
        };
        f.finish("end of DistributionPoint")?;
        out.push(DistPoint {
            name,
            reasons,
            crl_issuer,
        });
    }
    Ok(out)
}

/// Parses an issuingDistributionPoint extension value.
pub fn parse_idp(value: &[u8]) -> Result<Idp, ScopeError> {
    let outer = asn1::parse_single(value)?.must_be(tag::SEQUENCE, "IssuingDistributionPoint")?;
    let mut f = outer.children(0)?;
    let mut idp = Idp::default();
    if let Some(n) = f.optional(0xA0)? {
        idp.name = Some(parse_dp_name(&n, f.depth())?);
    }
    let flag = |t: Option<Tlv<'_>>| t.is_some_and(|t| t.value.iter().any(|&b| b != 0));
    idp.only_user = flag(f.optional(0x81)?);
    idp.only_ca = flag(f.optional(0x82)?);
    if let Some(b) = f.optional(0x83)? {
        idp.only_some_reasons = Some(reason_bits(b.value)?);
    }
    idp.indirect = flag(f.optional(0x84)?);
    idp.only_attribute = flag(f.optional(0x85)?);
    f.finish("end of IssuingDistributionPoint")?;
    Ok(idp)
}

/// `[0] DistributionPointName` (explicit, as a CHOICE): `[0] fullName` or `[1] RDN`.
fn parse_dp_name(wrapper: &Tlv<'_>, depth: usize) -> Result<DpName, ScopeError> {
    let mut r = wrapper.children(depth)?;
    let choice = r.read("DistributionPointName")?;
    r.finish("end of DistributionPointName")?;
    match choice.tag {
        0xA0 => Ok(DpName::Full(general_names(&choice, r.depth())?)),
        0xA1 => Ok(DpName::Relative(choice.value.to_vec())),
        _ => Err(Asn1Error::Unexpected("fullName or nameRelativeToCRLIssuer").into()),
    }
}

/// The GeneralName encodings inside an implicitly tagged GeneralNames.
fn general_names(g: &Tlv<'_>, depth: usize) -> Result<Vec<Vec<u8>>, ScopeError> {
    let mut r = g.children(depth)?;
    let mut out = Vec::new();
    while let Some(n) = r.next()? {
        if out.len() >= MAX_ITEMS {
            return Err(ScopeError::TooMany("names"));
        }
        out.push(n.raw.to_vec());
    }
    Ok(out)
}

/// ReasonFlags (a BIT STRING whose bit 0 is the first octet's high bit) as a mask.
pub(super) fn reason_bits(value: &[u8]) -> Result<u16, ScopeError> {
    let (_, bytes) = value
        .split_first()
        .ok_or(Asn1Error::BadValue("ReasonFlags"))?;
    let mut mask = 0u16;
    for bit in 0..9u16 {
        let byte = bytes.get(usize::from(bit / 8)).copied().unwrap_or(0);
        if byte & (0x80 >> (bit % 8)) != 0 {
            mask |= 1 << bit;
        }
    }
    Ok(mask)
}

/// The Name inside a directoryName GeneralName (`[4]`, explicit because Name is a CHOICE).
pub(crate) fn directory_name(general_name: &[u8]) -> Option<&[u8]> {
    let t = asn1::parse_single(general_name).ok()?;
    if t.tag != 0xA4 {
        return None;
    }
    let mut r = t.children(0).ok()?;
    let name = r.read_tag(tag::SEQUENCE, "Name").ok()?;
    r.finish("end of directoryName").ok()?;
    Some(name.raw)
}

/// Whether two GeneralNames are the same: directoryNames by RFC 5280 §7.1, other forms (URIs
/// and the like) by their encodings.
fn same_general_name(a: &[u8], b: &[u8]) -> bool {
    match (directory_name(a), directory_name(b)) {
        (Some(x), Some(y)) => names::same_name(x, y),
        _ => a == b,
    }
}

/// Whether any name in `a` is the same as any name in `b`.
pub fn any_same(a: &[Vec<u8>], b: &[Vec<u8>]) -> bool {
    a.iter().any(|x| b.iter().any(|y| same_general_name(x, y)))
}

/// A DistributionPointName as full GeneralNames: a relative name is appended to `issuer`
/// (the encoded Name of the CRL issuer, §4.2.1.13) and wrapped as a directoryName.
pub fn resolve(name: &DpName, issuer: &[u8]) -> Vec<Vec<u8>> {
    match name {
        DpName::Full(v) => v.clone(),
        DpName::Relative(atvs) => {
            let Ok(t) = asn1::parse_single(issuer) else {
                return Vec::new();
            };
            let mut content = t.value.to_vec();
            content.extend(der_tlv(tag::SET, atvs));
            vec![der_tlv(0xA4, &der_tlv(tag::SEQUENCE, &content))]
        }
    }
}

/// A DER element with a definite length.
fn der_tlv(tag: u8, value: &[u8]) -> Vec<u8> {
    let len = value.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(value);
    out
}

/// A reader over a value, for the CRL parser's small extensions.
pub(super) fn single<'a>(
    value: &'a [u8],
    expected: u8,
    what: &'static str,
) -> Result<Tlv<'a>, Asn1Error> {
    asn1::parse_single(value)?.must_be(expected, what)
}

/// The keyIdentifier of an authorityKeyIdentifier extension value, when present.
pub(super) fn authority_key_id(value: &[u8]) -> Result<Option<Vec<u8>>, Asn1Error> {
    let seq = single(value, tag::SEQUENCE, "AuthorityKeyIdentifier")?;
    let mut r: Reader<'_> = seq.children(0)?;
    Ok(r.optional(0x80)?.map(|k| k.value.to_vec()))
}
