//! The verification settings kept with each accepted document's evidence decide its offline
//! re-check: the revocation mode, the `[signatures]` certificate-policy settings and the OCSP
//! window in force when it was filed — not the verifier's defaults — and they cannot be
//! altered unnoticed or left out to launder a revoked signer.

mod common;
use common::*;
use std::collections::HashMap;
use std::path::Path;
use tamga::archive::log::{Entry, Event, FileRef, SignerSummary};
use tamga::archive::recheck::{Document, Held, LoadError, RecheckError, Rechecker};
use tamga::archive::settings::Settings;
use tamga::ingest::{Ingest, Submission};
use tamga::verify::ocsp::Window;
use tamga::verify::{Policy, RevocationPolicy, Status};

/// `[signatures]` added to the repository's policy file: non-default settings (the fixture
/// certificates hold no policies, which these allow).
const SIGNATURES: &str =
    "\n[signatures]\ninhibit-policy-mapping = true\ninhibit-any-policy = true\n";

/// The pipeline over a fresh archive in `dir`, under `revocation` and the policy file with
/// [`SIGNATURES`].
fn open(dir: &Path, revocation: RevocationPolicy) -> Ingest {
    let mut paths = archive_paths(&dir.join("data"));
    let text = std::fs::read_to_string(&paths.policy).unwrap() + SIGNATURES;
    paths.policy = dir.join("policy.toml");
    std::fs::write(&paths.policy, text).unwrap();
    tamga::setup::open(
        &paths,
        Policy {
            revocation,
            ..Policy::default()
        },
    )
    .unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixtures().join("sig").join(name)).unwrap()
}

fn submit(ing: &Ingest, sig: &[u8], r: &str) {
    let s = Submission {
        case: "01-05",
        signature: sig,
        content: None,
        sender_ref: Some(r),
        received_at: AT,
        submitter: None,
    };
    let out = ing.submit(&s).unwrap();
    assert_eq!(out.status, Status::Accepted, "{r}: {:?}", out.reasons);
}

/// Entry `index`'s evidence and signers.
fn accepted(ing: &Ingest, index: u64) -> (Vec<FileRef>, Vec<SignerSummary>) {
    let entry = Entry::decode(&ing.archive.entry_bytes(index).unwrap().unwrap()).unwrap();
    match entry.event {
        Event::Accepted {
            evidence, signers, ..
        } => (evidence, signers),
        other => panic!("entry {index} is {other:?}"),
    }
}

/// Reads evidence from `extra` (blobs a test made up) or else from the archive.
fn loader<'a>(
    ing: &'a Ingest,
    extra: &'a HashMap<String, Vec<u8>>,
) -> impl FnMut(&FileRef) -> Result<Vec<u8>, LoadError> + 'a {
    move |f: &FileRef| {
        if let Some(b) = extra.get(&f.sha256) {
            return Ok(b.clone());
        }
        let name = tamga::archive::checkpoint::unhex32(&f.sha256).unwrap();
        let mut out = Vec::new();
        tamga::archive::blobs::read(ing.archive.raw_store(), &name, &mut out).map_err(|e| {
            LoadError {
                path: f.sha256.clone(),
                source: std::io::Error::other(e.to_string()),
            }
        })?;
        Ok(out)
    }
}

/// `settings` as an entry names them, and their bytes for [`loader`].
fn settings_ref(settings: &Settings, extra: &mut HashMap<String, Vec<u8>>) -> FileRef {
    let item = settings.item();
    extra.insert(item.file_ref().sha256, item.der.to_vec());
    item.file_ref()
}

