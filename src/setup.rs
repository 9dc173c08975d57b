//! Wiring: from paths to a ready [`Ingest`] (policy, trust store, archive, receipt key). The CLI
//! and the service both start here, so they cannot drift apart.

use crate::archive::Archive;
use crate::archive::journal::JournalStore;
use crate::archive::postgres::PgStore;
use crate::archive::sled::SledStore;
use crate::archive::store::{Space, Store, StoreError};
use crate::fetch::live::LiveTrust;
use crate::fetch::refresh::Refresher;
use crate::ingest::Ingest;
use crate::receipt::ReceiptSigner;
use crate::verify::Policy;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Where things are.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The data directory (archive, generated keys).
    pub data: PathBuf,
    /// `archive-policy.toml`.
    pub policy: PathBuf,
    /// Trust store directories.
    pub trust: Vec<PathBuf>,
    /// Where the organisation installs `receipt.key` + `receipt.pem`; when it has not, the key is
    /// generated under `<data>/keys`.
    pub installed_keys: PathBuf,
    /// The store asked for: `None` takes whatever the data directory holds (sled for a new
    /// one); `Some` must match what it holds.
    pub store: Option<Backend>,
    /// Where a PostgreSQL archive lives (`--database-url`, `TAMGA_DATABASE_URL`), needed
    /// when the store is PostgreSQL.
    pub database: Option<crate::archive::postgres::Location>,
}

/// The embedded stores. A data directory keeps the one it was created with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Backend {
    /// sled, in `<data>/archive` (the default until issue #15 measured both at 10^6).
    Sled,
    /// The append-only journal with its index on disk, in `<data>/journal` (the default: faster,
    /// detects more damage, returns disposed space, opens in milliseconds; see
    /// [`crate::archive::journal`] and README "Two embedded stores").
    #[default]
    Journal,
    /// A PostgreSQL server ([`crate::archive::postgres`]); `<data>/postgres` marks a data
    /// directory whose archive is there, and the server is named by [`Paths::database`].
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sled => "sled",
            Backend::Journal => "journal",
            Backend::Postgres => "postgres",
        })
    }
}

impl Backend {
    fn dir(self, data: &Path) -> PathBuf {
        data.join(match self {
            Backend::Sled => "archive",
            Backend::Journal => "journal",
            Backend::Postgres => "postgres",
        })
    }
}

/// A `--store` that names no store tamga has.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown store {0:?}: sled, journal or postgres")]
pub struct UnknownBackend(pub String);

impl std::str::FromStr for Backend {
    type Err = UnknownBackend;
    fn from_str(s: &str) -> Result<Self, UnknownBackend> {
        match s {
            "sled" => Ok(Backend::Sled),
            "journal" => Ok(Backend::Journal),
            "postgres" => Ok(Backend::Postgres),
            other => Err(UnknownBackend(other.to_owned())),
        }
    }
}

/// The store `paths` opens: the one its data directory holds, else the one asked for, else
/// sled. Asking for the other one than the directory holds is refused.
pub fn backend(paths: &Paths) -> Result<Backend, SetupError> {
    let held: Vec<Backend> = [Backend::Sled, Backend::Journal, Backend::Postgres]
        .into_iter()
        .filter(|b| b.dir(&paths.data).exists())
        .collect();
    let refuse = |why: String| Err(StoreError::Refused(why).into());
    match (held.as_slice(), paths.store) {
        ([], asked) => Ok(asked.unwrap_or_default()),
        ([held], Some(asked)) if asked != *held => refuse(format!(
            "{} holds a {held} archive, not a {asked} one (a data directory keeps the store it \
             was created with)",
            paths.data.display()
        )),
        ([held], _) => Ok(*held),
        _ => refuse(format!(
            "{} holds archives of more than one store; move the ones not in use elsewhere",
            paths.data.display()
        )),
    }
}

/// The PostgreSQL server of a data directory whose archive is there.
fn database(paths: &Paths) -> Result<crate::archive::postgres::Location, SetupError> {
    paths.database.clone().ok_or_else(|| {
        StoreError::Refused(format!(
            "the archive of {} is in PostgreSQL: name the server with --database-url or \
             TAMGA_DATABASE_URL",
            paths.data.display()
        ))
        .into()
    })
}

/// Opens the data directory's store (creating it when new): the archive's, and a restore's,
/// which fills it before an archive is opened over it.
pub fn open_store(paths: &Paths) -> Result<Box<dyn Store>, SetupError> {
    open_store_as(paths, false)
}

/// Opens the data directory's store for this process alone: a restore, which fills it
/// outside the archive's turns. Only PostgreSQL has other writers to exclude (frontends that
/// share it); the embedded stores have one writer anyway.
pub fn open_store_alone(paths: &Paths) -> Result<Box<dyn Store>, SetupError> {
    open_store_as(paths, true)
}

fn open_store_as(paths: &Paths, alone: bool) -> Result<Box<dyn Store>, SetupError> {
    let backend = backend(paths)?;
    let dir = backend.dir(&paths.data);
    Ok(match backend {
        Backend::Sled => Box::new(SledStore::open(&dir)?),
        Backend::Postgres => {
            let location = database(paths)?;
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::Io {
                what: format!("creating {}", dir.display()),
                source: e,
            })?;
            if alone {
                Box::new(PgStore::open_alone(location)?)
            } else {
                Box::new(PgStore::open(location)?)
            }
        }
        Backend::Journal => {
            let store = JournalStore::open(&dir)?;
            // Recovery's findings are for whoever runs the service, once, at start.
            for note in store.notes().iter().chain(&store.found_damage()) {
                eprintln!("tamga: {note}");
            }
            Box::new(store)
        }
    })
}

