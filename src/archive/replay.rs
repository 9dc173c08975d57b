//! One replay of the log for both audits — the archive's own (`audit verify`) and an exported
//! package's (`audit verify --export`) — so that they cannot disagree: the chain, the Merkle
//! tree against the signed checkpoints, every receipt (its signature by the service certificate
//! at the receipt's time, and the entry it names), and the kept documents' bytes.
//!
//! Receipts are judged at the time the entry records (the receipt's own signing time): a
//! receipt is only evidence if its certificate was valid when it claims to have been signed,
//! which is why the signer refuses to date a receipt outside its certificate's validity.

use super::audit::{AuditFailure, AuditReport, fail};
use super::checkpoint::Checkpoint;
use super::log::{self, Entry, Event, FileRef, GENESIS, entry_hash};
use super::merkle::{Frontier, Hash, leaf_hash};
use crate::verify::certificate::{Certificate, hex};
use crate::verify::{Policy, RevocationPolicy, SignerRule, Status, TrustStore, Verifier};
use std::collections::HashSet;

/// Where a replay reads: the archive's store or an exported package.
pub trait Source {
    /// The encoded entry at `index`, `None` past the end.
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, SourceError>;
    /// The receipt (DER CMS) with this id.
    fn receipt(&self, id: &str) -> Result<Vec<u8>, SourceError>;
    /// Checks a kept file of the entry at `index` against its SHA-256; returns its size.
    fn document(&self, index: u64, file: &FileRef) -> Result<u64, SourceError>;
}

/// Why a [`Source`] could not give what the replay asked for; the audit names it beside the
/// entry concerned ([`AuditFailure`]), so its sentence is what an auditor reads.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The archive could not be read.
    #[error(transparent)]
    Archive(#[from] super::ArchiveError),
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] super::store::StoreError),
    /// A file of an exported package could not be read (`path` relative to the package).
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The archive keeps no receipt under this id.
    #[error("receipt {0} missing")]
    ReceiptMissing(String),
    /// The backup holds no receipt under this id.
    #[error("receipt {0} is not in the backup")]
    ReceiptNotInBackup(String),
    /// A kept receipt does not read back as DER (its stored form or its dictionary is
    /// damaged).
    #[error("receipt {id}: {source}")]
    StoredReceipt {
        /// The receipt's id.
        id: String,
        /// Why it does not read.
        source: super::receipts::StoredReceiptError,
    },
    /// The backup holds no document with this SHA-256 (hex).
    #[error("document {0} is not in the backup")]
    DocumentNotInBackup(String),
    /// The entry names a file by a hash that is not 64 hex digits.
    #[error("file hash is not hex")]
    HashNotHex,
    /// A kept file of the archive is missing or damaged (`role`: signature, content, …).
    #[error("{role} file: {source}")]
    Blob {
        /// The file's role in the entry.
        role: String,
        /// What is wrong with it.
        source: super::blobs::BlobError,
    },
    /// A package's file does not hash to the SHA-256 its entry names.
    #[error("{0} differs from the entry's SHA-256")]
    PackageFileDiffers(String),
    /// A backed-up document's chunks do not add up to its size and SHA-256 (hex).
    #[error("document {0} does not match its SHA-256")]
    DocumentDiffers(String),
    /// A backed-up blob manifest is shorter than its size field.
    #[error("blob manifest truncated")]
    ManifestTruncated,
    /// A backup's file could not be read or is damaged.
    #[error(transparent)]
    Backup(Box<super::backup::BackupError>),
}

impl From<super::backup::BackupError> for SourceError {
    fn from(e: super::backup::BackupError) -> Self {
        SourceError::Backup(Box::new(e))
    }
}

/// What to replay against.
pub struct Replay<'a> {
    /// Signed checkpoints the log must match where it reaches their size.
    pub checkpoints: &'a [Checkpoint],
    /// The service certificate (DER) that signs the receipts.
    pub service: &'a [u8],
    /// Re-hash the documents not destroyed under an executed act.
    pub documents: bool,
    /// Entries to replay; `None`: until the source has no more.
    pub size: Option<u64>,
}

/// What a replay ends with.
#[derive(Debug)]
pub struct Replayed {
    /// What it covered.
    pub report: AuditReport,
    /// Entries replayed.
    pub size: u64,
    /// Merkle root of the replayed entries.
    pub root: Hash,
    /// Chain hash of the last entry.
    pub chain: Hash,
}

