//! The archive's store in PostgreSQL: one table of (space, key, value), written in one
//! transaction per batch, for organisations that already run, replicate and back up a
//! PostgreSQL server.
//!
//! Durability follows the [`Store`] contract exactly. [`Store::apply`] checks a batch for
//! overwrites against what the store knows (its own batches and reads; keys it knows nothing
//! of, in one `SELECT` on a reader connection), makes it visible through its own memory
//! (`pending.rs`) and hands it to the writer thread, without waiting for the server: the round
//! trip is not spent under the archive's writer lock. The writer thread commits every batch
//! handed over meanwhile as one statement (`tamga_apply`, one transaction), with
//! `synchronous_commit = off`: on disk within moments. [`Store::sync`] waits until every batch
//! handed over before it is committed, then commits one more small transaction with
//! `synchronous_commit = on` on a second connection, which flushes the WAL up to and including
//! every earlier commit (and, with a synchronous standby configured, waits for the standby
//! too): one flush per group of filings, as with the embedded stores, and a receipt still
//! leaves only after its filing is durable. A group the server refuses for good (an overwrite
//! no check could see, behind tamga's back) stops writes until the archive is opened again,
//! and every sync fails meanwhile, so no receipt leaves for it; one that cannot be written now
//! (a lost connection, a server restarting) is written again, first, and while that fails
//! every write and sync is refused.
//!
//! What the embedded stores learn from their files, this one learns from a count the server
//! keeps in the same transactions: `tamga_sync.applied`, one more per group. A sync is refused
//! unless the durable count covers every batch it is to cover, so a server that lost
//! unflushed commits (a crash recovery, with or without a restart; a standby promoted) is
//! never told durable. On a new connection the writer compares counts: lower, and the lost
//! groups — kept in memory until a sync covers them — are written again in order (the same
//! keys take the same values); higher, and what the archive above holds in memory is not what
//! is stored, so writes stop until the archive is opened again. Reads the cache does not
//! answer go to three more connections.
//!
//! By default one process writes: the store holds a session advisory lock for its schema
//! exclusively, and a second writer is told the archive is in use. Several `tamga serve`
//! frontends can share one archive when each is told so ([`Location::shared`]): they hold
//! that lock shared and write in turns, each turn committed synchronously — `turn.rs` says
//! how, and what the count and the memory above mean then.
//!
//! The client is the synchronous `postgres` crate, driven by one thread of the store's own, so
//! that callers on an async runtime's threads cannot trip over its internal runtime.

use super::store::{Batch, Space, Store, StoreError};
use pending::Shared;
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::ThreadId;
use syncer::Syncer;
use worker::Worker;

mod alone;
mod cache;
mod filter;
mod learn;
mod location;
mod migrations;
mod pending;
mod schema;
mod syncer;
#[cfg(test)]
mod tests;
mod turn;
#[cfg(test)]
mod turn_tests;
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
    /// The batches handed over and not yet committed, the read cache, the writer's state.
    shared: Arc<Mutex<Shared>>,
    /// Signalled when turns commit or fail, for syncs waiting on them.
    wake: Arc<Condvar>,
    /// Whether this store is one of several writers, writing in turns (`turn.rs`).
    turns: bool,
    /// The threads in a turn, and how many turns each began (a sync inside one would wait
    /// for its own end).
    holders: Mutex<HashMap<ThreadId, usize>>,
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
    /// Batches handed over, with their numbers, not yet in a group.
    queue: Vec<(u64, Arc<Batch>)>,
    /// The group being committed: the number of its last batch, and its batches as one. It
    /// stays until the server has it (written again after a lost connection), since the
    /// archive above was told it applied.
    group: Option<(u64, Arc<Batch>)>,
    /// Whether the group's commit went unanswered and its fate is not known yet.
    unknown: bool,
    /// Groups committed but not yet known durable, numbered: replayed, in order, onto a
    /// server that restarted before they were flushed (the same keys take the same values, so
    /// a replay of what did survive changes nothing).
    unsynced: Vec<(i64, Arc<Batch>)>,
    /// Why writes are refused until the store is opened again.
    failed: Option<String>,
    /// A reader: one repeatable-read, read-only transaction for the store's whole life.
    read_only: bool,
    /// What the store's callers see: told when a group is committed or writes stop.
    shared: Arc<Mutex<Shared>>,
    /// Whether this writer is one of several, writing in turns (`turn.rs`).
    turns: bool,
    /// The turn held, its transaction open on `client` (unless lost with it).
    turn: Option<turn::Turn>,
    /// Turns the store's callers began and have not ended (they nest and overlap).
    depth: usize,
    /// A turn of this writer failed: the next turn tells the archive above to read again.
    stale: bool,
    /// The count of groups up to which what the store remembers of the table (its filter of
    /// keys, the greatest keys, the read cache) takes in every row: a turn that finds a
    /// higher count reads the rows written since (`turn.rs`). `None`: not known (the
    /// filter is dropped, and the cache keeps only what no writer can change).
    known: Option<i64>,
    /// Whether an ended turn has waited once for more batches to join it.
    lingered: bool,
    /// Signalled when a turn commits or fails.
    wake: Arc<Condvar>,
}

