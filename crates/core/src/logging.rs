//! Logging setup: `tracing` to stderr, text or JSON, quiet or not.
//!
//! stdout is reserved for the machine-readable summary line, so every log line and
//! progress bar goes to stderr. Every log line passes through the secret scanner on
//! its way out ([`ScrubbedStderr`]): a value quoted from input or from a server that
//! slipped past its call site's own scrubbing is still redacted in the task log.

use tracing_subscriber::EnvFilter;

use crate::cli::{LogArgs, LogFormat};
use crate::env;

/// Installs the global subscriber. Safe to call more than once (later calls are no-ops).
pub fn init(args: &LogArgs) {
    let default = if args.quiet { "warn" } else { "info" };
    let filter = EnvFilter::try_from_env(env::LOG_FILTER).unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(ScrubbedStderr)
        .with_target(false);
    let _ = match args.log_format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
}

/// A `tracing` writer that redacts secrets and personal data from each formatted event
/// ([`hive_secrets::Scanner::redact_message`]: file paths stay readable) before it
/// reaches stderr. The formatter writes one event per writer, so the scan sees whole
/// lines.
pub struct ScrubbedStderr;

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for ScrubbedStderr {
    type Writer = ScrubbedLine;

    fn make_writer(&'a self) -> Self::Writer {
        ScrubbedLine(Vec::new())
    }
}

/// One event's bytes, scrubbed and written to stderr when dropped.
pub struct ScrubbedLine(Vec<u8>);

impl std::io::Write for ScrubbedLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl ScrubbedLine {
    fn scrubbed(&self) -> Vec<u8> {
        let text = String::from_utf8_lossy(&self.0);
        let redacted = hive_secrets::Scanner::shared().redact_message(&text);
        if redacted.is_clean() {
            self.0.clone()
        } else {
            redacted.text.into_bytes()
        }
    }
}

impl Drop for ScrubbedLine {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        // A closed stderr has nowhere to report its own failure.
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), &self.scrubbed());
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn a_log_line_loses_its_secrets_and_keeps_its_paths() {
        let mut line = ScrubbedLine(Vec::new());
        let token = "xoxb-1234567890123-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
        writeln!(
            line,
            "WARN server said: {token} while reading `/tmp/.tmpQ8zX2kLm9Rw1/part-0.parquet`"
        )
        .unwrap_or_default();
        let out = String::from_utf8(line.scrubbed()).unwrap_or_default();
        assert!(!out.contains(token), "{out}");
        assert!(out.contains("/tmp/.tmpQ8zX2kLm9Rw1/part-0.parquet"), "{out}");
        assert!(out.ends_with('\n'), "{out}");
        line.0.clear();
    }
}
