//! Time in the log never runs backwards: every entry carries when it was filed (from the one
//! clock, never behind the entry before it) beside the time it states; a backfilled time of
//! receipt is marked; the audits report backfilled and postdated times, and both agree.

mod common;
use common::*;
use tamga::archive::{audit, export};

fn submit(ing: &tamga::ingest::Ingest, sig: &str, reference: &str, received_at: i64) {
    let sig = std::fs::read(fixtures().join("sig").join(sig)).unwrap();
    ing.submit(&tamga::ingest::Submission {
        case: "01-05",
        signature: &sig,
        content: None,
        sender_ref: Some(reference),
        received_at,
        submitter: None,
    })
    .unwrap();
}

fn entry(a: &tamga::archive::Archive, i: u64) -> serde_json::Value {
    serde_json::from_slice(&a.entry_bytes(i).unwrap().unwrap()).unwrap()
}

#[test]
fn filing_times_run_forward_backfills_are_marked_and_audits_report_them() {
    let dir = tempfile::tempdir().unwrap();
    let ing = ingest(&dir.path().join("data"));
    let a = &ing.archive;
    let now = tamga::clock::now();
    submit(&ing, "p256.der", "1", now);
    submit(&ing, "ed25519.der", "2", at("2020-03-01T00:00:00Z"));
    let policy = tamga::policy::load(&archive_paths(dir.path()).policy).unwrap();
    let case = policy.cases()[0].index.clone();
    tamga::retention::holds::hold(
        a,
        &policy,
        Some(&case),
        None,
        "проверка",
        "Сидоров",
        at("2031-01-01T00:00:00Z"),
    )
    .unwrap();
    submit(&ing, "rsa-attached.der", "3", tamga::clock::now());

    let filed: Vec<i64> = (0..4)
        .map(|i| {
            let e = entry(a, i);
            at(e["filed"]
                .as_str()
                .expect("every new entry says when it was filed"))
        })
        .collect();
    assert!(filed.windows(2).all(|w| w[0] <= w[1]), "{filed:?}");
    assert!(filed[0] >= now);
    let marks: Vec<bool> = (0..4)
        .map(|i| entry(a, i)["backfilled"].as_bool().unwrap_or(false))
        .collect();
    assert_eq!(marks, [false, true, false, false]);

    let report = audit::verify(a, true, &mut |_, _| {}).unwrap();
    assert_eq!(report.backfilled, 1);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.contains("entry 2 is dated 2031")),
        "{:?}",
        report.notes
    );
    let out = dir.path().join("export");
    export::write(a, &out).unwrap();
    let package = export::verify(&out).unwrap();
    // The package's check says in one note more which anchors its re-checked verdicts rest on.
    let (anchors, notes): (Vec<&String>, Vec<&String>) = package
        .notes
        .iter()
        .partition(|n| n.starts_with("the verdicts rest on the trust anchors"));
    assert_eq!(anchors.len(), 1, "{:?}", package.notes);
    assert_eq!(
        (package.backfilled, notes),
        (report.backfilled, report.notes.iter().collect::<Vec<_>>())
    );
}
