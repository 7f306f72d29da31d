//! The audit log: one JSON line per token request (granted, refused or failed), written
//! by a dedicated thread (which polls the queue every 2 ms) so a slow disk never stalls a
//! caller.
//!
//! ```json
//! {"time":"2026-11-21T10:00:00.123456Z","protocol":"app_service","caller":"billing","peer":"127.0.0.1:50412","identity":"billing-sp","resource":"https://graph.microsoft.com","outcome":"ok","status":200,"cache":"hit","latency_us":41,"token_id":"uti:AbCd..."}
//! ```
//!
//! `token_id` is the token's `uti` claim (Entra's unique token identifier, what its
//! sign-in logs show) or, for tokens without one, `sha256:` and the first 16 hex digits
//! of the token's SHA-256: enough to correlate, useless to replay. The token itself is
//! never written. Lines are never dropped: when the writer falls behind, requests wait.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde::Serialize;

use crate::error::BrokerError;

/// One audit record.
#[derive(Debug, Serialize)]
pub(crate) struct Record<'a> {
    /// RFC 3339, UTC, microseconds.
    pub time: String,
    /// `imds`, `app_service`, `app_service_2017`, `cloud_shell`, `native`; for a
    /// request the browser guard refused on another route: `admin`, `metrics`, `health`,
    /// `other` ([`crate::browser_guard`]).
    pub protocol: &'a str,
    /// The caller's name, when it was recognised.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller: Option<&'a str>,
    /// The peer address (or `unix`).
    pub peer: &'a str,
    /// The local user id of the peer, when it was looked up: a number, or `"unknown"`
    /// when no live socket was found (closed by its owner, or another namespace).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<PeerUid>,
    /// The upstream identity, when one was selected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<&'a str>,
    /// The resource (IMDS, App Service, Cloud Shell).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<&'a str>,
    /// The scopes (native API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<&'a [String]>,
    /// `ok`, `bad_request`, `unauthorized`, `denied`, `upstream_error`, `unavailable`.
    pub outcome: &'a str,
    /// The HTTP status sent.
    pub status: u16,
    /// `hit`, `miss`, `fleet`, `stale`, or absent when no token was looked up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<&'a str>,
    /// Microseconds from request to response.
    pub latency_us: u64,
    /// The token's identifier (never the token).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<&'a str>,
    /// Why it was refused or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<&'a str>,
}

/// The result of a peer uid lookup, as audit lines show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PeerUid {
    /// The peer's socket is live and owned by this uid.
    Known(u32),
    /// It could not be told (never written as 0, which would read as root).
    Unknown,
}

impl Serialize for PeerUid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Known(u) => s.serialize_u32(*u),
            Self::Unknown => s.serialize_str("unknown"),
        }
    }
}

enum Msg {
    Line(String),
    /// Close and reopen the file (after logrotate moved it).
    Reopen,
}

/// Where audit lines go.
pub(crate) struct AuditLog {
    tx: Mutex<Option<SyncSender<Msg>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    enabled: bool,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("enabled", &self.enabled)
            .finish()
    }
}

const QUEUE: usize = 65_536;

impl AuditLog {
    /// From `[broker] audit_log`: a path (appended, created 0600), `-` stdout, `off`.
    pub(crate) fn open(setting: Option<&str>) -> Result<Arc<Self>, BrokerError> {
        let (sink, path): (Box<dyn Write + Send>, Option<PathBuf>) = match setting.unwrap_or("-") {
            "off" => {
                return Ok(Arc::new(Self {
                    tx: Mutex::new(None),
                    writer: Mutex::new(None),
                    enabled: false,
                }));
            }
            "-" => (Box::new(std::io::stdout()), None),
            path => (
                Box::new(open_append(Path::new(path))?),
                Some(PathBuf::from(path)),
            ),
        };
        let (tx, rx) = sync_channel::<Msg>(QUEUE);
        let writer = std::thread::Builder::new()
            .name("entra-broker-audit".into())
            .spawn(move || write_lines(rx, sink, path))
            .map_err(|e| BrokerError::from(crate::error::IoError::AuditThread(e)))?;
        Ok(Arc::new(Self {
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(writer)),
            enabled: true,
        }))
    }

    /// Whether lines are written at all.
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Queues a record.
    pub(crate) fn write(&self, record: &Record<'_>) {
        if !self.enabled {
            return;
        }
        let Ok(mut line) = serde_json::to_string(record) else {
            return;
        };
        line.push('\n');
        let tx = self.tx.lock().expect("audit lock").clone();
        let Some(tx) = tx else { return };
        match tx.try_send(Msg::Line(line)) {
            Ok(()) => {}
            Err(TrySendError::Full(line)) => {
                // Back-pressure rather than loss.
                let _ = tx.send(line);
            }
            Err(TrySendError::Disconnected(_)) => {}
        }
    }

    /// Reopens the file (SIGHUP after logrotate moved it); lines queued before go to the
    /// old file.
    pub(crate) fn reopen(&self) {
        if let Some(tx) = self.tx.lock().expect("audit lock").clone() {
            let _ = tx.send(Msg::Reopen);
        }
    }

    /// Writes out everything queued and stops the writer (graceful shutdown).
    pub(crate) fn close(&self) {
        self.tx.lock().expect("audit lock").take();
        if let Some(w) = self.writer.lock().expect("audit lock").take() {
            let _ = w.join();
        }
    }
}

