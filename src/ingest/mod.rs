//! The one pipeline: submission → decide (policy, verify) → file (one atomic append) → durable
//! → signed receipt. The CLI and the HTTP service both call [`Ingest::submit`] and nothing else.

use crate::archive::log::{Event, FileRef, SignerSummary};
use crate::archive::{Archive, ArchiveError, Built, Position};
use crate::policy::ArchivePolicy;
use crate::reasons::Reason;
use crate::receipt::body::{ArchiveRef, CaseRef, ReasonLine, ReceiptBody, Registration};
use crate::spool::Spooled;
use crate::verify::algorithms::HashAlg;
use crate::verify::certificate::hex;
use crate::verify::content::digest_algorithms;
use crate::verify::{Content, Report, Status};
use digests::Digests;

mod digests;

/// Largest signature file plus content accepted; beyond it, `policy-violation`.
pub const MAX_SUBMISSION: usize = 64 * 1024 * 1024;

/// What arrived.
#[derive(Debug, Clone, Copy)]
pub struct Submission<'a> {
    /// Case index the sender files to.
    pub case: &'a str,
    /// The CMS signature file.
    pub signature: &'a [u8],
    /// Detached content, if any.
    pub content: Option<Payload<'a>>,
    /// The sender's reference.
    pub sender_ref: Option<&'a str>,
    /// When it arrived (Unix seconds); also the validation time.
    pub received_at: i64,
    /// The principal that submitted it (the service's callers; `None` from the CLI).
    pub submitter: Option<&'a str>,
}

/// Detached content as it arrived: in memory, or spooled to disk when large (it is then read
/// in pieces and never held whole).
#[derive(Debug, Clone, Copy)]
pub enum Payload<'a> {
    /// The bytes.
    Bytes(&'a [u8]),
    /// A file in the incoming tray, or the caller's own file.
    Spooled(&'a Spooled),
}

impl Payload<'_> {
    /// Size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Payload::Bytes(b) => b.len() as u64,
            Payload::Spooled(s) => s.len(),
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Content as received: in memory up to [`crate::spool::IN_MEMORY`] bytes, beyond that in a
/// file read in pieces. Owns what [`Payload`] borrows.
#[derive(Debug)]
pub enum Received {
    /// Small content.
    Memory(Vec<u8>),
    /// Large content, on disk.
    Spooled(Spooled),
}

impl Received {
    /// As the pipeline takes it.
    pub fn payload(&self) -> Payload<'_> {
        match self {
            Received::Memory(b) => Payload::Bytes(b),
            Received::Spooled(s) => Payload::Spooled(s),
        }
    }
}

/// The answer to a submission.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Accepted or rejected.
    pub status: Status,
    /// Receipt id.
    pub receipt_id: String,
    /// The signed receipt (DER CMS); its content is the JSON body.
    pub receipt: Vec<u8>,
    /// Whether this was a retry answered with the receipt already issued.
    pub replay: bool,
    /// The rejection's reason codes (none when accepted).
    pub reasons: Vec<Reason>,
}

impl Outcome {
    /// The receipt's JSON body.
    pub fn body(&self) -> Vec<u8> {
        crate::verify::cms::parse(&self.receipt)
            .ok()
            .and_then(|sd| sd.content.map(|c| c.into_owned()))
            .unwrap_or_default()
    }
}

