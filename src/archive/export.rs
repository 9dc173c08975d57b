//! The auditor's package: everything needed to prove, with no archive at hand, that nothing
//! kept was altered — and the check of such a package.
//!
//! ```text
//! service.pem              the certificate that signs receipts and checkpoints
//! entries.jsonl            every log entry, exactly as hashed, one per line
//! checkpoints/<size>.note  every signed checkpoint
//! receipts/<id>.p7s        every receipt (DER CMS)
//! documents/<index>/       signature.p7s and content.bin of each accepted document
//! evidence/<sha256>.<ext>  what decided their verdicts, once however many share it:
//!                          anchors (.cer), CRLs (.crl), OCSP responses (.ocsp), all DER;
//!                          the verification settings in force (.json)
//! SHA256SUMS               for `sha256sum -c`
//! ```

use super::audit::{AuditFailure, AuditReport};
use super::checkpoint::{Checkpoint, unhex32};
use super::log::{Entry, Event, FileRef};
use super::replay::{self, Replay, Source, SourceError};
use super::{Archive, ArchiveError, blobs};
use crate::verify::certificate::{Certificate, hex};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn failure(index: Option<u64>, what: impl Into<String>) -> AuditFailure {
    AuditFailure {
        index,
        case: None,
        registration: None,
        what: what.into(),
    }
}

/// Why an export stopped (the package it leaves is incomplete and says nothing).
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The package's directory or one of its files could not be written.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
    /// The directory named for the package already holds files.
    #[error("{} is not empty", .0.display())]
    NotEmpty(PathBuf),
    /// The archive could not be read.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// What the archive holds is not what it should (an entry or receipt missing, or
    /// undecodable): the audit's finding.
    #[error(transparent)]
    Damaged(#[from] AuditFailure),
    /// An entry's file or evidence could not be copied.
    #[error("entry {index}: {source}")]
    Copy {
        /// The entry.
        index: u64,
        /// Why.
        source: CopyError,
    },
}

/// Writes the package into `out` (which must not exist or be empty); returns the entry count.
pub fn write(archive: &Archive, out: &Path) -> Result<u64, ExportError> {
    let io = |what: &'static str| move |source| ExportError::Io { what, source };
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(io("export dir"))?
            .next()
            .is_some()
    {
        return Err(ExportError::NotEmpty(out.to_path_buf()));
    }
    for sub in ["checkpoints", "receipts", "documents", "evidence"] {
        std::fs::create_dir_all(out.join(sub)).map_err(io(sub))?;
    }
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(archive.signer().certificate())
    );
    std::fs::write(out.join("service.pem"), pem).map_err(io("service.pem"))?;
    let (size, _, _) = archive.head();
    let disposed = super::audit::disposed_registrations(archive, size)?;
    let mut lines = Vec::new();
    let mut sums = String::new();
    let mut evidence_written = std::collections::HashSet::new();
    // The receipts' dictionaries, read once for the whole export.
    let dictionaries = super::receipts::Dictionaries::default();
    for i in 0..size {
        let bytes = archive
            .entry_bytes(i)?
            .ok_or_else(|| failure(Some(i), "missing"))?;
        let entry = Entry::decode(&bytes).map_err(|e| failure(Some(i), e.to_string()))?;
        lines.extend_from_slice(&bytes);
        lines.push(b'\n');
        if let Some(id) = entry.event.receipt_id() {
            let receipt = archive
                .receipt_with(id, &dictionaries)?
                .ok_or_else(|| failure(Some(i), format!("receipt {id} missing")))?;
            std::fs::write(out.join("receipts").join(format!("{id}.p7s")), receipt)
                .map_err(io("receipt"))?;
        }
        if let Event::Accepted {
            files,
            registration,
            evidence,
            ..
        } = &entry.event
            && !disposed.contains(registration)
        {
            let copy = |source| ExportError::Copy { index: i, source };
            std::fs::create_dir_all(out.join("documents").join(i.to_string()))
                .map_err(io("documents"))?;
            for f in files {
                let file = format!("documents/{i}/{}", file_name(f));
                copy_blob(archive, f, out, &file, &mut sums).map_err(copy)?;
            }
            copy_evidence(archive, evidence, out, &mut sums, &mut evidence_written)
                .map_err(copy)?;
        }
    }
    std::fs::write(out.join("entries.jsonl"), lines).map_err(io("entries.jsonl"))?;
    std::fs::write(out.join("SHA256SUMS"), sums).map_err(io("SHA256SUMS"))?;
    write_checkpoints(archive, out, size)?;
    Ok(size)
}

/// Every signed checkpoint of the exported entries (tree sizes up to `size`), as
/// `checkpoints/<size>.note`: one the package's entries do not reach (another process filed
/// meanwhile) would fail its check.
fn write_checkpoints(archive: &Archive, out: &Path, size: u64) -> Result<(), ExportError> {
    let dir = out.join("checkpoints");
    let mut write = |n: u64, note: Vec<u8>| {
        std::fs::write(dir.join(format!("{n}.note")), note).map_err(|source| ExportError::Io {
            what: "checkpoint",
            source,
        })
    };
    archive.for_each_checkpoint(0..=size, &mut write)
}

