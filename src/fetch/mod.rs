//! Revocation data from the network: the layer above [`crate::verify`] that fetches what the
//! pure verifier is then handed as arguments (CRLs, OCSP responses), so that every verdict
//! stays a function of bytes, trust and time that an auditor can recompute offline.

pub mod crls;
pub mod http;
pub mod learn;
pub mod live;
pub mod ocsp;
pub mod refresh;
