//! The protocols and request outcomes, as the metrics and audit lines name them.

pub(crate) const IMDS: usize = 0;
pub(crate) const APP_SERVICE: usize = 1;
pub(crate) const APP_SERVICE_2017: usize = 2;
pub(crate) const CLOUD_SHELL: usize = 3;
pub(crate) const NATIVE: usize = 4;

pub(crate) const OK: usize = 0;
pub(crate) const BAD_REQUEST: usize = 1;
pub(crate) const UNAUTHORIZED: usize = 2;
pub(crate) const DENIED: usize = 3;
pub(crate) const UPSTREAM_ERROR: usize = 4;
pub(crate) const UNAVAILABLE: usize = 5;