/// Connections a writer reads on besides its own.
const READERS: usize = 3;

/// The most bytes of unsynced batches kept for a replay; past it the store syncs by itself.
const REPLAY_LIMIT: u64 = 64 << 20;

/// The most batches committed as one group, and the most bytes (past which no more join).
const GROUP_BATCHES: usize = 512;
const GROUP_BYTES: usize = 16 << 20;

impl PgStore {
    /// Opens (creating or migrating the schema) the archive at `location` for writing: as
    /// one of several writers, in turns, if it is [`Location::shared`], else alone. Fails
    /// with [`StoreError::InUse`] while another process writes it alone, or (alone) while
    /// any other process writes it.
    pub fn open(location: Location) -> Result<PgStore, StoreError> {
        let turns = location.shared;
        Self::start(location, false, turns)
    }

    /// Opens the archive at `location` for writing by this process alone (a restore, or
    /// anything that must not have writers beside it); fails with [`StoreError::InUse`]
    /// while another process writes it.
    pub fn open_alone(location: Location) -> Result<PgStore, StoreError> {
        Self::start(location, false, false)
    }

    /// Opens the archive at `location` for reading only, on one consistent snapshot taken
    /// now (an audit while the service keeps filing); writes are refused.
    pub fn open_read_only(location: Location) -> Result<PgStore, StoreError> {
        Self::start(location, true, false)
    }

    fn start(location: Location, read_only: bool, turns: bool) -> Result<PgStore, StoreError> {
        schema::check_name(&location.schema)?;
        let mut shared = Shared::default();
        // One writer alone (or a reader of one snapshot) knows what is stored at all times.
        shared.current = !turns;
        let shared = Arc::new(Mutex::new(shared));
        let wake = Arc::new(Condvar::new());
        let conn = Connection {
            location: location.clone(),
            client: None,
            count: None,
            durable: 0,
            queue: Vec::new(),
            group: None,
            unknown: false,
            unsynced: Vec::new(),
            failed: None,
            read_only,
            shared: Arc::clone(&shared),
            turns,
            turn: None,
            depth: 0,
            stale: false,
            known: None,
            lingered: false,
            wake: Arc::clone(&wake),
        };
        // Whenever the writer has taken in every batch handed over so far, it commits them.
        let idle = |c: &mut Connection| {
            if c.turns {
                return c.idle_turns();
            }
            let _ = c.settle();
            None
        };
        let writer = Worker::spawn_with_idle("tamga-postgres", conn, idle, Connection::close)?;
        writer.call(|c| c.client().map(|_| ()))?;
        if !read_only {
            writer.call(Connection::learn_greatest)?;
        }
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
            shared,
            wake,
            turns,
            holders: Mutex::default(),
            location,
        })
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared> {
        lock(&self.shared)
    }

    /// One of the reader connections, in turn (`None` for a reader, which has only one).
    fn reader(&self) -> Option<&Worker<Syncer>> {
        let n = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.readers.get(n % self.readers.len().max(1))
    }

    /// Refuses `batch` if it would overwrite an append-only value: against what the store
    /// knows (its own batches, handed over or committed, and its reads), and for keys it
    /// knows nothing of, against the committed table in one round trip (nothing but this
    /// store's own batches changes a key, and those it knows).
    fn check_overwrites(&self, batch: &Batch) -> Result<(), StoreError> {
        let mut unknown = Vec::new();
        {
            let shared = self.shared();
            for (space, key, value) in batch.puts.iter().filter(|p| p.0.append_only()) {
                match shared.clashes(*space, key, value) {
                    Some(true) => return Err(schema::overwrite(*space, key)),
                    Some(false) => {}
                    None => unknown.push((*space, key.clone(), value.clone())),
                }
            }
        }
        let Some(reader) = self.reader().filter(|_| !unknown.is_empty()) else {
            return Ok(());
        };
        let clash = reader.call(move |r| {
            let puts: Vec<_> = unknown
                .iter()
                .map(|(s, k, v)| (*s, k.as_slice(), v.as_slice()))
                .collect();
            r.run(|s| schema::clashing(s, &puts))
        })?;
        clash.map_or(Ok(()), Err)
    }
}