/// Replays `source`; `progress(done, total)` is called per entry (`total` 0 when unknown).
pub fn run(
    source: &dyn Source,
    with: &Replay<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Replayed, AuditFailure> {
    let cert = Certificate::from_der(with.service)
        .map_err(|e| fail(None, None, format!("service certificate: {e}")))?;
    let receipts = Verifier::new(
        TrustStore::new(vec![cert.clone()], vec![]),
        Policy {
            revocation: RevocationPolicy::Off,
            signers: SignerRule::All,
            ..Policy::default()
        },
    );
    let disposed = if with.documents {
        disposed(source, with.size)?
    } else {
        HashSet::new()
    };
    let mut walk = Walk {
        source,
        with,
        receipts: &receipts,
        cert: &cert,
        disposed: &disposed,
        report: AuditReport::default(),
        frontier: Frontier::default(),
        chain: GENESIS,
        times: Times::default(),
        evidence_seen: HashSet::new(),
    };
    let mut i = 0;
    while with.size.is_none_or(|n| i < n) {
        let Some(bytes) = source
            .entry(i)
            .map_err(|e| fail(Some(i), None, e.to_string()))?
        else {
            if with.size.is_some() {
                return Err(fail(Some(i), None, "entry missing"));
            }
            break;
        };
        walk.entry(i, &bytes)?;
        i += 1;
        progress(i, with.size.unwrap_or(0));
    }
    Ok(Replayed {
        report: walk.report,
        size: i,
        root: walk.frontier.root(),
        chain: walk.chain,
    })
}

/// A replay under way: what it checks against and what it has seen so far.
struct Walk<'a> {
    source: &'a dyn Source,
    with: &'a Replay<'a>,
    /// Verifies receipts with the service certificate alone.
    receipts: &'a Verifier,
    cert: &'a Certificate,
    /// Registrations whose documents an executed act destroyed: not re-hashed.
    disposed: &'a HashSet<String>,
    report: AuditReport,
    frontier: Frontier,
    chain: Hash,
    times: Times,
    /// Evidence blobs already re-hashed (many documents name the same CRL).
    evidence_seen: HashSet<String>,
}

impl Walk<'_> {
    /// One entry: its place in the chain and the tree, its times, its receipt, its files.
    fn entry(&mut self, i: u64, bytes: &[u8]) -> Result<(), AuditFailure> {
        let entry = Entry::decode(bytes)
            .map_err(|e| fail(Some(i), None, format!("entry does not decode: {e}")))?;
        let at = |what: String| fail(Some(i), Some(&entry), what);
        if entry.index != i {
            return Err(at(format!("entry claims index {}", entry.index)));
        }
        if entry.prev != hex(&self.chain) {
            return Err(at("prev does not match the hash of the entry before".into()));
        }
        self.chain = entry_hash(bytes);
        self.frontier.push(leaf_hash(bytes));
        self.checkpoints().map_err(at)?;
        self.times.check(i, &entry, &mut self.report).map_err(at)?;
        let receipt = check_receipt(self.source, self.receipts, self.cert, &entry, &self.chain);
        if let Some(note) = receipt.map_err(at)? {
            self.report.note(note);
        }
        if let (true, Event::Accepted { registration, .. }) = (self.with.documents, &entry.event)
            && !self.disposed.contains(registration)
        {
            self.documents(i, &entry).map_err(at)?;
        }
        self.report.entries += 1;
        Ok(())
    }

    /// The tree so far matches every signed checkpoint of its size.
    fn checkpoints(&mut self) -> Result<(), String> {
        let size = self.frontier.size();
        for cp in self.with.checkpoints.iter().filter(|c| c.size == size) {
            if cp.root != self.frontier.root() || cp.chain != self.chain {
                return Err(format!(
                    "the log differs from signed checkpoint {}",
                    cp.size
                ));
            }
            self.report.checkpoint_size = self.report.checkpoint_size.max(Some(cp.size));
        }
        Ok(())
    }

    /// The kept files of an accepted entry re-hash to what it names. Evidence too (a verdict
    /// re-checked from altered evidence would prove nothing), each shared blob once: a CRL
    /// named by every document is not re-hashed each time.
    fn documents(&mut self, i: u64, entry: &Entry) -> Result<(), String> {
        for file in entry.event.kept_blobs() {
            let evidence = super::evidence::is_evidence(&file.role);
            if evidence && !self.evidence_seen.insert(file.sha256.clone()) {
                continue;
            }
            let n = self.source.document(i, file).map_err(|e| e.to_string())?;
            if n != file.size {
                return Err(format!(
                    "{} file is {n} bytes, the entry says {}",
                    file.role, file.size
                ));
            }
            if !evidence {
                self.report.documents += 1;
                self.report.bytes += n;
            }
        }
        Ok(())
    }
}

