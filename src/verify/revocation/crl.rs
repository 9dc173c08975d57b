//! A parsed CRL (RFC 5280 §5): its scope, its number, and an O(1) look-up of its entries.

use super::super::asn1::{Asn1Error, tag};
use super::super::certificate::{CertError, MAX_OBJECT, Signed};
use super::super::names;
use super::scope::{self, DistPoint, Idp, ext_oid, single};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use x509_parser::prelude::*;

/// CRLReason `removeFromCRL` (§5.3.1): only meaningful in a delta CRL, where it un-lists.
pub const REMOVE_FROM_CRL: u8 = 8;
/// CRLReason `certificateHold`: a revocation for as long as the entry is listed.
pub const CERTIFICATE_HOLD: u8 = 6;
/// Most distinct certificate issuers one indirect CRL may name (certificateIssuer entries).
const MAX_ISSUERS: usize = 1024;
/// Longest CRL number or BaseCRLNumber: §5.2.3 allows 20 octets; one more for a sign octet.
const MAX_NUMBER: usize = 21;

/// A cRLNumber or BaseCRLNumber: a non-negative INTEGER without leading zero octets, so that
/// comparing (length, bytes) compares the numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrlNumber(Vec<u8>);

impl CrlNumber {
    /// Reads an INTEGER extension value; negative or over-long numbers are refused.
    fn parse(value: &[u8]) -> Result<CrlNumber, Asn1Error> {
        let int = single(value, tag::INTEGER, "CRL number")?;
        if int.value.len() > MAX_NUMBER || int.value.first().is_none_or(|&b| b & 0x80 != 0) {
            return Err(Asn1Error::BadValue("CRL number"));
        }
        let digits: Vec<u8> = int.value.iter().copied().skip_while(|&b| b == 0).collect();
        Ok(CrlNumber(digits))
    }

    /// The number's big-endian octets, without leading zeros (none for zero).
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Numbers compare by value: the shorter (without leading zeros) is the smaller.
impl Ord for CrlNumber {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.0.len(), &self.0).cmp(&(other.0.len(), &other.0))
    }
}

impl PartialOrd for CrlNumber {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// One revoked certificate's entry: 16 bytes beside its key, whatever the CRL's size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// revocationDate, seconds since the epoch.
    pub date: i64,
    /// reasonCode (§5.3.1), when present.
    pub reason: Option<u8>,
}

/// A parsed CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crl {
    /// The CRL's DER.
    pub der: Vec<u8>,
    /// SHA-256 of `der`.
    pub fingerprint: [u8; 32],
    /// TBS range, algorithm and signature.
    pub signed: Signed,
    /// Raw encoding of the issuer Name.
    pub issuer_raw: Vec<u8>,
    /// The issuer Name prepared for comparison, once (see [`names::Prepared`]).
    pub issuer_prepared: names::Prepared,
    /// thisUpdate, seconds since the epoch.
    pub this_update: i64,
    /// nextUpdate, when present.
    pub next_update: Option<i64>,
    /// cRLNumber (2.5.29.20), kept so a CRL is never replaced by a lower-numbered one.
    pub number: Option<CrlNumber>,
    /// deltaCRLIndicator's BaseCRLNumber (2.5.29.27): set on delta CRLs only.
    pub delta_base: Option<CrlNumber>,
    /// issuingDistributionPoint (2.5.29.28), parsed.
    pub idp: Option<Idp>,
    /// The same extension as encoded: a delta CRL must have exactly its base's scope.
    pub idp_raw: Option<Vec<u8>>,
    /// freshestCRL (2.5.29.46): where the deltas of this complete CRL are published.
    pub freshest: Vec<DistPoint>,
    /// authorityKeyIdentifier's keyIdentifier, when present.
    pub authority_key_id: Option<Vec<u8>>,
    /// Entries keyed by issuer index (into `issuers`) and the serial's INTEGER content octets.
    entries: Entries,
    /// Certificate issuers' Names: the CRL issuer first, then each certificateIssuer (§5.3.3).
    issuers: Vec<Vec<u8>>,
    /// Why the CRL may not be used at all: a critical CRL or entry extension we do not
    /// process, or one we cannot read (§5.3: such a CRL must not be used for any certificate).
    pub unusable: Option<String>,
}

/// Known CRL extensions: number, delta indicator, IDP, AKI, freshestCRL, issuerAltName.
const CRL_EXTS: &[u8] = &[20, 27, 28, 35, 46, 18];
/// Known entry extensions: reasonCode, invalidityDate, certificateIssuer, holdInstructionCode.
const ENTRY_EXTS: &[u8] = &[21, 24, 29, 23];