/// Why a submission could not be answered with a receipt (the archive could not commit). The
/// sender gets no receipt and retries; nothing is ever half-filed, but only some of these
/// failures can promise that nothing was filed ([`IngestError::outcome_unknown`]).
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The archive failed before the filing was applied: nothing was filed.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// The filing was applied but could not be made durable (the checkpoint or the sync
    /// failed). A later sync may still make it durable, and a crash may still lose it, so
    /// whether it is kept is unknown; a retry of the same submission answers with its receipt
    /// once the archive can commit, or files it afresh if it was lost.
    #[error("the filing was written but not made durable: {0}")]
    NotDurable(ArchiveError),
    /// Signing the receipt failed.
    #[error(transparent)]
    Receipt(#[from] crate::receipt::ReceiptError),
    /// Spooled content could not be read back.
    #[error("reading the spooled content: {0}")]
    Spool(#[from] std::io::Error),
    /// Not decided: only revocation information that may be there later is missing. Nothing
    /// was filed and no receipt stored, so the sender's retry gets a real verdict.
    #[error("not decided yet: no current revocation information for {}", .0.join("; "))]
    Indeterminate(Vec<String>),
}

/// The verifier that decided a submission and the OCSP responses fetched for it: what its
/// evidence is drawn from (`None` when the policy refused it before any verification).
type Basis = Option<(
    std::sync::Arc<crate::verify::Verifier>,
    Vec<std::sync::Arc<crate::verify::ocsp::Response>>,
)>;

/// The pipeline's parts.
#[derive(Debug)]
pub struct Ingest {
    /// Signature verification: the verifier in use, swapped when CRLs are refreshed.
    pub verifier: crate::fetch::live::LiveTrust,
    /// The nomenclature.
    pub policy: ArchivePolicy,
    /// The archive.
    pub archive: Archive,
    /// Where large detached content is spooled while it is verified and filed.
    pub incoming: std::path::PathBuf,
    /// OCSP look-ups for certificates the trust store's CRLs leave without status; `None`
    /// when off (`[revocation] ocsp`).
    pub ocsp: Option<crate::fetch::ocsp::Fetcher>,
}

/// The calendar year (UTC) of a Unix time.
fn year_of(t: i64) -> i64 {
    crate::verify::asn1::civil_from_days(t.div_euclid(86_400)).0
}

impl IngestError {
    /// Whether the submission may have been filed: the sender must not be told that nothing
    /// was, only to retry (the retry returns the receipt, by idempotency, if it was kept).
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, IngestError::NotDurable(_))
    }
}

impl Ingest {
    /// Runs the pipeline for one submission.
    pub fn submit(&self, s: &Submission<'_>) -> Result<Outcome, IngestError> {
        // Spooled content is read once, here, for every digest verification and the receipt
        // id need; filing reads it once more, chunk by chunk.
        let spooled = match s.content {
            Some(Payload::Spooled(sp)) => Some(sp.digests(&digest_algorithms(s.signature))?),
            _ => None,
        };
        let content = match (s.content, &spooled) {
            (Some(Payload::Bytes(b)), _) => Some(Content::Bytes(b)),
            (Some(Payload::Spooled(_)), Some(d)) => Some(Content::Digests(d)),
            _ => None,
        };
        let digests = Digests::of(s, content.and_then(|c| c.digest(HashAlg::Sha256)));
        let id = digests.receipt_id(s);
        if let Some(receipt) = self.archive.receipt(&id)? {
            // A retry: the first answer may not have reached the sender. Make sure what it
            // says is durable before saying it again — up to the stored head, not this
            // archive's own: another frontend may have filed it, and died before its sync.
            self.archive
                .make_stored_receipt_durable(&id, &receipt)
                .map_err(IngestError::NotDurable)?;
            return Ok(self.outcome(id, receipt, true));
        }
        let (report, basis) = self.decide(s, content);
        if report.indeterminate() {
            // Where the signers' CAs publish their CRLs, for the refresh to fetch before the
            // sender's retry.
            self.verifier.learn(s.signature);
            let missing = report.missing_revocation();
            return Err(IngestError::Indeterminate(
                missing.into_iter().map(str::to_owned).collect(),
            ));
        }
        let (receipt, replay) = self.file(s, &id, &report, &basis, &digests)?;
        if replay {
            return Ok(self.outcome(id, receipt, true));
        }
        Ok(Outcome {
            status: report.status,
            receipt_id: id,
            receipt,
            replay: false,
            reasons: report.codes(),
        })
    }

