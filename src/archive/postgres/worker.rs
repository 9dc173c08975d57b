//! A thread owning one PostgreSQL connection, and the calls it answers. The synchronous
//! `postgres` client runs a runtime of its own, which must not be driven from an async
//! runtime's threads; a thread of its own keeps every caller safe, whatever thread it is on.

use crate::archive::store::StoreError;
use std::sync::mpsc;
use std::sync::{Mutex, PoisonError};

type Job<S> = Box<dyn FnOnce(&mut S) + Send>;

/// A thread with state `S` (its connection), running the jobs it is sent in order.
pub struct Worker<S> {
    jobs: Mutex<mpsc::Sender<Job<S>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<S: Send + 'static> Worker<S> {
    /// Starts the thread; `close` runs on its state when the worker is dropped.
    pub fn spawn(
        name: &str,
        state: S,
        close: impl FnOnce(&mut S) + Send + 'static,
    ) -> Result<Worker<S>, StoreError> {
        Self::spawn_with_idle(name, state, |_| None, close)
    }

    /// Starts the thread; `idle` runs on its state whenever it has run every job sent so
    /// far (the writer commits the batches handed over meanwhile, as one group, there), and
    /// again after the time it returns if no job came meanwhile (a turn held open for more
    /// filings to join is ended then); `close` runs when the worker is dropped.
    pub fn spawn_with_idle(
        name: &str,
        mut state: S,
        mut idle: impl FnMut(&mut S) -> Option<std::time::Duration> + Send + 'static,
        close: impl FnOnce(&mut S) + Send + 'static,
    ) -> Result<Worker<S>, StoreError> {
        let (tx, rx) = mpsc::channel::<Job<S>>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                loop {
                    let job = match rx.try_recv() {
                        Ok(job) => job,
                        Err(mpsc::TryRecvError::Disconnected) => break,
                        Err(mpsc::TryRecvError::Empty) => match idle(&mut state) {
                            None => match rx.recv() {
                                Ok(job) => job,
                                Err(_) => break,
                            },
                            Some(wait) => match rx.recv_timeout(wait) {
                                Ok(job) => job,
                                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                                Err(mpsc::RecvTimeoutError::Disconnected) => break,
                            },
                        },
                    };
                    job(&mut state);
                }
                close(&mut state);
            })
            .map_err(|e| StoreError::Io {
                what: "starting a PostgreSQL connection thread".into(),
                source: e,
            })?;
        Ok(Worker {
            jobs: Mutex::new(tx),
            thread: Some(thread),
        })
    }

    /// Sends `f` to run on the thread after the jobs sent before it, without waiting.
    pub fn cast(&self, f: impl FnOnce(&mut S) + Send + 'static) -> Result<(), StoreError> {
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(Box::new(f))
            .map_err(|_| gone())
    }

    /// Runs `f` on the thread and waits for its answer.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, result) = mpsc::sync_channel(1);
        let job: Job<S> = Box::new(move |s| {
            let _ = answer.send(f(s));
        });
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }
}

/// The error for a worker whose thread is gone.
fn gone() -> StoreError {
    StoreError::Unwritable("a PostgreSQL connection thread has stopped".into())
}

impl<S> Drop for Worker<S> {
    fn drop(&mut self) {
        // Closing the channel ends the thread, which closes its connection (releasing the
        // advisory lock a writer holds) before the next opener may need it.
        let (closed, _) = mpsc::channel();
        *self.jobs.lock().unwrap_or_else(PoisonError::into_inner) = closed;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
