//! What the entra-identity test binaries share: client options that point at a test
//! emulator, with retries short enough for tests. (`entra_testkit` has the
//! emulator side; it cannot know entra-identity's types.)

#![allow(dead_code)] // each test binary uses a different part

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
