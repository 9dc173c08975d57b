//! The one place that reads the clock. Everything else takes time as an argument, so tests and
//! audits can replay any moment.

/// Seconds since the Unix epoch, now.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
