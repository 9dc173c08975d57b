//! `tamga backup`, `tamga backup verify`, `tamga restore`.

use super::{CouldNotRun, Global, say};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use tamga::archive::backup::{self, BackupError, check, restore};
use tamga::archive::store::StoreError;
use tamga::setup::SetupError;

/// Arguments of `tamga backup`.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BackupArgs {
    /// Backup directory: a full backup into an empty one, an incremental one after the newest
    /// generation in it.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<BackupCommand>,
}

/// `tamga backup …`
#[derive(Subcommand)]
pub enum BackupCommand {
    /// Check a backup offline (no archive needed): every file's SHA-256, the chain and the
    /// Merkle root against the signed checkpoint, every receipt's signature. Exit 0 intact,
    /// 1 with the first bad file named.
    Verify {
        /// The backup directory.
        dir: PathBuf,
        /// The generation to check (default: the newest complete one).
        #[arg(long)]
        generation: Option<u64>,
    },
}

/// Arguments of `tamga restore`.
#[derive(Args)]
pub struct RestoreArgs {
    /// The backup directory.
    #[arg(long, value_name = "DIR")]
    from: PathBuf,
    /// The generation to restore (default: the newest complete one).
    #[arg(long)]
    generation: Option<u64>,
    /// A directory with the backed-up service's receipt.key and receipt.pem, copied into the
    /// new data directory (a backup never holds the private key). Without it, the installed
    /// key (--keys) must be that service's.
    #[arg(long, value_name = "DIR")]
    keys_from: Option<PathBuf>,
}

/// Runs `tamga backup …`.
pub fn run(global: &Global, args: BackupArgs) -> Result<ExitCode, CouldNotRun> {
    match (args.command, args.out) {
        (Some(BackupCommand::Verify { dir, generation }), _) => verify(&dir, generation),
        (None, Some(out)) => take(global, &out),
        (None, None) => Err(CouldNotRun(
            "say where: tamga backup --out DIR, or tamga backup verify DIR".into(),
        )),
    }
}

fn take(global: &Global, out: &Path) -> Result<ExitCode, CouldNotRun> {
    let policy = tamga::policy::load(&global.policy)?;
    let archive = match tamga::setup::open_archive(&global.paths(), &policy.organization.name) {
        Err(SetupError::Store(StoreError::InUse(dir))) => {
            return Err(CouldNotRun(format!(
                "{} is in use by a running tamga serve: take the backup through it (POST \
                 /v1/backup {{\"out\": \"{}\"}} as an admin principal)",
                dir.display(),
                out.display()
            )));
        }
        other => other?,
    };
    let s = backup::write(&archive, out).map_err(|e| CouldNotRun(format!("backup failed: {e}")))?;
    say(&format!(
        "generation {} ({}) of {}: checkpoint at {} entries; {} entries, {} chunk files, {} \
         bytes written; {} documents destroyed since the previous generation left out",
        s.generation,
        s.previous
            .map_or("full".into(), |p| format!("after generation {p}")),
        out.display(),
        s.size,
        s.entries,
        s.chunks,
        s.bytes,
        s.disposed
    ));
    Ok(ExitCode::SUCCESS)
}

/// A check's outcome: a bad file is exit 1 with it named; anything else could not run.
fn judged<T>(r: Result<T, BackupError>) -> Result<Result<T, String>, CouldNotRun> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e @ BackupError::Bad { .. }) => Ok(Err(e.to_string())),
        Err(e) => Err(CouldNotRun(e.to_string())),
    }
}

fn verify(dir: &Path, generation: Option<u64>) -> Result<ExitCode, CouldNotRun> {
    let checked =
        check::verify(dir, generation).and_then(|v| backup::fresh::unnamed_chunks(dir).map(|()| v));
    match judged(checked)? {
        Ok(v) => {
            say(&format!(
                "intact: generation {}, checkpoint at {} entries, {} files, {} documents ({} \
                 bytes) re-hashed",
                v.generation, v.size, v.files, v.documents, v.bytes
            ));
            Ok(ExitCode::SUCCESS)
        }
        Err(first) => {
            say(&format!("BAD: {first}"));
            Ok(ExitCode::from(1))
        }
    }
}

/// Runs `tamga restore`.
pub fn restore(global: &Global, args: RestoreArgs) -> Result<ExitCode, CouldNotRun> {
    let data = &global.data;
    let non_empty = match std::fs::read_dir(data) {
        Ok(mut rd) => rd.next().is_some(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(CouldNotRun(format!("{}: {e}", data.display()))),
    };
    if non_empty {
        return Err(CouldNotRun(format!(
            "{} is not empty: a restore writes only into a new data directory",
            data.display()
        )));
    }
    let policy = tamga::policy::load(&global.policy)?;
    let m = check::manifest(&args.from, args.generation)?;
    if let Err(first) = judged(check::verify(&args.from, Some(m.generation)))? {
        say(&format!("REFUSED, the backup does not verify: {first}"));
        return Ok(ExitCode::from(1));
    }
    let loaded = check::load(&args.from, &m)?;
    let paths = global.paths();
    install_key(&paths, args.keys_from.as_deref(), &loaded.service)?;
    let store = tamga::setup::open_store_alone(&paths)?;
    restore::load(&args.from, &m, &loaded, store.as_ref())?;
    drop(store);
    let archive = tamga::setup::open_archive(&paths, &policy.organization.name)?;
    let cp = archive.latest_checkpoint()?;
    if cp.as_ref() != Some(&loaded.checkpoint) {
        return Err(CouldNotRun(
            "the restored archive's latest checkpoint is not the backed-up one".into(),
        ));
    }
    say(&format!(
        "restored generation {} into {}: checkpoint at {} entries, {} documents",
        m.generation,
        data.display(),
        m.size,
        m.live.len()
    ));
    Ok(ExitCode::SUCCESS)
}

/// Puts the backed-up service's receipt key where the new data directory will find it, or
/// checks that the installed one is it: filing continues only under the same key (the
/// checkpoints' origin and signatures name it).
fn install_key(
    paths: &tamga::setup::Paths,
    from: Option<&Path>,
    service: &[u8],
) -> Result<(), CouldNotRun> {
    let dir = from.unwrap_or(&paths.installed_keys);
    let pem = dir.join("receipt.pem");
    let matches = pem.exists()
        && tamga::receipt::ReceiptSigner::load_or_create(dir, "")
            .is_ok_and(|s| s.certificate() == service);
    if !matches {
        return Err(CouldNotRun(format!(
            "{} holds no receipt key of the backed-up service: name the directory with its \
             receipt.key and receipt.pem with --keys-from",
            dir.display()
        )));
    }
    if from.is_some() {
        let keys = paths.data.join("keys");
        std::fs::create_dir_all(&keys)?;
        for f in ["receipt.key", "receipt.pem"] {
            std::fs::copy(dir.join(f), keys.join(f))
                .map_err(|e| CouldNotRun(format!("copying {f}: {e}")))?;
        }
    }
    Ok(())
}
