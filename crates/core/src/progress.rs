//! Progress that works both for a person at a terminal and for Airflow's log.
//!
//! On a terminal an indicatif bar is drawn on stderr; elsewhere (Airflow, CI) a log line
//! with the count and the rate is emitted at most every `interval`, plus one at the end,
//! because a log file is not a terminal and a bar would be noise there.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts processed items and reports progress.
pub struct Progress {
    what: &'static str,
    count: u64,
    started: Instant,
    last_log: Instant,
    interval: Duration,
    bar: Option<ProgressBar>,
}

impl Progress {
    /// A progress reporter for `what` (e.g. "rows"); `total` when known.
    pub fn new(what: &'static str, total: Option<u64>, quiet: bool) -> Self {
        let on_terminal = std::io::stderr().is_terminal() && !quiet;
        let bar = on_terminal.then(|| {
            let bar = total.map_or_else(ProgressBar::no_length, ProgressBar::new);
            bar.set_draw_target(ProgressDrawTarget::stderr());
            let template = if total.is_some() {
                "{spinner} {msg} {wide_bar} {pos}/{len} ({per_sec}, eta {eta})"
            } else {
                "{spinner} {msg} {pos} ({per_sec})"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style);
            }
            bar.set_message(what);
            bar
        });
        let now = Instant::now();
        Self {
            what,
            count: 0,
            started: now,
            last_log: now,
            interval: Duration::from_secs(10),
            bar,
        }
    }

    /// Sets how often a log line is written when not on a terminal.
    #[must_use]
    pub fn with_log_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Records `n` more items.
    pub fn inc(&mut self, n: u64) {
        self.count += n;
        if let Some(bar) = &self.bar {
            bar.inc(n);
        } else if self.last_log.elapsed() >= self.interval {
            self.last_log = Instant::now();
            self.log_line("progress");
        }
    }

    /// Items counted so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    fn log_line(&self, phase: &str) {
        let secs = self.started.elapsed().as_secs_f64();
        let rate = if secs > 0.0 { self.count as f64 / secs } else { 0.0 };
        tracing::info!(
            what = self.what,
            count = self.count,
            rate_per_sec = rate.round(),
            elapsed_secs = (secs * 10.0).round() / 10.0,
            "{phase}"
        );
    }

    /// Clears the bar and logs the final count and rate.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.log_line("done");
    }
}
