//! The archive's store in PostgreSQL: one table of (space, key, value), written in one
//! transaction per batch, for organisations that already run, replicate and back up a
//! PostgreSQL server.
//!
//! Durability follows the [`Store`] contract exactly. A batch commits with
//! `synchronous_commit = off`: it is visible at once, and the server writes its WAL within
//! moments. [`Store::sync`] commits one more small transaction with `synchronous_commit = on`,
//! which flushes the WAL up to and including every earlier commit (and, with a synchronous
//! standby configured, waits for the standby too): one flush per group of filings, as with
//! the embedded stores, and a receipt still leaves only after its filing is durable.
//!
//! What the embedded stores learn from their files, this one learns from the server: if the
//! server restarted between a batch and the sync that was to make it durable, the batch may
//! be gone, so the store refuses every write until it is opened again and the archive above
//! re-reads what is really kept.
//!
//! Until several frontends can share one archive, one process writes: the store holds a
//! session advisory lock for its schema, and a second writer is told the archive is in use.
//!
//! The client is the synchronous `postgres` crate, driven by one thread of the store's own, so
//! that callers on an async runtime's threads cannot trip over its internal runtime.

use super::store::{Batch, Space, Store, StoreError};
use std::sync::{Arc, Mutex, PoisonError};
use worker::Worker;

mod cache;
mod schema;
#[cfg(test)]
mod tests;
mod worker;

use schema::Role;
pub use schema::SCHEMA_VERSION;

/// Where the archive lives: the server, and the schema in it (one archive per schema).
#[derive(Clone)]
pub struct Location {
    /// A libpq-style connection string or `postgres://` URL.
    pub url: String,
    /// The schema holding the archive's tables (created if missing).
    pub schema: String,
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.display())
    }
}

impl Location {
    /// The location for messages: the URL without its password, and the schema.
    pub fn display(&self) -> String {
        let url = match (self.url.find("://"), self.url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                let userinfo = self.url.get(scheme + 3..at).unwrap_or_default();
                let user = userinfo.split(':').next().unwrap_or_default();
                format!(
                    "{}{user}@{}",
                    self.url.get(..scheme + 3).unwrap_or_default(),
                    self.url.get(at + 1..).unwrap_or_default()
                )
            }
            _ => self
                .url
                .split_whitespace()
                .filter(|kv| !kv.starts_with("password="))
                .collect::<Vec<_>>()
                .join(" "),
        };
        format!("{url} (schema {})", self.schema)
    }
}

/// The PostgreSQL store.
pub struct PgStore {
    /// The writer's (or reader's) connection: batches and reads, in order.
    writer: Worker<Connection>,
    /// A second connection for syncs only, so that batches are not queued behind a WAL flush.
    syncer: Option<Worker<Syncer>>,
    /// More connections for reads the cache does not answer (a writer's only: a reader's
    /// snapshot lives on its one connection), so that they do not queue behind batches.
    readers: Vec<Worker<Syncer>>,
    next_reader: std::sync::atomic::AtomicUsize,
    cache: Mutex<cache::ReadCache>,
    location: Location,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.location.display())
    }
}

/// The writer's connection and what it must remember.
struct Connection {
    location: Location,
    client: Option<schema::Session>,
    /// When the server last started, as first seen: a later value means it restarted.
    server_started: Option<String>,
    /// Batches committed but not yet known durable, numbered: replayed, in order, onto a
    /// server that restarted before they were flushed (the same keys take the same values, so
    /// a replay of what did survive changes nothing).
    unsynced: Vec<(u64, Arc<Batch>)>,
    /// Batches applied so far (the number of the last).
    applied: u64,
    /// The bytes of `unsynced`; past [`REPLAY_LIMIT`] the store syncs by itself.
    unsynced_bytes: usize,
    /// Why writes are refused until the store is opened again.
    failed: Option<String>,
    /// A reader: one repeatable-read, read-only transaction for the store's whole life.
    read_only: bool,
}

/// A writer's second (or further) connection: for syncs, or for reads.
struct Syncer {
    location: Location,
    client: Option<schema::Session>,
}

/// Connections a writer reads on besides its own.
const READERS: usize = 3;

/// The most bytes of unsynced batches kept for a replay.
const REPLAY_LIMIT: usize = 64 << 20;

impl PgStore {
    /// Opens (creating or migrating the schema) the archive at `location` for writing; fails
    /// with [`StoreError::InUse`] while another process writes it.
    pub fn open(location: Location) -> Result<PgStore, StoreError> {
        Self::start(location, false)
    }

