//! Learning another writer's rows: how one of several frontends keeps what it remembers of
//! the table — its filter of keys (`filter.rs`), the greatest keys, its read cache
//! (`cache.rs`) — true when a turn finds that another frontend wrote since its last one.
//!
//! Every row a frontend writes in turns names the group that last wrote it (`grp`, schema
//! version 3): the count `tamga_sync.applied` took in the transaction that wrote it (one
//! writer alone writes group 0, outside the partial index: no frontend writes beside it,
//! and each reads every key at open). Turns are one at a time and
//! each turn's groups are counted in its own transaction, so once this writer holds the turn
//! and reads the count C, the rows written since the count K up to which its memory is
//! complete are exactly those with `grp > K`: inserted or overwritten, and nothing else
//! changed — but deletions, which leave no row behind. Those rows are read in one round trip
//! (the index on `grp`; O(rows written), not O(table)): their keys go into the filter and
//! the greatest keys, their values (when small enough to keep) into the cache, and a large
//! value's key is forgotten there. A disposal moves `tamga_sync.deleted` to its group: when
//! that is past K, the cache keeps only what no disposal can delete, as it did before for
//! every foreign write. The filter may keep a deleted key: a "maybe" only costs a look-up.
//!
//! Without this, the first turn that found another writer's writes dropped the filter for
//! good and the cache's absences at every such turn, so each filing's look-ups of keys not
//! there yet (receipt, blob, chunks, references) and of the keys every filing rewrites (the
//! log's head, the case's counter, the tallies) became round trips made inside the turn,
//! while the other frontends waited for it.

use super::schema;
use super::{Connection, lock};
use crate::archive::store::StoreError;

/// The largest value taken into the cache from another writer's rows (the cache's own
/// bound); a larger one is only forgotten there.
pub const SMALL: usize = super::cache::MAX_VALUE;

/// The most rows a turn learns. Learning happens with the turn held, every other frontend
/// waiting, so a frontend that sat idle while the others filed (the passive one of two) must
/// not read a day of their rows first: past this many it forgets instead, as before schema
/// version 3, and asks the server from then on. Turns that alternate learn a few hundred.
pub const MAX_LEARNT: usize = 10_000;

impl Connection {
    /// Brings what the store remembers up to the count `count` the turn found, `deleted`
    /// being the last group that disposed of rows. Called with the turn held, before
    /// anything is answered in it. A count below what is known (a server that lost groups:
    /// its rows are not what was learnt) leaves nothing to learn from: the store forgets, as
    /// without the group column, and asks the server from then on.
    pub(super) fn learn(&mut self, count: i64, deleted: i64) -> Result<(), StoreError> {
        match self.known {
            Some(known) if known == count => Ok(()),
            Some(known) if known < count => {
                let rows = schema::written_since(self.writer()?, known, SMALL, MAX_LEARNT + 1)?;
                if rows.len() > MAX_LEARNT {
                    lock(&self.shared).forget();
                    self.known = None;
                    return Ok(());
                }
                lock(&self.shared).learn(&rows, deleted > known);
                self.known = Some(count);
                Ok(())
            }
            Some(_) => {
                lock(&self.shared).forget();
                self.known = None;
                Ok(())
            }
            None => {
                if self.count != Some(count) {
                    lock(&self.shared).forget();
                }
                Ok(())
            }
        }
    }
}
