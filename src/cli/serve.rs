//! `tamga serve` and `tamga token new`.

use super::{CouldNotRun, Global, say};
use clap::{Args, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use tamga::http::{AppState, Limits, tls};
use tamga::verify::{Policy, RevocationPolicy};

/// Arguments of `tamga serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// Address to listen on. Plain HTTP belongs on loopback or behind a reverse proxy.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Server certificate chain (PEM); with --tls-key, serve HTTPS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Server private key (PEM, PKCS#8).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA for client certificates (mTLS): a principal's client_cert_sha256 identifies it.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    client_ca: Option<PathBuf>,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = Limits::default().max_body)]
    max_body: usize,
    /// Requests handled at once; beyond, 503 with Retry-After.
    #[arg(long, default_value_t = Limits::default().max_concurrency)]
    max_concurrency: usize,
    /// What to do when a CRL is missing or stale.
    #[arg(long, value_enum, default_value_t = RevocationPolicy::Prefer)]
    revocation: RevocationPolicy,
}

/// Runs the service until SIGINT/SIGTERM.
pub fn serve(global: &Global, args: ServeArgs) -> Result<ExitCode, CouldNotRun> {
    let policy = Policy {
        revocation: args.revocation,
        ..Policy::default()
    };
    let ingest = tamga::setup::open(&global.paths(), policy)?;
    let store = tamga::setup::backend(&global.paths())?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            tls::server_config(&tls::TlsFiles {
                cert,
                key,
                client_ca: args.client_ca.as_deref(),
            })
            .map_err(|e| CouldNotRun(format!("TLS: {e}")))?,
        ),
        _ => None,
    };
    let principals = ingest.policy.principals.len();
    let state = AppState::new(
        ingest,
        Limits {
            max_body: args.max_body,
            max_concurrency: args.max_concurrency,
        },
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CouldNotRun(format!("cannot start the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| CouldNotRun(format!("cannot listen on {}: {e}", args.listen)))?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        eprintln!(
            "tamga: serving {scheme}://{} (data {}, {store} store, {principals} principals); \
             Ctrl-C to stop",
            args.listen,
            global.data.display()
        );
        tamga::http::run(listener, state, tls, tls::shutdown_signal())
            .await
            .map_err(|e| CouldNotRun(format!("server: {e}")))
    })?;
    eprintln!("tamga: stopped");
    Ok(ExitCode::SUCCESS)
}

/// `tamga token …`
#[derive(Subcommand)]
pub enum TokenCommand {
    /// Make a fresh bearer token; prints it once, with the lines to paste into the policy.
    New {
        /// The principal's name.
        #[arg(long)]
        name: String,
        /// chancellery | archivist | auditor | admin
        #[arg(long)]
        role: String,
    },
}

/// Runs `tamga token new`.
pub fn token(cmd: TokenCommand) -> Result<ExitCode, CouldNotRun> {
    let TokenCommand::New { name, role } = cmd;
    if !matches!(
        role.as_str(),
        "chancellery" | "archivist" | "auditor" | "admin"
    ) {
        return Err(CouldNotRun(format!(
            "--role {role:?} is not chancellery, archivist, auditor or admin"
        )));
    }
    if name.trim().is_empty() || name.contains(['"', '\n', '\\']) {
        return Err(CouldNotRun(
            "--name must be non-empty, without quotes or backslashes".into(),
        ));
    }
    let mut raw = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut raw)
        .map_err(|_| CouldNotRun("no randomness from the OS".into()))?;
    let token = base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, raw);
    let hash = tamga::verify::certificate::hex(&sha2::Digest::finalize(
        <sha2::Sha256 as sha2::Digest>::new_with_prefix(token.as_bytes()),
    ));
    say(&format!(
        "# The token (shown once; give it to {name}, keep it secret):\n{token}\n\n# Paste into archive-policy.toml:\n[[principal]]\nname = \"{name}\"\nrole = \"{role}\"\ntoken_sha256 = \"{hash}\""
    ));
    Ok(ExitCode::SUCCESS)
}
