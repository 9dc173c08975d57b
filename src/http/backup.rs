//! `POST /v1/backup`: a backup taken by the running service, for an admin. With sled the
//! service holds the store's lock, so a backup beside it has to be taken here; it pauses
//! filing only to sign a checkpoint and read the index (see `archive::backup`).

use super::extract::Json as JsonBody;
use super::{ApiError, AppState, Caller};
use crate::archive::backup::{self, BackupError};
use crate::policy::Role;
use axum::Json;
use axum::extract::{Extension, State};
use serde::Deserialize;
use std::sync::Arc;

/// Where to write: a directory on the server's machine (absolute).
#[derive(Debug, Deserialize)]
pub struct BackupRequest {
    out: std::path::PathBuf,
}

/// `POST /v1/backup {"out": "/srv/backups/tamga"}`: a full backup into an empty directory,
/// an incremental one after the newest generation there; answers the summary.
pub async fn backup(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<BackupRequest>,
) -> Result<Json<backup::Summary>, ApiError> {
    caller.require(&[Role::Admin])?;
    if !req.out.is_absolute() {
        return Err(ApiError::BadRequest(
            "out must be an absolute directory on the server.".into(),
        ));
    }
    let st = state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own, at a lower priority: the backup takes the CPU filing leaves.
    std::thread::Builder::new()
        .name("backup".into())
        .spawn(move || {
            backup::lower_priority();
            let _ = tx.send(backup::write(&st.ingest.archive, &req.out));
        })
        .map_err(|_| ApiError::Unavailable("The backup could not start; retry.".into()))?;
    let done = rx
        .await
        .map_err(|_| ApiError::Unavailable("The backup could not run; retry.".into()))?;
    match done {
        Ok(summary) => Ok(Json(summary)),
        Err(BackupError::Archive(e)) => Err(e.into()),
        Err(e) => Err(ApiError::Unprocessable(format!("Backup failed: {e}."))),
    }
}
