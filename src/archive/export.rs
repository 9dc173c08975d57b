//! The auditor's package: everything needed to prove, with no archive at hand, that nothing
//! kept was altered — and the check of such a package.
//!
//! ```text
//! service.pem              the certificate that signs receipts and checkpoints
//! entries.jsonl            every log entry, exactly as hashed, one per line
//! checkpoints/<size>.note  every signed checkpoint
//! receipts/<id>.p7s        every receipt (DER CMS)
//! documents/<index>/       signature.p7s and content.bin of each accepted document
//! SHA256SUMS               for `sha256sum -c`
//! ```

use super::audit::{AuditFailure, AuditReport};
use super::checkpoint::{Checkpoint, unhex32};
use super::log::{Entry, Event, GENESIS, entry_hash};
use super::merkle::{Frontier, leaf_hash};
use super::store::Space;
use super::{Archive, blobs};
use crate::verify::certificate::{Certificate, hex};
use crate::verify::{Policy, RevocationPolicy, SignerRule, Status, TrustStore, Verifier};
use base64::Engine;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::path::Path;

fn failure(index: Option<u64>, what: impl Into<String>) -> AuditFailure {
    AuditFailure {
        index,
        case: None,
        registration: None,
        what: what.into(),
    }
}

/// Writes the package into `out` (which must not exist or be empty); returns the entry count.
pub fn write(archive: &Archive, out: &Path) -> Result<u64, String> {
    let io = |what: &str, e: std::io::Error| format!("{what}: {e}");
    if out.exists()
        && std::fs::read_dir(out)
            .map_err(|e| io("export dir", e))?
            .next()
            .is_some()
    {
        return Err(format!("{} is not empty", out.display()));
    }
    for sub in ["checkpoints", "receipts", "documents"] {
        std::fs::create_dir_all(out.join(sub)).map_err(|e| io(sub, e))?;
    }
    let pem = format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        base64::engine::general_purpose::STANDARD.encode(archive.signer().certificate())
    );
    std::fs::write(out.join("service.pem"), pem).map_err(|e| io("service.pem", e))?;
    let store = archive.store();
    let (size, _, _) = archive.head();
    let disposed =
        super::audit::disposed_registrations(archive, size).map_err(|f| f.to_string())?;
    let mut lines = Vec::new();
    let mut sums = String::new();
    for i in 0..size {
        let bytes = archive
            .entry_bytes(i)
            .map_err(|e| e.to_string())?
            .ok_or(format!("entry {i} missing"))?;
        let entry = Entry::decode(&bytes).map_err(|e| format!("entry {i}: {e}"))?;
        lines.extend_from_slice(&bytes);
        lines.push(b'\n');
        if let Some(id) = entry.event.receipt_id() {
            let receipt = store
                .get(Space::Receipts, id.as_bytes())
                .map_err(|e| e.to_string())?
                .ok_or(format!("receipt {id} missing"))?;
            std::fs::write(out.join("receipts").join(format!("{id}.p7s")), receipt)
                .map_err(|e| io("receipt", e))?;
        }
        if let Event::Accepted {
            files,
            registration,
            ..
        } = &entry.event
            && !disposed.contains(registration)
        {
            let dir = out.join("documents").join(i.to_string());
            std::fs::create_dir_all(&dir).map_err(|e| io("documents", e))?;
            for f in files {
                let name = unhex32(&f.sha256).ok_or("file hash is not hex")?;
                let file = if f.role == "content" {
                    "content.bin"
                } else {
                    "signature.p7s"
                };
                let mut w = std::io::BufWriter::new(
                    std::fs::File::create(dir.join(file)).map_err(|e| io(file, e))?,
                );
                blobs::read(store, &name, &mut w).map_err(|e| format!("entry {i}: {e}"))?;
                let _ = writeln!(sums, "{}  documents/{i}/{file}", f.sha256);
            }
        }
    }
    std::fs::write(out.join("entries.jsonl"), lines).map_err(|e| io("entries.jsonl", e))?;
    std::fs::write(out.join("SHA256SUMS"), sums).map_err(|e| io("SHA256SUMS", e))?;
    for key in store.keys(Space::Checkpoints).map_err(|e| e.to_string())? {
        let n = <[u8; 8]>::try_from(key.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| "checkpoint key")?;
        let note = store
            .get(Space::Checkpoints, &key)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        std::fs::write(out.join("checkpoints").join(format!("{n}.note")), note)
            .map_err(|e| io("checkpoint", e))?;
    }
    Ok(size)
}

