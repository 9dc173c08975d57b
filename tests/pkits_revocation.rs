//! The revocation sections of NIST PKITS (RFC 5280 §6.3), on their own: basic revocation
//! (4.4), self-issued key roll-over (4.5), cRLSign (4.7.4, 4.7.5), distribution points,
//! indirect CRLs and cRLIssuer (4.14) and delta CRLs (4.15). `tests/pkits.rs` runs the whole
//! suite; this file keeps these sections green while other sections are still in progress, and
//! names what broke when one of them regresses.

mod common;

use common::pkits;

/// (PKITS section, test name, expected reason codes; empty = valid), as in `tests/pkits.rs`.
const EXPECTED: &[(&str, &str, &[&str])] = &[
    ("4.4.1", "MissingCRLTest1", &["revocation-unavailable"]),
    ("4.4.2", "InvalidRevokedCATest2", &["certificate-revoked"]),
    ("4.4.3", "InvalidRevokedEETest3", &["certificate-revoked"]),
    (
        "4.4.4",
        "InvalidBadCRLSignatureTest4",
        &["revocation-unavailable"],
    ),
    (
        "4.4.5",
        "InvalidBadCRLIssuerNameTest5",
        &["revocation-unavailable"],
    ),
    ("4.4.6", "InvalidWrongCRLTest6", &["revocation-unavailable"]),
    ("4.4.7", "ValidTwoCRLsTest7", &[]),
    (
        "4.4.8",
        "InvalidUnknownCRLEntryExtensionTest8",
        &["certificate-revoked", "revocation-unavailable"],
    ),
    (
        "4.4.9",
        "InvalidUnknownCRLExtensionTest9",
        &["certificate-revoked", "revocation-unavailable"],
    ),
    (
        "4.4.10",
        "InvalidUnknownCRLExtensionTest10",
        &["revocation-unavailable"],
    ),
    (
        "4.4.11",
        "InvalidOldCRLnextUpdateTest11",
        &["revocation-unavailable"],
    ),
    (
        "4.4.12",
        "Invalidpre2000CRLnextUpdateTest12",
        &["revocation-unavailable"],
    ),
    ("4.4.13", "ValidGeneralizedTimeCRLnextUpdateTest13", &[]),
    ("4.4.14", "ValidNegativeSerialNumberTest14", &[]),
    (
        "4.4.15",
        "InvalidNegativeSerialNumberTest15",
        &["certificate-revoked"],
    ),
    ("4.4.16", "ValidLongSerialNumberTest16", &[]),
    ("4.4.17", "ValidLongSerialNumberTest17", &[]),
    (
        "4.4.18",
        "InvalidLongSerialNumberTest18",
        &["certificate-revoked"],
    ),
    ("4.4.19", "ValidSeparateCertificateandCRLKeysTest19", &[]),
    (
        "4.4.20",
        "InvalidSeparateCertificateandCRLKeysTest20",
        &["certificate-revoked"],
    ),
    (
        "4.4.21",
        "InvalidSeparateCertificateandCRLKeysTest21",
        &["revocation-unavailable"],
    ),
    ("4.5.1", "ValidBasicSelfIssuedOldWithNewTest1", &[]),
    (
        "4.5.2",
        "InvalidBasicSelfIssuedOldWithNewTest2",
        &["certificate-revoked"],
    ),
    ("4.5.3", "ValidBasicSelfIssuedNewWithOldTest3", &[]),
    ("4.5.4", "ValidBasicSelfIssuedNewWithOldTest4", &[]),
    (
        "4.5.5",
        "InvalidBasicSelfIssuedNewWithOldTest5",
        &["certificate-revoked"],
    ),
    ("4.5.6", "ValidBasicSelfIssuedCRLSigningKeyTest6", &[]),
    (
        "4.5.7",
        "InvalidBasicSelfIssuedCRLSigningKeyTest7",
        &["certificate-revoked"],
    ),
    (
        "4.5.8",
        "InvalidBasicSelfIssuedCRLSigningKeyTest8",
        &["certificate-untrusted", "certificate-usage"],
    ),
    (
        "4.7.4",
        "InvalidkeyUsageCriticalcRLSignFalseTest4",
        &["revocation-unavailable"],
    ),
    (
        "4.7.5",
        "InvalidkeyUsageNotCriticalcRLSignFalseTest5",
        &["revocation-unavailable"],
    ),
    ("4.14.1", "ValiddistributionPointTest1", &[]),
    (
        "4.14.2",
        "InvaliddistributionPointTest2",
        &["certificate-revoked"],
    ),
    (
        "4.14.3",
        "InvaliddistributionPointTest3",
        &["revocation-unavailable"],
    ),
    ("4.14.4", "ValiddistributionPointTest4", &[]),
    ("4.14.5", "ValiddistributionPointTest5", &[]),
    (
        "4.14.6",
        "InvaliddistributionPointTest6",
        &["certificate-revoked"],
    ),
    ("4.14.7", "ValiddistributionPointTest7", &[]),
    (
        "4.14.8",
        "InvaliddistributionPointTest8",
        &["revocation-unavailable"],
    ),
    (
        "4.14.9",
        "InvaliddistributionPointTest9",
        &["revocation-unavailable"],
    ),
    ("4.14.10", "ValidNoissuingDistributionPointTest10", &[]),
    (
        "4.14.11",
        "InvalidonlyContainsUserCertsCRLTest11",
        &["revocation-unavailable"],
    ),
    (
        "4.14.12",
        "InvalidonlyContainsCACertsCRLTest12",
        &["revocation-unavailable"],
    ),
    ("4.14.13", "ValidonlyContainsCACertsCRLTest13", &[]),
    (
        "4.14.14",
        "InvalidonlyContainsAttributeCertsTest14",
        &["revocation-unavailable"],
    ),
    (
        "4.14.15",
        "InvalidonlySomeReasonsTest15",
        &["certificate-revoked"],
    ),
    (
        "4.14.16",
        "InvalidonlySomeReasonsTest16",
        &["certificate-revoked"],
    ),
    (
        "4.14.17",
        "InvalidonlySomeReasonsTest17",
        &["revocation-unavailable"],
    ),
    ("4.14.18", "ValidonlySomeReasonsTest18", &[]),
    ("4.14.19", "ValidonlySomeReasonsTest19", &[]),
    (
        "4.14.20",
        "InvalidonlySomeReasonsTest20",
        &["certificate-revoked"],
    ),
    (
        "4.14.21",
        "InvalidonlySomeReasonsTest21",
        &["certificate-revoked"],
    ),
    ("4.14.22", "ValidIDPwithindirectCRLTest22", &[]),
    (
        "4.14.23",
        "InvalidIDPwithindirectCRLTest23",
        &["certificate-revoked"],
    ),
    ("4.14.24", "ValidIDPwithindirectCRLTest24", &[]),
    ("4.14.25", "ValidIDPwithindirectCRLTest25", &[]),
    (
        "4.14.26",
        "InvalidIDPwithindirectCRLTest26",
        &["revocation-unavailable"],
    ),
    (
        "4.14.27",
        "InvalidcRLIssuerTest27",
        &["revocation-unavailable"],
    ),
    ("4.14.28", "ValidcRLIssuerTest28", &[]),
    ("4.14.29", "ValidcRLIssuerTest29", &[]),
    ("4.14.30", "ValidcRLIssuerTest30", &[]),
    (
        "4.14.31",
        "InvalidcRLIssuerTest31",
        &["certificate-revoked"],
    ),
    (
        "4.14.32",
        "InvalidcRLIssuerTest32",
        &["certificate-revoked"],
    ),
    ("4.14.33", "ValidcRLIssuerTest33", &[]),
    (
        "4.14.34",
        "InvalidcRLIssuerTest34",
        &["certificate-revoked"],
    ),
    (
        "4.14.35",
        "InvalidcRLIssuerTest35",
        &["revocation-unavailable"],
    ),
    (
        "4.15.1",
        "InvaliddeltaCRLIndicatorNoBaseTest1",
        &["revocation-unavailable"],
    ),
    ("4.15.2", "ValiddeltaCRLTest2", &[]),
    ("4.15.3", "InvaliddeltaCRLTest3", &["certificate-revoked"]),
    ("4.15.4", "InvaliddeltaCRLTest4", &["certificate-revoked"]),
    ("4.15.5", "ValiddeltaCRLTest5", &[]),
    ("4.15.6", "InvaliddeltaCRLTest6", &["certificate-revoked"]),
    ("4.15.7", "ValiddeltaCRLTest7", &[]),
    ("4.15.8", "ValiddeltaCRLTest8", &[]),
    ("4.15.9", "InvaliddeltaCRLTest9", &["certificate-revoked"]),
    (
        "4.15.10",
        "InvaliddeltaCRLTest10",
        &["revocation-unavailable"],
    ),
];

fn disagreements(all_crls: bool) -> Vec<String> {
    let verifier = pkits::verifier(pkits::default_policy(), all_crls);
    let mut wrong = Vec::new();
    for (section, name, expected) in EXPECTED {
        let report = pkits::run(&verifier, name);
        let got = pkits::codes(&report);
        if !pkits::agrees(&got, expected) {
            let details: Vec<String> = report.reasons.iter().map(|r| r.detail.clone()).collect();
            wrong.push(format!(
                "{section} {name}: expected {expected:?}, got {got:?} ({})",
                details.join("; ")
            ));
        }
    }
    wrong
}

#[test]
fn revocation_sections_agree_with_crls_carried_in_the_messages() {
    let wrong = disagreements(false);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn revocation_sections_agree_with_every_crl_in_the_trust_store() {
    let wrong = disagreements(true);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