impl Crl {
    /// Parses a DER CRL.
    pub fn from_der(der: &[u8]) -> Result<Crl, CertError> {
        if der.len() > MAX_OBJECT {
            return Err(CertError("CRL too large".into()));
        }
        let signed = Signed::split(der)?;
        let (rest, crl) = parse_x509_crl(der).map_err(|e| CertError(format!("CRL: {e}")))?;
        if !rest.is_empty() {
            return Err(CertError("trailing bytes after CRL".into()));
        }
        let issuer_raw = crl.issuer().as_raw().to_vec();
        let mut out = Crl {
            fingerprint: Sha256::digest(der).into(),
            signed,
            issuers: vec![issuer_raw.clone()],
            issuer_raw,
            issuer_prepared: names::Prepared::default(),
            this_update: crl.last_update().timestamp(),
            next_update: crl.next_update().map(|t| t.timestamp()),
            number: None,
            delta_base: None,
            idp: None,
            idp_raw: None,
            freshest: Vec::new(),
            authority_key_id: None,
            entries: Entries::with_capacity(crl.tbs_cert_list.revoked_certificates.len()),
            unusable: None,
            der: Vec::new(),
        };
        for ext in crl.extensions() {
            if let Err(e) = out.crl_extension(ext) {
                out.unusable
                    .get_or_insert(format!("{}: {e}", ext.oid.to_id_string()));
            }
        }
        out.read_entries(&crl);
        out.der = der.to_vec();
        Ok(out)
    }

    /// Reads one CRL extension into `self`.
    fn crl_extension(&mut self, ext: &X509Extension<'_>) -> Result<(), scope::ScopeError> {
        let oid = ext.oid.as_bytes();
        let v = ext.value;
        match oid {
            o if o == ext_oid(20) => self.number = Some(CrlNumber::parse(v)?),
            o if o == ext_oid(27) => self.delta_base = Some(CrlNumber::parse(v)?),
            o if o == ext_oid(28) => {
                self.idp = Some(scope::parse_idp(v)?);
                self.idp_raw = Some(v.to_vec());
            }
            o if o == ext_oid(35) => self.authority_key_id = scope::authority_key_id(v)?,
            o if o == ext_oid(46) => self.freshest = scope::parse_points(v)?,
            _ => {}
        }
        let known = oid.len() == 3 && oid.starts_with(&[0x55, 0x1D]);
        if ext.critical && !(known && oid.get(2).is_some_and(|n| CRL_EXTS.contains(n))) {
            self.unusable.get_or_insert(format!(
                "critical CRL extension {} is not processed",
                ext.oid.to_id_string()
            ));
        }
        Ok(())
    }

    /// Fills the entry table, following certificateIssuer from entry to entry (§5.3.3).
    fn read_entries(&mut self, crl: &CertificateRevocationList<'_>) {
        let mut issuer: u16 = 0;
        for r in crl.iter_revoked_certificates() {
            let mut reason = None;
            for ext in r.extensions() {
                let oid = ext.oid.as_bytes();
                let entry_ext = oid.len() == 3 && oid.starts_with(&[0x55, 0x1D]);
                let n = if entry_ext { oid.get(2).copied() } else { None };
                match n {
                    Some(21) => match single(ext.value, 0x0A, "CRLReason") {
                        Ok(t) if t.value.len() == 1 => reason = t.value.first().copied(),
                        _ => self.refuse("reasonCode is malformed".into()),
                    },
                    Some(29) => match self.issuer_index(ext.value) {
                        Some(i) => issuer = i,
                        None => self.refuse("certificateIssuer is malformed or too many".into()),
                    },
                    _ => {}
                }
                if ext.critical && !n.is_some_and(|n| ENTRY_EXTS.contains(&n)) {
                    self.refuse(format!(
                        "critical CRL entry extension {} is not processed",
                        ext.oid.to_id_string()
                    ));
                }
            }
            let entry = Entry {
                date: r.revocation_date.timestamp(),
                reason,
            };
            self.entries.insert(issuer, r.raw_serial(), entry);
        }
    }

    fn refuse(&mut self, why: String) {
        self.unusable.get_or_insert(why);
    }

    /// The index in `issuers` of a certificateIssuer's directoryName, added when new. An
    /// issuer named otherwise than by a directoryName gets an index no certificate matches.
    fn issuer_index(&mut self, value: &[u8]) -> Option<u16> {
        let names = single(value, tag::SEQUENCE, "GeneralNames").ok()?;
        let mut r = names.children(0).ok()?;
        let mut dir = None;
        while let Some(n) = r.next().ok()? {
            if dir.is_none() {
                dir = scope::directory_name(n.raw).map(<[u8]>::to_vec);
            }
        }
        let Some(dir) = dir else {
            return Some(u16::MAX);
        };
        if let Some(i) = self.issuers.iter().position(|n| *n == dir) {
            return u16::try_from(i).ok();
        }
        if self.issuers.len() >= MAX_ISSUERS {
            return None;
        }
        self.issuers.push(dir);
        u16::try_from(self.issuers.len() - 1).ok()
    }

