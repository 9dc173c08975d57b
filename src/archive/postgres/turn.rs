//! Turns: several `tamga serve` processes writing one archive, one at a time.
//!
//! Each frontend's writer holds the archive's lifetime advisory lock *shared* (an exclusive
//! holder — a restore, an older tamga that writes alone — still excludes them all, and they
//! it). What the archive above builds a batch on (the log's head, the tree's edge, the access
//! log's head, the case counters) must be what is stored, so batches are written in turns:
//! [`Store::begin_turn`](crate::archive::store::Store::begin_turn) opens a transaction on the
//! writer's connection and waits for a transaction-level advisory lock there
//! (`pg_advisory_xact_lock`; PostgreSQL queues its waiters in order, so every frontend gets
//! its turn). Every group of batches of the turn is written in that transaction; once the
//! store's callers ended every turn they began (turns of one process's threads overlap, and
//! are counted) and nothing handed over is left, the transaction commits — synchronously:
//! one WAL flush, and with a synchronous standby its confirmation, for everything in the turn
//! — and the commit releases the lock. A sync waits for that commit: a receipt leaves only
//! once its filing's turn is durable.
//!
//! **A lease, not a lock.** The writer's session has `idle_in_transaction_session_timeout`
//! set to [`LEASE`]: a holder that stops (SIGSTOP, a hung thread, a partition) leaves its
//! turn's transaction idle, the server ends the session, rolls the turn back and lets the next
//! writer in; a holder killed outright loses it with its connection at once. A holder whose
//! turn was taken from it never commits it afterwards — its transaction is gone — and on its
//! next use takes a new turn: if no group was committed by anyone since the lost turn began
//! (the count in `tamga_sync.applied` unchanged), the store holds exactly what it held then
//! and the lost turn's groups are written again in the new one (a restarted server, a lost
//! connection: nothing the archive was told was applied goes missing, as with one writer);
//! otherwise another writer built on what is stored without them, so they fail — every sync
//! fails until the next turn tells the archive above to read what is stored again (every turn
//! tells it, until one commits a write), and no receipt leaves for them. The archive's memory
//! is then *ahead* of what is stored, and a filing it was waiting to make durable must be
//! failed by the archive itself: a later sync covers what is stored, not that filing. Batches
//! handed over outside any turn fail too while the writer is stale (the count a lost turn
//! found is remembered, so "unchanged" would not tell). A commit whose answer was lost is
//! looked up in the new turn: the turn landed whole (every value there, and the count past
//! it) or not at all; once another writer wrote after it (the count past its end), only its
//! append-only values are looked for, since every filing rewrites the index's keys.
//!
//! **A turn's span.** Turns of this process's threads join the open turn for [`SPAN`]; after
//! that a thread not already in it waits until those in it ended theirs and it committed, so
//! that overlapping turns cannot hold it (and the other writers out) for ever.
//!
//! **Another writer's writes.** A turn that finds the count moved since this writer's last
//! turn returns `true` (the archive reads its head again). Before anything is answered in
//! it, the store reads the rows the other writers wrote since (each row names the group
//! that wrote it; one round trip) and takes them into its filter of keys, its greatest keys
//! and its read cache (`learn.rs`); a disposal among them makes the cache forget what a
//! disposal can delete. So a shared frontend keeps answering keys not there yet from
//! memory, and never "absent" for a key another wrote: a wrong "absent" would file a
//! retried document twice. Only a server whose count went back (it lost groups) leaves
//! nothing to learn from: then the filter is dropped for good and the cache keeps what no
//! writer can change, as before schema version 3. Outside a turn nothing but values of
//! append-only spaces that no disposal deletes is answered from memory.
//!
//! **A setting, not the default** (`--database-shared`, [`Location::shared`]): the commit
//! that makes a turn durable also releases it, so a frontend files nothing while its flush
//! runs, where one writer alone keeps committing on its connection while a second one
//! flushes. Measured with `cargo bench --bench load -- 2000 http postgres [shared|two]`
//! (README, "### Service under load"): one frontend writing in turns files at about half
//! the rate of one alone, and two frontends together about as much as one in turns.
//! Every frontend of an archive must be given the setting; one without it holds the lifetime
//! lock exclusively, and is refused beside them, or excludes them.
//!
//! [`Location::shared`]: super::Location::shared

