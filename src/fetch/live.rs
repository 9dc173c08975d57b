//! The verifier in use, replaceable while serving: a refresh builds a new trust store and
//! verifier beside the current one and swaps it in under a write lock held only for the
//! pointer swap. A verification takes an `Arc` of the verifier at its start and keeps it to
//! the end, so verifications in flight finish with the trust data they began with, and every
//! one sees either the old store or the new one whole.

use super::learn;
use super::refresh::{CrlRow, Refresher};
use crate::verify::Verifier;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

/// The current verifier and, when its CRLs are kept current, the refresher.
#[derive(Debug)]
pub struct LiveTrust {
    current: RwLock<Arc<Verifier>>,
    refresher: Mutex<Option<Refresher>>,
    table: RwLock<Vec<CrlRow>>,
    /// Distribution points met in submissions, for the next refresh to follow.
    learned: Mutex<Vec<super::crls::Point>>,
}

impl From<Verifier> for LiveTrust {
    /// A fixed verifier: nothing refreshes it.
    fn from(v: Verifier) -> Self {
        LiveTrust {
            current: RwLock::new(Arc::new(v)),
            refresher: Mutex::new(None),
            table: RwLock::new(Vec::new()),
            learned: Mutex::new(Vec::new()),
        }
    }
}

impl LiveTrust {
    /// The verifier `refresher` builds now, kept current by [`LiveTrust::refresh`].
    pub fn refreshing(refresher: Refresher, now: i64) -> LiveTrust {
        LiveTrust {
            current: RwLock::new(Arc::new(refresher.verifier())),
            table: RwLock::new(refresher.rows(now)),
            refresher: Mutex::new(Some(refresher)),
            learned: Mutex::new(Vec::new()),
        }
    }

    /// The verifier to use for one verification, start to end.
    pub fn load(&self) -> Arc<Verifier> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Fetches what is due at `now` (everything when `all`); swaps in a new verifier if a
    /// newer CRL was taken. Returns the CRL table after it. Fetches run one refresh at a time;
    /// verifications are not held up by them.
    pub fn refresh(&self, now: i64, all: bool) -> Vec<CrlRow> {
        let mut guard = self
            .refresher
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(r) = guard.as_mut() else {
            return Vec::new();
        };
        let learned =
            std::mem::take(&mut *self.learned.lock().unwrap_or_else(PoisonError::into_inner));
        r.learn(learned, now);
        if r.run(now, all) {
            // Built outside the write lock: only the swap itself is under it.
            let next = Arc::new(r.verifier());
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = next;
        }
        let rows = r.rows(now);
        *self.table.write().unwrap_or_else(PoisonError::into_inner) = rows.clone();
        rows
    }

    /// Notes the CRL distribution points of the certificates a signature carries that a CA
    /// of the trust store issued (name and signature checked), for the next refresh to
    /// follow: called when a submission could not be decided for want of revocation
    /// information. Never waits for a refresh in progress.
    pub fn learn(&self, signature: &[u8]) {
        let verifier = self.load();
        let points = learn::issued_points(signature, verifier.trust());
        let mut learned = self.learned.lock().unwrap_or_else(PoisonError::into_inner);
        for point in points {
            super::crls::merge(&mut learned, point);
        }
        // Due at once, so that the sender's retry finds the CRL.
        drop(learned);
        if let Ok(mut g) = self.refresher.try_lock()
            && let Some(r) = g.as_mut()
        {
            let pending =
                std::mem::take(&mut *self.learned.lock().unwrap_or_else(PoisonError::into_inner));
            r.learn(pending, crate::clock::now());
        }
    }

    /// When the next fetch is due (none without a refresher, or without URLs).
    pub fn next_due(&self) -> Option<i64> {
        self.refresher
            .try_lock()
            .ok()
            .and_then(|g| g.as_ref().and_then(Refresher::next_due))
    }

    /// The CRL table as of the last refresh.
    pub fn table(&self) -> Vec<CrlRow> {
        self.table
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::crls::tests::TestCa;
    use crate::fetch::refresh::tests::{Publisher, now, open};

    #[test]
    fn a_refresh_swaps_and_verifications_in_flight_keep_theirs() {
        let publisher = Publisher::start();
        let ca = TestCa::new("Live CA", &publisher.url);
        let data = tempfile::tempdir().unwrap();
        let live = LiveTrust::refreshing(open(&ca, data.path()), now());
        let in_flight = live.load();
        assert!(in_flight.trust().crls().is_empty());
        publisher.publish(ca.crl(1, 10, 3600, &[5]));
        let rows = live.refresh(now(), false);
        assert_eq!(rows.len(), 1);
        assert_eq!(live.load().trust().crls().len(), 1, "swapped in");
        assert!(
            in_flight.trust().crls().is_empty(),
            "the old one stays whole"
        );
        assert_eq!(live.table()[0].number.as_deref(), Some("1"));
        // Unchanged: the same verifier stays.
        let current = live.load();
        live.refresh(now(), true);
        assert!(Arc::ptr_eq(&current, &live.load()));
    }

    #[test]
    fn a_fixed_verifier_never_refreshes() {
        let live = LiveTrust::from(Verifier::new(Default::default(), Default::default()));
        assert!(live.refresh(now(), true).is_empty() && live.next_due().is_none());
    }
}
