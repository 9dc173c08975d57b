//! zstd contexts kept warm between filings.
//!
//! A zstd context is a few tens of KiB of tables. Compressing a small document or a receipt
//! costs little when those tables are in the CPU's caches and several times more when they
//! are not: 4 KiB of text took 8.9 µs with one context reused and 23.5 µs with 64 contexts
//! taken in turn (8 MiB of other memory touched between calls, this 2-core machine). One
//! context per thread was the second case, as a busy service files from many threads. So the
//! contexts are shared in a [`Pool`] and the one used last is handed out first: on two cores,
//! one or two of them do nearly all the work and stay cached.

use std::sync::{Mutex, PoisonError};

/// Contexts of one kind, the most recently returned handed out first.
#[derive(Debug)]
pub struct Pool<T> {
    kept: Mutex<Vec<T>>,
    /// At most this many are kept once returned (more are made while more threads compress
    /// at once, and dropped after).
    keep: usize,
}

impl<T> Pool<T> {
    /// An empty pool that keeps at most `keep` contexts.
    pub const fn new(keep: usize) -> Self {
        Pool {
            kept: Mutex::new(Vec::new()),
            keep,
        }
    }

    /// Runs `work` with a kept context, or a new one from `make` when none is free. The
    /// context goes back to the pool afterwards, also when `work` returned an error: a
    /// context must be fit for the next use after a failed one (zstd's bulk compressor and
    /// decompressor start every frame afresh). Should `work` panic, the context is dropped
    /// instead (one left mid-frame is never handed out again).
    pub fn with<R, E>(
        &self,
        make: impl FnOnce() -> Result<T, E>,
        work: impl FnOnce(&mut T) -> R,
    ) -> Result<R, E> {
        let taken = self.lock().pop();
        let mut context = match taken {
            Some(c) => c,
            None => make()?,
        };
        let out = work(&mut context);
        let mut kept = self.lock();
        if kept.len() < self.keep {
            kept.push(context);
        }
        Ok(out)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<T>> {
        // A pool of interchangeable contexts holds no invariant a panic could break.
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::Pool;

    #[test]
    fn the_context_returned_last_is_handed_out_first_and_at_most_keep_are_kept() {
        let pool: Pool<u32> = Pool::new(2);
        let made = std::cell::Cell::new(0);
        let make = || -> Result<u32, ()> {
            made.set(made.get() + 1);
            Ok(made.get())
        };
        // Nested uses need a context each: three are made.
        pool.with(make, |a| {
            pool.with(make, |b| {
                pool.with(make, |c| assert_eq!((*a, *b, *c), (1, 2, 3)))
            })
        })
        .unwrap()
        .unwrap()
        .unwrap();
        // 3 went back first, then 2, then 1, which was not kept (at most two).
        assert_eq!(pool.with(make, |c| *c).unwrap(), 2);
        assert_eq!(made.get(), 3);
        assert_eq!(pool.lock().len(), 2);
    }

    #[test]
    fn a_context_whose_work_panicked_is_not_handed_out_again() {
        let pool: Pool<Vec<u8>> = Pool::new(4);
        let make = || -> Result<Vec<u8>, ()> { Ok(Vec::new()) };
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.with(make, |v| {
                v.push(1);
                panic!("mid-frame")
            })
        }));
        assert_eq!(pool.with(make, |v| v.clone()).unwrap(), Vec::<u8>::new());
    }
}
