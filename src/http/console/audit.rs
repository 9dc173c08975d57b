//! Audit pages (auditor).

use crate::http::AppState;
use axum::Router;
use std::sync::Arc;

/// Audits started from the console.
#[derive(Debug, Default)]
pub struct Jobs {}

/// The routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