/// Why a blob could not be copied into the package.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The entry's hash of the file is not 64 hex digits.
    #[error("file hash {0:?} is not hex")]
    Hash(String),
    /// The package's file could not be written.
    #[error("{path}: {source}")]
    Write {
        /// The file, relative to the package.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The blob could not be read from the archive.
    #[error(transparent)]
    Blob(#[from] blobs::BlobError),
}

/// Copies a document's evidence, each piece once however many documents name it (`written`
/// holds the SHA-256s already copied).
fn copy_evidence(
    archive: &Archive,
    evidence: &[FileRef],
    out: &Path,
    sums: &mut String,
    written: &mut std::collections::HashSet<String>,
) -> Result<(), CopyError> {
    for f in evidence.iter().filter(|f| written.insert(f.sha256.clone())) {
        let file = format!("evidence/{}", super::evidence::file_name(f));
        copy_blob(archive, f, out, &file, sums)?;
    }
    Ok(())
}

/// Writes the blob `f` names to `out/file` and its line to `sums`.
fn copy_blob(
    archive: &Archive,
    f: &FileRef,
    out: &Path,
    file: &str,
    sums: &mut String,
) -> Result<(), CopyError> {
    let name = unhex32(&f.sha256).ok_or_else(|| CopyError::Hash(f.sha256.clone()))?;
    let failed = |source| CopyError::Write {
        path: file.to_owned(),
        source,
    };
    let mut w = std::io::BufWriter::new(std::fs::File::create(out.join(file)).map_err(failed)?);
    blobs::read(archive.store(), &name, &mut w)?;
    std::io::Write::flush(&mut w).map_err(failed)?;
    let _ = writeln!(sums, "{}  {file}", f.sha256);
    Ok(())
}

/// An exported package as a replay source.
struct Package {
    dir: PathBuf,
    /// `entries.jsonl`, split into lines.
    entries: Vec<Vec<u8>>,
}

impl Source for Package {
    fn entry(&self, index: u64) -> Result<Option<Vec<u8>>, SourceError> {
        Ok(usize::try_from(index)
            .ok()
            .and_then(|i| self.entries.get(i))
            .cloned())
    }

    fn receipt(&self, id: &str) -> Result<Vec<u8>, SourceError> {
        let p = format!("receipts/{id}.p7s");
        read_package_file(&self.dir, p)
    }

    fn document(&self, index: u64, file: &FileRef) -> Result<u64, SourceError> {
        let p = if super::evidence::is_evidence(&file.role) {
            format!("evidence/{}", super::evidence::file_name(file))
        } else {
            format!("documents/{index}/{}", file_name(file))
        };
        let data = read_package_file(&self.dir, p.clone())?;
        if hex(&Sha256::digest(&data)) != file.sha256 {
            return Err(SourceError::PackageFileDiffers(p));
        }
        Ok(data.len() as u64)
    }
}

/// A package's file, `path` relative to the package (and so named in the error).
fn read_package_file(dir: &Path, path: String) -> Result<Vec<u8>, SourceError> {
    std::fs::read(dir.join(&path)).map_err(|source| SourceError::Read { path, source })
}

/// A document's file name in the package.
fn file_name(file: &FileRef) -> &'static str {
    if file.role == "content" {
        "content.bin"
    } else {
        "signature.p7s"
    }
}

/// Checks a package offline with the archive audit's own replay: chain, tree, every
/// checkpoint's signature and root, every receipt's signature and link to its entry, every
/// document's and every piece of evidence's hash; then re-checks every kept accepted
/// document's verdict from its evidence ([`super::recheck`]).
pub fn verify(dir: &Path) -> Result<AuditReport, AuditFailure> {
    let read = |p: &str| std::fs::read(dir.join(p)).map_err(|e| failure(None, format!("{p}: {e}")));
    let pem = read("service.pem")?;
    let der = crate::trustdir::pem_or_der(&pem, "CERTIFICATE")
        .ok()
        .and_then(|v| v.into_iter().next())
        .ok_or_else(|| failure(None, "service.pem holds no certificate"))?;
    let cert =
        Certificate::from_der(&der).map_err(|e| failure(None, format!("service.pem: {e}")))?;
    let mut checkpoints = Vec::new();
    let entries_dir = std::fs::read_dir(dir.join("checkpoints"))
        .map_err(|e| failure(None, format!("checkpoints: {e}")))?;
    for e in entries_dir {
        let path = e.map_err(|e| failure(None, e.to_string()))?.path();
        let text = std::fs::read_to_string(&path)
            .map_err(|e| failure(None, format!("{}: {e}", path.display())))?;
        let cp = Checkpoint::verify(&text, &cert.spki)
            .map_err(|e| failure(None, format!("{}: {e}", path.display())))?;
        checkpoints.push(cp);
    }
    let package = Package {
        dir: dir.to_path_buf(),
        entries: read("entries.jsonl")?
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
    };
    let replayed = replay::run(
        &package,
        &Replay {
            checkpoints: &checkpoints,
            service: &der,
            documents: true,
            size: None,
        },
        &mut |_, _| {},
    )?;
    if let Some(cp) = checkpoints.iter().find(|c| c.size > replayed.size) {
        return Err(failure(
            None,
            format!("checkpoint {} covers entries the package lacks", cp.size),
        ));
    }
    if replayed.report.entries > 0 && replayed.report.checkpoint_size.is_none() {
        return Err(failure(None, "no signed checkpoint matches the entries"));
    }
    let mut report = replayed.report;
    super::recheck::package(dir, &package.entries, &mut report)?;
    Ok(report)
}
