//! `tamga audit verify`, `tamga audit proof`, `tamga export`.

use super::{CouldNotRun, Global, say};
use clap::{Args, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use tamga::archive::{Archive, audit, export, proofs};

/// `tamga audit …`
#[derive(Subcommand)]
pub enum AuditCommand {
    /// Recompute the chain and the Merkle tree and check the latest signed checkpoint.
    /// Exit 0 intact, 1 with the first failure named.
    Verify {
        /// Also re-hash every stored document against its entry.
        #[arg(long)]
        full: bool,
        /// Check an exported package instead of the archive (no archive needed).
        #[arg(long, value_name = "DIR")]
        export: Option<PathBuf>,
    },
    /// Print a proof, as JSON.
    #[command(subcommand)]
    Proof(ProofCommand),
}

/// `tamga audit proof …`
#[derive(Subcommand)]
pub enum ProofCommand {
    /// Entry INDEX is in the tree of SIZE entries.
    Inclusion {
        /// Entry index.
        #[arg(long)]
        index: u64,
        /// Tree size (default: now).
        #[arg(long)]
        size: Option<u64>,
    },
    /// The tree of FROM entries is a prefix of the tree of TO entries.
    Consistency {
        /// Older size.
        #[arg(long)]
        from: u64,
        /// Newer size (default: now).
        #[arg(long)]
        to: Option<u64>,
    },
}

/// Arguments of `tamga export`.
#[derive(Args)]
pub struct ExportArgs {
    /// Directory to write (must not exist or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

fn open(global: &Global) -> Result<Archive, CouldNotRun> {
    let policy = tamga::policy::load(&global.policy)?;
    // Read-only: a snapshot, or a copy on read-only media, can be audited and exported.
    Ok(tamga::setup::open_archive_read_only(
        &global.paths(),
        &policy.organization.name,
    )?)
}

/// Runs `tamga audit …`.
pub fn run(global: &Global, cmd: AuditCommand) -> Result<ExitCode, CouldNotRun> {
    match cmd {
        AuditCommand::Verify {
            export: Some(dir), ..
        } => finish(export::verify(&dir)),
        AuditCommand::Verify { full, export: None } => {
            let archive = open(global)?;
            let tty = std::io::stderr().is_terminal();
            let mut last = 0;
            let mut progress = |done: u64, total: u64| {
                let pct = done * 100 / total.max(1);
                if tty && pct != last {
                    last = pct;
                    eprint!("\raudit: {done}/{total} entries ({pct}%)");
                }
            };
            let result = audit::verify(&archive, full, &mut progress);
            if tty {
                eprintln!();
            }
            finish(result)
        }
        AuditCommand::Proof(p) => proof(&open(global)?, p),
    }
}

fn finish(
    result: Result<audit::AuditReport, audit::AuditFailure>,
) -> Result<ExitCode, CouldNotRun> {
    match result {
        Ok(r) => {
            say(&format!(
                "intact: {} entries, {} documents ({} bytes) re-hashed, checkpoint at {}",
                r.entries,
                r.documents,
                r.bytes,
                r.checkpoint_size.map_or("-".into(), |s| s.to_string())
            ));
            if r.rechecked > 0 {
                say(&format!(
                    "verdicts hold: {} accepted documents re-checked offline from their kept \
                     evidence",
                    r.rechecked
                ));
            }
            for stray in &r.strays {
                say(&format!("stray: {stray}"));
            }
            if r.backfilled > 0 {
                say(&format!(
                    "note: {} entries carry a backfilled time of receipt (marked in the entry)",
                    r.backfilled
                ));
            }
            for n in &r.notes {
                say(&format!("note: {n}"));
            }
            if r.notes_total > r.notes.len() as u64 {
                say(&format!(
                    "note: and {} more",
                    r.notes_total - r.notes.len() as u64
                ));
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            say(&format!("ALTERED: {f}"));
            Ok(ExitCode::from(1))
        }
    }
}

fn proof(archive: &Archive, cmd: ProofCommand) -> Result<ExitCode, CouldNotRun> {
    let json = match cmd {
        ProofCommand::Inclusion { index, size } => {
            serde_json::to_string_pretty(&proofs::inclusion(archive, index, size)?)?
        }
        ProofCommand::Consistency { from, to } => {
            serde_json::to_string_pretty(&proofs::consistency(archive, from, to)?)?
        }
    };
    say(&json);
    Ok(ExitCode::SUCCESS)
}

/// Runs `tamga export`.
pub fn export(global: &Global, args: ExportArgs) -> Result<ExitCode, CouldNotRun> {
    let archive = open(global)?;
    let n = export::write(&archive, &args.out)
        .map_err(|e| CouldNotRun(format!("export failed: {e}")))?;
    say(&format!("exported {n} entries to {}", args.out.display()));
    Ok(ExitCode::SUCCESS)
}
