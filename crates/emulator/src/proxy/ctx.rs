//! What every proxy connection shares.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use tokio::sync::{Semaphore, watch};

use super::ca::InterceptCa;
use crate::state::AppState;

/// Open connections the proxy holds at most (front connections and tunnels).
pub(crate) const MAX_CONNECTIONS: usize = 512;

/// What every proxy connection shares.
pub(crate) struct ProxyCtx {
    pub(crate) state: AppState,
    pub(crate) app: Router,
    pub(crate) ca: InterceptCa,
    pub(crate) bind: IpAddr,
    pub(crate) conns: Arc<Semaphore>,
    pub(crate) shutdown: watch::Receiver<bool>,
}
