//! What `exp run` shows while a sweep runs, on stderr: on a terminal, an overall bar
//! (runs done of those pending, elapsed, ETA from measured epoch times, see `eta`) above one line per active run (worker,
//! epoch, loss, validation and test RMSE); elsewhere (logs, CI, tests), one plain line per
//! run that starts or ends.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::commands::eta::{self, Eta};
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

/// Bars when stderr is a terminal, plain lines otherwise. Shared, so that the Ctrl-C
/// handler can print through it and clear it.
pub fn on_stderr() -> Arc<dyn Progress + Send> {
    if std::io::stderr().is_terminal() {
        Arc::new(Bars::new())
    } else {
        Arc::new(Lines::default())
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
            Event::Queued { pending, .. } => self.pending.store(pending.len(), Ordering::SeqCst),
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
                    Ending::Pruned { epoch } => {
                        eprintln!("[{n}/{total}] pruned {label} on {worker} after epoch {epoch}")
                    }
                    Ending::Skipped => {
                        eprintln!("[{n}/{total}] {label}: done or in progress elsewhere")
                    }
                    Ending::TakenOver(now) => eprintln!(
                        "[{n}/{total}] {label} on {worker}: stopped, taken over by another \
                         process (it is {now})"
                    ),
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
    eta: Mutex<Eta>,
    skipped: AtomicUsize,
}

impl Bars {
    fn new() -> Self {
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
        let overall = multi.add(ProgressBar::new(0));
        if let Ok(style) = ProgressStyle::with_template(
            "{elapsed_precise} [{bar:30.cyan/blue}] {pos}/{len} runs, {msg}",
        ) {
            overall.set_style(style.progress_chars("=> "));
        }
        overall.enable_steady_tick(Duration::from_millis(200));
        overall.set_message(eta::describe(None));
        Bars {
            multi,
            overall,
            active: Mutex::new(HashMap::new()),
            eta: Mutex::new(Eta::default()),
            skipped: AtomicUsize::new(0),
        }
    }

    /// Updates the ETA in the overall bar's message with `change` applied to the estimate.
    fn update_eta(&self, change: impl FnOnce(&mut Eta)) {
        let mut eta = self.eta.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut eta);
        let skipped = self.skipped.load(Ordering::SeqCst);
        let done = if skipped > 0 {
            format!(" ({skipped} already finished)")
        } else {
            String::new()
        };
        self.overall
            .set_message(format!("{}{done}", eta::describe(eta.remaining())));
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
            Event::Queued {
                pending,
                skipped,
                workers,
            } => {
                self.overall.set_length(pending.len() as u64);
                self.skipped.store(*skipped, Ordering::SeqCst);
                self.update_eta(|eta| *eta = Eta::new(pending, *workers));
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
                self.update_eta(|eta| eta.epoch(run, record));
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
                self.update_eta(|eta| eta.ended(run));
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
                    Ending::Pruned { epoch } => self.println(&format!(
                        "pruned {} on {worker} after epoch {epoch}",
                        run_label(run)
                    )),
                    Ending::TakenOver(now) => self.println(&format!(
                        "{} on {worker}: stopped, taken over by another process (it is {now})",
                        run_label(run)
                    )),
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
