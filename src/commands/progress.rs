//! What `exp run` shows while a sweep runs, on stderr: on a terminal, an overall bar
//! (runs done of those pending, elapsed, ETA) above one line per active run (worker,
//! epoch, loss, validation and test RMSE); elsewhere (logs, CI, tests), one plain line per
//! run that starts or ends.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::scheduler::{Ending, Event, run_label};

/// Shows a sweep's [`Event`]s.
pub trait Progress: Sync {
    /// Shows one event.
    fn event(&self, event: &Event<'_>);

    /// Prints a message without garbling the display.
    fn println(&self, message: &str);

    /// Clears whatever is still drawn; called once the sweep has ended.
    fn finish(&self) {}
}

/// Bars when stderr is a terminal, plain lines otherwise.
pub fn on_stderr() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Bars::new())
    } else {
        Box::new(Lines::default())
    }
}

/// One line per run that starts or ends, numbered among the pending runs.
#[derive(Debug, Default)]
pub struct Lines {
    pending: AtomicUsize,
    done: AtomicUsize,
}

impl Progress for Lines {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Queued { pending, .. } => self.pending.store(*pending, Ordering::SeqCst),
            Event::Started { run, worker } => {
                eprintln!("start {} on {worker}", run_label(run));
            }
            Event::Epoch { .. } => {}
            Event::Ended {
                run,
                worker,
                ending,
            } => {
                let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
                let total = self.pending.load(Ordering::SeqCst);
                let label = run_label(run);
                match ending {
                    Ending::Finished { rmse } => {
                        eprintln!("[{n}/{total}] {label} on {worker}: test RMSE {rmse:.4}")
                    }
                    Ending::Failed(error) => {
                        eprintln!("[{n}/{total}] FAILED {label} on {worker}: {error}")
                    }
                    Ending::Interrupted => {
                        eprintln!("[{n}/{total}] INTERRUPTED {label} on {worker}")
                    }
                    Ending::Skipped => {
                        eprintln!("[{n}/{total}] {label}: done or in progress elsewhere")
                    }
                }
            }
        }
    }

    fn println(&self, message: &str) {
        eprintln!("{message}");
    }
}

/// The overall bar and a line per active run.
pub struct Bars {
    multi: MultiProgress,
    overall: ProgressBar,
    active: Mutex<HashMap<String, ProgressBar>>,
}

impl Bars {
    fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(0));
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} runs, ETA {eta} {msg}",
        ) {
            overall.set_style(style.progress_chars("=> "));
        }
        overall.enable_steady_tick(Duration::from_millis(200));
        Bars {
            multi,
            overall,
            active: Mutex::new(HashMap::new()),
        }
    }

    fn line(&self, worker: &str) -> ProgressBar {
        let mut active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        active
            .entry(worker.to_string())
            .or_insert_with(|| {
                let bar = self.multi.add(ProgressBar::new_spinner());
                if let Ok(style) = ProgressStyle::with_template("  {prefix:>7} {msg}") {
                    bar.set_style(style);
                }
                bar.set_prefix(worker.to_string());
                bar
            })
            .clone()
    }
}

impl Progress for Bars {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Queued { pending, skipped } => {
                self.overall.set_length(*pending as u64);
                if *skipped > 0 {
                    self.overall
                        .set_message(format!("({skipped} already finished)"));
                }
            }
            Event::Started { run, worker } => {
                self.line(worker).set_message(format!(
                    "{}  epoch 0/{}",
                    run_label(run),
                    run.config.training.epochs
                ));
            }
            Event::Epoch {
                run,
                worker,
                record,
            } => {
                let validation = record
                    .validation_rmse
                    .map(|v| format!("  val RMSE {v:.4}"))
                    .unwrap_or_default();
                self.line(worker).set_message(format!(
                    "{}  epoch {}/{}  loss {:.4}{validation}  test RMSE {:.4}",
                    run_label(run),
                    record.epoch,
                    run.config.training.epochs,
                    record.train_loss,
                    record.rmse
                ));
            }
            Event::Ended {
                run,
                worker,
                ending,
            } => {
                self.overall.inc(1);
                if !matches!(ending, Ending::Skipped) {
                    self.line(worker).set_message("");
                }
                match ending {
                    Ending::Failed(error) => {
                        self.println(&format!("FAILED {} on {worker}: {error}", run_label(run)))
                    }
                    Ending::Interrupted => {
                        self.println(&format!("INTERRUPTED {} on {worker}", run_label(run)))
                    }
                    Ending::Finished { .. } | Ending::Skipped => {}
                }
            }
        }
    }

    fn println(&self, message: &str) {
        if self.multi.println(message).is_err() {
            eprintln!("{message}");
        }
    }

    fn finish(&self) {
        let active = self.active.lock().unwrap_or_else(|p| p.into_inner());
        for bar in active.values() {
            bar.finish_and_clear();
        }
        self.overall.finish_and_clear();
    }
}