    /// Files a decided submission and makes the filing durable: the receipt and whether it
    /// was already issued (a concurrent retry filed it first). The slow work (evidence,
    /// hashing, compression) is done before the writer lock; only the append happens under it.
    fn file(
        &self,
        s: &Submission<'_>,
        id: &str,
        report: &Report,
        basis: &Basis,
        digests: &Digests,
    ) -> Result<(Vec<u8>, bool), IngestError> {
        // What decided the verdict, filed with the document.
        let window = self.ocsp.as_ref().map(|f| f.window()).unwrap_or_default();
        let evidence = evidence_of(report, basis, window);
        let staged = self.archive.stage_evidence(&evidence)?;
        let blobs = if report.status == Status::Accepted {
            self.prepare_blobs(s, digests)?
        } else {
            Vec::new()
        };
        let filing = Filing {
            s,
            id,
            report,
            digests,
            evidence: &evidence,
        };
        // Asked before the build: a receipt that cannot be signed fails every filing queued
        // behind it (`archive/pipeline.rs`).
        self.archive
            .signer()
            .covers(s.received_at)
            .map_err(|e| ArchiveError::Refused(e.to_string()))?;
        let appended = self.archive.append_receipted(
            |txn| {
                if let Some(existing) = txn.receipt(id)? {
                    return Ok(Built::Found(existing));
                }
                let body = self.record(txn, &filing, blobs, staged)?;
                let id = id.to_owned();
                Ok(Built::ToSign { id, body })
            },
            |body: ReceiptBody| {
                let signer = self.archive.signer();
                signer
                    .sign(&body.encode(), s.received_at)
                    .map_err(|e| ArchiveError::Refused(e.to_string()))
            },
        );
        let (answer, upto) = match appended {
            // The same submission is being filed by another request: its receipt is the
            // answer, once that filing is applied.
            Err(ArchiveError::InFlight) => return self.filed_meanwhile(id),
            other => other?,
        };
        // From here on the filing is applied: a failure can no longer say "nothing was filed".
        // A receipt found rather than filed (a concurrent retry filed it first) must still be
        // stored once durable: it may have been read from a batch whose turn was lost.
        let (receipt, replay) = &answer;
        let durable = if *replay {
            self.archive.make_read_receipt_durable(upto, id, receipt)
        } else {
            self.archive.make_durable(upto)
        };
        durable.map_err(IngestError::NotDurable)?;
        Ok(answer)
    }

    /// The document's files, compressed ready for filing under the SHA-256 values `digests`
    /// already holds: the signature, then the detached content (spooled content is staged
    /// chunk by chunk, never held whole).
    fn prepare_blobs(
        &self,
        s: &Submission<'_>,
        digests: &Digests,
    ) -> Result<Vec<crate::archive::blobs::Prepared>, ArchiveError> {
        use crate::archive::blobs::prepare_hashed;
        let mut blobs = vec![prepare_hashed(s.signature, digests.signature)?];
        match s.content {
            Some(Payload::Bytes(c)) => blobs.push(prepare_hashed(c, digests.content_sha256()?)?),
            Some(Payload::Spooled(sp)) => {
                blobs.push(self.archive.stage_spooled(sp, &digests.content)?);
            }
            None => {}
        }
        Ok(blobs)
    }

    /// Under the writer lock: the event (with the files and evidence of an acceptance), the
    /// submitter, and the receipt's body, which names the event's position and so can only be
    /// made here (it is signed once the lock is let go).
    fn record(
        &self,
        txn: &mut crate::archive::Txn<'_>,
        f: &Filing<'_>,
        blobs: Vec<crate::archive::blobs::Prepared>,
        staged: crate::archive::evidence::Staged,
    ) -> Result<ReceiptBody, ArchiveError> {
        let s = f.s;
        let files = f.digests.file_refs(s);
        let signers = summaries(f.report);
        let (event, registration) = if f.report.status == Status::Accepted {
            for blob in blobs {
                txn.put_blob(blob)?;
            }
            let evidence = crate::archive::evidence::file(txn, f.evidence, staged)?;
            let reg = register(txn, s)?;
            let event = Event::Accepted {
                receipt_id: f.id.to_owned(),
                case: s.case.to_owned(),
                registration: reg.number.clone(),
                registration_date: reg.date.clone(),
                files: files.clone(),
                signers: signers.clone(),
                sender_ref: s.sender_ref.map(str::to_owned),
                evidence,
            };
            (event, Some(reg))
        } else {
            let event = Event::Rejected {
                receipt_id: f.id.to_owned(),
                case: s.case.to_owned(),
                files: files.clone(),
                reasons: f
                    .report
                    .codes()
                    .iter()
                    .map(|c| c.code().to_owned())
                    .collect(),
                sender_ref: s.sender_ref.map(str::to_owned),
            };
            (event, None)
        };
        let pos = txn.push(event, s.received_at);
        if let Some(who) = s.submitter {
            txn.set_submitter(f.id, who);
        }
        let title = self.policy.case(s.case).map(|c| c.title.clone());
        Ok(self.body(f.id, s, f.report, title, registration, files, signers, pos))
    }

