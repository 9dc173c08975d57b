//! NIST PKITS certificate-policy tests (sections 4.8–4.12) under the settings the PKITS
//! document gives for each: the default settings, and the runs with another
//! user-initial-policy-set, initial-explicit-policy, initial-policy-mapping-inhibit or
//! initial-any-policy-inhibit. Each row names the S/MIME message, the settings, and the
//! expected verdict (with `certificate-policy` as the reason of every rejection).
//!
//! The messages come from the repository's copy of PKITS (`tests/pkits`, read by
//! `tests/common/pkits.rs`). Revocation is off here: it is judged under the default settings by
//! `tests/pkits.rs`, and these rows judge certificate-policy processing alone.

mod common;

use common::pkits;
use tamga::verify::policy::{InitialPolicies, PathSettings, PolicyId};
use tamga::verify::{Policy, RevocationPolicy, SignerRule, Status, Verifier};

const P1: &str = "2.16.840.1.101.3.2.1.48.1";
const P2: &str = "2.16.840.1.101.3.2.1.48.2";
const P3: &str = "2.16.840.1.101.3.2.1.48.3";
const P6: &str = "2.16.840.1.101.3.2.1.48.6";

/// Settings of one run: initial policy set (empty: anyPolicy) and the three flags.
#[derive(Clone, Copy)]
struct Run {
    set: &'static [&'static str],
    explicit: bool,
    no_mapping: bool,
    no_any: bool,
}

const DEFAULT: Run = Run {
    set: &[],
    explicit: false,
    no_mapping: false,
    no_any: false,
};
const EXPLICIT: Run = Run {
    explicit: true,
    ..DEFAULT
};
const fn only(set: &'static [&'static str]) -> Run {
    Run { set, ..DEFAULT }
}
const fn only_explicit(set: &'static [&'static str]) -> Run {
    Run {
        set,
        explicit: true,
        ..DEFAULT
    }
}
const NO_MAPPING: Run = Run {
    no_mapping: true,
    ..DEFAULT
};
const NO_ANY: Run = Run {
    no_any: true,
    ..DEFAULT
};

