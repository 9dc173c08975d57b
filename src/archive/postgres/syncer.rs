//! A writer's further connections, for syncs and for reads the cache does not answer: each
//! made again when it was lost.

use super::schema::{self, Role};
use super::{Location, StoreError};

/// A writer's second (or further) connection: for syncs, or for reads.
pub(super) struct Syncer {
    pub(super) location: Location,
    pub(super) client: Option<schema::Session>,
}

impl Syncer {
    /// The connection, made again if it was lost.
    pub(super) fn session(&mut self) -> Result<&mut schema::Session, StoreError> {
        if self.client.as_ref().is_some_and(|s| s.client.is_closed()) {
            self.client = None;
        }
        let session = match self.client.take() {
            Some(s) => s,
            None => schema::connect(&self.location, Role::Syncer)?,
        };
        Ok(self.client.insert(session))
    }

    /// Runs `f` on the connection. A connection left from before a server restart fails at
    /// its first use: then one more try on a fresh one.
    pub(super) fn run<T>(
        &mut self,
        f: impl Fn(&mut schema::Session) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match f(self.session()?) {
            Err(_) if self.client.as_ref().is_some_and(|s| s.client.is_closed()) => {
                self.client = None;
                f(self.session()?)
            }
            other => other,
        }
    }

    /// Flushes the WAL with a synchronous commit on this connection, and checks that the
    /// server counts at least `upto` batches once it is durable: a server that lost some in
    /// between (a crash recovery, a restart) must have them written again by the writer
    /// first, and no sync may claim them.
    pub(super) fn flush(&mut self, upto: i64) -> Result<(), StoreError> {
        let durable = self.run(schema::flush)?;
        if durable < upto {
            return Err(StoreError::Unwritable(format!(
                "the PostgreSQL server holds {durable} batches, not the {upto} written: the \
                 lost ones are written again before the next sync"
            )));
        }
        Ok(())
    }
}