    /// The answer to a submission found being filed by another request: its receipt, once
    /// that filing is applied and durable; "try later" if it failed (nothing was filed).
    fn filed_meanwhile(&self, id: &str) -> Result<(Vec<u8>, bool), IngestError> {
        let Some(receipt) = self.archive.receipt_once_filed(id)? else {
            return Err(IngestError::Archive(ArchiveError::Store(
                crate::archive::store::StoreError::Unwritable(format!(
                    "the filing of {id} under way when it was sent again failed; retry"
                )),
            )));
        };
        self.archive
            .make_stored_receipt_durable(id, &receipt)
            .map_err(IngestError::NotDurable)?;
        Ok((receipt, true))
    }

    /// The outcome of a retry, read from the receipt already issued (its signed body is the
    /// only record of the verdict then).
    fn outcome(&self, receipt_id: String, receipt: Vec<u8>, replay: bool) -> Outcome {
        let body = crate::verify::cms::parse(&receipt)
            .ok()
            .and_then(|sd| sd.content.map(|c| c.into_owned()))
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .unwrap_or_default();
        let accepted = body.get("status").and_then(|s| s.as_str()) == Some("accepted");
        let reasons = body
            .get("reasons")
            .and_then(|r| r.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.get("code").and_then(|c| c.as_str()))
                    .filter_map(Reason::from_code)
                    .collect()
            })
            .unwrap_or_default();
        Outcome {
            status: if accepted {
                Status::Accepted
            } else {
                Status::Rejected
            },
            reasons,
            receipt_id,
            receipt,
            replay,
        }
    }

    /// Policy first (a case closed before the year of receipt is refused whatever the
    /// signature), then the signature. A case closed in year Y takes documents received in Y:
    /// the nomenclature closes cases at the end of the year, and a document received on
    /// 30 December belongs to that year's case.
    fn decide(&self, s: &Submission<'_>, content: Option<Content<'_>>) -> (Report, Basis) {
        let size = (s.signature.len() as u64).saturating_add(s.content.map_or(0, |c| c.len()));
        let refused = match self.policy.case(s.case) {
            _ if size > MAX_SUBMISSION as u64 => Report::rejected(
                Reason::PolicyViolation,
                format!("submission of {size} bytes exceeds the limit of {MAX_SUBMISSION}"),
            ),
            None => Report::rejected(
                Reason::PolicyViolation,
                format!("no case {:?} in the nomenclature", s.case),
            ),
            Some(c)
                if c.closed
                    .is_some_and(|y| year_of(s.received_at) > i64::from(y)) =>
            {
                Report::rejected(
                    Reason::PolicyViolation,
                    format!(
                        "case {} was closed in {}",
                        c.index,
                        c.closed.unwrap_or_default()
                    ),
                )
            }
            Some(_) => return self.verify(s, content),
        };
        (refused, None)
    }

    /// Verifies; when some certificate's status is unknown and OCSP is configured, asks the
    /// responders about those certificates and verifies again with their answers. A responder
    /// that cannot be reached or whose answer is not usable is named among what is missing,
    /// so that "try later" says where.
    fn verify(&self, s: &Submission<'_>, content: Option<Content<'_>>) -> (Report, Basis) {
        // One verifier for both passes, even if a CRL refresh swaps it meanwhile.
        let verifier = self.verifier.load();
        let first = verifier.verify_content(s.signature, content, s.received_at);
        let Some(fetcher) = &self.ocsp else {
            return (first, Some((verifier, Vec::new())));
        };
        let unresolved = first.unresolved();
        // A final rejection stays final whatever a responder would say: no look-up for it.
        let final_rejection = first.status == Status::Rejected && !first.indeterminate();
        if unresolved.is_empty() || final_rejection {
            return (first, Some((verifier, Vec::new())));
        }
        let (responses, failed) = fetcher.fetch_all(&unresolved, s.received_at);
        let evidence = crate::verify::Evidence {
            ocsp: &responses,
            ocsp_window: fetcher.window(),
        };
        let mut report = verifier.verify_with(s.signature, content, s.received_at, evidence);
        if report.indeterminate() {
            for e in failed {
                report.push(Reason::RevocationUnavailable, None, e.to_string());
            }
        }
        (report, Some((verifier, responses)))
    }

    #[allow(clippy::too_many_arguments)]
    fn body(
        &self,
        id: &str,
        s: &Submission<'_>,
        report: &Report,
        title: Option<String>,
        registration: Option<Registration>,
        files: Vec<FileRef>,
        signers: Vec<SignerSummary>,
        pos: Position,
    ) -> ReceiptBody {
        let accepted = report.status == Status::Accepted;
        ReceiptBody {
            receipt_id: id.to_owned(),
            status: report.status,
            reasons: report
                .reasons
                .iter()
                .map(|r| ReasonLine {
                    code: r.code,
                    signer: r.signer,
                    message: r.message,
                    detail: r.detail.clone(),
                })
                .collect(),
            warnings: report.warnings.clone(),
            appeal: (!accepted).then(|| self.policy.organization.appeal.clone()),
            organization: self.policy.organization.name.clone(),
            case: CaseRef {
                index: s.case.to_owned(),
                title,
            },
            registration,
            received_at: crate::verify::fmt_time(s.received_at),
            files,
            signers,
            sender_ref: s.sender_ref.map(str::to_owned),
            archive: ArchiveRef {
                index: pos.index,
                entry_hash: hex(&pos.entry_hash),
                tree_size: pos.tree_size,
            },
            service_certificate_sha256: hex(&self.archive.signer().certificate_sha256()),
            format: crate::verify::xml::is_xml(s.signature).then_some("xmldsig"),
        }
    }
}

