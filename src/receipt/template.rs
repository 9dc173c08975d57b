//! The fixed parts of a service's receipts, laid out as a zstd raw-content dictionary: what
//! every receipt of one service certificate and one organisation repeats (the certificate, the
//! CMS framing around it, the body's field names, the organisation's name, the reasons' texts
//! in four languages), so that a stored receipt keeps only what is its own.
//!
//! The dictionary is a pure function of the certificate and the organisation's name, so any
//! receipt names the same one as every other of its service, and the archive can rebuild it
//! from a receipt alone (see `archive::receipts`). It is never needed to *check* a receipt —
//! the sender's bytes are unchanged — only to read a stored one back.

use super::body::{ArchiveRef, CaseRef, ReasonLine, ReceiptBody, Registration, Status};
use crate::archive::log::{FileRef, SignerSummary};
use crate::reasons::Reason;
use crate::verify::certificate::{Certificate, hex};

/// The dictionary's first line. Besides naming its layout, it keeps the dictionary from
/// starting with zstd's dictionary magic number, so zstd always reads it as raw content.
const HEADER: &[u8] = b"tamga receipt dictionary v1\n";

/// A time inside any certificate's validity is not needed: the template is never verified.
const TEMPLATE_TIME: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

/// Length of a DER ECDSA P-256 signature (it varies by a byte or two; only the length octet
/// before it matters to the dictionary).
const SIGNATURE_LEN: usize = 72;

/// The dictionary for receipts signed with `cert_der` for `organization`; `None` when the
/// certificate does not parse (its receipts are then stored as they are).
pub fn dictionary(cert_der: &[u8], organization: &str) -> Option<Vec<u8>> {
    let cert = Certificate::from_der(cert_der).ok()?;
    let issuer_and_serial =
        super::der::seq(&[&cert.issuer_raw, &super::der::tlv(0x02, &cert.serial)]);
    let mut out = HEADER.to_vec();
    // zstd prefers recent history: the rarest parts come first, the CMS framing and the
    // certificate (in every receipt) last.
    out.extend(serde_json::to_vec(&reason_lines()).ok()?);
    out.push(b'\n');
    let mut rejected = body(&cert, organization, Status::Rejected);
    // What varies between receipts but from a short list: the signers' schemes, warnings,
    // the signature format.
    rejected.signers = SCHEMES.iter().map(|a| signer(false, a)).collect();
    rejected.warnings = vec![crate::verify::Warning {
        code: "revocation-unchecked",
        signer: Some(0),
        detail: String::new(),
    }];
    rejected.format = Some("xmldsig");
    out.extend(rejected.encode());
    out.push(b'\n');
    let accepted = body(&cert, organization, Status::Accepted).encode();
    out.extend(&accepted);
    out.push(b'\n');
    out.extend(super::envelope(
        cert_der,
        &issuer_and_serial,
        &accepted,
        super::signed_attributes(&accepted, TEMPLATE_TIME),
        &[0; SIGNATURE_LEN],
    ));
    Some(out)
}

/// Every reason as a receipt lists it (signer 0, no detail).
fn reason_lines() -> Vec<ReasonLine> {
    Reason::ALL
        .into_iter()
        .map(|code| ReasonLine {
            code,
            signer: Some(0),
            message: code.texts(),
            detail: String::new(),
        })
        .collect()
}

/// A receipt body of this service with placeholder values where each receipt has its own.
fn body(cert: &Certificate, organization: &str, status: Status) -> ReceiptBody {
    let accepted = status == Status::Accepted;
    let zeros = "0".repeat(64);
    let file = |role: &str| FileRef {
        role: role.to_owned(),
        sha256: zeros.clone(),
        size: 0,
    };
    ReceiptBody {
        receipt_id: "0".repeat(32),
        status,
        reasons: Vec::new(),
        warnings: Vec::new(),
        appeal: None,
        organization: organization.to_owned(),
        case: CaseRef {
            index: "01-01".into(),
            title: None,
        },
        registration: accepted.then(|| Registration {
            number: "01-01/1".into(),
            date: "2026-01-01".into(),
        }),
        received_at: crate::verify::fmt_time(TEMPLATE_TIME),
        files: vec![file("signature"), file("content")],
        signers: vec![signer(accepted, SCHEMES[0])],
        sender_ref: None,
        archive: ArchiveRef {
            index: 0,
            entry_hash: zeros,
            tree_size: 1,
        },
        service_certificate_sha256: hex(&cert.fingerprint),
        format: None,
    }
}

/// Signature schemes as signer summaries name them, the most common first.
const SCHEMES: [&str; 6] = [
    "rsa-pkcs1-sha256",
    "ecdsa-sha256",
    "gost-kz-gost34311-95",
    "gost3410-streebog256",
    "gost3410-streebog512",
    "ed25519",
];

/// A signer summary with a Kazakh national PKI subject's shape (RFC 4514, as summaries
/// write it) and empty values.
fn signer(valid: bool, scheme: &str) -> SignerSummary {
    SignerSummary {
        status: if valid { "valid" } else { "invalid" }.into(),
        subject: Some("CN=, SURNAME=, C=KZ, serialNumber=IIN, O=, OU=BIN, GIVENNAME=".into()),
        iin: Some(String::new()),
        bin: Some(String::new()),
        certificate_sha256: Some("0".repeat(64)),
        algorithm: Some(scheme.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dictionary_is_a_function_of_certificate_and_organisation() {
        let signer = crate::receipt::ReceiptSigner::ephemeral("Org A").unwrap();
        let other = crate::receipt::ReceiptSigner::ephemeral("Org A").unwrap();
        let a = dictionary(signer.certificate(), "Org A").unwrap();
        assert!(a.starts_with(HEADER));
        assert_eq!(a, dictionary(signer.certificate(), "Org A").unwrap());
        assert_ne!(a, dictionary(signer.certificate(), "Org B").unwrap());
        assert_ne!(a, dictionary(other.certificate(), "Org A").unwrap());
        // It holds the certificate itself, the largest fixed part of every receipt.
        assert!(
            a.windows(signer.certificate().len())
                .any(|w| w == signer.certificate())
        );
        assert!(dictionary(b"not a certificate", "Org A").is_none());
    }
}
