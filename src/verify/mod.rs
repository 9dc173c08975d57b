//! Signature verification: pure functions of (bytes, trust store, policy, time).
//!
//! Nothing in this module reads a file, a socket or the clock. The validation time is an
//! argument, the trust store a value, and the only state is a memo of work that depends on
//! bytes alone ([`cache`]). That is what makes a verdict reproducible by an auditor years later.

pub mod algorithms;
pub mod asn1;
pub mod cache;
pub mod cades;
pub mod certificate;
pub mod cms;
pub mod content;
mod message;
pub mod names;
pub mod ocsp;
pub mod path;
pub mod policy;
pub mod report;
pub mod revocation;
mod signer;
pub mod timestamp;
pub mod trust;
pub mod xml;

use signer::{describe_signer, push, record};

use crate::reasons::Reason;
use algorithms::{AlgError, HashAlg, Scheme};
pub use asn1::fmt_time;
use cache::Cache;
use certificate::Certificate;
use cms::{SignedData, SignerId, SignerInfo};
pub use content::{Content, ContentDigests};
pub use report::{Report, SignerReport, SignerStatus, Status, Warning};
use revocation::Crl;
use std::sync::Arc;
pub use trust::TrustStore;

const ID_DATA: &str = "1.2.840.113549.1.7.1";

/// What to do when a certificate's revocation status cannot be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RevocationPolicy {
    /// Reject with `revocation-unavailable`.
    Require,
    /// Accept, with a `revocation-unchecked` warning.
    #[default]
    Prefer,
    /// Do not look at CRLs at all.
    Off,
}

/// How many signers must be valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SignerRule {
    /// Every signer (the default: a co-signed document is only as good as its weakest signature).
    #[default]
    All,
    /// At least one.
    AtLeastOne,
}

/// Verification policy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Policy {
    /// Revocation checking.
    pub revocation: RevocationPolicy,
    /// Which signers must be valid.
    pub signers: SignerRule,
    /// Certificate-policy settings of path validation (RFC 5280 §6.1.1).
    pub path: policy::PathSettings,
}

/// One thing found wrong, with the sentence that pins it down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The reason from the closed list.
    pub reason: Reason,
    /// Detail for the report.
    pub detail: String,
}

/// Revocation evidence handed in beside the signature by whoever fetched it: OCSP responses
/// (verified here like carried ones) and how fresh their answers must be.
#[derive(Debug, Clone, Copy, Default)]
pub struct Evidence<'a> {
    /// OCSPResponses, parsed but not yet verified.
    pub ocsp: &'a [Arc<ocsp::Response>],
    /// The freshness window of OCSP answers.
    pub ocsp_window: ocsp::Window,
}

/// A verifier: trust store, policy and memo. Share one across threads.
#[derive(Debug)]
pub struct Verifier {
    trust: TrustStore,
    policy: Policy,
    cache: Cache,
}

impl Verifier {
    /// A verifier over this trust store and policy.
    pub fn new(trust: TrustStore, policy: Policy) -> Self {
        Verifier {
            trust,
            policy,
            cache: Cache::default(),
        }
    }

    /// The trust store.
    pub fn trust(&self) -> &TrustStore {
        &self.trust
    }

