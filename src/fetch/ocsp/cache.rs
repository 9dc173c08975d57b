//! Verified OCSP responses kept until their answer's nextUpdate (or thisUpdate plus the
//! configured maximum age when the responder gives none, RFC 6960 §4.2.2.1), keyed by
//! (SHA-256 of the issuer's key, serial) and bounded in entries: when full, the entry stored
//! first goes (it is also the one closest to its end, answers being valid for similar times).

use crate::verify::ocsp::Response;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// (SHA-256 of the issuer's subjectPublicKey bits, serial as INTEGER content bytes).
pub type Key = ([u8; 32], Vec<u8>);

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, (u64, i64, Arc<Response>)>,
    /// Insertion order: sequence number → key.
    order: BTreeMap<u64, Key>,
    next: u64,
}

/// The cache. Shared between the service's threads.
#[derive(Debug)]
pub struct Cache {
    inner: Mutex<Inner>,
    capacity: usize,
}

impl Cache {
    /// An empty cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Cache {
        Cache {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    /// The response stored for `key`, if still usable at `now`; a stale one is dropped.
    pub fn get(&self, key: &Key, now: i64) -> Option<Arc<Response>> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (seq, until, resp) = inner.entries.get(key)?.clone();
        if until >= now {
            return Some(resp);
        }
        inner.entries.remove(key);
        inner.order.remove(&seq);
        None
    }

    /// Stores `resp` for `key` until `until`, evicting the oldest entries beyond capacity.
    pub fn put(&self, key: Key, until: i64, resp: Arc<Response>) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let seq = inner.next;
        inner.next += 1;
        if let Some((old, ..)) = inner.entries.insert(key.clone(), (seq, until, resp)) {
            inner.order.remove(&old);
        }
        inner.order.insert(seq, key);
        while inner.entries.len() > self.capacity {
            let Some((_, oldest)) = inner.order.pop_first() else {
                break;
            };
            inner.entries.remove(&oldest);
        }
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entries
            .len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response() -> Arc<Response> {
        let der = std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/corpus/nca-kz-test/ocsp/ocsp_response_individual_sign_2004.bin"),
        )
        .unwrap();
        Arc::new(Response::from_der(&der).unwrap())
    }

    #[test]
    fn entries_expire_and_the_oldest_is_evicted_when_full() {
        let c = Cache::new(2);
        let r = response();
        let key = |n: u8| ([n; 32], vec![n]);
        c.put(key(1), 100, Arc::clone(&r));
        c.put(key(2), 100, Arc::clone(&r));
        assert!(c.get(&key(1), 100).is_some());
        assert!(c.get(&key(1), 101).is_none(), "stale");
        assert_eq!(c.len(), 1);
        c.put(key(3), 100, Arc::clone(&r));
        c.put(key(4), 100, Arc::clone(&r));
        assert_eq!(c.len(), 2);
        assert!(c.get(&key(2), 0).is_none(), "oldest evicted");
        assert!(c.get(&key(3), 0).is_some() && c.get(&key(4), 0).is_some());
        // Storing a key again refreshes it rather than counting twice.
        c.put(key(3), 200, Arc::clone(&r));
        c.put(key(5), 100, r);
        assert!(c.get(&key(3), 150).is_some());
        assert!(c.get(&key(4), 0).is_none());
    }
}
