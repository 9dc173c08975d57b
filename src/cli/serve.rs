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
    /// Requests handled at once for each principal (public routes: an eighth of it); beyond,
    /// 503 with Retry-After.
    #[arg(long, default_value_t = Limits::default().max_concurrency)]
    max_concurrency: usize,
    /// Connections open at once (default: three quarters of the file limit, at most 10,000);
    /// beyond, the oldest idle connection is closed.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Bytes of request bodies held by all requests together; beyond, 503.
    #[arg(long, default_value_t = Limits::default().body.max_inflight)]
    max_inflight: usize,
    /// Seconds a connection has to send a request head, and a body may pause.
    #[arg(long, default_value_t = 10)]
    header_timeout: u64,
    /// The request log on standard error: `text` (key=value) or `json` (one object a line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// What to do when a certificate's revocation status cannot be established: `require`
    /// (the default, now that CRLs are fetched and kept current: "try later", 503) or
    /// `prefer` (offline use: accept with a `revocation-unchecked` warning in the receipt).
    #[arg(long, value_enum, default_value_t = RevocationPolicy::Require)]
    revocation: RevocationPolicy,
}

/// How the request log is written.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines with key=value fields.
    Text,
    /// One JSON object a line, for shipping to a log system.
    Json,
}

/// Sends `tracing` events to standard error; `RUST_LOG` filters (default `info`).
fn init_log(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    // A second initialisation (never in practice) leaves the first in place.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
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
    init_log(args.log_format);
    let defaults = Limits::default();
    let wait = std::time::Duration::from_secs(args.header_timeout.max(1));
    let limits = Limits {
        max_body: args.max_body,
        max_concurrency: args.max_concurrency,
        body: tamga::http::body::BodyLimits {
            idle: wait,
            max_inflight: args.max_inflight.max(args.max_body),
            ..defaults.body
        },
        conn: tamga::http::conn::ConnLimits {
            max_connections: args
                .max_connections
                .unwrap_or(defaults.conn.max_connections),
            header_timeout: wait,
            handshake_timeout: wait,
        },
    };
    let state = AppState::new(ingest, limits);
    // CRLs are fetched before their nextUpdate and swapped in while serving.
    let weak = std::sync::Arc::downgrade(&state);
    std::thread::Builder::new()
        .name("crl-refresh".into())
        .spawn(move || tamga::http::trust::keep_current(weak))
        .map_err(|e| CouldNotRun(format!("cannot start the CRL refresh: {e}")))?;
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