/// Checks a package offline: chain, tree, every checkpoint's signature and root, every
/// document's hash, every receipt's signature and link to its entry.
pub fn verify(dir: &Path) -> Result<AuditReport, AuditFailure> {
    let read = |p: &str| std::fs::read(dir.join(p)).map_err(|e| failure(None, format!("{p}: {e}")));
    let pem = read("service.pem")?;
    let der = crate::trustdir::pem_or_der(&pem, "CERTIFICATE")
        .ok()
        .and_then(|v| v.into_iter().next())
        .ok_or_else(|| failure(None, "service.pem holds no certificate"))?;
    let cert =
        Certificate::from_der(&der).map_err(|e| failure(None, format!("service.pem: {e}")))?;
    let receipts = Verifier::new(
        TrustStore::new(vec![cert.clone()], vec![]),
        Policy {
            revocation: RevocationPolicy::Off,
            signers: SignerRule::All,
        },
    );
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
    let lines = read("entries.jsonl")?;
    let disposed: std::collections::HashSet<String> = lines
        .split(|&b| b == b'\n')
        .filter_map(|l| Entry::decode(l).ok())
        .filter_map(|e| match e.event {
            Event::Disposed { registration, .. } => Some(registration),
            _ => None,
        })
        .collect();
    let mut report = AuditReport::default();
    let mut frontier = Frontier::default();
    let mut chain = GENESIS;
    for (i, bytes) in lines
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let i = i as u64;
        let entry = Entry::decode(bytes)
            .map_err(|e| failure(Some(i), format!("entry does not decode: {e}")))?;
        if entry.index != i || entry.prev != hex(&chain) {
            return Err(failure(
                Some(i),
                "entry is out of order or its prev does not chain",
            ));
        }
        chain = entry_hash(bytes);
        frontier.push(leaf_hash(bytes));
        for cp in checkpoints.iter().filter(|c| c.size == frontier.size()) {
            if cp.root != frontier.root() || cp.chain != chain {
                return Err(failure(
                    Some(i),
                    format!("entries differ from signed checkpoint {}", cp.size),
                ));
            }
            report.checkpoint_size = report.checkpoint_size.max(Some(cp.size));
        }
        let Some(id) = entry.event.receipt_id() else {
            report.entries += 1;
            continue;
        };
        let files = match &entry.event {
            Event::Accepted {
                files,
                registration,
                ..
            } if !disposed.contains(registration) => Some(files),
            _ => None,
        };
        let receipt = read(&format!("receipts/{id}.p7s"))?;
        let at =
            time::OffsetDateTime::parse(&entry.at, &time::format_description::well_known::Rfc3339)
                .map(|t| t.unix_timestamp())
                .map_err(|_| failure(Some(i), "entry time is not RFC 3339"))?;
        if receipts.verify(&receipt, None, at).status != Status::Accepted {
            return Err(failure(
                Some(i),
                format!("receipt {id} does not verify with service.pem"),
            ));
        }
        let needle = format!("\"entry_hash\":\"{}\"", hex(&chain));
        if !receipt
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            return Err(failure(
                Some(i),
                format!("receipt {id} does not name this entry"),
            ));
        }
        for f in files.into_iter().flatten() {
            let file = if f.role == "content" {
                "content.bin"
            } else {
                "signature.p7s"
            };
            let data = read(&format!("documents/{i}/{file}"))?;
            if hex(&Sha256::digest(&data)) != f.sha256 {
                return Err(failure(
                    Some(i),
                    format!("documents/{i}/{file} differs from the entry's SHA-256"),
                ));
            }
            report.documents += 1;
            report.bytes += data.len() as u64;
        }
        report.entries += 1;
    }
    if let Some(cp) = checkpoints.iter().find(|c| c.size > frontier.size()) {
        return Err(failure(
            None,
            format!("checkpoint {} covers entries the package lacks", cp.size),
        ));
    }
    if report.entries > 0 && report.checkpoint_size.is_none() {
        return Err(failure(None, "no signed checkpoint matches the entries"));
    }
    Ok(report)
}
