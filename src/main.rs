//! The `tamga` command line.
#![forbid(unsafe_code)]

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use tamga::verify::{Policy, Report, RevocationPolicy, SignerRule, Status, Verifier};

/// tamga — verifies electronic digital signatures (ЭЦҚ / ЭЦП) for a chancellery.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    /// Trust store directory: certificates are anchors, *.crl are CRLs (repeatable).
    #[arg(long, global = true, value_name = "DIR")]
    trust: Vec<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a CMS signature. Exit 0 = accepted, 1 = rejected, 2 = could not run.
    Verify(VerifyArgs),
    /// Print the closed list of rejection reasons with their four texts, as JSON.
    Reasons,
}

#[derive(Args)]
struct VerifyArgs {
    /// The CMS SignedData file: DER, BER or PEM.
    signature: PathBuf,
    /// The content of a detached signature.
    #[arg(long, value_name = "FILE")]
    content: Option<PathBuf>,
    /// Validation time, RFC 3339 (default: now).
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// Print one JSON object instead of a summary.
    #[arg(long)]
    json: bool,
    /// What to do when a CRL is missing or stale.
    #[arg(long, value_enum, default_value_t = RevocationPolicy::Prefer)]
    revocation: RevocationPolicy,
    /// Which signers must be valid.
    #[arg(long, value_enum, default_value_t = SignerRule::All)]
    signers: SignerRule,
}

/// A failure to run, as one sentence; exit code 2.
struct CouldNotRun(String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(CouldNotRun(msg)) => {
            eprintln!("tamga: {msg}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, CouldNotRun> {
    match cli.command {
        Command::Verify(args) => verify(&cli.trust, args),
        Command::Reasons => {
            let list: Vec<_> = tamga::Reason::ALL
                .iter()
                .map(|r| serde_json::json!({"code": r.code(), "message": r.texts()}))
                .collect();
            say(&serde_json::Value::Array(list).to_string());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn verify(trust: &[PathBuf], args: VerifyArgs) -> Result<ExitCode, CouldNotRun> {
    let at = match &args.at {
        Some(s) => parse_time(s)?,
        None => time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    let dirs = if trust.is_empty() {
        vec![PathBuf::from("certs/trust")]
    } else {
        trust.to_vec()
    };
    let store = tamga::trustdir::load(&dirs)
        .map_err(|e| CouldNotRun(format!("cannot load the trust store: {e}")))?;
    let read = |p: &PathBuf| {
        std::fs::read(p).map_err(|e| CouldNotRun(format!("cannot read {}: {e}", p.display())))
    };
    let signature = read(&args.signature)?;
    let content = args.content.as_ref().map(read).transpose()?;
    let policy = Policy {
        revocation: args.revocation,
        signers: args.signers,
    };
    let report = Verifier::new(store, policy).verify(&signature, content.as_deref(), at);
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| CouldNotRun(format!("cannot encode the report: {e}")))?;
        say(&json);
    } else {
        print_summary(&report);
    }
    Ok(match report.status {
        Status::Accepted => ExitCode::SUCCESS,
        Status::Rejected => ExitCode::from(1),
    })
}

fn parse_time(s: &str) -> Result<i64, CouldNotRun> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| CouldNotRun(format!("--at {s:?} is not an RFC 3339 time ({e})")))
}

/// Writes to stdout; a closed pipe (`tamga verify … | head`) is not an error worth a panic.
fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

fn print_summary(report: &Report) {
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}",
        match report.status {
            Status::Accepted => "accepted",
            Status::Rejected => "rejected",
        }
    );
    for r in &report.reasons {
        match r.signer {
            Some(i) => {
                let _ = writeln!(o, "  {} (signer {i}): {}", r.code, r.detail);
            }
            None => {
                let _ = writeln!(o, "  {}: {}", r.code, r.detail);
            }
        }
    }
    for (i, s) in report.signers.iter().enumerate() {
        let or_dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
        let _ = writeln!(
            o,
            "signer {i}: {:?} {} {}",
            s.status,
            or_dash(&s.algorithm),
            or_dash(&s.subject)
        );
        if let Some(iin) = &s.iin {
            let _ = writeln!(o, "  IIN {iin}");
        }
        if let Some(bin) = &s.bin {
            let _ = writeln!(o, "  BIN {bin}");
        }
    }
    for w in &report.warnings {
        let _ = writeln!(o, "warning: {}: {}", w.code, w.detail);
    }
    say(o.trim_end());
}
