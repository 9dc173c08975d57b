//! NIST PKITS under its default settings: every signed message of the suite through the
//! verifier, with `--revocation require`, its status and reason codes against the expected
//! result of the PKITS document (section 4).
//!
//! The messages carry the certificates and CRLs of their paths; the trust store holds only the
//! suite's anchor. A second run adds every CRL of the suite to the trust store, as a trust
//! directory would, and must agree as well. The DSA tests are refused by policy: tamga does not
//! accept DSA (`algorithm-unsupported`). The table of expected results is in
//! `pkits/sections_1_to_8.rs` and `pkits/sections_9_to_16.rs`.

mod common;
#[path = "pkits/sections_1_to_8.rs"]
mod sections_1_to_8;
#[path = "pkits/sections_9_to_16.rs"]
mod sections_9_to_16;

use common::pkits;
use std::time::Instant;

/// (PKITS section, test name, expected reason codes: empty = the path is valid; several where
/// the document allows either outcome, e.g. "revoked" or "status cannot be determined").
type Row = (&'static str, &'static str, &'static [&'static str]);

/// Every row of the table, sections 4.1–4.16 in the document's order.
fn expected() -> impl Iterator<Item = &'static Row> {
    sections_1_to_8::EXPECTED
        .iter()
        .chain(sections_9_to_16::EXPECTED)
}

fn run_all(all_crls: bool) -> Vec<String> {
    let verifier = pkits::verifier(pkits::default_policy(), all_crls);
    let started = Instant::now();
    let mut wrong = Vec::new();
    let rows: Vec<&Row> = expected().collect();
    for (section, name, expected) in rows.iter().copied() {
        let report = pkits::run(&verifier, name);
        let got = pkits::codes(&report);
        if !pkits::agrees(&got, expected) {
            let details: Vec<String> = report
                .reasons
                .iter()
                .map(|r| format!("{}: {}", r.code, r.detail))
                .collect();
            wrong.push(format!(
                "{section} {name}: expected {expected:?}, got {got:?} ({})",
                details.join("; ")
            ));
        }
    }
    eprintln!(
        "PKITS ({} CRLs in the trust store): {} of {} agree, in {:.0} ms",
        if all_crls { "all" } else { "no" },
        rows.len() - wrong.len(),
        rows.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    for w in &wrong {
        eprintln!("  {w}");
    }
    wrong
}

#[test]
fn the_table_names_every_message_of_the_suite_once() {
    let mut listed: Vec<String> = expected().map(|(_, n, _)| n.to_string()).collect();
    listed.sort();
    assert_eq!(listed, pkits::names());
}

#[test]
fn every_pkits_test_agrees_under_the_default_settings() {
    let wrong = run_all(false);
    assert!(
        wrong.is_empty(),
        "{} disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_pkits_test_agrees_with_all_its_crls_in_the_trust_store() {
    let wrong = run_all(true);
    assert!(
        wrong.is_empty(),
        "{} disagree:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn a_trust_directory_with_a_bad_crl_loads_the_rest() {
    // Every CRL of the suite loads, the one with a broken signature too (it fails where it is
    // used: 4.4.4); a file that is no CRL at all is skipped with its reason, the rest used.
    let trust = pkits::trust(true);
    assert_eq!(trust.anchors().len(), 1);
    assert_eq!(trust.crls().len(), 173);
    assert_eq!(trust.skipped().len(), 1, "{:?}", trust.skipped());
    assert!(
        trust.skipped()[0].contains("NotACRL.crl"),
        "{:?}",
        trust.skipped()
    );
}

#[test]
fn a_tampered_message_is_refused() {
    // The harness itself can fail: the content as signed verifies, a changed byte does not.
    let verifier = pkits::verifier(pkits::default_policy(), false);
    let mut m = pkits::message("ValidSignaturesTest1");
    assert!(pkits::codes(&verifier.verify(&m.cms, Some(&m.content), pkits::AT)).is_empty());
    let last = m.content.len() - 3;
    m.content[last] ^= 1;
    assert_eq!(
        pkits::codes(&verifier.verify(&m.cms, Some(&m.content), pkits::AT)),
        ["content-mismatch"]
    );
}
