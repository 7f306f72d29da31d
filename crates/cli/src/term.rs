//! Terminal output shared by the commands: colour only on a terminal (and never with
//! `NO_COLOR`), and the `error:` / `warning:` / `hint:` lines on stderr.

use std::io::IsTerminal;

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

/// `error: MESSAGE` on stderr.
pub(crate) fn error(message: impl std::fmt::Display) {
    eprintln!("{}: {message}", Paint::stderr().red("error"));
}

/// `warning: MESSAGE` on stderr.
pub(crate) fn warning(message: impl std::fmt::Display) {
    eprintln!("{}: {message}", Paint::stderr().yellow("warning"));
}

/// `hint: MESSAGE` on stderr.
pub(crate) fn hint(message: impl std::fmt::Display) {
    eprintln!("{}: {message}", Paint::stderr().bold("hint"));
}
