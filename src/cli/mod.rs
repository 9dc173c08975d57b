//! Subcommand implementations and what they share: global options, the could-not-run error
//! (exit code 2, one sentence), output helpers.

pub mod archive;
pub mod audit;
pub mod backup;
pub mod retention;
pub mod serve;
pub mod trust;
pub mod verify;

use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use tamga::setup::Paths;

/// Options every subcommand takes, before or after its name.
#[derive(Args, Debug, Clone)]
pub struct Global {
    /// Data directory (archive, generated keys).
    #[arg(long, global = true, value_name = "DIR", default_value = "data")]
    pub data: PathBuf,
    /// The nomenclature and access policy.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        default_value = "archive-policy.toml"
    )]
    pub policy: PathBuf,
    /// Trust store directory: certificates are anchors, *.crl are CRLs (repeatable; default
    /// certs/trust).
    #[arg(long, global = true, value_name = "DIR")]
    pub trust: Vec<PathBuf>,
    /// Where an installed receipt key (receipt.key + receipt.pem) is looked for.
    #[arg(long, global = true, value_name = "DIR", default_value = "certs")]
    pub keys: PathBuf,
    /// The store a new data directory is created with: journal (the default: an append-only
    /// file with its index on disk) or sled. An existing directory keeps its own.
    #[arg(long, global = true, value_name = "KIND")]
    pub store: Option<tamga::setup::Backend>,
    /// The PostgreSQL server of `--store postgres` (a `postgres://` URL or libpq key=value
    /// string; default: the environment's TAMGA_DATABASE_URL, which keeps a password out of
    /// the process list).
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// The schema holding the archive in that database (one archive per schema).
    #[arg(long, global = true, value_name = "NAME", default_value = "tamga")]
    pub database_schema: String,
    /// Several `tamga serve` processes (frontends) write this PostgreSQL archive: each takes
    /// the database's turn for every write. Without it, one process writes it alone (faster)
    /// and a second is told the archive is in use. Every frontend must be given it.
    #[arg(long, global = true)]
    pub database_shared: bool,
}

impl Global {
    /// The paths for [`tamga::setup`].
    pub fn paths(&self) -> Paths {
        Paths {
            data: self.data.clone(),
            policy: self.policy.clone(),
            trust: if self.trust.is_empty() {
                tamga::setup::default_trust()
            } else {
                self.trust.clone()
            },
            installed_keys: self.keys.clone(),
            store: self.store,
            database: self
                .database_url
                .clone()
                .or_else(|| std::env::var("TAMGA_DATABASE_URL").ok())
                .map(|url| tamga::archive::postgres::Location {
                    url,
                    schema: self.database_schema.clone(),
                    shared: self.database_shared,
                }),
        }
    }
}

/// A failure to run, as one sentence; exit code 2.
pub struct CouldNotRun(pub String);

impl<E: std::fmt::Display> From<E> for CouldNotRun {
    fn from(e: E) -> Self {
        CouldNotRun(e.to_string())
    }
}

/// Writes to stdout; a closed pipe (`tamga … | head`) is not an error worth a panic.
pub fn say(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{text}");
}

/// Unix time of an RFC 3339 argument.
pub fn parse_time(flag: &str, s: &str) -> Result<i64, CouldNotRun> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| CouldNotRun(format!("{flag} {s:?} is not an RFC 3339 time ({e})")))
}

/// Reads a file named on the command line.
pub fn read(path: &PathBuf) -> Result<Vec<u8>, CouldNotRun> {
    std::fs::read(path).map_err(|e| CouldNotRun(format!("cannot read {}: {e}", path.display())))
}

/// `tamga reasons`.
pub fn reasons() -> Result<ExitCode, CouldNotRun> {
    let list: Vec<_> = tamga::Reason::ALL
        .iter()
        .map(|r| serde_json::json!({"code": r.code(), "message": r.texts()}))
        .collect();
    say(&serde_json::Value::Array(list).to_string());
    Ok(ExitCode::SUCCESS)
}