use super::{Connection, PgStore, lock, schema};
use crate::archive::store::{Batch, StoreError};
use std::sync::Arc;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

/// How long a turn's holder may leave its transaction idle before the server ends its session
/// and the turn passes on.
pub const LEASE: Duration = Duration::from_secs(5);

/// How long an ended turn stays open, with nothing to do, for more of this process's
/// batches to join it before it commits (a sync commits it at once).
const LINGER: Duration = Duration::from_millis(1);

/// How long turns of this process may keep joining an open turn before it is committed and
/// the next one queues behind the other writers.
const SPAN: Duration = Duration::from_millis(20);

/// How many times a turn is taken again and its groups written again before the caller is
/// told "not now".
const ATTEMPTS: usize = 3;

/// The turn this writer holds (or held: its transaction may be gone with its connection).
pub(super) struct Turn {
    /// The server's count of groups when it began.
    start: i64,
    /// The count after its last group.
    end: i64,
    /// Whether it found another writer's writes.
    foreign: bool,
    /// Its groups (number of the last batch, the batches as one), in order.
    groups: Vec<(u64, Arc<Batch>)>,
    opened: Instant,
    /// Whether its transaction is open on the writer's connection.
    open: bool,
    /// Whether its commit went unanswered.
    unknown: bool,
    /// Why it was lost: its groups fail.
    lost: Option<String>,
}

/// Why a turn taken from its holder fails.
const TAKEN: &str = "this tamga process lost its turn to write the archive (its connection, or \
                     its lease of the turn) and another process wrote meanwhile: the filings \
                     of that turn were not made, send them again";

impl Connection {
    /// Begins a turn for the store's callers ([`Store::begin_turn`]): joins the turn this
    /// process holds, or takes a new one. Returns whether another writer wrote since this
    /// writer's last turn, or `None` when the caller must wait: the turn held has been open
    /// for [`SPAN`] and callers are still in it, so it commits once they ended theirs.
    /// `nested`: the caller's thread is in the turn already, and waiting would wait for itself.
    ///
    /// [`Store::begin_turn`]: crate::archive::store::Store::begin_turn
    pub(super) fn begin(&mut self, nested: bool) -> Result<Option<bool>, StoreError> {
        self.lingered = false;
        if let Some(t) = &self.turn {
            let young = t.open && t.opened.elapsed() < SPAN;
            match &t.lost {
                Some(why) if self.depth > 0 => return Err(StoreError::Unwritable(why.clone())),
                None if (self.depth > 0 && nested) || young => {
                    self.depth += 1;
                    return Ok(Some(t.foreign));
                }
                // Joining regardless would let overlapping turns keep it open for ever: the
                // other writers would starve, and syncs wait for a commit that never comes.
                None if self.depth > 0 => return Ok(None),
                _ => self.settle()?,
            }
        }
        let foreign = self.open_turn(false)?;
        self.depth += 1;
        Ok(Some(foreign))
    }

