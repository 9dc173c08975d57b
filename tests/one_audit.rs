//! One audit: the archive's check and the export's check replay the log the same way, both
//! verify every receipt's signature, and both judge a receipt at its own time — which the
//! service certificate must cover (a receipt it cannot cover is not signed).

mod common;
use common::*;
use std::path::Path;
use tamga::archive::Archive;
use tamga::archive::store::{Batch, Space, Store, StoreError};
use tamga::archive::{audit, export};

fn submit(ing: &tamga::ingest::Ingest, received_at: i64) -> Result<(), String> {
    let sig = std::fs::read(fixtures().join("sig/rsa-attached.der")).unwrap();
    ing.submit(&tamga::ingest::Submission {
        case: "01-05",
        signature: &sig,
        content: None,
        sender_ref: Some("1"),
        received_at,
        submitter: None,
    })
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// A store whose receipts read back with the last byte of their DER (inside the signature)
/// flipped: a forged receipt, kept as it is (as receipts were before dictionaries).
#[derive(Debug)]
struct ForgedReceipts(Box<dyn Store>);

impl Store for ForgedReceipts {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        self.0.apply(batch)
    }
    fn sync(&self) -> Result<(), StoreError> {
        self.0.sync()
    }
    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.0.get(space, key)?;
        if space != Space::Receipts || tamga::archive::receipts::is_dictionary_key(key) {
            return Ok(v);
        }
        let lookup = |k: &[u8]| self.0.get(Space::Receipts, k);
        let dictionaries = Default::default();
        let mut v = v.map(|v| tamga::archive::receipts::decode(v, &dictionaries, &lookup).unwrap());
        if let Some(last) = v.as_mut().and_then(|v| v.last_mut()) {
            *last ^= 1;
        }
        Ok(v)
    }
    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.0.keys(space)
    }
}

fn open_forged(data: &Path) -> Archive {
    let paths = archive_paths(data);
    let signer = tamga::receipt::ReceiptSigner::load_or_create(
        &tamga::setup::keys_dir(&paths),
        "any organisation",
    )
    .unwrap();
    let origin = format!(
        "tamga.local/{}",
        tamga::verify::certificate::hex(&signer.certificate_sha256()[..8])
    );
    let store = tamga::setup::open_store(&paths).unwrap();
    Archive::open(
        Box::new(ForgedReceipts(store)),
        origin,
        std::sync::Arc::new(signer),
    )
    .unwrap()
}

#[test]
fn both_audits_check_every_receipt_signature() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    submit(&ingest(&data), AT).unwrap();
    let a = open_forged(&data);
    let archive = audit::verify(&a, false, &mut |_, _| {}).unwrap_err();
    assert!(
        archive.what.contains("does not verify"),
        "archive audit: {archive}"
    );
    let out = dir.path().join("export");
    export::write(&a, &out).unwrap();
    let package = export::verify(&out).unwrap_err();
    assert_eq!(
        archive.to_string(),
        package.to_string(),
        "the audits disagree"
    );
}

#[test]
fn a_backfilled_receipt_is_covered_by_its_certificate_and_both_audits_agree() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let ing = ingest(&data);
    submit(&ing, at("2024-06-01T00:00:00Z")).unwrap();
    let report = audit::verify(&ing.archive, true, &mut |_, _| {}).unwrap();
    let out = dir.path().join("export");
    export::write(&ing.archive, &out).unwrap();
    let package = export::verify(&out).unwrap();
    assert_eq!(
        (report.entries, report.documents),
        (package.entries, package.documents)
    );
}

#[test]
fn a_receipt_its_certificate_does_not_cover_is_not_signed_and_nothing_is_filed() {
    let dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("installed");
    std::fs::create_dir_all(&keys).unwrap();
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2075, 1, 1);
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(keys.join("receipt.key"), key.serialize_pem()).unwrap();
    std::fs::write(keys.join("receipt.pem"), cert.pem()).unwrap();
    let mut paths = archive_paths(&dir.path().join("data"));
    paths.installed_keys = keys;
    let ing = tamga::setup::open(&paths, tamga::verify::Policy::default()).unwrap();
    let why = submit(&ing, at("2024-06-01T00:00:00Z")).unwrap_err();
    assert!(why.contains("valid from 2025-01-01"), "{why}");
    assert_eq!(ing.archive.size(), 0, "nothing may be filed");
    submit(&ing, AT).unwrap();
    audit::verify(&ing.archive, true, &mut |_, _| {}).unwrap();
}
