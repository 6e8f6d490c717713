//! The progress bar on stderr: files parsed, then functions solved, read
//! from the engine's counters. Shown only when stderr is a terminal and
//! `--quiet` is not given; nothing goes to stdout.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lockwarden_flow::progress::PROGRESS;

/// A running display; dropping it clears the bar.
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the display when it is wanted: stderr is a terminal and the user
/// did not ask for quiet.
pub fn start(quiet: bool) -> Option<Display> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let thread = std::thread::spawn(move || {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{msg:18} [{bar:40}] {pos}/{len} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        // Drawn at least once, however short the run.
        loop {
            let ((files, files_total), (functions, functions_total)) = PROGRESS.snapshot();
            if functions_total > 0 {
                bar.set_message("solving functions");
                bar.set_length(functions_total as u64);
                bar.set_position(functions as u64);
            } else {
                bar.set_message("parsing files");
                bar.set_length(files_total as u64);
                bar.set_position(files as u64);
            }
            bar.tick();
            if stopping.load(Ordering::Relaxed) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bar.finish_and_clear();
    });
    Some(Display {
        stop,
        thread: Some(thread),
    })
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_shows_nothing() {
        assert!(start(true).is_none());
    }
}