/// (PKITS section, message name without `Signed`/`.eml`, settings, valid?)
const CASES: &[(&str, &str, Run, bool)] = &[
    // 4.8 Certificate policies.
    ("4.8.1.1", "AllCertificatesSamePolicyTest1", DEFAULT, true),
    ("4.8.1.2", "AllCertificatesSamePolicyTest1", EXPLICIT, true),
    (
        "4.8.1.3",
        "AllCertificatesSamePolicyTest1",
        only_explicit(&[P1]),
        true,
    ),
    (
        "4.8.1.4",
        "AllCertificatesSamePolicyTest1",
        only_explicit(&[P2]),
        false,
    ),
    (
        "4.8.1.5",
        "AllCertificatesSamePolicyTest1",
        only_explicit(&[P1, P2]),
        true,
    ),
    ("4.8.2.1", "AllCertificatesNoPoliciesTest2", DEFAULT, true),
    ("4.8.2.2", "AllCertificatesNoPoliciesTest2", EXPLICIT, false),
    ("4.8.3.1", "DifferentPoliciesTest3", DEFAULT, true),
    ("4.8.3.2", "DifferentPoliciesTest3", EXPLICIT, false),
    (
        "4.8.3.3",
        "DifferentPoliciesTest3",
        only_explicit(&[P1, P2]),
        false,
    ),
    ("4.8.4", "DifferentPoliciesTest4", DEFAULT, false),
    ("4.8.5", "DifferentPoliciesTest5", DEFAULT, false),
    ("4.8.6.1", "OverlappingPoliciesTest6", DEFAULT, true),
    ("4.8.6.2", "OverlappingPoliciesTest6", only(&[P1]), true),
    ("4.8.6.3", "OverlappingPoliciesTest6", only(&[P2]), false),
    ("4.8.7", "DifferentPoliciesTest7", DEFAULT, false),
    ("4.8.8", "DifferentPoliciesTest8", DEFAULT, false),
    ("4.8.9", "DifferentPoliciesTest9", DEFAULT, false),
    (
        "4.8.10.1",
        "AllCertificatesSamePoliciesTest10",
        DEFAULT,
        true,
    ),
    (
        "4.8.10.2",
        "AllCertificatesSamePoliciesTest10",
        only(&[P1]),
        true,
    ),
    (
        "4.8.10.3",
        "AllCertificatesSamePoliciesTest10",
        only(&[P2]),
        true,
    ),
    ("4.8.11.1", "AllCertificatesAnyPolicyTest11", DEFAULT, true),
    (
        "4.8.11.2",
        "AllCertificatesAnyPolicyTest11",
        only(&[P1]),
        true,
    ),
    ("4.8.12", "DifferentPoliciesTest12", DEFAULT, false),
    (
        "4.8.13.1",
        "AllCertificatesSamePoliciesTest13",
        only(&[P1]),
        true,
    ),
    (
        "4.8.13.2",
        "AllCertificatesSamePoliciesTest13",
        only(&[P2]),
        true,
    ),
    (
        "4.8.13.3",
        "AllCertificatesSamePoliciesTest13",
        only(&[P3]),
        true,
    ),
    ("4.8.14.1", "AnyPolicyTest14", only(&[P1]), true),
    ("4.8.14.2", "AnyPolicyTest14", only(&[P2]), false),
    ("4.8.15", "UserNoticeQualifierTest15", DEFAULT, true),
    ("4.8.16", "UserNoticeQualifierTest16", DEFAULT, true),
    ("4.8.17", "UserNoticeQualifierTest17", DEFAULT, true),
    ("4.8.18.1", "UserNoticeQualifierTest18", only(&[P1]), true),
    ("4.8.18.2", "UserNoticeQualifierTest18", only(&[P2]), true),
    ("4.8.19", "UserNoticeQualifierTest19", DEFAULT, true),
    ("4.8.20.1", "CPSPointerQualifierTest20", DEFAULT, true),
    ("4.8.20.2", "CPSPointerQualifierTest20", EXPLICIT, true),
    // 4.9 Require explicit policy.
    ("4.9.1", "ValidRequireExplicitPolicyTest1", DEFAULT, true),
    ("4.9.2", "ValidRequireExplicitPolicyTest2", DEFAULT, true),
    ("4.9.3", "InvalidRequireExplicitPolicyTest3", DEFAULT, false),
    ("4.9.4", "ValidRequireExplicitPolicyTest4", DEFAULT, true),
    ("4.9.5", "InvalidRequireExplicitPolicyTest5", DEFAULT, false),
    (
        "4.9.6",
        "ValidSelfIssuedrequireExplicitPolicyTest6",
        DEFAULT,
        true,
    ),
    (
        "4.9.7",
        "InvalidSelfIssuedrequireExplicitPolicyTest7",
        DEFAULT,
        false,
    ),
    (
        "4.9.8",
        "InvalidSelfIssuedrequireExplicitPolicyTest8",
        DEFAULT,
        false,
    ),
    // 4.10 Policy mappings.
    ("4.10.1.1", "ValidPolicyMappingTest1", only(&[P1]), true),
    ("4.10.1.2", "ValidPolicyMappingTest1", only(&[P2]), false),
    ("4.10.1.3", "ValidPolicyMappingTest1", NO_MAPPING, false),
    ("4.10.2.1", "InvalidPolicyMappingTest2", DEFAULT, false),
    ("4.10.2.2", "InvalidPolicyMappingTest2", NO_MAPPING, false),
    ("4.10.3.1", "ValidPolicyMappingTest3", only(&[P1]), false),
    ("4.10.3.2", "ValidPolicyMappingTest3", only(&[P2]), true),
    ("4.10.4", "InvalidPolicyMappingTest4", DEFAULT, false),
    ("4.10.5.1", "ValidPolicyMappingTest5", only(&[P1]), true),
    ("4.10.5.2", "ValidPolicyMappingTest5", only(&[P6]), false),
    ("4.10.6.1", "ValidPolicyMappingTest6", only(&[P1]), true),
    ("4.10.6.2", "ValidPolicyMappingTest6", only(&[P6]), false),
    ("4.10.7", "InvalidMappingFromanyPolicyTest7", DEFAULT, false),
    ("4.10.8", "InvalidMappingToanyPolicyTest8", DEFAULT, false),
    ("4.10.9", "ValidPolicyMappingTest9", DEFAULT, true),
    ("4.10.10", "InvalidPolicyMappingTest10", DEFAULT, false),
    ("4.10.11", "ValidPolicyMappingTest11", DEFAULT, true),
    ("4.10.12.1", "ValidPolicyMappingTest12", only(&[P1]), true),
    ("4.10.12.2", "ValidPolicyMappingTest12", only(&[P2]), true),
    ("4.10.13", "ValidPolicyMappingTest13", DEFAULT, true),
    ("4.10.14", "ValidPolicyMappingTest14", DEFAULT, true),
    // 4.11 Inhibit policy mapping.
    ("4.11.1", "InvalidinhibitPolicyMappingTest1", DEFAULT, false),
    ("4.11.2", "ValidinhibitPolicyMappingTest2", DEFAULT, true),
    ("4.11.3", "InvalidinhibitPolicyMappingTest3", DEFAULT, false),
    ("4.11.4", "ValidinhibitPolicyMappingTest4", DEFAULT, true),
    ("4.11.5", "InvalidinhibitPolicyMappingTest5", DEFAULT, false),
    ("4.11.6", "InvalidinhibitPolicyMappingTest6", DEFAULT, false),
    (
        "4.11.7",
        "ValidSelfIssuedinhibitPolicyMappingTest7",
        DEFAULT,
        true,
    ),
    (
        "4.11.8",
        "InvalidSelfIssuedinhibitPolicyMappingTest8",
        DEFAULT,
        false,
    ),
    (
        "4.11.9",
        "InvalidSelfIssuedinhibitPolicyMappingTest9",
        DEFAULT,
        false,
    ),
    (
        "4.11.10",
        "InvalidSelfIssuedinhibitPolicyMappingTest10",
        DEFAULT,
        false,
    ),
    (
        "4.11.11",
        "InvalidSelfIssuedinhibitPolicyMappingTest11",
        DEFAULT,
        false,
    ),
    // 4.12 Inhibit anyPolicy.
    ("4.12.1", "InvalidinhibitAnyPolicyTest1", DEFAULT, false),
    ("4.12.2", "ValidinhibitAnyPolicyTest2", DEFAULT, true),
    ("4.12.3.1", "inhibitAnyPolicyTest3", DEFAULT, true),
    ("4.12.3.2", "inhibitAnyPolicyTest3", NO_ANY, false),
    ("4.12.4", "InvalidinhibitAnyPolicyTest4", DEFAULT, false),
    ("4.12.5", "InvalidinhibitAnyPolicyTest5", DEFAULT, false),
    ("4.12.6", "InvalidinhibitAnyPolicyTest6", DEFAULT, false),
    (
        "4.12.7",
        "ValidSelfIssuedinhibitAnyPolicyTest7",
        DEFAULT,
        true,
    ),
    (
        "4.12.8",
        "InvalidSelfIssuedinhibitAnyPolicyTest8",
        DEFAULT,
        false,
    ),
    (
        "4.12.9",
        "ValidSelfIssuedinhibitAnyPolicyTest9",
        DEFAULT,
        true,
    ),
    (
        "4.12.10",
        "InvalidSelfIssuedinhibitAnyPolicyTest10",
        DEFAULT,
        false,
    ),
];

