//! A request to stop a sweep: set by the Ctrl-C / SIGTERM handler (or a test), read by
//! the workers before each run and by training before each batch.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Shared stop request. Cloning shares the flag.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    /// A flag nobody has raised yet.
    pub fn new() -> Self {
        Stop::default()
    }

    /// Asks every worker to stop: no new run starts, running ones stop at their next
    /// batch and are recorded as interrupted.
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was requested.
    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for code below the scheduler (the training loop) that should not
    /// depend on it.
    pub fn flag(&self) -> &AtomicBool {
        &self.0
    }
}
