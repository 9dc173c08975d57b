//! Re-checking accepted documents' verdicts offline, from an exported package: the pure
//! verifier runs again on each document's signature and content, at the time the document was
//! received (its entry's `at`), with the evidence kept with it ([`super::evidence`]) as its
//! only trust anchors, CRLs and OCSP responses — no trust directory, no network. A document
//! is named, with its registration number, when a signer its entry records as valid is not
//! valid again.
//!
//! The re-check runs under the signer rule "at least one" and compares signer by signer
//! (every signer the entry records as valid must be valid again), so the service's own rule
//! needs no configuration here. The revocation mode, certificate-policy settings and OCSP
//! window are those kept with the document ([`super::settings`]), never today's nor the
//! verifier's defaults; a document filed before they were kept is judged under RFC 5280's
//! defaults, its revocation mode inferred from its receipt and evidence.

use super::audit::{AuditFailure, AuditReport, fail};
use super::evidence::{self, CERTIFICATE, CRL, OCSP, SETTINGS};
use super::log::{Entry, Event, FileRef, SignerSummary};
use super::settings::Settings;
use crate::reasons::Reason;
use crate::verify::certificate::Certificate;
use crate::verify::ocsp::{Response, Window};
use crate::verify::revocation::Crl;
use crate::verify::{
    Content, Evidence, Policy, Report, RevocationPolicy, SignerRule, SignerStatus, TrustStore,
    Verifier,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

/// Verifiers kept for reuse across documents that name the same evidence (most do: one
/// anchor, one CRL per CA); beyond this many distinct sets the memo starts afresh.
const MAX_VERIFIERS: usize = 64;

/// The verifier's warning that a certificate's revocation status went unestablished.
const UNCHECKED: &str = "revocation-unchecked";

/// A file of the package (or piece of evidence) the re-check needs could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct LoadError {
    /// The file, relative to the package.
    pub path: String,
    /// Why it could not be read.
    #[source]
    pub source: std::io::Error,
}

/// Why a document's verdict was not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum RecheckError {
    /// A file the re-check needs could not be read.
    #[error(transparent)]
    Missing(#[from] LoadError),
    /// The entry's time of receipt, the validation time, is not RFC 3339.
    #[error("entry time {0:?} is not RFC 3339")]
    BadTime(String),
    /// An accepted, kept entry names no evidence although an earlier entry did: evidence
    /// stopped being recorded, so its verdict cannot be re-checked.
    #[error("it carries no evidence, though earlier entries did")]
    NoEvidence,
    /// A piece of evidence does not parse as what its role says.
    #[error("{role} evidence {sha256} does not parse: {why}")]
    Unreadable {
        /// Its role.
        role: String,
        /// Its SHA-256, hex.
        sha256: String,
        /// The parser's complaint.
        why: String,
    },
    /// The verifier, given the kept evidence, does not find a signer valid that the entry
    /// records as valid.
    #[error("the verdict does not hold on the kept evidence: signer {signer}: {why}")]
    Verdict {
        /// The signer's index.
        signer: usize,
        /// The codes and details found.
        why: String,
    },
}

/// How a verdict held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// Signature, paths and revocation, all from the kept evidence.
    Fully,
    /// All but revocation: the document was accepted without revocation evidence (its
    /// receipt says `revocation-unchecked`, or the service ran with revocation off).
    WithoutRevocation,
}

/// One accepted document as the re-check takes it.
#[derive(Debug, Clone, Copy)]
pub struct Document<'a> {
    /// The signature file.
    pub signature: &'a [u8],
    /// The detached content, if any.
    pub content: Option<&'a [u8]>,
    /// The entry's evidence references.
    pub evidence: &'a [FileRef],
    /// When it was received (Unix seconds): the validation time.
    pub at: i64,
    /// The signers as the entry records them.
    pub signers: &'a [SignerSummary],
    /// Whether its receipt says revocation went unchecked (`--revocation prefer`).
    pub revocation_unchecked: bool,
}

/// The re-check, with its memo of verifiers by evidence set.
#[derive(Debug, Default)]
pub struct Rechecker {
    verifiers: HashMap<(Vec<String>, u8), Built>,
    /// The distinct trust anchors the verdicts rested on: SHA-256 (hex) to subject.
    anchors: BTreeMap<String, String>,
}

/// A verifier over one evidence set, and the OCSP responses of that set.
#[derive(Debug, Clone)]
struct Built {
    verifier: Arc<Verifier>,
    ocsp: Vec<Arc<Response>>,
    /// Its anchors, as (SHA-256 hex, subject).
    anchors: Vec<(String, String)>,
}

