//! Prometheus metrics: submissions by status and reason, latency histograms, archive size,
//! last checkpoint. Plain atomics and one small map; rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; 10],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, seconds: f64) {
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            if seconds <= *b {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (b, c) in BUCKETS.iter().zip(&self.counts) {
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}le=\"{b}\"}} {}",
                c.load(Ordering::Relaxed)
            );
        }
        let n = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {n}");
        let _ = writeln!(
            out,
            "{name}_sum{{{}}} {}",
            labels.trim_end_matches(','),
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
        );
        let _ = writeln!(out, "{name}_count{{{}}} {n}", labels.trim_end_matches(','));
    }
}

/// The service's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    submissions: Mutex<BTreeMap<(String, String), u64>>,
    /// Submission latency (verify + file + fsync + receipt).
    pub submit_latency: Histogram,
    /// Latency of all other requests.
    pub request_latency: Histogram,
    /// Requests not chained into the access log because its backlog was full (they were
    /// refused 503 before any work).
    access_refused: std::sync::atomic::AtomicU64,
}

impl Metrics {
    /// Counts a request refused, unlogged, for a full access-log backlog.
    pub fn access_refused(&self) {
        self.access_refused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// Counts a submission by status and reason (`none` when accepted).
    pub fn submission(&self, status: &str, reasons: &[&str]) {
        let mut m = self
            .submissions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if reasons.is_empty() {
            *m.entry((status.into(), "none".into())).or_default() += 1;
        }
        for r in reasons {
            *m.entry((status.into(), (*r).into())).or_default() += 1;
        }
    }

    /// The exposition text: every family with its `# HELP` and `# TYPE` lines.
    pub fn render(
        &self,
        entries: u64,
        checkpoint: Option<u64>,
        syncs: u64,
        trust_skipped: usize,
    ) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "tamga_submissions_total",
            "counter",
            "Submissions answered, by status and by reason (none when accepted).",
        );
        let m = self
            .submissions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for ((status, reason), n) in m.iter() {
            let _ = writeln!(
                out,
                "tamga_submissions_total{{status=\"{status}\",reason=\"{reason}\"}} {n}"
            );
        }
        family(
            &mut out,
            "tamga_submit_seconds",
            "histogram",
            "Time to answer a submission: verify, file, sync, sign the receipt.",
        );
        self.submit_latency
            .render(&mut out, "tamga_submit_seconds", "");
        family(
            &mut out,
            "tamga_request_seconds",
            "histogram",
            "Time to answer every other request.",
        );
        self.request_latency
            .render(&mut out, "tamga_request_seconds", "");
        let single = [
            (
                "tamga_archive_entries",
                "gauge",
                "Entries in the archive's log.",
                entries,
            ),
            (
                "tamga_last_checkpoint_size",
                "gauge",
                "Tree size of the latest signed checkpoint.",
                checkpoint.unwrap_or(0),
            ),
            (
                "tamga_syncs_total",
                "counter",
                "Durable syncs of the store since start.",
                syncs,
            ),
            (
                "tamga_trust_files_skipped",
                "gauge",
                "Files of the trust directories left out at start-up because they could not be read or parsed (named on standard error).",
                trust_skipped as u64,
            ),
            (
                "tamga_access_backlog_refusals_total",
                "counter",
                "Requests refused (503, no work done, not chained) while the access log could not be written.",
                self.access_refused
                    .load(std::sync::atomic::Ordering::Relaxed),
            ),
        ];
        for (name, kind, help, value) in single {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// The `# HELP` and `# TYPE` lines of a metric family.
fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}
