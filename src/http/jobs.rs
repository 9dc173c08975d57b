//! Work that outlasts its request (a full audit, a backup): started by one request, run on a
//! thread of its own, and polled by its number. A few finished jobs are kept for their pollers;
//! a running one is never dropped, so a poller always learns how its job ended.

use std::collections::BTreeMap;
use std::sync::Mutex;

/// Jobs kept for their pollers (the oldest finished one gives way to a new one).
const KEPT: usize = 16;

/// What a job reports to [`Jobs`].
pub trait Job: Clone + Default {
    /// Whether the job has ended (successfully or not).
    fn finished(&self) -> bool;
}

/// The jobs of one kind, by number (from 1).
#[derive(Debug, Default)]
pub struct Jobs<J> {
    jobs: Mutex<(u64, BTreeMap<u64, J>)>,
}

impl<J: Job> Jobs<J> {
    fn with<T>(&self, f: impl FnOnce(&mut (u64, BTreeMap<u64, J>)) -> T) -> T {
        f(&mut self
            .jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Registers a new job and returns its number; `None` when [`KEPT`] jobs are running.
    pub fn start(&self) -> Option<u64> {
        self.start_unless(|_| false).ok()
    }

    /// Registers a new job unless `busy` says one already kept forbids it (it gets that
    /// job's number back); `Err(None)` when [`KEPT`] jobs are running.
    pub fn start_unless(&self, busy: impl Fn(&J) -> bool) -> Result<u64, Option<u64>> {
        self.with(|(next, jobs)| {
            if let Some((id, _)) = jobs.iter().find(|(_, j)| busy(j)) {
                return Err(Some(*id));
            }
            if jobs.len() >= KEPT {
                let old = jobs.iter().find(|(_, j)| j.finished()).map(|(k, _)| *k);
                jobs.remove(&old.ok_or(None)?);
            }
            *next += 1;
            jobs.insert(*next, J::default());
            Ok(*next)
        })
    }

    /// Changes job `id`'s state (nothing when it is no longer kept).
    pub fn update(&self, id: u64, f: impl FnOnce(&mut J)) {
        self.with(|(_, jobs)| jobs.get_mut(&id).map(f));
    }

    /// Job `id`'s state, if kept.
    pub fn get(&self, id: u64) -> Option<J> {
        self.with(|(_, jobs)| jobs.get(&id).cloned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Default)]
    struct Work(bool);

    impl Job for Work {
        fn finished(&self) -> bool {
            self.0
        }
    }

    #[test]
    fn finished_jobs_give_way_running_ones_never() {
        let jobs = Jobs::<Work>::default();
        for n in 1..=KEPT as u64 {
            assert_eq!(jobs.start(), Some(n));
        }
        // All running: no room, and none of them is dropped.
        assert_eq!(jobs.start(), None);
        jobs.update(3, |w| w.0 = true);
        assert_eq!(jobs.start(), Some(KEPT as u64 + 1));
        assert!(jobs.get(3).is_none() && jobs.get(4).is_some());
    }

    #[test]
    fn a_busy_job_is_named_instead_of_a_second_one_started() {
        let jobs = Jobs::<Work>::default();
        let first = jobs.start_unless(|w| !w.0).unwrap();
        assert_eq!(jobs.start_unless(|w| !w.0), Err(Some(first)));
        jobs.update(first, |w| w.0 = true);
        assert_eq!(jobs.start_unless(|w| !w.0), Ok(first + 1));
    }
}