impl Rechecker {
    /// Re-checks one document; `load` reads a piece of evidence's bytes. The settings kept
    /// with it (role `settings`) decide the revocation mode, the certificate-policy settings
    /// and the OCSP window; a document filed before settings were kept is judged by
    /// [`Rechecker::check_unrecorded`].
    pub fn check(
        &mut self,
        doc: &Document<'_>,
        load: &mut dyn FnMut(&FileRef) -> Result<Vec<u8>, LoadError>,
    ) -> Result<Held, RecheckError> {
        let Some(settings) = recorded_settings(doc.evidence, load)? else {
            return self.check_unrecorded(doc, load);
        };
        let report = self.run(doc, &settings, settings.revocation(), load)?;
        confirm(doc, &report)?;
        // Under `require` every certificate's status was established (the verifier rejects
        // otherwise), so missing revocation evidence fails above rather than passing here.
        // Under `prefer` a status the receipt says was checked must be checked again: the
        // evidence lacking it cannot pass for a document accepted without it.
        let unchecked = report.warnings.iter().find(|w| w.code == UNCHECKED);
        match (settings.revocation(), unchecked) {
            (RevocationPolicy::Off, _) => Ok(Held::WithoutRevocation),
            (_, None) => Ok(Held::Fully),
            (_, Some(_)) if doc.revocation_unchecked => Ok(Held::WithoutRevocation),
            (_, Some(w)) => Err(RecheckError::Verdict {
                signer: w.signer.unwrap_or(0),
                why: format!(
                    "its receipt says revocation was checked, but the kept evidence does not \
                     establish it: {}",
                    w.detail
                ),
            }),
        }
    }

    /// The re-check of a document filed before its settings were kept: RFC 5280's default
    /// certificate-policy settings and the default OCSP window; revocation required unless
    /// its receipt says revocation went unchecked, or nothing about revocation was kept at all
    /// (then the service is taken to have run with revocation off).
    pub fn check_unrecorded(
        &mut self,
        doc: &Document<'_>,
        load: &mut dyn FnMut(&FileRef) -> Result<Vec<u8>, LoadError>,
    ) -> Result<Held, RecheckError> {
        let defaults = Settings::of(&Policy::default(), Window::default());
        let revocation = if doc.revocation_unchecked {
            RevocationPolicy::Prefer
        } else {
            RevocationPolicy::Require
        };
        let first = self.run(doc, &defaults, revocation, load)?;
        let Err(e) = confirm(doc, &first) else {
            return Ok(if doc.revocation_unchecked {
                Held::WithoutRevocation
            } else {
                Held::Fully
            });
        };
        // Nothing about revocation was kept and only revocation is missing: the service ran
        // with revocation off, and the rest is what can be confirmed.
        let recorded = doc.evidence.iter().any(|f| f.role == CRL || f.role == OCSP);
        let only_revocation = first
            .reasons
            .iter()
            .all(|r| r.code == Reason::RevocationUnavailable);
        if recorded || !only_revocation || doc.revocation_unchecked {
            return Err(e);
        }
        let off = self.run(doc, &defaults, RevocationPolicy::Off, load)?;
        confirm(doc, &off).map(|()| Held::WithoutRevocation)
    }

    /// Runs the verifier under `settings` with `revocation` (memoised by evidence set and
    /// mode, except when off without recorded settings: that run is once per document at
    /// most).
    fn run(
        &mut self,
        doc: &Document<'_>,
        settings: &Settings,
        revocation: RevocationPolicy,
        load: &mut dyn FnMut(&FileRef) -> Result<Vec<u8>, LoadError>,
    ) -> Result<Report, RecheckError> {
        let memo = revocation != RevocationPolicy::Off || settings.revocation() == revocation;
        let mut names: Vec<String> = doc.evidence.iter().map(|f| f.sha256.clone()).collect();
        names.sort();
        let key = (names, mode_key(revocation));
        let built = match self.verifiers.get(&key) {
            Some(b) if memo => b.clone(),
            _ => {
                let b = build(doc.evidence, settings, revocation, load)?;
                self.anchors.extend(b.anchors.iter().cloned());
                if self.verifiers.len() >= MAX_VERIFIERS {
                    self.verifiers.clear();
                }
                if memo {
                    self.verifiers.insert(key, b.clone());
                }
                b
            }
        };
        let evidence = Evidence {
            ocsp: &built.ocsp,
            ocsp_window: settings.window(),
        };
        let report = built.verifier.verify_with(
            doc.signature,
            doc.content.map(Content::Bytes),
            doc.at,
            evidence,
        );
        Ok(report)
    }
}

/// The memo key of a revocation mode (the evidence names include the settings' hash, so the
/// same names with the same mode always mean the same verifier).
fn mode_key(r: RevocationPolicy) -> u8 {
    match r {
        RevocationPolicy::Require => 0,
        RevocationPolicy::Prefer => 1,
        RevocationPolicy::Off => 2,
    }
}

