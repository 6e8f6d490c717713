//! How far the engine has got: files parsed and lowered, functions solved.
//! For a progress display only; nothing in the analysis reads these to
//! decide anything, so concurrent analyses in one process only blur the
//! display.

use std::sync::atomic::{AtomicUsize, Ordering};

/// Work counters, updated as the engine goes.
pub struct Progress {
    pub files_total: AtomicUsize,
    pub files_done: AtomicUsize,
    pub functions_total: AtomicUsize,
    pub functions_done: AtomicUsize,
}

impl Progress {
    const fn new() -> Self {
        Progress {
            files_total: AtomicUsize::new(0),
            files_done: AtomicUsize::new(0),
            functions_total: AtomicUsize::new(0),
            functions_done: AtomicUsize::new(0),
        }
    }

    /// `(done, total)` files and `(done, total)` functions.
    pub fn snapshot(&self) -> ((usize, usize), (usize, usize)) {
        let get = |a: &AtomicUsize| a.load(Ordering::Relaxed);
        (
            (get(&self.files_done), get(&self.files_total)),
            (get(&self.functions_done), get(&self.functions_total)),
        )
    }
}

/// The process's counters.
pub static PROGRESS: Progress = Progress::new();

pub(crate) fn files_started(total: usize) {
    PROGRESS.files_total.store(total, Ordering::Relaxed);
    PROGRESS.files_done.store(0, Ordering::Relaxed);
}

pub(crate) fn file_done() {
    PROGRESS.files_done.fetch_add(1, Ordering::Relaxed);
}

pub(crate) fn functions_started(total: usize) {
    PROGRESS.functions_total.store(total, Ordering::Relaxed);
    PROGRESS.functions_done.store(0, Ordering::Relaxed);
}

pub(crate) fn functions_done(count: usize) {
    PROGRESS.functions_done.fetch_add(count, Ordering::Relaxed);
}
