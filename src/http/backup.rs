//! `POST /v1/backup`: a backup taken by the running service, for an admin, as a job polled at
//! `GET /v1/backup/jobs/{id}`. With sled the
//! service holds the store's lock, so a backup beside it has to be taken here; it pauses
//! filing only to sign a checkpoint and read the index (see `archive::backup`), and copies at
//! most `[backup] max-rate` MB/s (default [`backup::ONLINE_MAX_RATE_MB`]). It writes only
//! under the policy's `[backup] root`, and never tells the caller a server path or OS error.

use super::extract::Json as JsonBody;
use super::extract::Path;
use super::{ApiError, AppState, Caller};
use crate::archive::backup::{self, BackupError, target};
use crate::policy::Role;
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where to write: a directory relative to the policy's `[backup] root`.
#[derive(Debug, Deserialize)]
pub struct BackupRequest {
    out: std::path::PathBuf,
}

/// One backup started over HTTP, as `GET /v1/backup/jobs/{id}` shows it.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum BackupJob {
    /// Still copying.
    #[default]
    Running,
    /// Written and synced: what it wrote.
    Done {
        /// The generation's summary.
        summary: backup::Summary,
    },
    /// Not written (the previous generation is intact): why, in the sentence a synchronous
    /// answer would have given.
    Failed {
        /// The sentence.
        error: String,
    },
}

impl super::jobs::Job for BackupJob {
    fn finished(&self) -> bool {
        !matches!(self, BackupJob::Running)
    }
}

/// The backups started over HTTP.
pub type Jobs = super::jobs::Jobs<BackupJob>;

/// `POST /v1/backup {"out": "tamga"}`: starts a full backup into an empty directory under the
/// backup root, or an incremental one after the newest generation there, and answers 202 at
/// once with the job to poll (`GET /v1/backup/jobs/{id}`): a backup of a large archive takes
/// longer than a client waits for an answer. One at a time: a second answers 409 naming the
/// running one. A target outside the root is refused at once.
pub async fn backup(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    JsonBody(req): JsonBody<BackupRequest>,
) -> Result<Response, ApiError> {
    caller.require(&[Role::Admin])?;
    let Some(root) = state.ingest.policy.backup.root.clone() else {
        return Err(ApiError::Forbidden(
            "Backups over HTTP need a backup root: set [backup] root in the policy.".into(),
        ));
    };
    let dir = target::under_root(&root, &req.out).map_err(refused_target)?;
    let id = state
        .backups
        .start_unless(|j| !super::jobs::Job::finished(j))
        .map_err(|running| match running {
            Some(id) => ApiError::Conflict(format!(
                "Backup {id} is still running: GET /v1/backup/jobs/{id} says when it ends."
            )),
            None => ApiError::Unavailable("Too many backups are kept; retry later.".into()),
        })?;
    let options = backup::Options::online(state.ingest.policy.backup.max_rate);
    let st = state.clone();
    // A thread of its own, at a lower priority: the backup takes the CPU filing leaves.
    let spawned = std::thread::Builder::new()
        .name("backup".into())
        .spawn(move || {
            let _ended = Ended {
                jobs: &st.backups,
                id,
            };
            backup::lower_priority();
            let done = backup::write_with(&st.ingest.archive, &dir, &options, &mut |_| {});
            st.backups.update(id, |j| {
                *j = match done {
                    Ok(summary) => BackupJob::Done { summary },
                    Err(e) => BackupJob::Failed {
                        error: answer(e).parts().1,
                    },
                }
            });
        });
    if spawned.is_err() {
        state.backups.update(id, |j| {
            *j = BackupJob::Failed {
                error: "The backup could not start; retry.".into(),
            }
        });
        return Err(ApiError::Unavailable(
            "The backup could not start; retry.".into(),
        ));
    }
    let location = format!("/v1/backup/jobs/{id}");
    let body = serde_json::json!({ "job": id, "state": "running", "poll": location });
    let mut res = (StatusCode::ACCEPTED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    Ok(res)
}

/// Marks a backup job failed if its thread ends without saying how it ended (a panic), so
/// that it does not stay `running` — and every later backup refused with 409 — until restart.
struct Ended<'a> {
    jobs: &'a Jobs,
    id: u64,
}

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.jobs.update(self.id, |j| {
            if matches!(j, BackupJob::Running) {
                tracing::error!(job = self.id, "a backup's thread ended without finishing");
                *j = BackupJob::Failed {
                    error: "The backup stopped unexpectedly; the server log says why.".into(),
                };
            }
        });
    }
}

/// `GET /v1/backup/jobs/{id}`: whether backup `id` is running, done (its summary) or failed
/// (why, in a sentence).
pub async fn job(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<u64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    caller.require(&[Role::Admin])?;
    let job = state
        .backups
        .get(id)
        .ok_or_else(|| ApiError::NotFound(format!("No backup {id} is known to this service.")))?;
    let mut body = serde_json::to_value(job).unwrap_or_default();
    if let Some(o) = body.as_object_mut() {
        o.insert("job".into(), id.into());
    }
    Ok(Json(body))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backup_thread_that_panics_leaves_its_job_failed_not_running() {
        let jobs = Arc::new(Jobs::default());
        let id = jobs.start().unwrap();
        let j = jobs.clone();
        let died = std::thread::spawn(move || {
            let _ended = Ended { jobs: &j, id };
            panic!("a bug in the backup");
        })
        .join();
        assert!(died.is_err());
        assert!(matches!(jobs.get(id), Some(BackupJob::Failed { .. })));
        // A job that ended normally keeps what it said.
        let id = jobs.start().unwrap();
        {
            let _ended = Ended { jobs: &jobs, id };
            jobs.update(id, |j| {
                *j = BackupJob::Failed {
                    error: "refused".into(),
                }
            });
        }
        assert!(matches!(jobs.get(id), Some(BackupJob::Failed { error }) if error == "refused"));
    }
}
