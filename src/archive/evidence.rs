//! Evidence kept with the document: what decided an accepted document's verdict besides its
//! signature — the trust anchors its paths ended at, the CRLs that covered the certificates
//! below them, the OCSP responses fetched for it, the verification settings in force
//! ([`super::settings`]) — filed content-addressed beside it and
//! named in its entry (`evidence`), so that the verdict can be re-checked offline years later
//! with these bytes as the only trust and revocation data ([`super::recheck`]).
//!
//! Evidence is shared, never copied: a CRL that covers ten thousand documents is one blob,
//! referenced ten thousand times ([`super::tally`] counts each reference, so a disposal
//! releases it only with the last document that names it). What the signature itself carries
//! (its certificates, CRLs, OCSP responses, time-stamp tokens) is already kept with it.

use super::blobs::{self, Prepared};
use super::log::FileRef;
use super::store::Space;
use super::{ArchiveError, Txn};
use crate::verify::certificate::hex;
use crate::verify::ocsp::Response;
use crate::verify::{Report, TrustStore};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::Arc;

/// Role of a trust anchor (DER certificate) in an entry's `evidence`.
pub const CERTIFICATE: &str = "certificate";
/// Role of a CRL (DER CertificateList).
pub const CRL: &str = "crl";
/// Role of an OCSP response (DER OCSPResponse, RFC 6960 §4.2.1).
pub const OCSP: &str = "ocsp";
/// Role of the verification settings that decided the verdict (JSON, [`super::settings`]).
pub const SETTINGS: &str = "settings";

/// Whether a file role names evidence rather than the document's own files.
pub fn is_evidence(role: &str) -> bool {
    matches!(role, CERTIFICATE | CRL | OCSP | SETTINGS)
}

/// The file name of a piece of evidence in an exported package, under `evidence/`: its
/// SHA-256 and an extension OpenSSL users recognise (`.cer`, `.crl`, `.ocsp`; all DER), or
/// `.json` for the settings.
pub fn file_name(file: &FileRef) -> String {
    let ext = match file.role.as_str() {
        CERTIFICATE => "cer",
        CRL => "crl",
        SETTINGS => "json",
        _ => "ocsp",
    };
    format!("{}.{ext}", file.sha256)
}

/// One piece of evidence: its role and bytes (borrowed from the verifier's trust store when
/// they come from it, so a large CRL is not copied per document), named by SHA-256.
#[derive(Debug, Clone)]
pub struct Item<'a> {
    /// [`CERTIFICATE`], [`CRL`], [`OCSP`] or [`SETTINGS`].
    pub role: &'static str,
    /// The DER bytes.
    pub der: Cow<'a, [u8]>,
    /// SHA-256 of `der`: the blob's name.
    pub name: [u8; 32],
}

impl Item<'_> {
    /// As the entry names it.
    pub fn file_ref(&self) -> FileRef {
        FileRef {
            role: self.role.to_owned(),
            sha256: hex(&self.name),
            size: self.der.len() as u64,
        }
    }
}

/// What decided `report` besides the signature: for every signer's path (and the path of the
/// time-stamp token that fixed when it signed, if one did), the anchor it ended at (trusted by configuration, so not necessarily carried), the trust store's CRLs issued by
/// the issuer of a certificate below the anchor (full and delta alike, RFC 5280 §5.2.4) and
/// the anchors that share such a CRL's issuer name (a CRL may be signed by a CA's other key,
/// §6.3.3 (f)), and the OCSP responses fetched for it (`fetched`; carried ones are in the
/// signature already). Deduplicated, in that order.
pub fn select<'a>(
    report: &Report,
    trust: &'a TrustStore,
    fetched: &[Arc<Response>],
) -> Vec<Item<'a>> {
    let mut out: Vec<Item<'a>> = Vec::new();
    let mut seen = HashSet::new();
    let mut add = |out: &mut Vec<Item<'a>>, role, der: Cow<'a, [u8]>, name: [u8; 32]| {
        if seen.insert(name) {
            out.push(Item { role, der, name });
        }
    };
    let mut crls = Vec::new();
    for chain in report.signers.iter().flat_map(|s| [&s.chain, &s.tsa_chain]) {
        let Some((anchor, below)) = chain.split_last() else {
            continue;
        };
        if let Some(a) = trust
            .anchors()
            .iter()
            .find(|a| a.fingerprint == anchor.fingerprint)
        {
            add(&mut out, CERTIFICATE, Cow::Borrowed(&a.der), a.fingerprint);
        }
        for cert in below {
            crls.extend(
                trust
                    .crls()
                    .iter()
                    .filter(|crl| crl.issuer_raw == cert.issuer_raw),
            );
        }
    }
    for crl in &crls {
        for a in trust
            .anchors()
            .iter()
            .filter(|a| a.subject_raw == crl.issuer_raw)
        {
            add(&mut out, CERTIFICATE, Cow::Borrowed(&a.der), a.fingerprint);
        }
    }
    for crl in crls {
        add(&mut out, CRL, Cow::Borrowed(&crl.der), crl.fingerprint);
    }
    for r in fetched {
        let der = ocsp_response(r.basic_der());
        let name = Sha256::digest(&der).into();
        add(&mut out, OCSP, Cow::Owned(der), name);
    }
    out
}

