//! `tamga import` and `tamga get`.

use super::{CouldNotRun, Global, parse_time, read, say};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tamga::archive::log::Event;
use tamga::ingest::{Received, Submission};
use tamga::verify::{Policy, Status};

/// Arguments of `tamga import`.
#[derive(Args)]
pub struct ImportArgs {
    /// Case index of the nomenclature, e.g. 01-05.
    #[arg(long)]
    case: String,
    /// The CMS signature file.
    signature: PathBuf,
    /// Detached content.
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// The sender's own reference (outgoing number).
    #[arg(long, value_name = "TEXT")]
    sender_ref: Option<String>,
    /// Time of receipt, RFC 3339 (default: now); also the validation time.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Also write the signed receipt (DER CMS) here.
    #[arg(long, value_name = "FILE")]
    receipt_out: Option<PathBuf>,
}

/// Runs `tamga import`.
pub fn import(global: &Global, args: ImportArgs) -> Result<ExitCode, CouldNotRun> {
    let received_at = match &args.at {
        Some(s) => parse_time("--at", s)?,
        None => tamga::clock::now(),
    };
    let signature = read(&args.signature)?;
    // Content beyond the in-memory limit is read in pieces from the file itself.
    let content = match &args.content {
        None => None,
        Some(path) => {
            let file = tamga::spool::Spooled::existing(path)
                .map_err(|e| CouldNotRun(format!("cannot read {}: {e}", path.display())))?;
            Some(if file.len() > tamga::spool::IN_MEMORY as u64 {
                Received::Spooled(file)
            } else {
                Received::Memory(read(path)?)
            })
        }
    };
    let ingest = tamga::setup::open(&global.paths(), Policy::default())?;
    let submitted = ingest.submit(&Submission {
        case: &args.case,
        signature: &signature,
        content: content.as_ref().map(Received::payload),
        sender_ref: args.sender_ref.as_deref(),
        received_at,
        submitter: None,
    });
    let outcome = match submitted {
        Ok(o) => o,
        Err(e @ tamga::ingest::IngestError::Indeterminate(_)) => {
            eprintln!("tamga: {e}; nothing was filed, no receipt issued: import it again later");
            return Ok(ExitCode::from(NOT_DECIDED));
        }
        Err(e) if e.outcome_unknown() => {
            return Err(CouldNotRun(format!(
                "whether it was filed is unknown, run it again: {e}"
            )));
        }
        Err(e) => return Err(CouldNotRun(format!("nothing was filed: {e}"))),
    };
    if let Some(out) = &args.receipt_out {
        std::fs::write(out, &outcome.receipt).map_err(|e| {
            CouldNotRun(format!(
                "the receipt was issued but cannot be written to {}: {e}",
                out.display()
            ))
        })?;
    }
    say(&String::from_utf8_lossy(&outcome.body()));
    Ok(match outcome.status {
        Status::Accepted => ExitCode::SUCCESS,
        Status::Rejected => ExitCode::from(1),
    })
}

/// The exit code of an import that could not be decided yet (revocation information missing).
pub const NOT_DECIDED: u8 = 3;

/// Arguments of `tamga get`.
#[derive(Args)]
pub struct GetArgs {
    /// Registration number, e.g. 01-05/17.
    regno: String,
    /// Write the detached content instead of the signature file.
    #[arg(long)]
    content: bool,
}

/// Runs `tamga get`.
pub fn get(global: &Global, args: GetArgs) -> Result<ExitCode, CouldNotRun> {
    let policy = tamga::policy::load(&global.policy)?;
    let archive = tamga::setup::open_archive(&global.paths(), &policy.organization.name)?;
    let index = archive
        .regno_entry(&args.regno)?
        .ok_or_else(|| CouldNotRun(format!("no document is registered as {}", args.regno)))?;
    if let Some(by) = archive.disposal(&args.regno)? {
        return Err(CouldNotRun(format!(
            "{} was destroyed under {by} (its entry, receipt and tombstone remain)",
            args.regno
        )));
    }
    let entry = archive.entry(index)?.ok_or_else(|| {
        CouldNotRun(format!(
            "entry {index} of {} is missing: run tamga audit verify",
            args.regno
        ))
    })?;
    let Event::Accepted { files, .. } = entry.event else {
        return Err(CouldNotRun(format!(
            "entry {index} is not an accepted document"
        )));
    };
    let role = if args.content { "content" } else { "signature" };
    let file = files
        .iter()
        .find(|f| f.role == role)
        .ok_or_else(|| CouldNotRun(format!("{} has no detached content", args.regno)))?;
    let name = tamga::archive::checkpoint::unhex32(&file.sha256)
        .ok_or_else(|| CouldNotRun("the entry's file hash is not hex".into()))?;
    let mut out = std::io::stdout().lock();
    archive.read_blob(&name, &mut out)?;
    Ok(ExitCode::SUCCESS)
}