fn open_append(path: &Path) -> Result<std::fs::File, BrokerError> {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path).map_err(|e| {
        BrokerError::from(crate::error::IoError::AuditLog {
            path: path.to_path_buf(),
            source: e,
        })
    })
}

fn write_lines(rx: Receiver<Msg>, sink: Box<dyn Write + Send>, path: Option<PathBuf>) {
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, sink);
    let mut failed = false;
    let handle = |msg: Msg, out: &mut std::io::BufWriter<Box<dyn Write + Send>>| -> bool {
        match msg {
            Msg::Line(line) => out.write_all(line.as_bytes()).is_ok(),
            Msg::Reopen => {
                let mut ok = out.flush().is_ok();
                if let Some(p) = &path {
                    match open_append(p) {
                        Ok(f) => *out = std::io::BufWriter::with_capacity(64 * 1024, Box::new(f)),
                        Err(e) => {
                            tracing::error!(error = %e, "audit log: reopen failed; writing to the old file");
                            ok = false;
                        }
                    }
                }
                ok
            }
        }
    };
    // The writer polls instead of sleeping on the channel: a sender then never has to
    // wake it (a futex call per batch on the request path); lines wait at most a few
    // milliseconds, longer only when the broker has been idle.
    let mut idle = 0u32;
    loop {
        let msg = match rx.try_recv() {
            Ok(m) => m,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                idle = idle.saturating_add(1);
                let pause = if idle < 500 { 2 } else { 25 };
                std::thread::sleep(std::time::Duration::from_millis(pause));
                continue;
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
        };
        idle = 0;
        let mut ok = handle(msg, &mut out);
        // Batch whatever else is queued, then flush once.
        while let Ok(more) = rx.try_recv() {
            ok &= handle(more, &mut out);
        }
        ok &= out.flush().is_ok();
        if !ok && !failed {
            tracing::error!("audit log: write failed; lines are being lost");
        }
        failed = !ok;
    }
    let _ = out.flush();
}

/// Now as RFC 3339 UTC with microseconds.
pub(crate) fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc();
    let (h, m, s) = now.to_hms();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        h,
        m,
        s,
        now.microsecond()
    )
}

/// A JWT's payload, read once with [`entra_jose::decode_unverified`] (no signature
/// check: the broker only reads what its own upstream gave it). `None` for a token that
/// is not a JWT.
pub(crate) struct Payload(Option<serde_json::Map<String, serde_json::Value>>);

impl Payload {
    /// Decodes `token`'s payload.
    pub(crate) fn of(token: &str) -> Self {
        Self(entra_jose::decode_unverified(token).ok().map(|t| t.claims))
    }

    /// A string claim, only when identifier-like (a hostile upstream cannot inject into
    /// the log).
    pub(crate) fn claim(&self, name: &str) -> Option<String> {
        let s = self.0.as_ref()?.get(name)?.as_str()?;
        (s.len() <= 128 && s.bytes().all(|b| b.is_ascii_graphic())).then(|| s.to_string())
    }

    /// The identifier audit lines use for `token` (whose payload this is): its `uti`
    /// claim, else a SHA-256 prefix.
    pub(crate) fn token_id(&self, token: &str) -> String {
        if let Some(uti) = self.claim("uti") {
            return format!("uti:{uti}");
        }
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
        let mut hex = String::with_capacity(23);
        hex.push_str("sha256:");
        for b in &d.as_ref()[..8] {
            hex.push_str(&format!("{b:02x}"));
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_ids() {
        use base64::Engine;
        let p = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"uti":"AbC-123","appid":"x"}"#);
        // A header as every JWT has: the payload is read only from a well-formed JWS.
        let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256"}"#);
        let jwt = format!("{h}.{p}.c2ln");
        let payload = Payload::of(&jwt);
        assert_eq!(payload.token_id(&jwt), "uti:AbC-123");
        assert_eq!(payload.claim("appid").as_deref(), Some("x"));
        let id = Payload::of("not-a-jwt").token_id("not-a-jwt");
        assert!(id.starts_with("sha256:") && id.len() == 23, "{id}");
        assert!(!id.contains("not-a-jwt"));
        assert!(timestamp().ends_with('Z'));
    }
}
