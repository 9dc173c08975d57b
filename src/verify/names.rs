//! Names: how two X.500 names are compared when a path is built and a CRL matched to its
//! issuer (RFC 5280 §7.1), and the name constraints a CA puts on the names below it
//! (RFC 5280 §4.2.1.10, §6.1.3 (b)(c), §6.1.4 (g)).
//!
//! Comparison has a byte-equality fast path: nearly every CA copies its subject into the
//! issuer field of what it signs, so ordinary paths never prepare a string. Only names whose
//! encodings differ are parsed and prepared (RFC 4518), and a certificate keeps its prepared
//! names once computed so that path building over many candidates does the work once.

mod constraints;
mod dn;
mod general;
mod prep;

pub use constraints::check_constraints;
pub use dn::canonical;

use super::asn1::Asn1Error;
use super::certificate::Certificate;
use super::revocation::Crl;
use std::cell::Cell;
use std::sync::OnceLock;

/// Bytes of names one verification may prepare (RFC 4518 costs a few nanoseconds a byte).
/// Legitimate paths prepare a few kilobytes, and each certificate or CRL keeps what it
/// prepared; the budget bounds what hostile bags of look-alike names can cost (≈ 30 ms).
pub const PREPARE_BUDGET: usize = 4 << 20;

thread_local! {
    static BUDGET: Cell<usize> = const { Cell::new(PREPARE_BUDGET) };
}

/// Gives this thread's verification the whole preparation budget again: called once at the
/// start of each verification.
pub fn reset_budget() {
    BUDGET.with(|b| b.set(PREPARE_BUDGET));
}

/// Takes `n` bytes from the budget, or says there are not that many left. Past the budget,
/// names compare by their bytes only: a hostile input can make itself fail, never pass.
fn charge(n: usize) -> bool {
    BUDGET.with(|b| match b.get().checked_sub(n) {
        Some(left) => {
            b.set(left);
            true
        }
        None => false,
    })
}

