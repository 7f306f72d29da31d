//! What the entra-identity tests share: [`Emu`], a running emulator for one test, and
//! client options that point at it with retries short enough for tests.
//! (`entra_testkit` has the emulator side; it cannot know entra-identity's types.)

use std::sync::Arc;
use std::time::Duration;

use entra_identity::ClientOptions;
use entra_identity::http::{HttpClient, Pipeline, ReqwestClient, RetryPolicy};
use entra_testkit::Harness;

/// `max_retries` retries, 10 ms base delay, at most `max_delay` between tries.
pub fn retry(max_retries: u32, max_delay: Duration) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(10),
        max_delay,
    }
}

/// The emulator's authority and CA, through `transport` with `retry`.
pub fn emulator_options_via(
    h: &Harness,
    transport: Arc<dyn HttpClient>,
    retry: RetryPolicy,
) -> ClientOptions {
    ClientOptions {
        pipeline: Some(Pipeline::new(transport, retry)),
        ..ClientOptions::for_emulator(&h.ready().authority, &h.ready().ca_file)
    }
}

/// A transport that trusts the emulator's CA.
pub fn emulator_transport(h: &Harness) -> ReqwestClient {
    ReqwestClient::new(Some(std::path::Path::new(&h.ready().ca_file))).unwrap()
}

/// The emulator's authority and CA, with `retry`.
pub fn emulator_options(h: &Harness, retry: RetryPolicy) -> ClientOptions {
    emulator_options_via(h, Arc::new(emulator_transport(h)), retry)
}

/// A test emulator (derefs to its [`Harness`]), with client options pointing at it. Test
/// modules add the helpers only they need in `impl Emu` blocks of their own.
pub struct Emu {
    h: Harness,
}

impl std::ops::Deref for Emu {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.h
    }
}

impl Emu {
    pub async fn start() -> Self {
        Self {
            h: Harness::start().await,
        }
    }

    /// An emulator started with `options` (see [`Harness::start_with`]).
    pub async fn start_with(options: entra_emulator::Options) -> Self {
        Self {
            h: Harness::start_with(options).await,
        }
    }

    /// Options pointing at the emulator, with short retry delays (3 retries, at most 2 s).
    pub fn options(&self) -> ClientOptions {
        emulator_options(&self.h, retry(3, Duration::from_secs(2)))
    }

    /// Options pointing at the emulator, with fewer retries (2, at most 1 s).
    pub fn quick_options(&self) -> ClientOptions {
        emulator_options(&self.h, retry(2, Duration::from_secs(1)))
    }

    /// A scratch directory inside the emulator's state directory (removed with it).
    pub fn work_dir(&self) -> std::path::PathBuf {
        let dir = self.h.dir().join("work");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    pub async fn stop(self) {
        self.h.stop().await;
    }
}

/// A token's claims (the signature is not checked: the tests read what they asked for).
pub fn claims(token: &entra_identity::Secret) -> serde_json::Map<String, serde_json::Value> {
    entra_jose::decode_unverified(token.expose())
        .unwrap()
        .claims
}

/// Lower-case hex SHA-256 of `s`.
pub fn sha256_hex(s: &str) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Fails when `text` holds any of `secrets`.
pub fn no_leak(text: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(
            !s.is_empty() && !text.contains(s),
            "leaked a secret into: {text}"
        );
    }
}
