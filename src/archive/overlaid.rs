//! The store as a filing's build sees it while earlier filings' batches wait in the pipeline's
//! queue (`pipeline.rs`): every queued batch applied on top of what the store holds.

use super::pipeline::Pipeline;
use super::store::{Batch, Space, Store, StoreError};

/// The store as the next build sees it: every queued batch applied on top of it.
#[derive(Debug)]
pub(super) struct Overlaid<'a> {
    /// The store itself.
    pub inner: &'a dyn Store,
    /// The queue of batches built and not yet applied.
    pub pipeline: &'a Pipeline,
}

impl Store for Overlaid<'_> {
    fn apply(&self, _: &Batch) -> Result<(), StoreError> {
        Err(StoreError::Unwritable(
            "a build's view of the store cannot be written".into(),
        ))
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync()
    }

    fn get(&self, space: Space, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        // A batch leaves the queue only after the store has applied it, so a value is always
        // in one or the other.
        match self.pipeline.queued(space, key) {
            Some(v) => Ok(Some(v)),
            None => self.inner.get(space, key),
        }
    }

    fn keys(&self, space: Space) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut keys = self.inner.keys(space)?;
        keys.extend(self.pipeline.queued_keys(space));
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    fn lists_cheaply(&self) -> bool {
        self.inner.lists_cheaply()
    }
}
