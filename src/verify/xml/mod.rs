//! Signed XML: enveloped XML-DSig (NCALayer `signXml`, eGov services) and SOAP messages signed
//! with WS-Security (SmartBridge), verified as purely as CMS: bytes, trust store, policy and a
//! time in, a [`Report`] out.
//!
//! Only what is XML-specific lives here: bounded parsing ([`parse`]), canonicalization
//! ([`c14n`]), references and transforms ([`reference`]), the Signature element
//! ([`signed_info`]), algorithm URIs ([`algorithms`]) and what a signature must cover
//! ([`wsse`]). The signature check itself, the certificate path, revocation, policy and the
//! verdict are the CMS verifier's own steps.

pub mod algorithms;
pub mod c14n;
pub mod parse;
pub mod reference;
pub mod signed_info;
pub mod wsse;

use super::algorithms::{AlgError, Scheme};
use super::certificate::Certificate;
use super::report::{Report, SignerReport, Status, Warning};
use super::{Env, Evidence, Finding, Verifier, describe_signer, push, record};
use crate::reasons::Reason;
use algorithms::ValueEncoding;
use c14n::NodeSet;
use parse::Budget;
use reference::Ids;
use signed_info::{DSIG, SigError, Signature};
use std::sync::Arc;
use wsse::Expected;

/// Signatures read in one document (each is a signer).
pub const MAX_SIGNATURES: usize = 16;