/// The log's times so far.
#[derive(Default)]
struct Times {
    /// When the last entry was filed (0: no filing time yet).
    filed: i64,
    /// The latest time any entry stated.
    latest: i64,
}

impl Times {
    /// Filing times never run backwards and the backfilled mark follows the writer's rule
    /// (else the entry is wrong); stated times that run backwards without the mark, or lie
    /// after their filing, are noted.
    fn check(&mut self, i: u64, entry: &Entry, report: &mut AuditReport) -> Result<(), String> {
        let at = log::parse_time(&entry.at).ok_or("entry time is not RFC 3339")?;
        match entry.filed.as_deref() {
            Some(f) => {
                let filed = log::parse_time(f).ok_or("filing time is not RFC 3339")?;
                if filed < self.filed {
                    return Err(format!(
                        "filed at {f}, before the entry before it ({}): the log's time runs \
                         backwards",
                        crate::verify::fmt_time(self.filed)
                    ));
                }
                if entry.backfilled != log::is_backfilled(at, filed, self.filed) {
                    return Err("its backfilled mark does not match its times".into());
                }
                if entry.backfilled {
                    report.backfilled += 1;
                } else if at > filed + log::GRACE {
                    report.note(format!(
                        "entry {i} is dated {}, after it was filed ({f})",
                        entry.at
                    ));
                }
                self.filed = filed;
            }
            None if self.filed > 0 => report.note(format!(
                "entry {i} has no filing time though entries before it have (an older tamga \
                 wrote it)"
            )),
            None if at < self.latest => report.note(format!(
                "entry {i}: its time {} runs back behind an earlier entry's ({}), unmarked",
                entry.at,
                crate::verify::fmt_time(self.latest)
            )),
            None => {}
        }
        self.latest = self.latest.max(at);
        Ok(())
    }
}

/// The entry's receipt is kept, verifies with the service certificate at the entry's time, and
/// names this entry (by the hash of its encoding, parsed from the signed body). A receipt dated
/// outside the certificate's validity — which tamga no longer signs, but which versions before
/// filing times did sign for backfilled imports — is checked at the edge of the validity and
/// reported in a note, not as damage: its signature still proves who made it.
fn check_receipt(
    source: &dyn Source,
    verifier: &Verifier,
    cert: &Certificate,
    entry: &Entry,
    hash: &Hash,
) -> Result<Option<String>, String> {
    let Some(id) = entry.event.receipt_id() else {
        return Ok(None);
    };
    let der = source.receipt(id).map_err(|e| e.to_string())?;
    let dated = log::parse_time(&entry.at).ok_or("entry time is not RFC 3339")?;
    if cert.not_before > cert.not_after {
        return Err("the service certificate's validity is empty".into());
    }
    let at = dated.clamp(cert.not_before, cert.not_after);
    let note = (at != dated).then(|| {
        format!(
            "receipt {id} is dated {}, outside the service certificate's validity ({} to {}); \
             its signature was checked at the edge of that validity",
            entry.at,
            crate::verify::fmt_time(cert.not_before),
            crate::verify::fmt_time(cert.not_after)
        )
    });
    if verifier.verify(&der, None, at).status != Status::Accepted {
        return Err(format!(
            "receipt {id} does not verify with the service certificate"
        ));
    }
    let named = crate::verify::cms::parse(&der)
        .ok()
        .and_then(|sd| sd.content)
        .and_then(|body| serde_json::from_slice::<serde_json::Value>(&body).ok())
        .and_then(|v| {
            v.pointer("/archive/entry_hash")?
                .as_str()
                .map(str::to_owned)
        });
    if named.as_deref() != Some(hex(hash).as_str()) {
        return Err(format!("receipt {id} does not name this entry"));
    }
    Ok(note)
}

/// Registration numbers whose documents an executed act destroyed, read from the log itself
/// (never from an index, which an intruder could edit to hide a damaged document).
pub fn disposed(source: &dyn Source, size: Option<u64>) -> Result<HashSet<String>, AuditFailure> {
    let mut out = HashSet::new();
    let mut i = 0;
    while size.is_none_or(|n| i < n) {
        let Some(bytes) = source
            .entry(i)
            .map_err(|e| fail(Some(i), None, e.to_string()))?
        else {
            break;
        };
        if let Ok(Entry {
            event: Event::Disposed { registration, .. },
            ..
        }) = Entry::decode(&bytes)
        {
            out.insert(registration);
        }
        i += 1;
    }
    Ok(out)
}