    /// Opens the archive at `location` for reading only, on one consistent snapshot taken
    /// now (an audit while the service keeps filing); writes are refused.
    pub fn open_read_only(location: Location) -> Result<PgStore, StoreError> {
        Self::start(location, true)
    }

    fn start(location: Location, read_only: bool) -> Result<PgStore, StoreError> {
        schema::check_name(&location.schema)?;
        let conn = Connection {
            location: location.clone(),
            client: None,
            server_started: None,
            unsynced: Vec::new(),
            applied: 0,
            unsynced_bytes: 0,
            failed: None,
            read_only,
        };
        let writer = Worker::spawn("tamga-postgres", conn, Connection::close)?;
        writer.call(|c| c.client().map(|_| ()))?;
        let side = |name: &str| {
            let s = Syncer {
                location: location.clone(),
                client: None,
            };
            Worker::spawn(name, s, |s| s.client = None)
        };
        let (syncer, readers) = if read_only {
            (None, Vec::new())
        } else {
            let readers = (0..READERS)
                .map(|_| side("tamga-postgres-read"))
                .collect::<Result<_, _>>()?;
            (Some(side("tamga-postgres-sync")?), readers)
        };
        Ok(PgStore {
            writer,
            syncer,
            readers,
            next_reader: Default::default(),
            cache: Mutex::default(),
            location,
        })
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, cache::ReadCache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for PgStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let shared = Arc::new(batch.clone());
        let result = self.writer.call(move |c| c.apply(shared));
        match &result {
            Ok(()) => self.cache().applied(batch),
            Err(_) => self.cache().clear(),
        }
        if result.is_ok() && self.writer.call(|c| Ok(c.unsynced_bytes))? > REPLAY_LIMIT {
            self.sync()?;
        }
        result
    }

    fn sync(&self) -> Result<(), StoreError> {
        let Some(syncer) = &self.syncer else {
            return Ok(());
        };
        // Which batches this sync covers, and on which server they were committed.
        let Some((started, upto)) = self.writer.call(Connection::sync_point)? else {
            return Ok(());
        };
        syncer.call(move |s| s.flush(&started))?;
        self.writer.call(move |c| {
            c.synced(upto);
            Ok(())
        })
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let epoch = {
            let cache = self.cache();
            if let Some(known) = cache.get(space, key) {
                return Ok(known);
            }
            cache.epoch()
        };
        let owned = key.to_vec();
        let n = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // Every batch the archive was told applied is committed, so another connection sees
        // it; a reader's snapshot is on the one connection it has.
        let value = match self.readers.get(n % self.readers.len().max(1)) {
            Some(reader) => reader.call(move |r| {
                let s = r.session()?;
                let row = s.client.query_opt(&s.get, &[&code(space), &owned]);
                Ok(row.map_err(pg)?.map(|row| row.get(0)))
            })?,
            None => self.writer.call(move |c| {
                let s = c.client()?;
                let row = s.client.query_opt(&s.get, &[&code(space), &owned]);
                Ok(row.map_err(pg)?.map(|r| r.get(0)))
            })?,
        };
        self.cache().read(epoch, space, key, &value);
        Ok(value)
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.writer.call(move |c| {
            let s = c.client()?;
            let rows = s.client.query(&s.keys, &[&code(space)]);
            Ok(rows.map_err(pg)?.iter().map(|r| r.get(0)).collect())
        })
    }
}

/// The column value of a space.
fn code(space: Space) -> i16 {
    i16::from(space.prefix())
}

/// A PostgreSQL error as the store reports it. A server that refuses (disk full, read-only,
/// shutting down) and a lost connection are all "cannot write now".
fn pg(e: postgres::Error) -> StoreError {
    StoreError::Postgres(e)
}

impl Connection {
    /// The open connection, connecting (and checking the schema and the lock) if there is
    /// none or it was lost.
    fn client(&mut self) -> Result<&mut schema::Session, StoreError> {
        if self.client.as_ref().is_some_and(|s| s.client.is_closed()) {
            self.client = None;
        }
        if self.client.is_none() {
            let role = if self.read_only {
                Role::Reader
            } else {
                Role::Writer
            };
            let mut session = schema::connect(&self.location, role)?;
            let started = schema::started(&mut session)?;
            let restarted = self.server_started.as_ref().is_some_and(|s| *s != started);
            if restarted && self.failed.is_none() {
                self.replay(&mut session);
            }
            self.server_started = Some(started);
            self.client = Some(session);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Unwritable("no PostgreSQL connection".into()))
    }