fn policy(run: Run) -> Policy {
    let set = run
        .set
        .iter()
        .map(|s| s.parse::<PolicyId>().unwrap())
        .collect();
    Policy {
        revocation: RevocationPolicy::Off,
        signers: SignerRule::All,
        path: PathSettings {
            initial_policies: InitialPolicies::from_list(set),
            require_explicit_policy: run.explicit,
            inhibit_policy_mapping: run.no_mapping,
            inhibit_any_policy: run.no_any,
        },
    }
}

#[test]
fn pkits_policy_sections_under_their_settings() {
    let store = pkits::trust(false);
    let mut wrong = Vec::new();
    for (section, name, run, valid) in CASES {
        let report = pkits::run(&Verifier::new(store.clone(), policy(*run)), name);
        let codes: Vec<&str> = report.codes().iter().map(|r| r.code()).collect();
        let ok = match (valid, report.status) {
            (true, Status::Accepted) => true,
            (false, Status::Rejected) => codes == ["certificate-policy"],
            _ => false,
        };
        if !ok {
            let details: Vec<&str> = report.reasons.iter().map(|r| r.detail.as_str()).collect();
            wrong.push(format!(
                "{section} {name}: expected {}, got {:?} {codes:?} {details:?}",
                if *valid { "valid" } else { "invalid" },
                report.status
            ));
        }
    }
    println!(
        "{} of {} policy cases agree",
        CASES.len() - wrong.len(),
        CASES.len()
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The report names the policies in force, in the trust anchor's domain (mapped names are the
/// subordinate CAs' words for the same policies).
#[test]
fn pkits_policies_in_force_are_reported() {
    let store = pkits::trust(false);
    let table: &[(&str, Run, &[&str])] = &[
        ("AllCertificatesSamePolicyTest1", DEFAULT, &[P1]),
        ("AllCertificatesNoPoliciesTest2", DEFAULT, &[]),
        ("AllCertificatesSamePoliciesTest10", DEFAULT, &[P1, P2]),
        ("AllCertificatesSamePoliciesTest10", only(&[P2]), &[P2]),
        ("AllCertificatesAnyPolicyTest11", DEFAULT, &["2.5.29.32.0"]),
        ("AllCertificatesAnyPolicyTest11", only(&[P1]), &[P1]),
        ("AnyPolicyTest14", DEFAULT, &[P1]),
        ("ValidPolicyMappingTest1", DEFAULT, &[P1]),
        ("ValidPolicyMappingTest3", only(&[P2]), &[P2]),
    ];
    for (name, run, want) in table {
        let report = pkits::run(&Verifier::new(store.clone(), policy(*run)), name);
        assert_eq!(report.status, Status::Accepted, "{name}: {report:?}");
        assert_eq!(report.signers[0].policies, *want, "{name}");
    }
}
