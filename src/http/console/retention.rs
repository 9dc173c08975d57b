//! Retention pages (archivist).

use crate::http::AppState;
use axum::Router;
use std::sync::Arc;

/// The routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