/// `doc` with `evidence` instead: the re-check must fail signer 0 for a reason containing
/// `why`.
fn fails_with(
    ing: &Ingest,
    extra: &HashMap<String, Vec<u8>>,
    doc: &Document<'_>,
    evidence: &[FileRef],
    want: &str,
) {
    let doc = Document { evidence, ..*doc };
    match Rechecker::default().check(&doc, &mut loader(ing, extra)) {
        Err(RecheckError::Verdict { signer: 0, why }) => assert!(why.contains(want), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_revoked_signer_accepted_with_revocation_off_rechecks_under_the_recorded_settings() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open(dir.path(), RevocationPolicy::Off);
    // The intermediate's CRL (kept as evidence) revokes this signer; revocation was off.
    submit(&ing, &fixture("revoked.der"), "r");
    submit(&ing, &fixture("rsa-attached.der"), "a");
    let (ev, _) = accepted(&ing, 0);
    assert!(ev.iter().any(|f| f.role == "crl"), "{ev:?}");
    let kept = ev.iter().find(|f| f.role == "settings").unwrap().clone();
    let (ev1, _) = accepted(&ing, 1);
    assert!(
        ev1.contains(&kept),
        "documents filed under the same settings share them"
    );
    // What the blob says: the service's settings, not the defaults.
    let mut bytes = Vec::new();
    let name = tamga::archive::checkpoint::unhex32(&kept.sha256).unwrap();
    tamga::archive::blobs::read(ing.archive.raw_store(), &name, &mut bytes).unwrap();
    let settings = Settings::from_bytes(&bytes).unwrap();
    assert_eq!(settings.revocation(), RevocationPolicy::Off);
    assert!(settings.inhibit_policy_mapping && settings.inhibit_any_policy);

    let out = dir.path().join("export");
    tamga::archive::export::write(&ing.archive, &out).unwrap();
    drop(ing);
    let report = tamga::archive::export::verify(&out).unwrap();
    assert_eq!(report.rechecked, 2);
    let notes = report.notes.join("; ");
    assert!(
        notes.contains("2 accepted documents were re-checked without revocation"),
        "{notes}"
    );

    // The settings blob altered (to `prefer`): its hash is in the entry, so the replay
    // refuses it before any re-check would take it.
    let file = out.join(format!("evidence/{}.json", kept.sha256));
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"off\"", "\"prefer\"")).unwrap();
    let err = tamga::archive::export::verify(&out).unwrap_err();
    assert!(err.to_string().contains(&kept.sha256), "{err}");
}

#[test]
fn the_recorded_settings_are_the_ones_the_recheck_applies() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open(dir.path(), RevocationPolicy::Require);
    let sig = fixture("rsa-attached.der");
    submit(&ing, &sig, "a");
    let (ev, signers) = accepted(&ing, 0);
    let mut extra = HashMap::new();
    let doc = Document {
        signature: &sig,
        content: None,
        evidence: &ev,
        at: AT,
        signers: &signers,
        revocation_unchecked: false,
    };
    assert!(matches!(
        Rechecker::default().check(&doc, &mut loader(&ing, &extra)),
        Ok(Held::Fully)
    ));
    // The same evidence with settings that accept only a policy the signer's certificates do
    // not hold: the re-check follows them and the verdict fails.
    let recorded = Settings::from_bytes(&{
        let mut b = Vec::new();
        let f = ev.iter().find(|f| f.role == "settings").unwrap();
        let name = tamga::archive::checkpoint::unhex32(&f.sha256).unwrap();
        tamga::archive::blobs::read(ing.archive.raw_store(), &name, &mut b).unwrap();
        b
    })
    .unwrap();
    let strict = Settings {
        certificate_policies: Some(vec!["1.2.398.3.3.2.1".into()]),
        require_explicit_policy: true,
        ..recorded
    };
    let mut other: Vec<FileRef> = ev
        .iter()
        .filter(|f| f.role != "settings")
        .cloned()
        .collect();
    other.push(settings_ref(&strict, &mut extra));
    fails_with(&ing, &extra, &doc, &other, "policy");
}

#[test]
fn no_revocation_evidence_means_revocation_off_only_when_no_settings_say_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let ing = open(dir.path(), RevocationPolicy::Off);
    // A revoked signer, accepted with revocation off; its evidence stripped to the anchor
    // (as an entry filed before settings were kept, by a service with no CRLs, would be).
    let sig = fixture("revoked.der");
    submit(&ing, &sig, "r");
    let (ev, signers) = accepted(&ing, 0);
    let anchor: Vec<FileRef> = ev
        .iter()
        .filter(|f| f.role == "certificate")
        .cloned()
        .collect();
    let mut extra = HashMap::new();
    let doc = Document {
        signature: &sig,
        content: None,
        evidence: &anchor,
        at: AT,
        signers: &signers,
        revocation_unchecked: false,
    };
    // No settings, no revocation evidence: taken as revocation off, path and signature
    // confirmed.
    assert!(matches!(
        Rechecker::default().check(&doc, &mut loader(&ing, &extra)),
        Ok(Held::WithoutRevocation)
    ));
    // Settings that say the verdict was made under `require`: missing revocation evidence
    // fails the re-check instead of passing it as "revocation off".
    let require = Settings::of(
        &Policy {
            revocation: RevocationPolicy::Require,
            ..Policy::default()
        },
        Window::default(),
    );
    let mut named = anchor.clone();
    named.push(settings_ref(&require, &mut extra));
    fails_with(&ing, &extra, &doc, &named, "revocation-unavailable");
    // Under `prefer` (and its receipt without `revocation-unchecked`) it fails too: the
    // receipt claimed a checked status the evidence cannot back.
    let prefer = Settings::of(&Policy::default(), Window::default());
    let mut named = anchor.clone();
    named.push(settings_ref(&prefer, &mut extra));
    fails_with(&ing, &extra, &doc, &named, "does not establish it");
}
