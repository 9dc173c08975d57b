//! A bandwidth cap for backups taken beside a filing service (as `pg_basebackup --max-rate`):
//! the copy spends bytes against a budget that grows at the set rate, and sleeps whenever it is
//! ahead. What the cap protects is the disk: filing waits on the store's fsync, and a backup
//! writing as fast as it can makes every one of those wait behind its own writeback.

use std::time::{Duration, Instant};

/// The largest sleep taken at once: the budget is kept in step often, so that the copy's
/// writes reach the disk as a steady trickle rather than bursts.
const MAX_SLEEP: Duration = Duration::from_millis(250);

/// Spends a copy's bytes at no more than a set rate.
#[derive(Debug)]
pub struct Throttle {
    /// Bytes per second; `None`: unlimited.
    rate: Option<u64>,
    started: Instant,
    spent: u64,
}

impl Throttle {
    /// A throttle of `rate` bytes per second (`None`: unlimited), its clock started now.
    pub fn new(rate: Option<u64>) -> Throttle {
        Throttle {
            rate: rate.filter(|r| *r > 0),
            started: Instant::now(),
            spent: 0,
        }
    }

    /// Counts `bytes` as copied and, when the copy is ahead of the rate, waits until it no
    /// longer is.
    pub fn spend(&mut self, bytes: u64) {
        self.spent = self.spent.saturating_add(bytes);
        let Some(rate) = self.rate else {
            return;
        };
        loop {
            let due = Duration::from_secs_f64(self.spent as f64 / rate as f64);
            let ahead = due.saturating_sub(self.started.elapsed());
            if ahead.is_zero() {
                return;
            }
            std::thread::sleep(ahead.min(MAX_SLEEP));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_capped_copy_takes_its_bytes_over_rate_time_and_an_unlimited_one_does_not_wait() {
        let mut t = Throttle::new(Some(10_000_000));
        let started = Instant::now();
        for _ in 0..10 {
            t.spend(100_000);
        }
        // 1 MB at 10 MB/s: at least 0.1 s.
        assert!(started.elapsed() >= Duration::from_millis(100));
        let mut free = Throttle::new(None);
        let started = Instant::now();
        free.spend(u64::MAX);
        free.spend(1);
        assert!(started.elapsed() < Duration::from_millis(100));
        assert!(Throttle::new(Some(0)).rate.is_none(), "0 means unlimited");
    }
}
