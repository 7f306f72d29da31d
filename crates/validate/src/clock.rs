//! The validator's clock: the system's (coarse, cheap) or a manual one for tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where "now" comes from, in whole seconds since the Unix epoch.
///
/// Token times, the validated-token cache and the unknown-`kid` refresh throttle all
/// read this one clock, so a test can move it (e.g. 5 minutes ahead) without waiting.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock (the default).
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands still at `now` until [`Clock::set`] or [`Clock::advance`].
    pub fn manual(now: i64) -> Self {
        Self(Some(Arc::new(AtomicI64::new(now))))
    }

    /// A manual clock starting at the system's now.
    pub fn manual_at_system_now() -> Self {
        Self::manual(system_now())
    }

    /// Seconds since the Unix epoch.
    #[inline]
    pub fn now(&self) -> i64 {
        match &self.0 {
            None => system_now(),
            Some(t) => t.load(Ordering::Relaxed),
        }
    }

    /// Sets a manual clock; a system clock ignores it.
    pub fn set(&self, now: i64) {
        if let Some(t) = &self.0 {
            t.store(now, Ordering::Relaxed);
        }
    }

    /// Moves a manual clock by `seconds`; a system clock ignores it.
    pub fn advance(&self, seconds: i64) {
        if let Some(t) = &self.0 {
            t.fetch_add(seconds, Ordering::Relaxed);
        }
    }
}

/// `CLOCK_REALTIME_COARSE` where there is one: a vDSO read, a few nanoseconds, and
/// whole seconds are all token times need.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn system_now() -> i64 {
    rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse).tv_sec
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn system_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