/// Opens the data directory's store for reading only: nothing under the data directory is
/// written (an audit of a snapshot, or of a copy on read-only media).
fn open_store_read_only(paths: &Paths) -> Result<Box<dyn Store>, SetupError> {
    let backend = backend(paths)?;
    let dir = backend.dir(&paths.data);
    Ok(match backend {
        Backend::Sled => Box::new(crate::archive::readonly::SledCopy::open(&dir)?),
        Backend::Postgres => Box::new(PgStore::open_read_only(database(paths)?)?),
        Backend::Journal => {
            let store = JournalStore::open_read_only(&dir)?;
            for note in store.notes() {
                eprintln!("tamga: {note}");
            }
            Box::new(store)
        }
    })
}

/// Why the service could not be set up; each names what to fix.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The policy file.
    #[error("policy: {0}")]
    Policy(#[from] crate::policy::PolicyError),
    /// The trust store.
    #[error("trust store: {0}")]
    Trust(#[from] crate::trustdir::TrustDirError),
    /// The archive.
    #[error("archive: {0}")]
    Archive(#[from] crate::archive::ArchiveError),
    /// The store.
    #[error("archive: {0}")]
    Store(#[from] crate::archive::store::StoreError),
    /// The receipt key.
    #[error("{0}")]
    Receipt(#[from] crate::receipt::ReceiptError),
}

/// The receipt key directory in use.
pub fn keys_dir(paths: &Paths) -> PathBuf {
    if paths.installed_keys.join("receipt.pem").exists() {
        paths.installed_keys.clone()
    } else {
        paths.data.join("keys")
    }
}

/// Opens the archive alone (for readers: get, retention).
pub fn open_archive(paths: &Paths, organization: &str) -> Result<Archive, SetupError> {
    let store = open_store(paths)?;
    let signer = ReceiptSigner::load_or_create(&keys_dir(paths), organization)?;
    archive_over(store, signer)
}

/// Opens the archive for reading only (audit, proofs, export): nothing under the data
/// directory is written, so a snapshot or a copy on read-only media can be audited. No key is
/// made: an archive with entries must have its receipt certificate; one without entries (a
/// first start killed before it made its key) is read with a key that is never kept.
pub fn open_archive_read_only(paths: &Paths, organization: &str) -> Result<Archive, SetupError> {
    let store = open_store_read_only(paths)?;
    let keys = keys_dir(paths);
    let signer = if keys.join("receipt.pem").exists() {
        ReceiptSigner::load_or_create(&keys, organization)?
    } else if store.get(Space::Log, &0u64.to_be_bytes())?.is_none() {
        ReceiptSigner::ephemeral(organization)?
    } else {
        return Err(crate::receipt::ReceiptError::Key(format!(
            "{} holds no receipt.pem to check the archive's entries with",
            keys.display()
        ))
        .into());
    };
    let archive = archive_over(store, signer)?;
    // A snapshot or a copy: no process syncs it any more, and what it holds is all there is.
    archive.count_stored_as_durable()?;
    Ok(archive)
}

fn archive_over(store: Box<dyn Store>, signer: ReceiptSigner) -> Result<Archive, SetupError> {
    let origin = format!(
        "tamga.local/{}",
        crate::verify::certificate::hex(signer.certificate_sha256().get(..8).unwrap_or_default())
    );
    Ok(Archive::open(store, origin, Arc::new(signer))?)
}

/// Opens everything the pipeline needs.
pub fn open(paths: &Paths, verify_policy: Policy) -> Result<Ingest, SetupError> {
    let policy = crate::policy::load(&paths.policy)?;
    // The policy file's `[signatures]` decides which certificate policies signers must hold.
    let verify_policy = Policy {
        path: policy.signatures.clone(),
        ..verify_policy
    };
    let trust = crate::trustdir::load(&paths.trust)?;
    for note in trust.skipped() {
        eprintln!("tamga: trust store: left out {note}");
    }
    // The CRLs last fetched from distribution points join the trust directory's.
    let trust = live_trust(paths, &policy, trust, verify_policy);
    let archive = open_archive(paths, &policy.organization.name)?;
    // Holding the archive's lock, no other process spools here: leftovers are a killed one's.
    let incoming = paths.data.join("incoming");
    crate::spool::clear(&incoming);
    let ocsp = policy
        .revocation
        .ocsp
        .clone()
        .map(|s| crate::fetch::ocsp::Fetcher::new(s, trust.load().trust()));
    Ok(Ingest {
        verifier: trust,
        policy,
        archive,
        incoming,
        ocsp,
    })
}

/// The trust directory's store with the CRLs kept under the data directory, ready to be
/// refreshed from the distribution points (nothing is fetched here).
pub fn live_trust(
    paths: &Paths,
    policy: &crate::policy::ArchivePolicy,
    trust: crate::verify::TrustStore,
    verify_policy: Policy,
) -> LiveTrust {
    let now = crate::clock::now();
    let refresher = Refresher::open(trust, verify_policy, &paths.data, &policy.crls, now);
    LiveTrust::refreshing(refresher, now)
}

/// The default trust directory, relative to the working directory.
pub fn default_trust() -> Vec<PathBuf> {
    vec![Path::new("certs/trust").to_path_buf()]
}

#[cfg(test)]
mod tests {
    use super::Backend;

    /// `--store` names its choices when it names none of them (the CLI prints this sentence).
    #[test]
    fn an_unknown_store_is_named_with_the_choices() {
        assert_eq!("journal".parse::<Backend>(), Ok(Backend::Journal));
        let e = "sqlite".parse::<Backend>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown store \"sqlite\": sled, journal or postgres"
        );
    }
}
