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
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

mod schema;
#[cfg(test)]
mod tests;

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

/// Work for the store's connection thread.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// The PostgreSQL store.
pub struct PgStore {
    jobs: Mutex<mpsc::Sender<Job>>,
    location: Location,
    worker: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PgStore({})", self.location.display())
    }
}

/// The connection thread's state.
struct Connection {
    location: Location,
    client: Option<postgres::Client>,
    /// When the server last started, as first seen: a later value means it restarted.
    server_started: Option<String>,
    /// Batches committed since the last sync, not yet known durable: replayed, in order, onto
    /// a server that restarted before they were flushed (the same keys take the same values,
    /// so a replay of what did survive changes nothing).
    unsynced: Vec<Arc<Batch>>,
    /// Their size in bytes; past [`REPLAY_LIMIT`] the store syncs by itself.
    unsynced_bytes: usize,
    /// Why writes are refused until the store is opened again.
    failed: Option<String>,
    /// A reader: one repeatable-read, read-only transaction for the store's whole life.
    read_only: bool,
}

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
        let (tx, rx) = mpsc::channel::<Job>();
        let mut conn = Connection {
            location: location.clone(),
            client: None,
            server_started: None,
            unsynced: Vec::new(),
            unsynced_bytes: 0,
            failed: None,
            read_only,
        };
        let worker = std::thread::Builder::new()
            .name("tamga-postgres".into())
            .spawn(move || {
                for job in rx {
                    job(&mut conn);
                }
                conn.close();
            })
            .map_err(|e| StoreError::Io {
                what: "starting the PostgreSQL connection thread".into(),
                source: e,
            })?;
        let store = PgStore {
            jobs: Mutex::new(tx),
            location,
            worker: Some(worker),
        };
        store.call(|c| c.client().map(|_| ()))?;
        Ok(store)
    }

    /// Runs `f` on the connection thread and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |c| {
            let _ = answer.send(f(c));
        });
        let gone = || StoreError::Unwritable("the PostgreSQL connection thread has stopped".into());
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Closing the channel ends the thread, which closes the connection (releasing the
        // advisory lock) before the next opener may need it.
        let (closed, _) = mpsc::channel();
        *self.jobs.lock().unwrap_or_else(PoisonError::into_inner) = closed;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

impl Store for PgStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        let batch = Arc::new(batch.clone());
        self.call(move |c| c.apply(batch))
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.call(Connection::sync)
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let key = key.to_vec();
        self.call(move |c| {
            let row = c.client()?.query_opt(
                "SELECT value FROM tamga_kv WHERE space = $1 AND key = $2",
                &[&code(space), &key],
            );
            Ok(row.map_err(pg)?.map(|r| r.get(0)))
        })
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.call(move |c| {
            let rows = c.client()?.query(
                "SELECT key FROM tamga_kv WHERE space = $1 ORDER BY key",
                &[&code(space)],
            );
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
    fn client(&mut self) -> Result<&mut postgres::Client, StoreError> {
        if self
            .client
            .as_ref()
            .is_some_and(postgres::Client::is_closed)
        {
            self.client = None;
        }
        if self.client.is_none() {
            let mut client = schema::connect(&self.location, self.read_only)?;
            let started: String = client
                .query_one("SELECT pg_postmaster_start_time()::text", &[])
                .map_err(pg)?
                .get(0);
            let restarted = self.server_started.as_ref().is_some_and(|s| *s != started);
            if restarted && self.failed.is_none() {
                self.replay(&mut client);
            }
            self.server_started = Some(started);
            self.client = Some(client);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Unwritable("no PostgreSQL connection".into()))
    }

    /// Writes the unsynced batches again onto a server that restarted (or a standby that
    /// took over) before they were flushed; if that fails, writes stop until a reopen.
    fn replay(&mut self, client: &mut postgres::Client) {
        for batch in &self.unsynced {
            if let Err(e) = schema::Writes::of(batch).and_then(|w| schema::apply(client, &w)) {
                self.failed = Some(format!(
                    "the PostgreSQL server restarted before filings were made durable, and \
                     writing them again failed ({e}); open the archive again"
                ));
                return;
            }
        }
    }

    /// The connection for a write.
    fn writer(&mut self) -> Result<&mut postgres::Client, StoreError> {
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
        self.unsynced.push(batch);
        if self.unsynced_bytes > REPLAY_LIMIT {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&mut self) -> Result<(), StoreError> {
        if self.read_only {
            return Ok(());
        }
        schema::flush(self.writer()?)?;
        self.unsynced.clear();
        self.unsynced_bytes = 0;
        Ok(())
    }

    fn close(&mut self) {
        if !self.read_only && !self.unsynced.is_empty() && self.failed.is_none() {
            let _ = self.sync();
        }
        self.client = None;
    }
}
