//! What a check reports: a status, a one-line summary, detail lines and one line of
//! advice, rendered as text (`ok    name          summary`) or JSON.

use serde_json::{Value, json};

use crate::term::Paint;

/// A check's verdict; any `Fail` makes `entra doctor` exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

impl Status {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
        }
    }
}

/// One line of the report, with its detail lines and advice.
#[derive(Debug)]
pub(crate) struct Check {
    pub name: &'static str,
    pub status: Status,
    pub summary: String,
    pub details: Vec<String>,
    pub advice: Option<String>,
}

impl Check {
    pub(crate) fn new(name: &'static str, status: Status, summary: impl Into<String>) -> Self {
        Self {
            name,
            status,
            summary: summary.into(),
            details: Vec::new(),
            advice: None,
        }
    }

    pub(crate) fn detail(mut self, d: impl Into<String>) -> Self {
        self.details.push(d.into());
        self
    }

    pub(crate) fn advice(mut self, a: impl Into<String>) -> Self {
        self.advice = Some(a.into());
        self
    }

    pub(crate) fn render(&self, paint: Paint) -> String {
        let label = format!("{:<5}", self.status.label());
        let label = match self.status {
            Status::Ok => paint.green(&label),
            Status::Warn => paint.yellow(&label),
            Status::Fail => paint.red(&label),
            Status::Skip => paint.dim(&label),
        };
        let mut out = format!("{label} {:<14}{}\n", self.name, self.summary);
        for d in &self.details {
            out.push_str(&format!("{:20}{d}\n", ""));
        }
        if let Some(a) = &self.advice {
            out.push_str(&format!("{:20}{} {a}\n", "", paint.bold("->")));
        }
        out
    }

    pub(crate) fn to_json(&self) -> Value {
        json!({
            "name": self.name,
            "status": self.status.label(),
            "summary": self.summary,
            "details": self.details,
            "advice": self.advice,
        })
    }
}

/// The first sentence of an Entra error description (without the trace ids).
pub(crate) fn first_sentence(description: &str) -> String {
    description
        .split(" Trace ID:")
        .next()
        .unwrap_or("")
        .trim()
        .to_string()
}
