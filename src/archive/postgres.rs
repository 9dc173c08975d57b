//! The archive's store in PostgreSQL: one table of (space, key, value), written in one
//! transaction per batch, for organisations that already run, replicate and back up a
//! PostgreSQL server.
//!
//! Durability follows the [`Store`] contract exactly. A batch is one statement
//! (`tamga_apply`), committed with `synchronous_commit = off`: visible at once, on disk within
//! moments. [`Store::sync`] commits one more small transaction with `synchronous_commit = on`
//! on a second connection, which flushes the WAL up to and including every earlier commit (and,
//! with a synchronous standby configured, waits for the standby too): one flush per group of
//! filings, as with the embedded stores, and a receipt still leaves only after its filing is
//! durable.
//!
//! What the embedded stores learn from their files, this one learns from a count the server
//! keeps in the same transactions: `tamga_sync.applied`, one more per batch. A sync is refused
//! unless the durable count covers every batch it is to cover, so a server that lost
//! unflushed commits (a crash recovery, with or without a restart; a standby promoted) is
//! never told durable. On a new connection the writer compares counts: lower, and the lost
//! batches — kept in memory until a sync covers them — are written again in order (the same
//! keys take the same values); higher, or a batch answered as failed that landed after all,
//! and what the archive above holds in memory is not what is stored, so writes stop until
//! the archive is opened again. Reads the cache does not answer go to three more connections.
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
mod location;
mod schema;
#[cfg(test)]
mod tests;
mod worker;

pub use location::Location;
use schema::Role;
pub use schema::SCHEMA_VERSION;

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
    /// The count of batches applied (`tamga_sync.applied`) after this writer's last one: on
    /// a new connection, a lower count in the server means it lost the last ones (a crash
    /// recovery, a restart, a standby promoted), a higher one that another process wrote.
    count: Option<i64>,
    /// The count known durable: the server's count when this writer first connected, then
    /// each sync's. A server counting fewer lost filings that were acknowledged, which no
    /// replay can bring back (an asynchronous standby promoted, an older backup restored).
    durable: i64,
    /// A batch whose commit went unanswered and whose fate is not known yet.
    unknown: Option<Arc<Batch>>,
    /// Batches committed but not yet known durable, numbered: replayed, in order, onto a
    /// server that restarted before they were flushed (the same keys take the same values, so
    /// a replay of what did survive changes nothing).
    unsynced: Vec<(i64, Arc<Batch>)>,
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
            count: None,
            durable: 0,
            unknown: None,
            unsynced: Vec::new(),
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
        let Some(upto) = self.writer.call(Connection::sync_point)? else {
            return Ok(());
        };
        syncer.call(move |s| s.flush(upto))?;
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
            if !self.read_only {
                self.reconcile(&mut session)?;
            }
            self.client = Some(session);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Unwritable("no PostgreSQL connection".into()))
    }

    /// Compares the server's count of batches with this writer's on a new connection: the
    /// same, nothing happened; lower, the server lost the last ones, which are written again
    /// in order (the same keys take the same values); higher, or a batch answered as failed
    /// that landed after all, and what the archive above holds in memory is no longer what
    /// is stored: writes stop until the archive is opened again.
    fn reconcile(&mut self, session: &mut schema::Session) -> Result<(), StoreError> {
        let db = schema::applied(session)?;
        let Some(mine) = self.count else {
            self.count = Some(db);
            self.durable = db;
            return Ok(());
        };
        if db < self.durable {
            self.fail("the database lost filings that were acknowledged as durable");
            return Ok(());
        }
        if let Some(batch) = self.unknown.take() {
            let landed = db == mine + 1
                && schema::Writes::of(&batch).and_then(|w| schema::landed(session, &w))?;
            if landed {
                self.fail("a batch reported as not written was committed after all");
                return Ok(());
            }
        }
        if db > mine {
            self.fail("another process wrote this archive while the connection was lost");
        } else if db < mine {
            for (n, batch) in &mut self.unsynced {
                if *n <= db {
                    continue;
                }
                match schema::Writes::of(batch).and_then(|w| schema::apply(session, &w)) {
                    Ok(count) => *n = count,
                    Err(e) => {
                        let why = format!("writing lost filings again failed ({e})");
                        self.fail(&why);
                        return Ok(());
                    }
                }
            }
            self.count = Some(schema::applied(session)?);
        }
        Ok(())
    }

    /// Stops writes until the store is opened again, saying why.
    fn fail(&mut self, why: &str) {
        if self.failed.is_none() {
            self.failed = Some(format!("{why}; open the archive again"));
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
        let count = match schema::apply(self.writer()?, &writes) {
            Ok(count) => count,
            Err(e @ StoreError::Overwrite { .. }) => return Err(e),
            Err(e) => {
                // The answer to the commit may be what was lost: a transaction lands whole
                // or not at all, so look, on a fresh connection. If none can be had now, the
                // next one looks (and stops writes if it landed after all).
                self.client = None;
                self.unknown = Some(Arc::clone(&batch));
                return match self.resolve(&writes) {
                    Some(count) => {
                        self.record(count, batch);
                        Ok(())
                    }
                    None => Err(e),
                };
            }
        };
        self.record(count, batch);
        Ok(())
    }

    /// Whether the unanswered batch `writes` landed, on a fresh connection: its count when it
    /// did; `None` when it did not or no connection can be had (then it stays unknown).
    fn resolve(&mut self, writes: &schema::Writes) -> Option<i64> {
        let mine = self.count?;
        let mut session = schema::connect(&self.location, Role::Writer).ok()?;
        let db = schema::applied(&mut session).ok()?;
        if db == mine + 1 && schema::landed(&mut session, writes).ok()? {
            self.unknown = None;
            self.client = Some(session);
            return Some(db);
        }
        // Not that batch: the usual comparison decides (lost ones replayed, or writes stop).
        self.reconcile(&mut session).ok()?;
        self.client = Some(session);
        None
    }

    /// Keeps a batch the server counted as `count` until a sync covers it.
    fn record(&mut self, count: i64, batch: Arc<Batch>) {
        self.unsynced_bytes += batch
            .puts
            .iter()
            .map(|(_, k, v)| k.len() + v.len())
            .sum::<usize>();
        self.count = Some(count);
        self.unsynced.push((count, batch));
    }

    /// What a sync starting now covers: the server's count of the last batch; `None` when
    /// every batch is durable already.
    fn sync_point(&mut self) -> Result<Option<i64>, StoreError> {
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
        Ok(self.count)
    }

    /// Batches up to number `upto` are durable.
    fn synced(&mut self, upto: i64) {
        self.durable = self.durable.max(upto);
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

    /// Flushes the WAL with a synchronous commit on this connection, and checks that the
    /// server counts at least `upto` batches once it is durable: a server that lost some in
    /// between (a crash recovery, a restart) must have them written again by the writer
    /// first, and no sync may claim them.
    fn flush(&mut self, upto: i64) -> Result<(), StoreError> {
        let durable = match schema::flush(self.session()?) {
            Ok(n) => n,
            // A connection left from before a server restart fails at its first use: one
            // more try on a fresh one.
            Err(_) if self.client.as_ref().is_some_and(|s| s.client.is_closed()) => {
                self.client = None;
                schema::flush(self.session()?)?
            }
            Err(e) => return Err(e),
        };
        if durable < upto {
            return Err(StoreError::Unwritable(format!(
                "the PostgreSQL server holds {durable} batches, not the {upto} written: the \
                 lost ones are written again before the next sync"
            )));
        }
        Ok(())
    }
}
