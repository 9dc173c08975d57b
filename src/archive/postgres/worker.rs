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
        mut state: S,
        close: impl FnOnce(&mut S) + Send + 'static,
    ) -> Result<Worker<S>, StoreError> {
        let (tx, rx) = mpsc::channel::<Job<S>>();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                for job in rx {
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

    /// Runs `f` on the thread and waits for its answer.
    pub fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut S) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, result) = mpsc::sync_channel(1);
        let job: Job<S> = Box::new(move |s| {
            let _ = answer.send(f(s));
        });
        let gone = || StoreError::Unwritable("a PostgreSQL connection thread has stopped".into());
        self.jobs
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(job)
            .map_err(|_| gone())?;
        result.recv().map_err(|_| gone())?
    }
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
