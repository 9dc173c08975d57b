//! `tamga trust refresh`: fetches every CRL of the trust store from its distribution point
//! once, keeps the good ones under `<data>/crls/` (where `serve` and `import` load them at
//! start), and prints the CRL table.

use super::{CouldNotRun, Global, say};
use clap::Subcommand;
use std::process::ExitCode;
use tamga::fetch::refresh::CrlRow;

/// `tamga trust …`
#[derive(Subcommand)]
pub enum TrustCommand {
    /// Fetch every CRL from its distribution point once and print the CRL table. Exit 0 =
    /// every distribution point gave a current CRL, 1 = some CRL is missing, stale or could
    /// not be fetched (the table says which), 2 = could not run.
    Refresh {
        /// Print the table as JSON (an array of objects, as `GET /v1/trust` gives it).
        #[arg(long)]
        json: bool,
    },
}

/// Runs `tamga trust …`.
pub fn run(global: &Global, cmd: TrustCommand) -> Result<ExitCode, CouldNotRun> {
    let TrustCommand::Refresh { json } = cmd;
    let paths = global.paths();
    let policy = tamga::policy::load(&paths.policy)?;
    let trust = tamga::trustdir::load(&paths.trust)?;
    let live = tamga::setup::live_trust(&paths, &policy, trust, Default::default());
    let rows = live.refresh(tamga::clock::now(), true);
    if json {
        say(&serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&rows);
    }
    let all_good = rows
        .iter()
        .filter(|r| r.next_fetch.is_some())
        .all(|r| r.current && r.last_error.is_none());
    Ok(if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_table(rows: &[CrlRow]) {
    if rows.is_empty() {
        say("no CRLs: the trust store names no distribution points and holds no CRL files");
    }
    for r in rows {
        let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
        say(&format!(
            "{}\n  issuer {}\n  number {}  thisUpdate {}  nextUpdate {}  {}",
            r.source,
            dash(&r.issuer),
            dash(&r.number),
            dash(&r.this_update),
            dash(&r.next_update),
            if r.current { "current" } else { "NOT CURRENT" },
        ));
        if let Some(e) = &r.last_error {
            say(&format!("  last error: {e}"));
        }
    }
}
