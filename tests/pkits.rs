//! NIST PKITS under its default settings: every signed message of the suite through the
//! verifier, with `--revocation require`, its status and reason codes against the expected
//! result of the PKITS document (section 4).
//!
//! The messages carry the certificates and CRLs of their paths; the trust store holds only the
//! suite's anchor. A second run adds every CRL of the suite to the trust store, as a trust
//! directory would, and must agree as well. The DSA tests are refused by policy: tamga does not
//! accept DSA (`algorithm-unsupported`).

mod common;

use common::pkits;
use std::time::Instant;

/// (PKITS section, test name, expected reason codes: empty = the path is valid; several where
/// the document allows either outcome, e.g. "revoked" or "status cannot be determined").
const EXPECTED: &[(&str, &str, &[&str])] = &[
    ("4.1.1", "ValidSignaturesTest1", &[]),
    (
        "4.1.2",
        "InvalidCASignatureTest2",
        &["certificate-untrusted"],
    ),
    (
        "4.1.3",
        "InvalidEESignatureTest3",
        &["certificate-untrusted"],
    ),
    (
        "4.1.4",
        "ValidDSASignaturesTest4",
        &["algorithm-unsupported"],
    ),
    (
        "4.1.5",
        "ValidDSAParameterInheritanceTest5",
        &["algorithm-unsupported"],
    ),
    (
        "4.1.6",
        "InvalidDSASignatureTest6",
        &["algorithm-unsupported"],
    ),
    (
        "4.2.1",
        "InvalidCAnotBeforeDateTest1",
        &["certificate-not-yet-valid"],
    ),
    (
        "4.2.2",
        "InvalidEEnotBeforeDateTest2",
        &["certificate-not-yet-valid"],
    ),
    ("4.2.3", "Validpre2000UTCnotBeforeDateTest3", &[]),
    ("4.2.4", "ValidGeneralizedTimenotBeforeDateTest4", &[]),
    (
        "4.2.5",
        "InvalidCAnotAfterDateTest5",
        &["certificate-expired"],
    ),
    (
        "4.2.6",
        "InvalidEEnotAfterDateTest6",
        &["certificate-expired"],
    ),
    (
        "4.2.7",
        "Invalidpre2000UTCEEnotAfterDateTest7",
        &["certificate-expired"],
    ),
    ("4.2.8", "ValidGeneralizedTimenotAfterDateTest8", &[]),
    (
        "4.3.1",
        "InvalidNameChainingEETest1",
        &["certificate-untrusted"],
    ),
    (
        "4.3.2",
        "InvalidNameChainingOrderTest2",
        &["certificate-untrusted"],
    ),
    ("4.3.3", "ValidNameChainingWhitespaceTest3", &[]),
    ("4.3.4", "ValidNameChainingWhitespaceTest4", &[]),
    ("4.3.5", "ValidNameChainingCapitalizationTest5", &[]),
    ("4.3.6", "ValidNameChainingUIDsTest6", &[]),
    ("4.3.7", "ValidRFC3280MandatoryAttributeTypesTest7", &[]),
    ("4.3.8", "ValidRFC3280OptionalAttributeTypesTest8", &[]),
    ("4.3.9", "ValidUTF8StringEncodedNamesTest9", &[]),
    (
        "4.3.10",
        "ValidRolloverfromPrintableStringtoUTF8StringTest10",
        &[],
    ),
    ("4.3.11", "ValidUTF8StringCaseInsensitiveMatchTest11", &[]),
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
        "4.6.1",
        "InvalidMissingbasicConstraintsTest1",
        &["certificate-usage"],
    ),
    ("4.6.2", "InvalidcAFalseTest2", &["certificate-usage"]),
    ("4.6.3", "InvalidcAFalseTest3", &["certificate-usage"]),
    ("4.6.4", "ValidbasicConstraintsNotCriticalTest4", &[]),
    (
        "4.6.5",
        "InvalidpathLenConstraintTest5",
        &["certificate-usage"],
    ),
    (
        "4.6.6",
        "InvalidpathLenConstraintTest6",
        &["certificate-usage"],
    ),
    ("4.6.7", "ValidpathLenConstraintTest7", &[]),
    ("4.6.8", "ValidpathLenConstraintTest8", &[]),
    (
        "4.6.9",
        "InvalidpathLenConstraintTest9",
        &["certificate-usage"],
    ),
    (
        "4.6.10",
        "InvalidpathLenConstraintTest10",
        &["certificate-usage"],
    ),
    (
        "4.6.11",
        "InvalidpathLenConstraintTest11",
        &["certificate-usage"],
    ),
    (
        "4.6.12",
        "InvalidpathLenConstraintTest12",
        &["certificate-usage"],
    ),
    ("4.6.13", "ValidpathLenConstraintTest13", &[]),
    ("4.6.14", "ValidpathLenConstraintTest14", &[]),
    ("4.6.15", "ValidSelfIssuedpathLenConstraintTest15", &[]),
    (
        "4.6.16",
        "InvalidSelfIssuedpathLenConstraintTest16",
        &["certificate-usage"],
    ),
    ("4.6.17", "ValidSelfIssuedpathLenConstraintTest17", &[]),
    (
        "4.7.1",
        "InvalidkeyUsageCriticalkeyCertSignFalseTest1",
        &["certificate-usage"],
    ),
    (
        "4.7.2",
        "InvalidkeyUsageNotCriticalkeyCertSignFalseTest2",
        &["certificate-usage"],
    ),
    ("4.7.3", "ValidkeyUsageNotCriticalTest3", &[]),
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
    ("4.8.1", "AllCertificatesSamePolicyTest1", &[]),
    ("4.8.2", "AllCertificatesNoPoliciesTest2", &[]),
    ("4.8.3", "DifferentPoliciesTest3", &[]),
    ("4.8.4", "DifferentPoliciesTest4", &["certificate-policy"]),
    ("4.8.5", "DifferentPoliciesTest5", &["certificate-policy"]),
    ("4.8.6", "OverlappingPoliciesTest6", &[]),
    ("4.8.7", "DifferentPoliciesTest7", &["certificate-policy"]),
    ("4.8.8", "DifferentPoliciesTest8", &["certificate-policy"]),
    ("4.8.9", "DifferentPoliciesTest9", &["certificate-policy"]),
    ("4.8.10", "AllCertificatesSamePoliciesTest10", &[]),
    ("4.8.11", "AllCertificatesAnyPolicyTest11", &[]),
    ("4.8.12", "DifferentPoliciesTest12", &["certificate-policy"]),
    ("4.8.13", "AllCertificatesSamePoliciesTest13", &[]),
    ("4.8.14", "AnyPolicyTest14", &[]),
    ("4.8.15", "UserNoticeQualifierTest15", &[]),
    ("4.8.16", "UserNoticeQualifierTest16", &[]),
    ("4.8.17", "UserNoticeQualifierTest17", &[]),
    ("4.8.18", "UserNoticeQualifierTest18", &[]),
    ("4.8.19", "UserNoticeQualifierTest19", &[]),
    ("4.8.20", "CPSPointerQualifierTest20", &[]),
    ("4.9.1", "ValidRequireExplicitPolicyTest1", &[]),
    ("4.9.2", "ValidRequireExplicitPolicyTest2", &[]),
    (
        "4.9.3",
        "InvalidRequireExplicitPolicyTest3",
        &["certificate-policy"],
    ),
    ("4.9.4", "ValidRequireExplicitPolicyTest4", &[]),
    (
        "4.9.5",
        "InvalidRequireExplicitPolicyTest5",
        &["certificate-policy"],
    ),
    ("4.9.6", "ValidSelfIssuedrequireExplicitPolicyTest6", &[]),
    (
        "4.9.7",
        "InvalidSelfIssuedrequireExplicitPolicyTest7",
        &["certificate-policy"],
    ),
    (
        "4.9.8",
        "InvalidSelfIssuedrequireExplicitPolicyTest8",
        &["certificate-policy"],
    ),
    ("4.10.1", "ValidPolicyMappingTest1", &[]),
    (
        "4.10.2",
        "InvalidPolicyMappingTest2",
        &["certificate-policy"],
    ),
    ("4.10.3", "ValidPolicyMappingTest3", &[]),
    (
        "4.10.4",
        "InvalidPolicyMappingTest4",
        &["certificate-policy"],
    ),
    ("4.10.5", "ValidPolicyMappingTest5", &[]),
    ("4.10.6", "ValidPolicyMappingTest6", &[]),
    (
        "4.10.7",
        "InvalidMappingFromanyPolicyTest7",
        &["certificate-policy"],
    ),
    (
        "4.10.8",
        "InvalidMappingToanyPolicyTest8",
        &["certificate-policy"],
    ),
    ("4.10.9", "ValidPolicyMappingTest9", &[]),
    (
        "4.10.10",
        "InvalidPolicyMappingTest10",
        &["certificate-policy"],
    ),
    ("4.10.11", "ValidPolicyMappingTest11", &[]),
    ("4.10.12", "ValidPolicyMappingTest12", &[]),
    ("4.10.13", "ValidPolicyMappingTest13", &[]),
    ("4.10.14", "ValidPolicyMappingTest14", &[]),
    (
        "4.11.1",
        "InvalidinhibitPolicyMappingTest1",
        &["certificate-policy"],
    ),
    ("4.11.2", "ValidinhibitPolicyMappingTest2", &[]),
    (
        "4.11.3",
        "InvalidinhibitPolicyMappingTest3",
        &["certificate-policy"],
    ),
    ("4.11.4", "ValidinhibitPolicyMappingTest4", &[]),
    (
        "4.11.5",
        "InvalidinhibitPolicyMappingTest5",
        &["certificate-policy"],
    ),
    (
        "4.11.6",
        "InvalidinhibitPolicyMappingTest6",
        &["certificate-policy"],
    ),
    ("4.11.7", "ValidSelfIssuedinhibitPolicyMappingTest7", &[]),
    (
        "4.11.8",
        "InvalidSelfIssuedinhibitPolicyMappingTest8",
        &["certificate-policy"],
    ),
    (
        "4.11.9",
        "InvalidSelfIssuedinhibitPolicyMappingTest9",
        &["certificate-policy"],
    ),
    (
        "4.11.10",
        "InvalidSelfIssuedinhibitPolicyMappingTest10",
        &["certificate-policy"],
    ),
    (
        "4.11.11",
        "InvalidSelfIssuedinhibitPolicyMappingTest11",
        &["certificate-policy"],
    ),
    (
        "4.12.1",
        "InvalidinhibitAnyPolicyTest1",
        &["certificate-policy"],
    ),
    ("4.12.2", "ValidinhibitAnyPolicyTest2", &[]),
    ("4.12.3", "inhibitAnyPolicyTest3", &[]),
    (
        "4.12.4",
        "InvalidinhibitAnyPolicyTest4",
        &["certificate-policy"],
    ),
    (
        "4.12.5",
        "InvalidinhibitAnyPolicyTest5",
        &["certificate-policy"],
    ),
    (
        "4.12.6",
        "InvalidinhibitAnyPolicyTest6",
        &["certificate-policy"],
    ),
    ("4.12.7", "ValidSelfIssuedinhibitAnyPolicyTest7", &[]),
    (
        "4.12.8",
        "InvalidSelfIssuedinhibitAnyPolicyTest8",
        &["certificate-policy"],
    ),
    ("4.12.9", "ValidSelfIssuedinhibitAnyPolicyTest9", &[]),
    (
        "4.12.10",
        "InvalidSelfIssuedinhibitAnyPolicyTest10",
        &["certificate-policy"],
    ),
    ("4.13.1", "ValidDNnameConstraintsTest1", &[]),
    (
        "4.13.2",
        "InvalidDNnameConstraintsTest2",
        &["name-constraints"],
    ),
    (
        "4.13.3",
        "InvalidDNnameConstraintsTest3",
        &["name-constraints"],
    ),
    ("4.13.4", "ValidDNnameConstraintsTest4", &[]),
    ("4.13.5", "ValidDNnameConstraintsTest5", &[]),
    ("4.13.6", "ValidDNnameConstraintsTest6", &[]),
    (
        "4.13.7",
        "InvalidDNnameConstraintsTest7",
        &["name-constraints"],
    ),
    (
        "4.13.8",
        "InvalidDNnameConstraintsTest8",
        &["name-constraints"],
    ),
    (
        "4.13.9",
        "InvalidDNnameConstraintsTest9",
        &["name-constraints"],
    ),
    (
        "4.13.10",
        "InvalidDNnameConstraintsTest10",
        &["name-constraints"],
    ),
    ("4.13.11", "ValidDNnameConstraintsTest11", &[]),
    (
        "4.13.12",
        "InvalidDNnameConstraintsTest12",
        &["name-constraints"],
    ),
    (
        "4.13.13",
        "InvalidDNnameConstraintsTest13",
        &["name-constraints"],
    ),
    ("4.13.14", "ValidDNnameConstraintsTest14", &[]),
    (
        "4.13.15",
        "InvalidDNnameConstraintsTest15",
        &["name-constraints"],
    ),
    (
        "4.13.16",
        "InvalidDNnameConstraintsTest16",
        &["name-constraints"],
    ),
    (
        "4.13.17",
        "InvalidDNnameConstraintsTest17",
        &["name-constraints"],
    ),
    ("4.13.18", "ValidDNnameConstraintsTest18", &[]),
    ("4.13.19", "ValidSelfIssuedDNnameConstraintsTest19", &[]),
    (
        "4.13.20",
        "InvalidSelfIssuedDNnameConstraintsTest20",
        &["name-constraints"],
    ),
    ("4.13.21", "ValidRFC822nameConstraintsTest21", &[]),
    (
        "4.13.22",
        "InvalidRFC822nameConstraintsTest22",
        &["name-constraints"],
    ),
    ("4.13.23", "ValidRFC822nameConstraintsTest23", &[]),
    (
        "4.13.24",
        "InvalidRFC822nameConstraintsTest24",
        &["name-constraints"],
    ),
    ("4.13.25", "ValidRFC822nameConstraintsTest25", &[]),
    (
        "4.13.26",
        "InvalidRFC822nameConstraintsTest26",
        &["name-constraints"],
    ),
    ("4.13.27", "ValidDNandRFC822nameConstraintsTest27", &[]),
    (
        "4.13.28",
        "InvalidDNandRFC822nameConstraintsTest28",
        &["name-constraints"],
    ),
    (
        "4.13.29",
        "InvalidDNandRFC822nameConstraintsTest29",
        &["name-constraints"],
    ),
    ("4.13.30", "ValidDNSnameConstraintsTest30", &[]),
    (
        "4.13.31",
        "InvalidDNSnameConstraintsTest31",
        &["name-constraints"],
    ),
    ("4.13.32", "ValidDNSnameConstraintsTest32", &[]),
    (
        "4.13.33",
        "InvalidDNSnameConstraintsTest33",
        &["name-constraints"],
    ),
    ("4.13.34", "ValidURInameConstraintsTest34", &[]),
    (
        "4.13.35",
        "InvalidURInameConstraintsTest35",
        &["name-constraints"],
    ),
    ("4.13.36", "ValidURInameConstraintsTest36", &[]),
    (
        "4.13.37",
        "InvalidURInameConstraintsTest37",
        &["name-constraints"],
    ),
    (
        "4.13.38",
        "InvalidDNSnameConstraintsTest38",
        &["name-constraints"],
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
    (
        "4.16.1",
        "ValidUnknownNotCriticalCertificateExtensionTest1",
        &[],
    ),
    (
        "4.16.2",
        "InvalidUnknownCriticalCertificateExtensionTest2",
        &["certificate-usage"],
    ),
];

fn run_all(all_crls: bool) -> Vec<String> {
    let verifier = pkits::verifier(pkits::default_policy(), all_crls);
    let started = Instant::now();
    let mut wrong = Vec::new();
    for (section, name, expected) in EXPECTED {
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
        EXPECTED.len() - wrong.len(),
        EXPECTED.len(),
        started.elapsed().as_secs_f64() * 1000.0
    );
    for w in &wrong {
        eprintln!("  {w}");
    }
    wrong
}

#[test]
fn the_table_names_every_message_of_the_suite_once() {
    let mut listed: Vec<String> = EXPECTED.iter().map(|(_, n, _)| n.to_string()).collect();
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
