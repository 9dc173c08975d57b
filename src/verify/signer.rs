//! One signer's part of the report, CMS and XML alike: its findings recorded, its status
//! decided from them, its certificate described.

use super::Finding;
use super::certificate::{Certificate, hex};
use super::report::{Report, SignerReport, SignerStatus, Warning};
use crate::reasons::Reason;

/// Records one signer's findings and warnings in the report (CMS and XML alike). Without
/// content nothing was compared, so a signer with no finding is indeterminate, not valid.
pub(super) fn record(
    report: &mut Report,
    index: usize,
    mut sr: SignerReport,
    findings: Vec<Finding>,
    warnings: Vec<String>,
    content_checked: bool,
) {
    let mut codes: Vec<Reason> = findings.iter().map(|f| f.reason).collect();
    codes.sort();
    codes.dedup();
    sr.status = if !codes.is_empty() {
        SignerStatus::Invalid
    } else if !content_checked {
        // Neither the messageDigest nor a signature over the content was checked.
        codes.push(Reason::ContentMissing);
        SignerStatus::Indeterminate
    } else {
        SignerStatus::Valid
    };
    sr.reasons = codes;
    for f in findings {
        report.push(f.reason, Some(index), f.detail);
    }
    report
        .warnings
        .extend(warnings.into_iter().map(|detail| Warning {
            code: "revocation-unchecked",
            signer: Some(index),
            detail,
        }));
    report.signers.push(sr);
}

/// The signer certificate's names and fingerprint, as a report shows them.
pub(super) fn describe_signer(sr: &mut SignerReport, cert: &Certificate) {
    sr.subject = Some(cert.subject.clone());
    sr.issuer = Some(cert.issuer.clone());
    sr.serial = Some(cert.serial_hex());
    sr.certificate_sha256 = Some(hex(&cert.fingerprint));
    sr.iin = cert.iin.clone();
    sr.bin = cert.bin.clone();
}

/// Records one finding.
pub(super) fn push(findings: &mut Vec<Finding>, reason: Reason, detail: String) {
    findings.push(Finding { reason, detail });
}
