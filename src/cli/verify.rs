//! `tamga verify`.

use super::{CouldNotRun, Global, parse_time, read, say};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tamga::verify::policy::{InitialPolicies, PathSettings, PolicyId};
use tamga::verify::{Policy, Report, RevocationPolicy, SignerRule, Status, Verifier};

/// Arguments of `tamga verify`.
#[derive(Args)]
pub struct VerifyArgs {
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
    /// A certificate policy (OID) this verification accepts; repeat for several. Default: any
    /// policy (RFC 5280 user-initial-policy-set = anyPolicy).
    #[arg(long = "certificate-policy", value_name = "OID")]
    certificate_policies: Vec<PolicyId>,
    /// The path must be valid under at least one accepted certificate policy.
    #[arg(long)]
    require_explicit_policy: bool,
    /// Policy mappings in CA certificates are not followed.
    #[arg(long)]
    inhibit_policy_mapping: bool,
    /// anyPolicy in CA certificates does not stand for other policies.
    #[arg(long)]
    inhibit_any_policy: bool,
}

/// Runs `tamga verify`.
pub fn run(global: &Global, args: VerifyArgs) -> Result<ExitCode, CouldNotRun> {
    let at = match &args.at {
        Some(s) => parse_time("--at", s)?,
        None => tamga::clock::now(),
    };
    let store = tamga::trustdir::load(&global.paths().trust)
        .map_err(|e| CouldNotRun(format!("cannot load the trust store: {e}")))?;
    for note in store.skipped() {
        eprintln!("tamga: trust store: left out {note}");
    }
    let signature = read(&args.signature)?;
    let content = args.content.as_ref().map(read).transpose()?;
    let policy = Policy {
        revocation: args.revocation,
        signers: args.signers,
        path: PathSettings {
            initial_policies: InitialPolicies::from_list(args.certificate_policies.clone()),
            require_explicit_policy: args.require_explicit_policy,
            inhibit_policy_mapping: args.inhibit_policy_mapping,
            inhibit_any_policy: args.inhibit_any_policy,
        },
    };
    let report = Verifier::new(store, policy).verify(&signature, content.as_deref(), at);
    if args.json {
        say(&serde_json::to_string_pretty(&report)?);
    } else {
        say(&summary(&report));
    }
    Ok(match report.status {
        Status::Accepted => ExitCode::SUCCESS,
        Status::Rejected => ExitCode::from(1),
    })
}

fn summary(report: &Report) -> String {
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
    o.trim_end().to_owned()
}