/// What decided an accepted document's verdict besides its signature (none for a rejection).
/// The settings that decided it are filed too ([`crate::archive::settings`]).
fn evidence_of<'a>(
    report: &Report,
    basis: &'a Basis,
    window: crate::verify::ocsp::Window,
) -> Vec<crate::archive::evidence::Item<'a>> {
    match basis {
        Some((verifier, fetched)) if report.status == Status::Accepted => {
            let mut items = crate::archive::evidence::select(report, verifier.trust(), fetched);
            let settings = crate::archive::settings::Settings::of(verifier.policy(), window);
            items.push(settings.item());
            items
        }
        _ => Vec::new(),
    }
}

/// A decided submission on its way into the archive: what [`Ingest::record`] files.
struct Filing<'a> {
    s: &'a Submission<'a>,
    id: &'a str,
    report: &'a Report,
    digests: &'a Digests,
    evidence: &'a [crate::archive::evidence::Item<'a>],
}

/// The next registration number in the document's case, dated the day of receipt (UTC).
fn register(
    txn: &mut crate::archive::Txn<'_>,
    s: &Submission<'_>,
) -> Result<Registration, ArchiveError> {
    let n = txn.next_registration(s.case)?;
    let reg = Registration {
        number: format!("{}/{n}", s.case),
        date: crate::verify::fmt_time(s.received_at)
            .get(..10)
            .unwrap_or_default()
            .to_owned(),
    };
    txn.register(&reg.number);
    Ok(reg)
}

fn summaries(report: &Report) -> Vec<SignerSummary> {
    report
        .signers
        .iter()
        .map(|s| SignerSummary {
            status: s.status.as_str().to_owned(),
            subject: s.subject.clone(),
            iin: s.iin.clone(),
            bin: s.bin.clone(),
            certificate_sha256: s.certificate_sha256.clone(),
            algorithm: s.algorithm.clone(),
        })
        .collect()
}
