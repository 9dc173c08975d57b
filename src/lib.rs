//! tamga: the registry of a chancellery that verifies electronic digital signatures (ЭЦҚ/ЭЦП)
//! on receipt and keeps what it accepts.
//!
//! Data flows one way: the CLI calls [`verify`] with bytes, a trust store loaded by
//! [`trustdir`], and a validation time it chose; [`verify`] touches no disk and no clock.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

pub mod archive;
pub mod clock;
pub mod fetch;
pub mod http;
pub mod ingest;
pub mod policy;
pub mod reasons;
pub mod receipt;
pub mod retention;
pub mod setup;
pub mod spool;
pub mod trustdir;
pub mod verify;

pub use reasons::Reason;
