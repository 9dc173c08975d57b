//! Request bodies as the handlers see them: bounded in time and in the memory all requests hold
//! together.
//!
//! A body must keep arriving — no gap between frames longer than `idle`, all of it within
//! `total` — or the request is answered 408 and the connection closed: a slow sender cannot
//! hold a request slot for ever. And every byte read counts against one budget shared by all
//! requests in progress (`max_inflight`): eight 60 MiB bodies at once must not be a path to
//! gigabytes, whatever `--max-concurrency` says. The charge is returned when the request has
//! been answered, because handlers keep what they read until then.

use super::ApiError;
use axum::body::{Body, Bytes};
use http_body::Frame;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

/// The budget is counted in KiB, so that a `u32` of permits covers any sensible setting.
const UNIT: usize = 1024;

/// Limits on bodies.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Longest gap between two pieces of a body.
    pub idle: Duration,
    /// Longest time a whole body may take.
    pub total: Duration,
    /// Bytes of bodies held by all requests in progress together.
    pub max_inflight: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            idle: Duration::from_secs(15),
            total: Duration::from_secs(300),
            max_inflight: 512 * 1024 * 1024,
        }
    }
}

/// Why a body could not be read, besides the connection failing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// A gap or the whole body took longer than allowed.
    #[error("the request body did not arrive in time")]
    TimedOut,
    /// The requests in progress already hold the in-flight budget.
    #[error("the service is receiving as much as it may hold at once")]
    Saturated,
}

/// The in-flight budget shared by all requests.
#[derive(Debug)]
pub struct InFlight(Arc<Semaphore>);

impl InFlight {
    /// A budget of `bytes`.
    pub fn new(bytes: usize) -> InFlight {
        let units = (bytes / UNIT).clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        InFlight(Arc::new(Semaphore::new(units)))
    }

    /// Bytes of the budget not in use now.
    pub fn available(&self) -> usize {
        self.0.available_permits().saturating_mul(UNIT)
    }
}

/// What one request has been charged: the exact bytes read, and the budget units they take
/// (each started KiB of the running total, so many tiny frames cost what they weigh). Dropped,
/// and so returned, after the answer.
#[derive(Debug, Clone, Default)]
pub struct Charge(Arc<Mutex<Held>>);

/// The inside of a [`Charge`].
#[derive(Debug, Default)]
struct Held {
    bytes: usize,
    permit: Option<OwnedSemaphorePermit>,
}

impl Charge {
    fn add(&self, budget: &Arc<Semaphore>, bytes: usize) -> Result<(), BodyError> {
        let mut held = self.0.lock().map_err(|_| BodyError::Saturated)?;
        let had = held.bytes.div_ceil(UNIT);
        let total = held.bytes.saturating_add(bytes);
        let units = u32::try_from(total.div_ceil(UNIT) - had).map_err(|_| BodyError::Saturated)?;
        if units > 0 {
            let more = budget
                .clone()
                .try_acquire_many_owned(units)
                .map_err(|_| BodyError::Saturated)?;
            match held.permit.as_mut() {
                Some(p) => p.merge(more),
                None => held.permit = Some(more),
            }
        }
        held.bytes = total;
        Ok(())
    }
}

/// A request body under the limits.
pub struct Guarded {
    inner: Body,
    idle: Duration,
    gap: Pin<Box<Sleep>>,
    deadline: Pin<Box<Sleep>>,
    budget: Arc<Semaphore>,
    charge: Charge,
}

impl Guarded {
    /// Wraps `inner`; what it reads is charged to `charge` against `budget`.
    pub fn new(inner: Body, limits: &BodyLimits, budget: &InFlight, charge: Charge) -> Guarded {
        Guarded {
            inner,
            idle: limits.idle,
            gap: Box::pin(tokio::time::sleep(limits.idle)),
            deadline: Box::pin(tokio::time::sleep(limits.total)),
            budget: budget.0.clone(),
            charge,
        }
    }
}

impl http_body::Body for Guarded {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if this.deadline.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyError::TimedOut))));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(e) = this.charge.add(&this.budget, data.len())
                {
                    return Poll::Ready(Some(Err(axum::Error::new(e))));
                }
                let next = tokio::time::Instant::now() + this.idle;
                this.gap.as_mut().reset(next);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending if this.gap.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Some(Err(axum::Error::new(BodyError::TimedOut))))
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Reads a whole body into one buffer of its declared length (at most `limit`): frames are
/// appended as they arrive and dropped, so a 60 MiB body costs 60 MiB, not twice that as
/// collecting the frames and then joining them would.
pub async fn read_all(req: axum::extract::Request, limit: usize) -> Result<Vec<u8>, ApiError> {
    use http_body_util::BodyExt;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0);
    if declared > limit {
        return Err(ApiError::TooLarge(limit));
    }
    let mut body = req.into_body();
    // Reserved as bytes arrive beyond the first MiB, not on the caller's word alone.
    let mut out = Vec::with_capacity(declared.min(1 << 20));
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| unreadable(&e, limit))?;
        if let Some(data) = frame.data_ref() {
            if out.len().saturating_add(data.len()) > limit {
                return Err(ApiError::TooLarge(limit));
            }
            out.extend_from_slice(data);
        }
    }
    Ok(out)
}

/// The answer for a body that could not be read: 408 when it was too slow, 503 when the
/// in-flight budget is spent, 413 over `limit`, otherwise 400 (it ended early or broke off).
pub fn unreadable(error: &(dyn std::error::Error + 'static), limit: usize) -> ApiError {
    cause(error, limit).unwrap_or_else(|| {
        ApiError::BadRequest("The request body ended early or could not be read.".into())
    })
}

/// The answer when `error` was caused by one of the limits on bodies, if it was.
pub fn cause(error: &(dyn std::error::Error + 'static), limit: usize) -> Option<ApiError> {
    let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = next {
        if let Some(b) = e.downcast_ref::<BodyError>() {
            return Some(match b {
                BodyError::TimedOut => ApiError::Timeout,
                BodyError::Saturated => ApiError::Unavailable(
                    "The service is receiving as much as it may hold at once; retry shortly."
                        .into(),
                ),
            });
        }
        if e.is::<http_body_util::LengthLimitError>() {
            return Some(ApiError::TooLarge(limit));
        }
        next = e.source();
    }
    None
}
