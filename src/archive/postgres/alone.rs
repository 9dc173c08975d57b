//! The one writer's commits (an archive no other process writes): groups committed without
//! waiting for the WAL flush, a sync flushing them on a second connection, and what the count
//! of groups in `tamga_sync.applied` says on a new connection (see the module doc of
//! [`super`]).

use super::{Connection, lock, schema};
use crate::archive::store::StoreError;
use schema::Role;

impl Connection {
    /// Compares the server's count of groups with this writer's on a new connection: the
    /// same, nothing happened; one more, and the group whose commit went unanswered is it;
    /// lower, the server lost the last ones, which are written again in order (the same keys
    /// take the same values); higher, and what the archive above holds in memory is no
    /// longer what is stored: writes stop until the archive is opened again.
    pub(super) fn reconcile(&mut self, session: &mut schema::Session) -> Result<(), StoreError> {
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
        if std::mem::take(&mut self.unknown)
            && let Some((_, group)) = &self.group
        {
            let landed = db == mine + 1
                && schema::Writes::of(group).and_then(|w| schema::landed(session, &w, true))?;
            if landed {
                self.landed(db);
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

    pub(super) fn commit_all(&mut self) -> Result<(), StoreError> {
        loop {
            if self.group.is_none() {
                self.group = self.next_group();
            }
            let Some((_, group)) = &self.group else {
                return Ok(());
            };
            let writes = schema::Writes::of(group);
            // Connecting first: it is what finds a restarted server (and replays onto it), and
            // what finds out whether an unanswered commit of this group landed after all.
            self.writer()?;
            if self.group.is_none() {
                continue;
            }
            let result = writes.and_then(|w| {
                let count = schema::apply(self.writer()?, &w);
                match count {
                    Err(e) if !schema::refused_for_good(&e) => {
                        // The answer to the commit may be what was lost: a transaction lands
                        // whole or not at all, so look, on a fresh connection. If none can be
                        // had now, the next one looks.
                        self.client = None;
                        self.unknown = true;
                        self.resolve(&w).ok_or(e)
                    }
                    other => other,
                }
            });
            match result {
                Ok(count) => self.landed(count),
                Err(e) if schema::refused_for_good(&e) => {
                    let why = format!("the database refused filings already taken in ({e})");
                    self.fail(&why);
                    return Err(StoreError::Unwritable(self.failed.clone().unwrap_or(why)));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Whether the unanswered group `writes` landed, on a fresh connection: its count when it
    /// did; `None` when it did not or no connection can be had (then it stays unknown).
    pub(super) fn resolve(&mut self, writes: &schema::Writes) -> Option<i64> {
        let mine = self.count?;
        let mut session = schema::connect(&self.location, Role::Writer).ok()?;
        let db = schema::applied(&mut session).ok()?;
        if db == mine + 1 && schema::landed(&mut session, writes, true).ok()? {
            self.unknown = false;
            self.client = Some(session);
            return Some(db);
        }
        // Not that group: the usual comparison decides (lost ones replayed, or writes stop).
        self.reconcile(&mut session).ok()?;
        self.client = Some(session);
        None
    }

    /// The group is committed, counted `count` by the server: kept until a sync covers it,
    /// and answered by the server from now on.
    pub(super) fn landed(&mut self, count: i64) {
        self.unknown = false;
        let Some((last, group)) = self.group.take() else {
            return;
        };
        lock(&self.shared).committed(last, &group);
        self.count = Some(count);
        self.unsynced.push((count, group));
    }

    /// What a sync starting now covers: the server's count of the last batch; `None` when
    /// every batch is durable already.
    pub(super) fn sync_point(&mut self) -> Result<Option<i64>, StoreError> {
        // A connection to a server that went away is only found out by using it; find out
        // now, so that a restarted server gets its replay before this sync.
        if self.client.as_mut().is_some_and(|s| {
            s.client
                .is_valid(std::time::Duration::from_secs(5))
                .is_err()
        }) {
            self.client = None;
        }
        self.settle()?;
        self.writer()?;
        if self.unsynced.is_empty() {
            return Ok(None);
        }
        Ok(self.count)
    }

    /// Batches up to number `upto` are durable.
    pub(super) fn synced(&mut self, upto: i64) {
        self.durable = self.durable.max(upto);
        self.unsynced.retain(|(n, _)| *n > upto);
    }
}