/// The settings kept with a document, if any (at most one blob may name them: two would
/// leave the verdict's basis ambiguous).
fn recorded_settings(
    files: &[FileRef],
    load: &mut dyn FnMut(&FileRef) -> Result<Vec<u8>, LoadError>,
) -> Result<Option<Settings>, RecheckError> {
    let mut found = files.iter().filter(|f| f.role == SETTINGS);
    let Some(f) = found.next() else {
        return Ok(None);
    };
    let bad = |why: String| RecheckError::Unreadable {
        role: f.role.clone(),
        sha256: f.sha256.clone(),
        why,
    };
    if found.next().is_some() {
        return Err(bad("the entry names more than one settings blob".into()));
    }
    let bytes = load(f)?;
    Settings::from_bytes(&bytes)
        .map(Some)
        .map_err(|e| bad(e.to_string()))
}

/// A verifier whose only trust is the evidence: its certificates the anchors, its CRLs the
/// store's, its OCSP responses handed in beside each signature; its certificate-policy
/// settings those of `settings`.
fn build(
    files: &[FileRef],
    settings: &Settings,
    revocation: RevocationPolicy,
    load: &mut dyn FnMut(&FileRef) -> Result<Vec<u8>, LoadError>,
) -> Result<Built, RecheckError> {
    let mut anchors = Vec::new();
    let mut names = Vec::new();
    let mut crls = Vec::new();
    let mut ocsp = Vec::new();
    for f in files {
        let bad = |why: String| RecheckError::Unreadable {
            role: f.role.clone(),
            sha256: f.sha256.clone(),
            why,
        };
        if f.role == SETTINGS {
            // Read once already, by `recorded_settings`.
            continue;
        }
        let der = load(f)?;
        match f.role.as_str() {
            CERTIFICATE => {
                let cert = Certificate::from_der(&der).map_err(|e| bad(e.to_string()))?;
                names.push((f.sha256.clone(), cert.subject.clone()));
                anchors.push(cert)
            }
            CRL => crls.push(Crl::from_der(&der).map_err(|e| bad(e.to_string()))?),
            OCSP => ocsp.push(Arc::new(
                Response::from_der(&der).map_err(|e| bad(e.to_string()))?,
            )),
            other => return Err(bad(format!("unknown role {other:?}"))),
        }
    }
    let path = settings.path().map_err(|e| RecheckError::Unreadable {
        role: SETTINGS.into(),
        sha256: String::new(),
        why: e.to_string(),
    })?;
    let policy = Policy {
        revocation,
        signers: SignerRule::AtLeastOne,
        path,
    };
    Ok(Built {
        verifier: Arc::new(Verifier::new(TrustStore::new(anchors, crls), policy)),
        ocsp,
        anchors: names,
    })
}

/// Every signer the entry records as valid is valid in `report`, with the same certificate.
fn confirm(doc: &Document<'_>, report: &Report) -> Result<(), RecheckError> {
    for (i, want) in doc.signers.iter().enumerate() {
        if want.status != SignerStatus::Valid.as_str() {
            continue;
        }
        let got = report.signers.get(i);
        let same_cert = got.is_some_and(|g| g.certificate_sha256 == want.certificate_sha256);
        if got.is_some_and(|g| g.status == SignerStatus::Valid) && same_cert {
            continue;
        }
        let mut why: Vec<String> = report
            .reasons
            .iter()
            .filter(|r| r.signer == Some(i) || r.signer.is_none())
            .map(|r| format!("{}: {}", r.code.code(), r.detail))
            .collect();
        why.extend(
            report
                .warnings
                .iter()
                .filter(|w| w.signer == Some(i) && w.code == "signer-invalid")
                .map(|w| w.detail.clone()),
        );
        if !same_cert {
            why.push("the signer's certificate differs from the one the entry records".into());
        }
        return Err(RecheckError::Verdict {
            signer: i,
            why: why.join("; "),
        });
    }
    Ok(())
}