/// A lock that a panic elsewhere does not poison: the shared state is changed in steps that
/// each leave it whole.
fn lock(m: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store for PgStore {
    fn apply(&self, batch: &Batch) -> Result<(), StoreError> {
        if self.syncer.is_none() {
            return Err(StoreError::Unwritable(
                "the archive was opened for reading only".into(),
            ));
        }
        // What the store contract refuses outright, before anything else.
        schema::Writes::of(batch)?;
        let stalled = {
            let shared = self.shared();
            if let Some(why) = &shared.failed {
                return Err(StoreError::Unwritable(why.clone()));
            }
            shared.stalled
        };
        // Earlier batches are not committed yet: they go first, and while they cannot, no
        // more is taken (the caller is told "not now", and its filing is not made).
        if stalled {
            self.writer.call(Connection::settle)?;
        }
        self.check_overwrites(batch)?;
        let unsynced = {
            let mut shared = self.shared();
            let n = shared.hand_over(batch);
            let shared_batch = Arc::new(batch.clone());
            // Under the lock, so that the writer takes batches in the order of their numbers.
            self.writer.cast(move |c| c.queue.push((n, shared_batch)))?;
            shared.unsynced()
        };
        // (A turn's groups are kept until it commits, and a sync inside a turn waits for it.)
        if unsynced > REPLAY_LIMIT && !self.turns {
            self.sync()?;
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        let Some(syncer) = &self.syncer else {
            return Ok(());
        };
        if self.turns {
            return self.sync_turns();
        }
        let mark = self.shared().handed();
        // Which groups this sync covers (every batch handed over before it is committed
        // first), and on which server they were committed.
        let Some(upto) = self.writer.call(Connection::sync_point)? else {
            self.shared().synced(mark);
            return Ok(());
        };
        syncer.call(move |s| s.flush(upto))?;
        self.writer.call(move |c| {
            c.synced(upto);
            Ok(())
        })?;
        self.shared().synced(mark);
        Ok(())
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let epoch = {
            let shared = self.shared();
            if let Some(known) = shared.get(space, key) {
                return Ok(known);
            }
            shared.cache.epoch()
        };

        let owned = key.to_vec();
        // Every batch not answered above is committed, so another connection sees it; a
        // reader's snapshot is on the one connection it has.
        let value = match self.reader() {
            Some(reader) => reader.call(move |r| {
                r.run(|s| {
                    let row = s.client.query_opt(&s.get, &[&code(space), &owned]);
                    Ok(row.map_err(pg)?.map(|row| row.get(0)))
                })
            })?,
            None => self.writer.call(move |c| {
                let s = c.client()?;
                let row = s.client.query_opt(&s.get, &[&code(space), &owned]);
                Ok(row.map_err(pg)?.map(|r| r.get(0)))
            })?,
        };
        self.shared().cache.read(epoch, space, key, &value);
        Ok(value)
    }

    fn writes_in_turns(&self) -> bool {
        true
    }

    fn begin_turn(&self) -> Result<bool, StoreError> {
        if !self.turns {
            return Ok(false);
        }
        let foreign = self.begin_turns()?;
        let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
        *holders.entry(std::thread::current().id()).or_default() += 1;
        Ok(foreign)
    }

    fn end_turn(&self) {
        if !self.turns {
            return;
        }
        {
            let mut holders = self.holders.lock().unwrap_or_else(PoisonError::into_inner);
            let me = std::thread::current().id();
            if let Some(n) = holders.get_mut(&me) {
                *n -= 1;
                if *n == 0 {
                    holders.remove(&me);
                }
            }
        }
        let _ = self.writer.cast(Connection::end);
    }

    fn losses(&self) -> u64 {
        self.shared().losses
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        self.writer.call(move |c| {
            if !c.read_only && c.failed.is_none() {
                c.settle()?;
            }
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
            // A turn's transaction dies with its connection. Nothing more of it may run on a
            // new session: a write there would land outside the turn's lock, and a COMMIT
            // commits nothing while answering success. The turn is taken again instead.
            if self.turn_open() {
                self.turn_closed();
                return Err(StoreError::Unwritable(
                    "the connection holding this process's turn closed".into(),
                ));
            }
        }
        if self.client.is_none() {
            let role = if self.read_only {
                Role::Reader
            } else {
                Role::Writer
            };
            let role = if self.turns { Role::Sharing } else { role };
            let mut session = schema::connect(&self.location, role)?;
            // A turn compares counts itself, once it holds the turn.
            let counted = self.turns && self.count.is_some();
            if !self.read_only && !counted {
                self.reconcile(&mut session)?;
            }
            self.client = Some(session);
        }
        self.client
            .as_mut()
            .ok_or_else(|| StoreError::Unwritable("no PostgreSQL connection".into()))
    }

    /// Reads the greatest key of each append-only space, so that keys written beyond it are
    /// known new without a look-up, and every key, so that absent ones are known absent
    /// (before any batch is handed over: one scan of the keys, the index only). The count of
    /// groups is read first: every row of a group up to it is in the scan (another writer's
    /// later rows may be too, which a turn reads again).
    fn learn_greatest(&mut self) -> Result<(), StoreError> {
        let count = schema::applied(self.client()?)?;
        for space in Space::ALL.into_iter().filter(|s| s.append_only()) {
            let greatest = schema::greatest(self.client()?, space)?;
            lock(&self.shared).greatest_is(space, greatest);
        }
        let mut keys = filter::KeyFilter::default();
        schema::each_key(self.client()?, |space, key| keys.insert(space, key))?;
        lock(&self.shared).keys_are(keys);
        self.known = Some(count);
        Ok(())
    }

    /// Stops writes until the store is opened again, saying why.
    fn fail(&mut self, why: &str) {
        if self.failed.is_none() {
            let why = format!("{why}; open the archive again");
            lock(&self.shared).fail(&why);
            self.failed = Some(why);
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

    /// Commits every batch handed over so far, in groups, in order; tells the store's callers
    /// whether some are held up.
    fn settle(&mut self) -> Result<(), StoreError> {
        let result = if self.turns {
            self.settle_turns()
        } else {
            self.commit_all()
        };
        lock(&self.shared).stalled = result.is_err();
        result
    }

    /// The next batches handed over, as one: as many as came, within bounds; a batch that
    /// destroys goes alone, so that its disposals fall exactly between the batches around it.
    fn next_group(&mut self) -> Option<(u64, Arc<Batch>)> {
        let alone = |b: &Batch| !b.disposals.is_empty();
        let first = self.queue.first()?;
        let mut take = 1;
        if !alone(&first.1) {
            let mut bytes = pending::bytes(&first.1);
            for (_, next) in self.queue.iter().skip(1) {
                bytes += pending::bytes(next);
                if alone(next) || take >= GROUP_BATCHES || bytes > GROUP_BYTES {
                    break;
                }
                take += 1;
            }
        }
        let mut taken = self.queue.drain(..take);
        let (mut last, first) = taken.next()?;
        if take == 1 {
            return Some((last, first));
        }
        let mut group = Arc::unwrap_or_clone(first);
        for (n, batch) in taken {
            last = n;
            group.puts.extend(Arc::unwrap_or_clone(batch).puts);
        }
        Some((last, Arc::new(group)))
    }

    fn close(&mut self) {
        // The last batches, and a last flush on this connection: the syncer is gone by now.
        if !self.read_only && self.failed.is_none() {
            let _ = self.settle();
        }
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