/// Whether `input` looks like XML rather than CMS: its first non-blank byte (after a UTF-8
/// byte order mark) is `<`. DER starts with 0x30 and PEM with `-`, so the two never meet.
pub fn is_xml(input: &[u8]) -> bool {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    input
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

/// What one document's signatures are judged against.
struct Doc<'a, 'i> {
    doc: &'a roxmltree::Document<'i>,
    ids: Ids<'a, 'i>,
    expected: Expected<'a, 'i>,
    budget: Budget,
    /// Every Signature element, in document order.
    signatures: Vec<roxmltree::Node<'a, 'i>>,
}

impl Verifier {
    /// Verifies signed XML at time `at` (seconds since the epoch, UTC).
    pub fn verify_xml(&self, input: &[u8], at: i64) -> Report {
        self.verify_xml_with(input, at, Evidence::default())
    }

    /// As [`Verifier::verify_xml`], with revocation evidence fetched beforehand.
    pub fn verify_xml_with(&self, input: &[u8], at: i64, evidence: Evidence<'_>) -> Report {
        super::names::reset_budget();
        let doc = match parse::parse(input) {
            Ok(d) => d,
            Err(e) => return Report::rejected(Reason::Malformed, e.to_string()),
        };
        let expected = match wsse::expected(&doc) {
            Ok(e) => e,
            Err(e) => return Report::rejected(Reason::Malformed, e.to_string()),
        };
        let signatures: Vec<_> = doc
            .descendants()
            .filter(|n| signed_info::is(*n, DSIG, "Signature"))
            .take(MAX_SIGNATURES + 1)
            .collect();
        if signatures.len() > MAX_SIGNATURES {
            return Report::rejected(
                Reason::Malformed,
                format!("more than {MAX_SIGNATURES} signatures"),
            );
        }
        let mut report = Report {
            status: Status::Rejected,
            reasons: Vec::new(),
            signers: Vec::new(),
            warnings: Vec::new(),
        };
        if signatures.is_empty() {
            report.push(Reason::NoSigners, None, "no ds:Signature element".into());
            return report;
        }
        let d = Doc {
            doc: &doc,
            ids: Ids::collect(&doc),
            expected,
            budget: Budget::for_input(input.len()),
            signatures,
        };
        let crls: Vec<_> = self.trust.crls().iter().collect();
        let settings = self.policy.path.clone();
        for index in 0..d.signatures.len() {
            let (mut findings, mut warnings) = (Vec::new(), Vec::new());
            let mut sr = SignerReport::empty();
            let mut pool = Vec::new();
            let mut seen = Checked {
                sr: &mut sr,
                findings: &mut findings,
                sequential: false,
            };
            let cert = self.check_signature(&d, index, &mut pool, &mut seen);
            if seen.sequential {
                report.warnings.push(Warning {
                    code: "signed-before-later-signatures",
                    signer: Some(index),
                    detail: "the signature covers the document as it stood before the \
                             signatures after it were added"
                        .into(),
                });
            }
            if let Some(cert) = cert {
                let env = Env {
                    pool: &pool,
                    crls: &crls,
                    at,
                    poe: None,
                    settings: &settings,
                    evidence,
                };
                self.judge_path(&cert, &env, &mut sr, &mut findings, &mut warnings);
            }
            record(&mut report, index, sr, findings, warnings, true);
        }
        self.decide(&mut report);
        report
    }

    /// Checks one Signature element: its references, what they cover and its value. Returns
    /// the signer's certificate when one was found, for the path checks.
    fn check_signature(
        &self,
        d: &Doc<'_, '_>,
        index: usize,
        pool: &mut Vec<Arc<Certificate>>,
        seen: &mut Checked<'_>,
    ) -> Option<Arc<Certificate>> {
        let element = *d.signatures.get(index)?;
        let (sr, findings) = (&mut *seen.sr, &mut *seen.findings);
        let sig = match signed_info::read(element) {
            Ok(s) => s,
            Err(e) => {
                push(findings, sig_reason(&e), e.to_string());
                return None;
            }
        };
        let cert = match self.signer_certificate(&sig, &d.ids, pool) {
            Ok(c) => c,
            Err((reason, detail)) => {
                push(findings, reason, detail);
                return None;
            }
        };
        describe_signer(sr, &cert);
        let (scheme, encoding) = match algorithms::signature(&sig.signature_method) {
            Ok(s) => s,
            Err(e) => {
                sr.algorithm = Some(sig.signature_method.clone());
                push(findings, Reason::AlgorithmUnsupported, e.to_string());
                return Some(cert);
            }
        };
        sr.algorithm = Some(scheme.name());
        let later = reference::later_siblings(element);
        self.check_references(d, &sig, &later, seen);
        check_value(d, &sig, scheme, encoding, &cert, seen.findings);
        Some(cert)
    }

    /// Every reference's digest, and that one of them covers what the document's kind
    /// requires (the root, or the SOAP Body).
    fn check_references<'a, 'i>(
        &self,
        d: &Doc<'a, 'i>,
        sig: &Signature<'a, 'i>,
        later: &[roxmltree::Node<'a, 'i>],
        seen: &mut Checked<'_>,
    ) {
        let (sr, findings) = (&mut *seen.sr, &mut *seen.findings);
        let mut covered = false;
        for (i, r) in sig.references.iter().enumerate() {
            let digest = match algorithms::digest(&r.digest_method) {
                Ok(h) => h,
                Err(e) => {
                    push(findings, Reason::AlgorithmUnsupported, e.to_string());
                    continue;
                }
            };
            sr.digest.get_or_insert_with(|| digest.name().into());
            let target = match reference::target(r, &d.ids) {
                Ok(t) => t,
                Err(e) => {
                    push(findings, sig_reason(&e), format!("reference {i}: {e}"));
                    continue;
                }
            };
            let strict = reference::octets(d.doc, target, r, sig.element, &[], &d.budget);
            let octets = match strict {
                Ok(o)
                    if digest.digest(&o) != r.digest_value
                        && !later.is_empty()
                        && target == reference::Target::Document
                        && reference::is_enveloped(r) =>
                {
                    match reference::octets(d.doc, target, r, sig.element, later, &d.budget) {
                        Ok(before) if digest.digest(&before) == r.digest_value => {
                            seen.sequential = true;
                            before
                        }
                        _ => o,
                    }
                }
                Ok(o) => o,
                Err(reference::RefError::Sig(e)) => {
                    push(findings, sig_reason(&e), format!("reference {i}: {e}"));
                    continue;
                }
                Err(reference::RefError::Xml(e)) => {
                    push(findings, Reason::Malformed, e.to_string());
                    continue;
                }
            };
            if digest.digest(&octets) != r.digest_value {
                push(
                    findings,
                    Reason::ContentMismatch,
                    format!(
                        "reference {i} ({:?}): the {} of the referenced data differs from \
                         its DigestValue",
                        r.uri.as_deref().unwrap_or_default(),
                        digest.name()
                    ),
                );
            }
            covered |= d.expected.covered_by(target);
        }
        if !covered {
            push(
                findings,
                Reason::ContentMismatch,
                format!("no reference of the signature covers {}", d.expected.name()),
            );
        }
    }

    /// The signer's certificate from KeyInfo: `X509Data/X509Certificate` (the first is the
    /// signer's, the others join the pool for path building) or a WS-Security token reference.
    fn signer_certificate(
        &self,
        sig: &Signature<'_, '_>,
        ids: &Ids<'_, '_>,
        pool: &mut Vec<Arc<Certificate>>,
    ) -> Result<Arc<Certificate>, (Reason, String)> {
        let missing = |why: &str| (Reason::CertificateMissing, why.to_owned());
        let key_info = sig
            .key_info
            .ok_or_else(|| missing("the signature has no KeyInfo"))?;
        let ders = key_info_certificates(key_info, ids)?;
        for der in &ders {
            let c = self
                .cache
                .certificate(der)
                .map_err(|e| (Reason::Malformed, format!("KeyInfo certificate: {e}")))?;
            pool.push(c);
        }
        // The signer's is the one that issued none of the others (xmlsec1 and KalkanCrypt
        // write the chain in no fixed order); a token reference's comes first.
        let issues_another = |c: &Arc<Certificate>| {
            pool.iter()
                .any(|o| !Arc::ptr_eq(o, c) && o.issuer_raw == c.subject_raw)
        };
        pool.iter()
            .find(|c| !issues_another(c))
            .or(pool.first())
            .cloned()
            .ok_or_else(|| missing("KeyInfo names no certificate this verifier can read"))
    }
}

/// The DER of the certificates a KeyInfo carries: `X509Data/X509Certificate`, and first the
/// `wsse:BinarySecurityToken` a token reference points at.
fn key_info_certificates(
    key_info: roxmltree::Node<'_, '_>,
    ids: &Ids<'_, '_>,
) -> Result<Vec<Vec<u8>>, (Reason, String)> {
    let mut ders = Vec::new();
    for x in signed_info::children(key_info, DSIG, "X509Data") {
        for c in signed_info::children(x, DSIG, "X509Certificate").take(16) {
            ders.push(
                signed_info::base64(&signed_info::text_of(c), "X509Certificate")
                    .map_err(|e| (Reason::Malformed, e.to_string()))?,
            );
        }
    }
    if let Some(der) =
        wsse::token_certificate(key_info, ids).map_err(|e| (sig_reason(&e), e.to_string()))?
    {
        ders.insert(0, der);
    }
    Ok(ders)
}

/// The DER of the certificates the KeyInfo of every signature in `input` carries (a KeyInfo
/// that cannot be read gives none), for callers outside verification — the CRL refresher
/// learning distribution points — that need a signed XML document's certificates as they
/// need a CMS one's. Nothing is verified here; empty when `input` is not signed XML.
pub fn carried_certificates(input: &[u8]) -> Vec<Vec<u8>> {
    let Ok(doc) = parse::parse(input) else {
        return Vec::new();
    };
    let ids = Ids::collect(&doc);
    doc.descendants()
        .filter(|n| signed_info::is(*n, DSIG, "Signature"))
        .take(MAX_SIGNATURES)
        .filter_map(|s| signed_info::children(s, DSIG, "KeyInfo").next())
        .filter_map(|k| key_info_certificates(k, &ids).ok())
        .flatten()
        .collect()
}

/// What checking one signature found.
struct Checked<'a> {
    sr: &'a mut SignerReport,
    findings: &'a mut Vec<Finding>,
    /// Its digest matched only with the later signatures left out (see [`reference::octets`]).
    sequential: bool,
}