/// Re-checks every kept accepted document of the package in `dir` (whose `entries` the replay
/// has already found intact, evidence hashes included). Counts them in `report`; the first
/// document whose verdict does not hold is the failure, naming the others too.
pub fn package(
    dir: &Path,
    entries: &[Vec<u8>],
    report: &mut AuditReport,
) -> Result<(), AuditFailure> {
    // Entries are decoded again per pass rather than held decoded: the package may be large.
    let decode = |i: usize, b: &[u8]| {
        Entry::decode(b).map_err(|e| fail(Some(i as u64), None, format!("entry {i}: {e}")))
    };
    let mut disposed = HashSet::new();
    for (i, b) in entries.iter().enumerate() {
        if let Event::Disposed { registration, .. } = decode(i, b)?.event {
            disposed.insert(registration);
        }
    }
    let mut checker = Rechecker::default();
    let (mut predating, mut without, mut kept) = (0u64, 0u64, false);
    let mut failed: Vec<(Entry, RecheckError)> = Vec::new();
    for (i, b) in entries.iter().enumerate() {
        let entry = decode(i, b)?;
        let Event::Accepted {
            registration,
            evidence,
            ..
        } = &entry.event
        else {
            continue;
        };
        let empty = evidence.is_empty();
        // Once one entry carried evidence, every later one must: a build that stopped
        // recording it must not pass as documents filed before evidence was kept.
        let stopped = empty && kept;
        kept |= !empty;
        if disposed.contains(registration.as_str()) {
            continue;
        }
        let held = match (stopped, empty) {
            (true, _) => Err(RecheckError::NoEvidence),
            (false, true) => {
                predating += 1;
                continue;
            }
            (false, false) => one(dir, &entry, &mut checker),
        };
        match held {
            Ok(Held::Fully) => report.rechecked += 1,
            Ok(Held::WithoutRevocation) => {
                report.rechecked += 1;
                without += 1;
            }
            Err(e) => failed.push((entry, e)),
        }
    }
    notes(report, &checker, predating, without);
    let Some((first, e)) = failed.first() else {
        return Ok(());
    };
    let mut what = e.to_string();
    let others: Vec<&str> = failed
        .iter()
        .skip(1)
        .filter_map(|(e, _)| match &e.event {
            Event::Accepted { registration, .. } => Some(registration.as_str()),
            _ => None,
        })
        .collect();
    if !others.is_empty() {
        what.push_str(&format!(
            "; the verdicts of {} do not hold either",
            others.join(", ")
        ));
    }
    Err(fail(Some(first.index), Some(first), what))
}

/// The re-check's notes: documents filed before evidence was kept, those re-checked without
/// revocation, and the anchors the verdicts rest on (so an auditor can compare them with the
/// official CA list: the re-check trusts what the service recorded).
fn notes(report: &mut AuditReport, checker: &Rechecker, predating: u64, without: u64) {
    if predating > 0 {
        report.note(format!(
            "{predating} accepted documents were filed before evidence was kept: their \
             verdicts were not re-checked"
        ));
    }
    if without > 0 {
        report.note(format!(
            "{without} accepted documents were re-checked without revocation: their receipts \
             say revocation went unchecked, or the service ran with revocation off"
        ));
    }
    if !checker.anchors.is_empty() {
        let list: Vec<String> = checker
            .anchors
            .iter()
            .map(|(sha, subject)| format!("{subject} (SHA-256 {sha})"))
            .collect();
        // Kept past the notes' cap: without it "verdicts hold" says nothing checkable.
        report.notes.push(format!(
            "the verdicts rest on the trust anchors the service recorded: {}",
            list.join("; ")
        ));
        report.notes_total += 1;
    }
}

/// Re-checks one accepted entry's document from the package.
fn one(dir: &Path, entry: &Entry, checker: &mut Rechecker) -> Result<Held, RecheckError> {
    let Event::Accepted {
        receipt_id,
        files,
        signers,
        evidence,
        ..
    } = &entry.event
    else {
        return Ok(Held::Fully);
    };
    let read =
        |path: String| std::fs::read(dir.join(&path)).map_err(|source| LoadError { path, source });
    let doc = format!("documents/{}", entry.index);
    let signature = read(format!("{doc}/signature.p7s"))?;
    let content = match files.iter().any(|f| f.role == "content") {
        true => Some(read(format!("{doc}/content.bin"))?),
        false => None,
    };
    let receipt = read(format!("receipts/{receipt_id}.p7s"))?;
    let at =
        super::log::parse_time(&entry.at).ok_or_else(|| RecheckError::BadTime(entry.at.clone()))?;
    let d = Document {
        signature: &signature,
        content: content.as_deref(),
        evidence,
        at,
        signers,
        revocation_unchecked: warns_unchecked(&receipt),
    };
    let mut load = |f: &FileRef| read(format!("evidence/{}", evidence::file_name(f)));
    checker.check(&d, &mut load)
}

/// Whether a receipt (DER CMS over its JSON body) warns that revocation went unchecked.
fn warns_unchecked(receipt: &[u8]) -> bool {
    crate::verify::cms::parse(receipt)
        .ok()
        .and_then(|sd| sd.content.map(|c| c.into_owned()))
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("warnings").and_then(|w| w.as_array()).cloned())
        .is_some_and(|w| {
            w.iter()
                .any(|w| w.get("code").and_then(|c| c.as_str()) == Some(UNCHECKED))
        })
}