    /// The policy (kept with accepted documents' evidence, so a re-check uses it).
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Verifies a CMS SignedData (`input`: DER, BER or PEM) at time `at` (seconds since the
    /// epoch, UTC). `detached` is the content of a detached signature. Input whose first
    /// non-blank byte is `<` is signed XML and goes to [`Verifier::verify_xml_with`].
    pub fn verify(&self, input: &[u8], detached: Option<&[u8]>, at: i64) -> Report {
        self.verify_content(input, detached.map(Content::Bytes), at)
    }

    /// As [`Verifier::verify`], with detached content given as bytes or as digests computed
    /// beforehand (see [`content`]).
    pub fn verify_content(&self, input: &[u8], detached: Option<Content<'_>>, at: i64) -> Report {
        self.verify_with(input, detached, at, Evidence::default())
    }

    /// As [`Verifier::verify_content`], with revocation evidence fetched beforehand.
    pub fn verify_with(
        &self,
        input: &[u8],
        detached: Option<Content<'_>>,
        at: i64,
        evidence: Evidence<'_>,
    ) -> Report {
        if xml::is_xml(input) {
            // Signed XML carries what it signs: a separate content file has no place.
            if detached.is_some() {
                return Report::rejected(
                    Reason::PolicyViolation,
                    "an XML signature is submitted alone, without a separate content file",
                );
            }
            return self.verify_xml_with(input, at, evidence);
        }
        names::reset_budget();
        let der = match cms::decode_input(input) {
            Ok(d) => d,
            Err(e) => return Report::rejected(Reason::Malformed, e.to_string()),
        };
        let sd = match cms::parse_lazy(&der) {
            Ok(sd) => sd,
            Err(e) => return Report::rejected(Reason::Malformed, e.to_string()),
        };
        self.verify_parsed_with(&sd, detached, at, &self.policy.path, evidence)
    }

    /// Verifies a parsed SignedData with these certificate-policy settings (the verifier's
    /// own for documents; the RFC 5280 defaults for a TSA's token, whose CA answers to its
    /// own policies, not to the ones a chancellery requires of signers).
    fn verify_parsed(
        &self,
        sd: &SignedData<'_>,
        detached: Option<Content<'_>>,
        at: i64,
        settings: &policy::PathSettings,
    ) -> Report {
        self.verify_parsed_with(sd, detached, at, settings, Evidence::default())
    }

    /// [`Verifier::verify_parsed`] with revocation evidence.
    fn verify_parsed_with(
        &self,
        sd: &SignedData<'_>,
        detached: Option<Content<'_>>,
        at: i64,
        settings: &policy::PathSettings,
        evidence: Evidence<'_>,
    ) -> Report {
        let mut report = Report {
            status: Status::Rejected,
            reasons: Vec::new(),
            // Exact: a SignerReport is large, and a Vec's first growth to four of them is an
            // allocation big enough to make malloc consolidate its free lists every time.
            signers: Vec::with_capacity(sd.signers.len()),
            warnings: Vec::new(),
        };
        if sd.signers.is_empty() {
            report.push(Reason::NoSigners, None, "signerInfos is empty".into());
            return report;
        }
        let attached = match Attached::of(sd) {
            Ok(a) => a,
            Err(e) => return Report::rejected(Reason::Malformed, e.to_string()),
        };
        let content = content_to_check(attached.content(), detached, &mut report);
        let pool = self.carried_certificates(sd, &mut report);
        let carried_crls: Vec<Crl> = sd
            .crls
            .iter()
            .filter_map(|d| Crl::from_der(d).ok())
            .collect();
        let crls: Vec<&Crl> = self
            .trust
            .crls()
            .iter()
            .chain(carried_crls.iter())
            .collect();
        let ocsp = ocsp_offered(&evidence, sd);
        let evidence = Evidence {
            ocsp: &ocsp,
            ..evidence
        };

        for (index, si) in sd.signers.iter().enumerate() {
            let mut findings = Vec::new();
            let mut warnings = Vec::new();
            let mut sr = SignerReport::empty();
            // RFC 3161 tokens first: a valid one fixes when the signature existed.
            let stamp = self.proof_of_existence(si, at, index, &mut findings, &mut report.warnings);
            sr.timestamp = stamp.as_ref().and_then(|p| p.shown());
            sr.tsa_chain = stamp.as_ref().map(|p| p.chain.clone()).unwrap_or_default();
            let env = Env {
                pool: &pool,
                crls: &crls,
                at,
                poe: stamp.map(|p| p.stamp.proven_at(at)),
                settings,
                evidence,
            };
            self.check_signer(sd, si, content, &env, &mut sr, &mut findings, &mut warnings);
            record(
                &mut report,
                index,
                sr,
                findings,
                warnings,
                content.is_some(),
            );
        }
        self.decide(&mut report);
        report
    }

    /// The certificates the signature carries, parsed (through the cache); one that does not
    /// parse is only a warning, since the path may well be built without it.
    fn carried_certificates(
        &self,
        sd: &SignedData<'_>,
        report: &mut Report,
    ) -> Vec<Arc<certificate::Certificate>> {
        let mut pool = Vec::with_capacity(sd.certificates.len());
        for (i, der) in sd.certificates.iter().enumerate() {
            match self.cache.certificate(der) {
                Ok(c) => pool.push(c),
                Err(e) => report.warnings.push(Warning {
                    code: "certificate-unreadable",
                    signer: None,
                    detail: format!("carried certificate {i} ignored: {e}"),
                }),
            }
        }
        pool
    }

    /// Folds the signers' statuses into the verdict under the signer rule (CMS and XML alike).
    fn decide(&self, report: &mut Report) {
        let valid = report
            .signers
            .iter()
            .filter(|s| s.status == SignerStatus::Valid)
            .count();
        let enough = match self.policy.signers {
            SignerRule::All => valid == report.signers.len(),
            SignerRule::AtLeastOne => valid > 0,
        };
        let whole_ok = report.reasons.iter().all(|r| r.signer.is_some());
        if enough && whole_ok {
            report.status = Status::Accepted;
            // Under "at least one", the failures of the others are facts, not grounds.
            for r in std::mem::take(&mut report.reasons) {
                report.warnings.push(Warning {
                    code: "signer-invalid",
                    signer: r.signer,
                    detail: format!("{}: {}", r.code, r.detail),
                });
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_signer(
        &self,
        sd: &SignedData<'_>,
        si: &SignerInfo<'_>,
        content: Option<Content<'_>>,
        env: &Env<'_>,
        sr: &mut SignerReport,
        findings: &mut Vec<Finding>,
        warnings: &mut Vec<String>,
    ) {
        sr.signing_time = si
            .signed_attrs
            .as_ref()
            .and_then(|a| a.signing_time)
            .map(fmt_time);

        let pool = env.pool;
        let Some(cert) = self.find_signer_cert(si, pool) else {
            push(
                findings,
                Reason::CertificateMissing,
                "no carried or trusted certificate matches the signer identifier".into(),
            );
            return;
        };
        describe_signer(sr, &cert);

        let digest = match HashAlg::from_oid(&si.digest_algorithm.oid) {
            Ok(d) => d,
            Err(e) => {
                sr.digest = Some(algorithms::describe(&si.digest_algorithm.oid));
                sr.algorithm = Some(algorithms::describe(&si.signature_algorithm.oid));
                push(findings, Reason::AlgorithmUnsupported, e.to_string());
                return;
            }
        };
        sr.digest = Some(digest.name().into());
        let scheme = match Scheme::for_signer(&si.signature_algorithm, digest)
            .and_then(|s| s.check_digest(digest).map(|()| s))
        {
            Ok(s) => s,
            Err(e) => {
                sr.algorithm = Some(algorithms::describe(&si.signature_algorithm.oid));
                push(findings, Reason::AlgorithmUnsupported, e.to_string());
                return;
            }
        };
        sr.algorithm = Some(scheme.name());

        let signed_message = message::signed_message(sd, si, content, digest, findings);
        if let Some(msg) = signed_message {
            match scheme.verify(&cert.public_key, &msg, &si.signature) {
                Ok(()) => {}
                Err(AlgError::Unsupported(why)) => {
                    push(findings, Reason::AlgorithmUnsupported, why)
                }
                Err(AlgError::Invalid) => push(
                    findings,
                    Reason::SignatureInvalid,
                    format!(
                        "{} signature does not verify with the key of {}",
                        scheme.name(),
                        cert.subject
                    ),
                ),
            }
        }

        bind_certificate(si, &cert, sr, findings);

        self.judge_path(&cert, env, sr, findings, warnings);
    }

    /// The signer certificate's path, revocation and policies (CMS and XML alike).
    fn judge_path(
        &self,
        cert: &Arc<Certificate>,
        env: &Env<'_>,
        sr: &mut SignerReport,
        findings: &mut Vec<Finding>,
        warnings: &mut Vec<String>,
    ) {
        let outcome = path::validate_with_evidence(
            cert,
            env.pool,
            &self.trust,
            env.crls,
            env.at,
            self.policy.revocation,
            &self.cache,
            env.settings,
            env.evidence,
            env.poe,
        );
        sr.unresolved = outcome.unresolved;
        sr.path = outcome.path.iter().map(|c| c.subject.clone()).collect();
        sr.policies = outcome.policies.iter().map(ToString::to_string).collect();
        sr.chain = outcome.path;
        findings.extend(outcome.findings);
        warnings.extend(outcome.warnings);
    }

    /// The certificate the SignerInfo names. When several match (a certificate re-issued for
    /// the same key has the same key identifier), the one the ESS signing-certificate
    /// attribute binds is taken, so a carried look-alike cannot make a valid signature fail.
    fn find_signer_cert(
        &self,
        si: &SignerInfo<'_>,
        pool: &[Arc<Certificate>],
    ) -> Option<Arc<Certificate>> {
        let matches = |c: &&Arc<Certificate>| match &si.sid {
            SignerId::IssuerAndSerial { issuer, serial } => {
                c.issuer_raw.as_slice() == *issuer && c.serial.as_slice() == *serial
            }
            SignerId::SubjectKeyId(ski) => c.subject_key_id.as_deref() == Some(*ski),
        };
        let bound = |c: &&Arc<Certificate>| {
            si.signed_attrs
                .iter()
                .flat_map(|a| &a.signing_certificates)
                .all(|sc| cades::check(sc, c).is_ok())
        };
        let mut candidates = pool.iter().chain(self.trust.anchors()).filter(matches);
        let first = candidates.clone().next();
        candidates.find(bound).or(first).cloned()
    }
}

/// RFC 5035: the certificate used must be the one the signed attributes bind (ESS
/// signing-certificate v1 or v2), when they bind one.
fn bind_certificate(
    si: &SignerInfo<'_>,
    cert: &Certificate,
    sr: &mut SignerReport,
    findings: &mut Vec<Finding>,
) {
    for sc in si.signed_attrs.iter().flat_map(|a| &a.signing_certificates) {
        sr.signing_certificate = Some(sc.version.name());
        let (reason, e) = match cades::check(sc, cert) {
            Ok(()) => continue,
            Err(e @ cades::CadesError::UnknownHash(_)) => (Reason::AlgorithmUnsupported, e),
            Err(e) => (Reason::SignatureInvalid, e),
        };
        findings.push(Finding {
            reason,
            detail: e.to_string(),
        });
    }
}

/// What every signer of one SignedData is judged against.
struct Env<'a> {
    /// The certificates the SignedData carries, parsed.
    pool: &'a [Arc<Certificate>],
    /// The trust store's CRLs and the carried ones.
    crls: &'a [&'a Crl],
    /// The validation time.
    at: i64,
    /// When a time-stamp proves the signature existed, if one does ([`timestamp::apply`]).
    poe: Option<i64>,
    /// Certificate-policy settings.
    settings: &'a policy::PathSettings,
    /// OCSP responses at hand, carried and handed in.
    evidence: Evidence<'a>,
}

/// Attached content as verification takes it: bytes when they lie in one piece or a signer
/// without signed attributes needs them whole (its signature is over the content itself),
/// otherwise the digests its signers need, taken over the BER segments where they lie, so
/// that attached content as large as the input costs no copy of itself.
enum Attached<'a> {
    /// Detached signature: nothing attached.
    None,
    /// The content in one slice.
    Bytes(std::borrow::Cow<'a, [u8]>),
    /// Digests of segmented content.
    Digests(ContentDigests),
}

impl<'a> Attached<'a> {
    fn of(sd: &SignedData<'a>) -> Result<Self, asn1::Asn1Error> {
        let Some(e) = &sd.econtent else {
            return Ok(Attached::None);
        };
        if e.is_primitive() || sd.signers.iter().any(|s| s.signed_attrs.is_none()) {
            return Ok(Attached::Bytes(e.join()?));
        }
        Ok(Attached::Digests(
            e.digests(&content::signers_algorithms(sd))?,
        ))
    }

    fn content(&self) -> Option<Content<'_>> {
        match self {
            Attached::None => None,
            Attached::Bytes(b) => Some(Content::Bytes(b)),
            Attached::Digests(d) => Some(Content::Digests(d)),
        }
    }
}

/// The content the signatures are checked against: the attached content, or else the content
/// supplied. Both present and different is `content-mismatch` (the attached one is checked,
/// RFC 5652 §5.2); neither is `content-missing`.
fn content_to_check<'a>(
    attached: Option<Content<'a>>,
    detached: Option<Content<'a>>,
    report: &mut Report,
) -> Option<Content<'a>> {
    match (attached, detached) {
        (Some(attached), Some(given)) if !given.same_as(&attached) => {
            report.push(
                Reason::ContentMismatch,
                None,
                "the signature carries content that differs from the content supplied".into(),
            );
            Some(attached)
        }
        (Some(c), _) => Some(c),
        (None, Some(c)) => Some(c),
        (None, None) => {
            report.push(
                Reason::ContentMissing,
                None,
                "detached signature and no content supplied".into(),
            );
            None
        }
    }
}

/// The OCSP responses on offer: those fetched for this submission, then those the signature
/// carries. Carried responses that do not parse are ignored: evidence offered, not owed.
fn ocsp_offered(evidence: &Evidence<'_>, sd: &SignedData<'_>) -> Vec<Arc<ocsp::Response>> {
    evidence
        .ocsp
        .iter()
        .cloned()
        .chain(
            sd.ocsp
                .iter()
                .filter_map(|d| ocsp::Response::from_der(d).ok().map(Arc::new)),
        )
        .collect()
}
