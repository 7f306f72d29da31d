//! Terminal output shared by the commands: colour only on a terminal (and never with
//! `NO_COLOR`), times as UTC plus "in 54m" / "3h ago", and one async runtime per command.

use std::io::IsTerminal;

use crate::exit::CliError;

/// Whether to colour what goes to stdout (`stderr` for [`Paint::stderr`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Paint {
    on: bool,
}

impl Paint {
    /// For stdout: on only on a terminal without `NO_COLOR`.
    pub(crate) fn stdout() -> Self {
        Self {
            on: std::io::stdout().is_terminal() && no_color_unset(),
        }
    }

    /// For stderr.
    pub(crate) fn stderr() -> Self {
        Self {
            on: std::io::stderr().is_terminal() && no_color_unset(),
        }
    }

    fn wrap(self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    pub(crate) fn bold(self, text: &str) -> String {
        self.wrap("1", text)
    }
    pub(crate) fn red(self, text: &str) -> String {
        self.wrap("31", text)
    }
    pub(crate) fn green(self, text: &str) -> String {
        self.wrap("32", text)
    }
    pub(crate) fn yellow(self, text: &str) -> String {
        self.wrap("33", text)
    }
    pub(crate) fn dim(self, text: &str) -> String {
        self.wrap("2", text)
    }
}

/// `NO_COLOR` (https://no-color.org): any non-empty value turns colour off.
fn no_color_unset() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Unix seconds as `2026-11-21 08:40:12 UTC`.
pub(crate) fn utc(unix: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => {
            let f = time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
            );
            t.format(&f).unwrap_or_else(|_| unix.to_string())
        }
        Err(_) => format!("{unix} (out of range)"),
    }
}

/// `at` relative to `now`: "in 54m", "3h ago", "just now" (within 5 seconds).
pub(crate) fn relative(at: i64, now: i64) -> String {
    let delta = at - now;
    if delta.abs() <= 5 {
        return "just now".into();
    }
    let span = span(delta.unsigned_abs());
    if delta > 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// The largest one or two units of `secs`: `42s`, `54m`, `3h 5m`, `2d 4h`.
fn span(secs: u64) -> String {
    const MIN: u64 = 60;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;
    match secs {
        s if s < MIN => format!("{s}s"),
        s if s < HOUR => format!("{}m", s / MIN),
        s if s < DAY => match (s % HOUR) / MIN {
            0 => format!("{}h", s / HOUR),
            m => format!("{}h {m}m", s / HOUR),
        },
        s => match (s % DAY) / HOUR {
            0 => format!("{}d", s / DAY),
            h => format!("{}d {h}h", s / DAY),
        },
    }
}

/// A current-thread runtime for one command (they do a few requests, nothing parallel,
/// and a run served from the token cache should start and stop in a few milliseconds).
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the async runtime: {e}")))
}

/// A multi-threaded runtime, for commands that serve (the emulator, the demo).
pub(crate) fn multi_thread_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::failure(format!("cannot start the async runtime: {e}")))
}

/// `error: MESSAGE` on stderr.
pub(crate) fn error(message: impl std::fmt::Display) {
    eprintln!("{}: {message}", Paint::stderr().red("error"));
}

/// `hint: MESSAGE` on stderr.
pub(crate) fn hint(message: impl std::fmt::Display) {
    eprintln!("{}: {message}", Paint::stderr().bold("hint"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        assert_eq!(relative(1000, 1000), "just now");
        assert_eq!(relative(1003, 1000), "just now");
        assert_eq!(relative(1000 + 54 * 60 + 10, 1000), "in 54m");
        assert_eq!(relative(1000 - 3 * 3600, 1000), "3h ago");
        assert_eq!(relative(1000 - 3 * 3600 - 300, 1000), "3h 5m ago");
        assert_eq!(relative(1000 + 42, 1000), "in 42s");
        assert_eq!(relative(1000 + 2 * 86400 + 4 * 3600, 1000), "in 2d 4h");
        assert_eq!(relative(1000 - 86400, 1000), "1d ago");
    }

    #[test]
    fn utc_times() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1729281097), "2024-10-18 19:51:37 UTC");
        assert!(utc(i64::MAX).contains("out of range"));
    }
}