/// Whether two DER-encoded Names denote the same name (RFC 5280 §7.1).
///
/// Equal encodings are equal names. Otherwise both are parsed and their attribute values
/// prepared (RFC 4518 caseIgnoreMatch with insignificant space handling); RDNs compare in
/// order, the attributes of a multi-valued RDN as a set. A Name that cannot be parsed (or
/// exceeds the bounds in [`dn`]) equals only its own bytes.
pub fn same_name(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    if !charge(a.len().saturating_add(b.len())) {
        return false;
    }
    match (canonical(a), canonical(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// A Name's prepared form, computed on first use and then kept with its certificate.
///
/// Equality always holds between two of these: the field is a memo of the raw name beside
/// it, so it must not make two otherwise equal certificates differ.
#[derive(Debug, Clone, Default)]
pub struct Prepared(OnceLock<Option<Box<[u8]>>>);

impl PartialEq for Prepared {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Prepared {}

impl Prepared {
    /// The prepared form of `raw` (which must be the name this memo belongs to).
    fn get(&self, raw: &[u8]) -> Option<&[u8]> {
        // Past the budget nothing is prepared, and nothing is remembered either: the memo
        // lives with a cached certificate and must not keep a verdict the budget forced.
        if self.0.get().is_none() && !charge(raw.len()) {
            return None;
        }
        self.0
            .get_or_init(|| canonical(raw).map(Vec::into_boxed_slice))
            .as_deref()
    }
}

/// [`same_name`] for two names that carry their memos: the prepared forms are computed at
/// most once per certificate however many candidates a path search compares.
pub fn same_name_memo(a: &[u8], a_memo: &Prepared, b: &[u8], b_memo: &Prepared) -> bool {
    if a == b {
        return true;
    }
    match (a_memo.get(a), b_memo.get(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Why a name-related extension could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The encoding is not well formed.
    #[error("{0}")]
    Asn1(#[from] Asn1Error),
    /// Well formed, but not what the grammar allows here.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// More elements than we process.
    #[error("too many {0}")]
    TooMany(&'static str),
}

/// The name-related parts of a certificate: the extensions name constraints need (kept as
/// their encoded values, parsed only on a path that has constraints) and the memos of its
/// prepared names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CertNames {
    /// The nameConstraints extension value (2.5.29.30), when present.
    pub constraints: Option<Vec<u8>>,
    /// The subjectAltName extension value (2.5.29.17), when present.
    pub alt_names: Option<Vec<u8>>,
    subject: Prepared,
    issuer: Prepared,
}

impl CertNames {
    /// Keeps the value of extension `oid` if it is one of ours.
    pub fn note_extension(&mut self, oid: &str, value: &[u8]) {
        match oid {
            "2.5.29.30" => self.constraints = Some(value.to_vec()),
            "2.5.29.17" => self.alt_names = Some(value.to_vec()),
            _ => {}
        }
    }
}

/// Whether `issuer`'s subject is the name in `cert`'s issuer field (§6.1.3 (a)(4)).
pub fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    same_name_memo(
        &cert.issuer_raw,
        &cert.names.issuer,
        &issuer.subject_raw,
        &issuer.names.subject,
    )
}

/// Whether `crl` comes from the issuer named in `cert` (§6.3.3 (b)(1)); both names are
/// prepared at most once, however many CRLs a trust store holds.
pub fn crl_issued_by(crl: &Crl, cert: &Certificate) -> bool {
    same_name_memo(
        &crl.issuer_raw,
        &crl.issuer_prepared,
        &cert.issuer_raw,
        &cert.names.issuer,
    )
}

/// Whether `cert`'s subject is the name that issued `crl`: the certificate may have signed it
/// (§6.3.3 (f)); both names prepared at most once.
pub fn crl_issuer_is_subject_of(crl: &Crl, cert: &Certificate) -> bool {
    same_name_memo(
        &crl.issuer_raw,
        &crl.issuer_prepared,
        &cert.subject_raw,
        &cert.names.subject,
    )
}

/// Whether two CRLs come from the same issuer name (a delta and its base, §5.2.4).
pub fn same_crl_issuer(a: &Crl, b: &Crl) -> bool {
    same_name_memo(
        &a.issuer_raw,
        &a.issuer_prepared,
        &b.issuer_raw,
        &b.issuer_prepared,
    )
}

/// Whether subject and issuer are the same name: a self-issued certificate (§3.2, §6.1).
pub fn self_issued(cert: &Certificate) -> bool {
    same_name_memo(
        &cert.issuer_raw,
        &cert.names.issuer,
        &cert.subject_raw,
        &cert.names.subject,
    )
}

#[cfg(test)]
mod budget_tests {
    use super::*;

    /// `C=KZ, O=<org>` with O as a PrintableString or a UTF8String.
    fn name(org: &str, utf8: bool) -> Vec<u8> {
        let t = if utf8 { 0x0C } else { 0x13 };
        let c = [
            0x31, 0x0B, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'K', b'Z',
        ];
        let mut o = vec![0x06, 0x03, 0x55, 0x04, 0x0A, t, org.len() as u8];
        o.extend(org.as_bytes());
        let o_seq = [&[0x30, o.len() as u8][..], &o].concat();
        let o_set = [&[0x31, o_seq.len() as u8][..], &o_seq].concat();
        let body = [&c[..], &o_set].concat();
        [&[0x30, body.len() as u8][..], &body].concat()
    }

    #[test]
    fn past_the_budget_names_compare_by_bytes_and_nothing_is_remembered() {
        let (a, b) = (name("Tamga", false), name("TAMGA", true));
        reset_budget();
        assert!(same_name(&a, &b));
        // Spend the budget as a hostile bag of look-alike names would.
        let big = name(&"x".repeat(100), false);
        let other = name(&"X".repeat(100), true);
        while charge(0) && BUDGET.with(Cell::get) > big.len() * 2 {
            same_name(&big, &other);
        }
        BUDGET.with(|b| b.set(0));
        assert!(!same_name(&a, &b), "no preparation past the budget");
        let (ma, mb) = (Prepared::default(), Prepared::default());
        assert!(!same_name_memo(&a, &ma, &b, &mb));
        assert!(
            ma.0.get().is_none() && mb.0.get().is_none(),
            "nothing memoised"
        );
        // The next verification has its budget again, and the memos fill.
        reset_budget();
        assert!(same_name_memo(&a, &ma, &b, &mb));
        assert!(ma.0.get().is_some());
    }
}
