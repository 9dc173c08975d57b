//! `POST /v1/backup`: a backup taken by the running service, for an admin. With sled the
//! service holds the store's lock, so a backup beside it has to be taken here; it pauses
//! filing only to sign a checkpoint and read the index (see `archive::backup`), and copies at
//! most `[backup] max-rate` MB/s (default [`backup::ONLINE_MAX_RATE_MB`]). It writes only
//! under the policy's `[backup] root`, and never tells the caller a server path or OS error.

use super::extract::Json as JsonBody;
use super::{ApiError, AppState, Caller};
use crate::archive::backup::{self, BackupError, target};
use crate::policy::Role;
use axum::Json;
use axum::extract::{Extension, State};
use serde::Deserialize;
use std::sync::Arc;

/// Where to write: a directory relative to the policy's `[backup] root`.
#[derive(Debug, Deserialize)]
pub struct BackupRequest {
    out: std::path::PathBuf,
}

/// `POST /v1/backup {"out": "tamga"}`: a full backup into an empty directory under the backup
/// root, an incremental one after the newest generation there; answers the summary.
pub async fn backup(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<BackupRequest>,
) -> Result<Json<backup::Summary>, ApiError> {
    caller.require(&[Role::Admin])?;
    let Some(root) = state.ingest.policy.backup.root.clone() else {
        return Err(ApiError::Forbidden(
            "Backups over HTTP need a backup root: set [backup] root in the policy.".into(),
        ));
    };
    let options = backup::Options::online(state.ingest.policy.backup.max_rate);
    let st = state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A thread of its own, at a lower priority: the backup takes the CPU filing leaves.
    std::thread::Builder::new()
        .name("backup".into())
        .spawn(move || {
            backup::lower_priority();
            let done = target::under_root(&root, &req.out)
                .map(|dir| backup::write_with(&st.ingest.archive, &dir, &options, &mut |_| {}));
            let _ = tx.send(done);
        })
        .map_err(|_| ApiError::Unavailable("The backup could not start; retry.".into()))?;
    let done = rx
        .await
        .map_err(|_| ApiError::Unavailable("The backup could not run; retry.".into()))?;
    match done {
        Ok(Ok(summary)) => Ok(Json(summary)),
        Ok(Err(e)) => Err(answer(e)),
        Err(e) => Err(refused_target(e)),
    }
}

/// A fixed sentence for each way a backup fails; the details (paths, OS errors) go to the log.
fn answer(e: BackupError) -> ApiError {
    match e {
        BackupError::Archive(e) => e.into(),
        BackupError::Refused(why) => ApiError::Unprocessable(format!("Backup refused: {why}.")),
        BackupError::Full { .. } => {
            tracing::error!(error = %e, "a backup ran out of space");
            ApiError::Unavailable(
                "The backup directory's disk is full: this generation was not written, the \
                 previous one is intact."
                    .into(),
            )
        }
        BackupError::Io { .. } => {
            tracing::error!(error = %e, "a backup could not be written");
            ApiError::Unavailable(
                "The backup could not be written; the server log says why.".into(),
            )
        }
        BackupError::Bad { .. } => {
            tracing::error!(error = %e, "a backup found a bad file in its directory");
            ApiError::Unprocessable(
                "The backups already in that directory do not verify; check them with tamga \
                 backup verify."
                    .into(),
            )
        }
        BackupError::Raced => ApiError::Unavailable(
            "Documents kept being destroyed while the backup copied them; retry.".into(),
        ),
    }
}

fn refused_target(e: target::TargetError) -> ApiError {
    match e {
        target::TargetError::Io { .. } => {
            tracing::error!(error = %e, "the backup directory could not be made under the root");
            ApiError::Unavailable(
                "The backup directory could not be made under the backup root; the server log \
                 says why."
                    .into(),
            )
        }
        other => ApiError::BadRequest(format!(
            "out must be a directory relative to the backup root: {other}."
        )),
    }
}