    /// The entry for the certificate with this issuer Name and serial, if listed.
    pub fn lookup(&self, issuer: &[u8], serial: &[u8]) -> Option<Entry> {
        self.issuers
            .iter()
            .enumerate()
            .filter(|(_, n)| names::same_name(n, issuer))
            .filter_map(|(i, _)| u16::try_from(i).ok())
            .find_map(|i| self.entries.get(i, serial))
    }

    /// How many entries the CRL lists.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the CRL lists no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The bytes the issuer signed.
    pub fn tbs(&self) -> &[u8] {
        self.der.get(self.signed.tbs.clone()).unwrap_or_default()
    }

    /// Whether thisUpdate ≤ `at` ≤ nextUpdate (a CRL without nextUpdate stays current).
    pub fn current_at(&self, at: i64) -> bool {
        self.this_update <= at && self.next_update.is_none_or(|n| at <= n)
    }

    /// Whether this is an indirect CRL (its IDP asserts indirectCRL).
    pub fn indirect(&self) -> bool {
        self.idp.as_ref().is_some_and(|i| i.indirect)
    }
}

/// Inline key length: issuer index (2), serial length (1), serial (up to 21 octets: RFC 5280
/// §4.1.2.2 allows 20, plus a sign octet).
const INLINE: usize = 24;

/// A CRL's entries by (issuer index, serial). Keys are inline for serials within the profile,
/// so a CRL of 100,000 entries costs no allocation per entry; longer serials, outside the
/// profile but seen in the wild, go to a second map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Entries {
    short: HashMap<[u8; INLINE], Entry>,
    long: HashMap<Box<[u8]>, Entry>,
}

impl Entries {
    fn with_capacity(n: usize) -> Self {
        Entries {
            short: HashMap::with_capacity(n),
            long: HashMap::new(),
        }
    }

    fn insert(&mut self, issuer: u16, serial: &[u8], entry: Entry) {
        match inline_key(issuer, serial) {
            Some(k) => self.short.insert(k, entry),
            None => self.long.insert(long_key(issuer, serial), entry),
        };
    }

    fn get(&self, issuer: u16, serial: &[u8]) -> Option<Entry> {
        match inline_key(issuer, serial) {
            Some(k) => self.short.get(&k).copied(),
            None => self.long.get(&long_key(issuer, serial)).copied(),
        }
    }

    fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn inline_key(issuer: u16, serial: &[u8]) -> Option<[u8; INLINE]> {
    let len = u8::try_from(serial.len())
        .ok()
        .filter(|&l| usize::from(l) <= INLINE - 3)?;
    let mut k = [0u8; INLINE];
    let [a, b] = issuer.to_be_bytes();
    k[0] = a;
    k[1] = b;
    k[2] = len;
    k.get_mut(3..3 + serial.len())?.copy_from_slice(serial);
    Some(k)
}

fn long_key(issuer: u16, serial: &[u8]) -> Box<[u8]> {
    let mut k = Vec::with_capacity(serial.len() + 2);
    k.extend_from_slice(&issuer.to_be_bytes());
    k.extend_from_slice(serial);
    k.into_boxed_slice()
}

#[cfg(test)]
mod tests {
    use super::{CrlNumber, Entries, Entry};

    #[test]
    fn serials_inline_and_beyond_the_profile_both_found() {
        let mut e = Entries::default();
        let (short, long) = (vec![0x7F; 21], vec![0x01; 30]);
        let entry = |date| Entry { date, reason: None };
        e.insert(0, &short, entry(1));
        e.insert(0, &long, entry(2));
        e.insert(1, &short, entry(3));
        assert_eq!(e.get(0, &short), Some(entry(1)));
        assert_eq!(e.get(0, &long), Some(entry(2)));
        assert_eq!(e.get(1, &short), Some(entry(3)));
        assert_eq!(e.get(1, &long), None);
        // A serial that is a prefix of another is another serial.
        assert_eq!(e.get(0, &short[..20]), None);
        assert_eq!(e.len(), 3);
    }

    fn n(content: &[u8]) -> CrlNumber {
        let mut der = vec![0x02, content.len() as u8];
        der.extend_from_slice(content);
        CrlNumber::parse(&der).expect("a CRL number")
    }

    #[test]
    fn numbers_compare_by_value_not_by_bytes() {
        assert!(n(&[0x00, 0xFF]) < n(&[0x01, 0x00]));
        assert!(n(&[0x02]) < n(&[0x01, 0x00]));
        assert_eq!(n(&[0x00, 0x05]), n(&[0x05]));
        assert!(CrlNumber::parse(&[0x02, 0x01, 0x80]).is_err(), "negative");
        assert!(CrlNumber::parse(&[0x02, 0x16, 1]).is_err(), "truncated");
        let mut long = vec![0x02, 22, 0x01];
        long.extend([0u8; 21]);
        assert!(CrlNumber::parse(&long).is_err(), "over 21 octets");
    }
}
