//! The `tamga` command line.
#![forbid(unsafe_code)]

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// tamga — verifies electronic digital signatures (ЭЦҚ / ЭЦП) on receipt and keeps what a
/// chancellery accepts.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    global: cli::Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a CMS signature. Exit 0 = accepted, 1 = rejected, 2 = could not run.
    Verify(cli::verify::VerifyArgs),
    /// Run the whole pipeline on a submission and print the receipt's JSON body.
    /// Exit 0 = accepted, 1 = rejected, 2 = could not run, 3 = not decided yet (revocation
    /// information missing: nothing filed, no receipt; import again later).
    Import(cli::archive::ImportArgs),
    /// Write a registered document's original bytes to stdout.
    Get(cli::archive::GetArgs),
    /// Check the archive, or prove inclusion and consistency.
    #[command(subcommand)]
    Audit(cli::audit::AuditCommand),
    /// Retention: plan, disposal acts, holds, ЭПК reviews.
    #[command(subcommand)]
    Retention(cli::retention::RetentionCommand),
    /// Write a self-contained package for an auditor.
    Export(cli::audit::ExportArgs),
    /// Back the archive up into a directory (full, then incremental), or check a backup.
    Backup(cli::backup::BackupArgs),
    /// Rebuild a working archive in a new data directory (any --store) from a backup.
    Restore(cli::backup::RestoreArgs),
    /// Run the HTTP service (the ingest gateway's, auditors' and archivists' API).
    Serve(cli::serve::ServeArgs),
    /// Manage bearer tokens.
    #[command(subcommand)]
    Token(cli::serve::TokenCommand),
    /// Keep the trust store's CRLs current: `trust refresh` fetches them once.
    #[command(subcommand)]
    Trust(cli::trust::TrustCommand),
    /// Print the closed list of rejection reasons with their four texts, as JSON.
    Reasons,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Verify(a) => cli::verify::run(&cli.global, a),
        Command::Import(a) => cli::archive::import(&cli.global, a),
        Command::Get(a) => cli::archive::get(&cli.global, a),
        Command::Audit(a) => cli::audit::run(&cli.global, a),
        Command::Export(a) => cli::audit::export(&cli.global, a),
        Command::Retention(c) => cli::retention::run(&cli.global, c),
        Command::Backup(a) => cli::backup::run(&cli.global, a),
        Command::Restore(a) => cli::backup::restore(&cli.global, a),
        Command::Serve(a) => cli::serve::serve(&cli.global, a),
        Command::Token(c) => cli::serve::token(c),
        Command::Trust(c) => cli::trust::run(&cli.global, c),
        Command::Reasons => cli::reasons(),
    };
    match result {
        Ok(code) => code,
        Err(cli::CouldNotRun(msg)) => {
            eprintln!("tamga: {msg}");
            ExitCode::from(2)
        }
    }
}