    /// Writes the unsynced batches again onto a server that restarted (or a standby that
    /// took over) before they were flushed; if that fails, writes stop until a reopen.
    fn replay(&mut self, session: &mut schema::Session) {
        for (_, batch) in &self.unsynced {
            if let Err(e) = schema::Writes::of(batch).and_then(|w| schema::apply(session, &w)) {
                self.failed = Some(format!(
                    "the PostgreSQL server restarted before filings were made durable, and \
                     writing them again failed ({e}); open the archive again"
                ));
                return;
            }
        }
    }

    /// The connection for a write.
    fn writer(&mut self) -> Result<&mut schema::Session, StoreError> {
        if self.read_only {
            return Err(StoreError::Unwritable(
                "the archive was opened for reading only".into(),
            ));
        }
        // Connecting first: it is what finds a restarted server and replays onto it.
        self.client()?;
        if let Some(why) = &self.failed {
            return Err(StoreError::Unwritable(why.clone()));
        }
        self.client()
    }

    fn apply(&mut self, batch: Arc<Batch>) -> Result<(), StoreError> {
        let writes = schema::Writes::of(&batch)?;
        if let Err(e) = schema::apply(self.writer()?, &writes) {
            if matches!(e, StoreError::Overwrite { .. }) {
                return Err(e);
            }
            // The answer to the commit may be what was lost: a transaction either landed
            // whole or not at all, so look.
            match self.client().and_then(|c| schema::landed(c, &writes)) {
                Ok(true) => {}
                Ok(false) => return Err(e),
                Err(_) => {
                    self.failed = Some(format!(
                        "a write to PostgreSQL failed ({e}) and whether it landed cannot be \
                         told; open the archive again"
                    ));
                    return Err(e);
                }
            }
        }
        self.unsynced_bytes += batch
            .puts
            .iter()
            .map(|(_, k, v)| k.len() + v.len())
            .sum::<usize>();
        self.applied += 1;
        self.unsynced.push((self.applied, batch));
        Ok(())
    }

    /// What a sync starting now covers: the server the batches were committed on and the
    /// number of the last one; `None` when every batch is durable already.
    fn sync_point(&mut self) -> Result<Option<(String, u64)>, StoreError> {
        // A connection to a server that went away is only found out by using it; find out
        // now, so that a restarted server gets its replay before this sync.
        if self.client.as_mut().is_some_and(|s| {
            s.client
                .is_valid(std::time::Duration::from_secs(5))
                .is_err()
        }) {
            self.client = None;
        }
        self.writer()?;
        if self.unsynced.is_empty() {
            return Ok(None);
        }
        let started = self.server_started.clone().unwrap_or_default();
        Ok(Some((started, self.applied)))
    }

    /// Batches up to number `upto` are durable.
    fn synced(&mut self, upto: u64) {
        self.unsynced.retain(|(n, _)| *n > upto);
        self.unsynced_bytes = self
            .unsynced
            .iter()
            .flat_map(|(_, b)| &b.puts)
            .map(|(_, k, v)| k.len() + v.len())
            .sum();
    }

    fn close(&mut self) {
        // A last flush on this connection: the syncer is gone by now.
        if let Some(s) = self.client.as_mut()
            && !self.read_only
            && !self.unsynced.is_empty()
            && self.failed.is_none()
        {
            let _ = schema::flush(s);
        }
        self.client = None;
    }
}

impl Syncer {
    /// Flushes the WAL with a synchronous commit on this connection, and checks that the
    /// server is still the one the batches were committed on (`started`): a server that
    /// restarted in between may have lost them, and the writer must replay them first.
    /// The connection, made again if it was lost.
    fn session(&mut self) -> Result<&mut schema::Session, StoreError> {
        if self.client.as_ref().is_some_and(|s| s.client.is_closed()) {
            self.client = None;
        }
        let session = match self.client.take() {
            Some(s) => s,
            None => schema::connect(&self.location, Role::Syncer)?,
        };
        Ok(self.client.insert(session))
    }

    fn flush(&mut self, started: &str) -> Result<(), StoreError> {
        let mut tries = 0;
        let session = loop {
            if self.client.as_ref().is_some_and(|s| s.client.is_closed()) {
                self.client = None;
            }
            let session = match self.client.take() {
                Some(s) => s,
                None => schema::connect(&self.location, Role::Syncer)?,
            };
            let session = self.client.insert(session);
            tries += 1;
            match schema::flush(session) {
                Ok(()) => break session,
                // A connection left from before a server restart fails at its first use:
                // one more try on a fresh one.
                Err(_) if tries == 1 && session.client.is_closed() => self.client = None,
                Err(e) => return Err(e),
            }
        };
        if schema::started(session)? != started {
            return Err(StoreError::Unwritable(
                "the PostgreSQL server restarted since these filings were written; they are \
                 written again before the next sync"
                    .into(),
            ));
        }
        Ok(())
    }
}