/// The OCSPResponse (RFC 6960 §4.2.1) around a BasicOCSPResponse: status successful,
/// responseBytes of type id-pkix-ocsp-basic. What `openssl ocsp -respin` and
/// [`Response::from_der`] read.
pub fn ocsp_response(basic: &[u8]) -> Vec<u8> {
    use crate::receipt::der::{oid, seq, tlv};
    // responseStatus successful (0), then [0] EXPLICIT ResponseBytes.
    let response_bytes = seq(&[&oid(ID_PKIX_OCSP_BASIC), &tlv(0x04, basic)]);
    seq(&[&[0x0a, 0x01, 0x00], &tlv(0xa0, &response_bytes)])
}

/// id-pkix-ocsp-basic (RFC 6960 §4.2.1).
const ID_PKIX_OCSP_BASIC: &str = "1.3.6.1.5.5.7.48.1.1";

/// Evidence ready to file: the blobs the store lacks, hashed and compressed before the writer
/// lock is taken; the rest is already kept and costs nothing more than its name.
#[derive(Debug, Default)]
pub struct Staged {
    /// Blobs to put.
    pub prepared: Vec<Prepared>,
    /// The archive's count of blob movements (disposals, other processes' writes) read before
    /// the store was asked which blobs it keeps; `None` when it was not asked.
    moved: Option<u64>,
}

impl super::Archive {
    /// Prepares the blobs of `items` that the archive does not keep yet (outside the lock).
    pub fn stage_evidence(&self, items: &[Item<'_>]) -> Result<Staged, ArchiveError> {
        let mut staged = Staged {
            prepared: Vec::new(),
            // Read first: a blob that leaves after this moves the count.
            moved: Some(self.blobs_moved.load(std::sync::atomic::Ordering::Acquire)),
        };
        for item in items {
            if self.store().get(Space::Blobs, &item.name)?.is_none() {
                staged.prepared.push(blobs::prepare(&item.der)?);
            }
        }
        Ok(staged)
    }
}

/// Files `items` in the batch and returns their references for the entry. A blob that was
/// kept when staged but has since been released (the last document naming it disposed of
/// meanwhile) is prepared again here, under the lock, so an entry never names a missing blob.
/// Blobs leave the store only by a disposal (applied or failed) or by another process's
/// writes — read at the next turn, also after a turn of this process was lost — all of
/// which move the archive's count: while it stands where staging read it, what was kept still is,
/// and the filing reads nothing here (every filing names the same anchor, CRLs and settings).
pub fn file(
    txn: &mut Txn<'_>,
    items: &[Item<'_>],
    staged: Staged,
) -> Result<Vec<FileRef>, ArchiveError> {
    let unmoved = staged.moved == Some(txn.blobs_moved);
    for blob in staged.prepared {
        txn.put_blob(blob)?;
    }
    if !unmoved {
        for item in items {
            if txn.get(Space::Blobs, &item.name)?.is_none() {
                txn.put_blob(blobs::prepare(&item.der)?)?;
            }
        }
    }
    Ok(items.iter().map(Item::file_ref).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wrapped_response_parses_back_to_the_same_basic_response() {
        // A length of 200 takes the long form; 5 the short one.
        for n in [5usize, 200, 70_000] {
            let basic = crate::receipt::der::tlv(0x30, &vec![0u8; n]);
            let der = ocsp_response(&basic);
            let top = crate::verify::asn1::parse_single(&der).unwrap();
            assert_eq!(top.tag, 0x30);
            assert!(der.ends_with(&basic));
            assert_eq!(der.len(), top.raw.len());
            // What the parser reads: the right type, the basic response's bytes inside.
            let e = Response::from_der(&der).unwrap_err();
            assert!(
                !matches!(e, crate::verify::ocsp::OcspError::NotBasic),
                "{e}"
            );
        }
    }

    /// A blob kept when a filing staged its evidence, then disposed of before the filing took
    /// the writer lock, is filed again with it: the entry never names a missing blob.
    #[test]
    fn a_kept_blob_disposed_of_after_staging_is_filed_again() {
        let signer = std::sync::Arc::new(crate::receipt::ReceiptSigner::ephemeral("t").unwrap());
        let store = Box::new(crate::archive::tiles::tests::Mem::default());
        let a = super::super::Archive::open(store, "tamga.test/evidence".into(), signer).unwrap();
        let der = b"an anchor certificate".to_vec();
        let item = Item {
            role: CERTIFICATE,
            name: Sha256::digest(&der).into(),
            der: Cow::Owned(der),
        };
        let items = std::slice::from_ref(&item);
        let kept = |a: &super::super::Archive| a.store().get(Space::Blobs, &item.name).unwrap();
        let first = a.stage_evidence(items).unwrap();
        assert_eq!(first.prepared.len(), 1);
        a.append(|txn| file(txn, items, first)).unwrap();
        assert!(kept(&a).is_some());
        // Staged while kept: nothing to prepare.
        let second = a.stage_evidence(items).unwrap();
        assert!(second.prepared.is_empty());
        a.append(|txn| {
            txn.dispose(Space::Blobs, item.name.to_vec());
            Ok(())
        })
        .unwrap();
        assert!(kept(&a).is_none());
        a.append(|txn| file(txn, items, second)).unwrap();
        assert!(kept(&a).is_some(), "the filing must put the blob back");
    }

    #[test]
    fn roles_and_file_names() {
        assert!(is_evidence("crl") && is_evidence("ocsp") && is_evidence("certificate"));
        assert!(is_evidence("settings"));
        assert!(!is_evidence("signature") && !is_evidence("content"));
        let f = FileRef {
            role: CRL.into(),
            sha256: "ab".into(),
            size: 1,
        };
        assert_eq!(file_name(&f), "ab.crl");
    }
}