    /// Ends one of the turns begun ([`Connection::begin`]); the last one's end lets the turn
    /// commit once what was handed over in it is written.
    pub(super) fn end(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Writes what was handed over into the turn and, once no caller is in a turn, commits.
    pub(super) fn settle_turns(&mut self) -> Result<(), StoreError> {
        self.write_queued()?;
        if self.depth == 0 {
            self.finish()?;
        }
        Ok(())
    }

    /// The writer thread has nothing to do: an ended turn waits [`LINGER`] for more, then
    /// commits. Returns how long to wait before being asked again.
    pub(super) fn idle_turns(&mut self) -> Option<Duration> {
        if self.write_queued().is_err() || self.depth > 0 || self.turn.is_none() {
            return None;
        }
        if !std::mem::replace(&mut self.lingered, true) {
            return Some(LINGER);
        }
        self.lingered = false;
        if let Err(e) = self.finish() {
            // Nobody waits for this commit: the next sync or turn meets the failure again.
            tracing::warn!(error = %e, "committing an idle turn failed");
        }
        None
    }

    /// Takes a new turn. `implicit`: for batches handed over outside any turn (callers that
    /// never take one), which, built without a turn, fail if another writer wrote.
    fn open_turn(&mut self, implicit: bool) -> Result<bool, StoreError> {
        let (count, deleted) = self.take()?;
        // What another writer wrote since, before anything is answered in this turn.
        if let Err(e) = self.learn(count, deleted) {
            self.drop_transaction();
            return Err(e);
        }
        let moved = self.count != Some(count);
        self.count = Some(count);
        // After a failed turn, every turn says so until one commits a write: the archive's
        // reading again may itself fail, and must not be skipped the next time.
        let foreign = moved || (!implicit && self.stale);
        {
            let mut shared = lock(&self.shared);
            if foreign {
                shared.foreign();
            }
            if foreign && !implicit {
                // The archive above reads what is stored again: earlier failures are told.
                shared.turn_failed = None;
            }
            shared.current = true;
        }
        // Batches built outside any turn were built on this process's memory: after another
        // writer's write (this turn's, or one a lost turn already counted in `self.count`),
        // that memory is stale until the archive above reads again in a turn that writes.
        let lost = (implicit && (moved || self.stale)).then(|| TAKEN.to_owned());
        self.turn = Some(Turn {
            start: count,
            end: count,
            foreign,
            groups: Vec::new(),
            opened: Instant::now(),
            open: true,
            unknown: false,
            lost,
        });
        Ok(foreign)
    }

    /// Takes the turn's lock in a new transaction (on a fresh connection if the old one
    /// turns out dead) and returns the count of groups and the last that disposed of rows;
    /// refuses a server that lost groups this writer was told were durable.
    fn take(&mut self) -> Result<(i64, i64), StoreError> {
        let mut tries = 0;
        let count = loop {
            tries += 1;
            match schema::take_turn(self.writer()?) {
                Ok(counts) => break counts,
                Err(e) if tries < 2 && !schema::refused_for_good(&e) => self.client = None,
                Err(e) => return Err(e),
            }
        };
        if count.0 < self.durable {
            if let Some(s) = self.client.as_mut() {
                let _ = schema::end_turn(s, false);
            }
            self.fail("the database lost filings that were acknowledged as durable");
            return Err(StoreError::Unwritable(
                self.failed.clone().unwrap_or_default(),
            ));
        }
        Ok(count)
    }

    /// Writes every group handed over into the turn (taking one for batches handed over
    /// outside any).
    fn write_queued(&mut self) -> Result<(), StoreError> {
        let mut attempts = 0;
        loop {
            if self.group.is_none() {
                self.group = self.next_group();
            }
            let Some((last, group)) = self.group.clone() else {
                return Ok(());
            };
            if self.turn.is_none() {
                self.open_turn(true)?;
            }
            let Some(turn) = self.turn.as_mut() else {
                continue;
            };
            if turn.lost.is_some() {
                turn.groups.push((last, group));
                self.group = None;
                continue;
            }
            if !turn.open {
                self.retake(&mut attempts)?;
                continue;
            }
            let written =
                schema::Writes::of(&group).and_then(|w| schema::apply(self.writer()?, &w));
            match written {
                Ok(count) => {
                    if let Some(turn) = self.turn.as_mut() {
                        turn.end = count;
                        turn.groups.push((last, group));
                    }
                    self.group = None;
                }
                Err(e) if schema::refused_for_good(&e) => {
                    self.drop_transaction();
                    self.turn = None;
                    let why = format!("the database refused filings already taken in ({e})");
                    self.fail(&why);
                    // Out of its turn for good: others write on, and what it knows may be stale.
                    lock(&self.shared).current = false;
                    self.wake.notify_all();
                    return Err(StoreError::Unwritable(self.failed.clone().unwrap_or(why)));
                }
                // The transaction is gone (a lost connection, the server refusing for now):
                // the turn is taken again, and its groups written again if no one wrote.
                Err(_) => self.drop_transaction(),
            }
        }
    }

    /// Takes the turn again for a turn whose transaction is gone ([`Connection::recover`]),
    /// at most [`ATTEMPTS`] times for one settling: then the caller is told "not now".
    fn retake(&mut self, attempts: &mut usize) -> Result<(), StoreError> {
        *attempts += 1;
        if *attempts > ATTEMPTS {
            return Err(StoreError::Unwritable(
                "the database does not take the turn's filings now".into(),
            ));
        }
        self.recover()
    }

    /// Whether a turn's transaction is open on the writer's connection.
    pub(super) fn turn_open(&self) -> bool {
        self.turn.as_ref().is_some_and(|t| t.open)
    }

    /// The writer's connection closed under an open turn: its transaction is gone with it
    /// (rolled back by the server, never committed).
    pub(super) fn turn_closed(&mut self) {
        if let Some(turn) = self.turn.as_mut() {
            turn.open = false;
        }
    }

    /// Rolls back the turn's transaction if the connection still stands (or drops it), so
    /// the lock is not held for nothing.
    fn drop_transaction(&mut self) {
        if let Some(turn) = self.turn.as_mut() {
            turn.open = false;
        }
        let alive = self
            .client
            .as_mut()
            .is_some_and(|s| schema::end_turn(s, false).is_ok());
        if !alive {
            self.client = None;
        }
    }

    /// Commits the turn (no caller is in it, nothing is left to write): its batches are
    /// durable; or, lost, fails them.
    fn finish(&mut self) -> Result<(), StoreError> {
        let mut attempts = 0;
        loop {
            let Some(turn) = &self.turn else {
                return Ok(());
            };
            if let Some(why) = turn.lost.clone() {
                self.lose(&why);
                return Ok(());
            }
            if !turn.open {
                self.retake(&mut attempts)?;
                continue;
            }
            if let Err(e) = self.writer().map(|_| ()) {
                // Its connection closed before the commit: the turn is taken again.
                if !self.turn_open() {
                    continue;
                }
                return Err(e);
            }
            match schema::end_turn(self.writer()?, true) {
                Ok(()) => {
                    self.won();
                    return Ok(());
                }
                Err(_) => {
                    // The commit's answer was lost: it landed whole or not at all; the next
                    // turn looks.
                    if let Some(turn) = self.turn.as_mut() {
                        turn.open = false;
                        turn.unknown = true;
                    }
                    self.client = None;
                }
            }
        }
    }

    /// For tests: writes what was handed over and commits the turn's transaction as if the
    /// commit's answer were lost on the way back (the turn stays, its fate unknown).
    #[cfg(test)]
    pub(super) fn commit_unanswered(&mut self) -> Result<(), StoreError> {
        self.write_queued()?;
        schema::end_turn(self.writer()?, true)?;
        if let Some(turn) = self.turn.as_mut() {
            turn.open = false;
            turn.unknown = true;
        }
        self.client = None;
        Ok(())
    }

    /// The turn's transaction is gone: takes the turn again and decides — the turn's commit
    /// landed after all, or no one wrote since it began (its groups are written again), or
    /// it is lost.
    fn recover(&mut self) -> Result<(), StoreError> {
        let (count, _) = self.take()?;
        self.count = Some(count);
        let Some(turn) = self.turn.as_mut() else {
            self.drop_transaction();
            return Ok(());
        };
        turn.open = true;
        let (start, end, unknown) = (turn.start, turn.end, std::mem::take(&mut turn.unknown));
        let groups = turn.groups.clone();
        // Past its end, another writer wrote after it (every filing rewrites the same index
        // keys): only what is append-only tells whether it landed.
        if unknown && count >= end && self.all_landed(&groups, count == end)? {
            // Durable too: committed synchronously before its answer was lost, and this
            // transaction's synchronous commit flushes (and waits for a standby) once more.
            schema::flush(self.writer()?)?;
            schema::end_turn(self.writer()?, true)?;
            self.won();
            return Ok(());
        }
        if count != start {
            if let Some(turn) = self.turn.as_mut() {
                turn.lost = Some(TAKEN.to_owned());
            }
            return Ok(());
        }
        for (_, group) in &groups {
            let written = schema::Writes::of(group).and_then(|w| schema::apply(self.writer()?, &w));
            match written {
                Ok(n) => {
                    if let Some(turn) = self.turn.as_mut() {
                        turn.end = n;
                    }
                }
                Err(e) => {
                    self.drop_transaction();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Whether every group's writes are stored, with their values (`whole`: or, with later
    /// writers', its append-only ones: [`schema::landed`]; the turn's groups committed in one
    /// transaction, so one append-only put found stands for all of them).
    fn all_landed(
        &mut self,
        groups: &[(u64, Arc<Batch>)],
        whole: bool,
    ) -> Result<bool, StoreError> {
        let mut appends = false;
        for (_, group) in groups {
            let w = schema::Writes::of(group)?;
            appends |= w.appends();
            if !schema::landed(self.writer()?, &w, whole)? {
                return Ok(false);
            }
        }
        // A turn of overwrites only, written over since: nothing tells; taken as lost.
        Ok(whole || appends)
    }

    /// The turn committed: its batches are durable and the server answers for them.
    fn won(&mut self) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        if !turn.groups.is_empty() {
            self.stale = false;
        }
        // The count after its last group: a turn that found its commit landed late may see
        // a higher one (another writer's), which the next turn reports.
        self.count = Some(turn.end);
        // Its own rows (its groups, start + 1 ..= end) the store took in as it handed them
        // over; another writer's come after end.
        if self.known == Some(turn.start) {
            self.known = Some(turn.end);
        }
        self.durable = self.durable.max(turn.end);
        let mut shared = lock(&self.shared);
        for (last, group) in &turn.groups {
            shared.committed(*last, group);
        }
        if let Some((last, _)) = turn.groups.last() {
            shared.settled_upto(*last);
        }
        shared.current = false;
        drop(shared);
        self.wake.notify_all();
    }

    /// The turn was lost: its batches fail, and the next turn tells the archive above.
    fn lose(&mut self, why: &str) {
        let Some(turn) = self.turn.take() else {
            return;
        };
        if turn.open
            && let Some(s) = self.client.as_mut()
            && schema::end_turn(s, false).is_err()
        {
            self.client = None;
        }
        self.stale = true;
        let mut shared = lock(&self.shared);
        if let Some((last, _)) = turn.groups.last() {
            shared.turn_failed(*last, why);
        }
        shared.current = false;
        drop(shared);
        self.wake.notify_all();
    }
}

impl PgStore {
    /// Whether the calling thread is in a turn it began.
    fn in_turn(&self) -> bool {
        let me = std::thread::current().id();
        self.holders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&me)
    }

    /// [`Store::begin_turn`](crate::archive::store::Store::begin_turn) for one of several
    /// writers: joins this process's turn, or — once it has been open for [`SPAN`] — waits
    /// until the callers in it ended theirs and it committed, then takes the next one.
    pub(super) fn begin_turns(&self) -> Result<bool, StoreError> {
        let nested = self.in_turn();
        loop {
            if let Some(foreign) = self.writer.call(move |c| c.begin(nested))? {
                return Ok(foreign);
            }
            // Woken when the turn commits; the timeout covers ends that do not signal.
            let shared = self.shared();
            let _ = self
                .wake
                .wait_timeout(shared, Duration::from_millis(2))
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// [`Store::sync`](crate::archive::store::Store::sync) for one of several writers: every
    /// batch handed over before it is durable once its turn committed, so this waits for
    /// that (committing the turn at once if no caller is in it). Fails while the server cannot
    /// be reached, and while a failed turn's batches are not yet reported by a turn.
    pub(super) fn sync_turns(&self) -> Result<(), StoreError> {
        if self.in_turn() {
            return Err(StoreError::Refused(
                "a sync inside a turn would wait for the turn's own end: end the turn first".into(),
            ));
        }
        let mark = self.shared().next();
        loop {
            let settled = self.writer.call(Connection::settle);
            let shared = self.shared();
            if let Some(why) = &shared.failed {
                return Err(StoreError::Unwritable(why.clone()));
            }
            if shared.settled >= mark {
                return match &shared.turn_failed {
                    Some(why) => Err(StoreError::Unwritable(why.clone())),
                    None => Ok(()),
                };
            }
            settled?;
            // Another thread of this process is in the turn: its end commits it.
            let _ = self
                .wake
                .wait_timeout(shared, Duration::from_millis(20))
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}