/// The SignatureValue over SignedInfo canonicalized by its CanonicalizationMethod.
fn check_value(
    d: &Doc<'_, '_>,
    sig: &Signature<'_, '_>,
    scheme: Scheme,
    encoding: ValueEncoding,
    cert: &Certificate,
    findings: &mut Vec<Finding>,
) {
    let set = NodeSet {
        apex: sig.signed_info,
        exclude: &[],
        comments: true,
    };
    let signed = match c14n::canonicalize(set, &sig.c14n, &d.budget) {
        Ok(s) => s,
        Err(e) => return push(findings, Reason::Malformed, e.to_string()),
    };
    let value = match encoding {
        ValueEncoding::Native => Some(sig.value.clone()),
        ValueEncoding::EcdsaRaw => algorithms::ecdsa_raw_to_der(&sig.value),
    };
    let result = match value {
        Some(v) => scheme.verify(&cert.public_key, &signed, &v),
        None => Err(AlgError::Invalid),
    };
    match result {
        Ok(()) => {}
        Err(AlgError::Unsupported(why)) => push(findings, Reason::AlgorithmUnsupported, why),
        Err(AlgError::Invalid) => push(
            findings,
            Reason::SignatureInvalid,
            format!(
                "{} SignatureValue does not verify over SignedInfo with the key of {}",
                scheme.name(),
                cert.subject
            ),
        ),
    }
}

/// The closed-list reason of a Signature element's defect.
fn sig_reason(e: &SigError) -> Reason {
    match e {
        SigError::Malformed(_) => Reason::Malformed,
        SigError::Unsupported(_) => Reason::AlgorithmUnsupported,
    }
}
