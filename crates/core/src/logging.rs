//! Logging setup: `tracing` to stderr, text or JSON, quiet or not.
//!
//! stdout is reserved for the machine-readable summary line, so every log line and
//! progress bar goes to stderr.

use tracing_subscriber::EnvFilter;

use crate::cli::{LogArgs, LogFormat};
use crate::env;

/// Installs the global subscriber. Safe to call more than once (later calls are no-ops).
pub fn init(args: &LogArgs) {
    let default = if args.quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env(env::LOG_FILTER).unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match args.log_format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}
