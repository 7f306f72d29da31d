//! Purge notices: the listener that forwards each purged identity to this replica's
//! cache, over a pub/sub connection of its own, and catches up on the purges it missed
//! while it was not subscribed (the generations hash).

use std::collections::HashMap;
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::{broadcast, oneshot};

use super::redact::error_text;

/// Reconnect delays of the purge listener.
const PUBSUB_MIN_BACKOFF: Duration = Duration::from_millis(100);
const PUBSUB_MAX_BACKOFF: Duration = Duration::from_secs(2);
/// How often the purge listener checks that its connection is alive (a connection that
/// silently died, say behind a dropped NAT entry, would otherwise wait forever).
const PUBSUB_PING_EVERY: Duration = Duration::from_secs(15);
/// Pending purge notices a slow receiver may fall behind by before it sees `Lagged`.
pub(super) const PURGES_CAPACITY: usize = 256;

/// Listens on `channel` with a connection of its own and forwards each identity name to
/// `purges`, reconnecting (with a bounded backoff) whenever the connection is lost, until
/// `stop` fires or its sender is dropped.
pub(super) async fn purge_listener(
    client: redis::Client,
    prefix: String,
    purges: broadcast::Sender<String>,
    mut stop: oneshot::Receiver<()>,
    op_timeout: Duration,
    addr: String,
) {
    let channel = format!("{prefix}:purge");
    let connect_timeout = op_timeout.max(Duration::from_secs(1));
    let mut backoff = PUBSUB_MIN_BACKOFF;
    let mut lost = false;
    // The purge generations as of the last subscription, kept up to date by the notices:
    // what a new subscription's snapshot is compared with.
    let mut known: Option<HashMap<String, i64>> = None;
    loop {
        let subscribed = tokio::select! {
            _ = &mut stop => return,
            subscribed = subscribe(&client, &channel, &prefix, connect_timeout) => subscribed,
        };
        match subscribed {
            Ok((pubsub, generations)) => {
                if lost {
                    tracing::info!(redis = %addr, "redis purge notices: subscribed again");
                }
                if let Some(before) = &known {
                    catch_up(before, &generations, &purges, &addr);
                }
                known = Some(generations);
                backoff = PUBSUB_MIN_BACKOFF;
                if forward(pubsub, &purges, &mut known, &mut stop, connect_timeout).await
                    == Ended::Stopped
                {
                    return;
                }
                tracing::warn!(
                    redis = %addr,
                    "redis purge notices: connection lost, resubscribing"
                );
                lost = true;
            }
            Err(why) => {
                if !lost {
                    tracing::warn!(
                        redis = %addr,
                        "redis purge notices: cannot subscribe ({why}); retrying"
                    );
                } else {
                    tracing::debug!(redis = %addr, "redis purge notices: cannot subscribe ({why})");
                }
                lost = true;
            }
        }
        tokio::select! {
            _ = &mut stop => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(PUBSUB_MAX_BACKOFF);
    }
}

/// Subscribes to `channel`, then reads the purge generations (after subscribing: a purge
/// from then on is also a notice).
async fn subscribe(
    client: &redis::Client,
    channel: &str,
    prefix: &str,
    connect_timeout: Duration,
) -> Result<(redis::aio::PubSub, HashMap<String, i64>), String> {
    let mut pubsub = tokio::time::timeout(connect_timeout, client.get_async_pubsub())
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| error_text(&e))?;
    tokio::time::timeout(connect_timeout, pubsub.subscribe(channel))
        .await
        .map_err(|_| "timed out".to_owned())?
        .map_err(|e| error_text(&e))?;
    // Read after subscribing: a purge from now on is also a notice.
    let generations = tokio::time::timeout(connect_timeout, async {
        let mut c = client.get_multiplexed_async_connection().await?;
        redis::cmd("HGETALL")
            .arg(generations_key(prefix))
            .query_async::<HashMap<String, i64>>(&mut c)
            .await
    })
    .await
    .map_err(|_| "timed out".to_owned())?
    .map_err(|e| error_text(&e))?;
    Ok((pubsub, generations))
}

/// Forwards every identity purged while this replica was not subscribed: those whose
/// generation changed between `before` and `now`.
fn catch_up(
    before: &HashMap<String, i64>,
    now: &HashMap<String, i64>,
    purges: &broadcast::Sender<String>,
    addr: &str,
) {
    for (identity, generation) in now {
        if before.get(identity) != Some(generation) {
            tracing::info!(
                redis = %addr,
                identity = %identity,
                "purged while this replica was not subscribed; dropping its tokens"
            );
            drop(purges.send(identity.clone()));
        }
    }
}

/// How [`forward`] ended.
#[derive(PartialEq, Eq)]
enum Ended {
    /// `stop` fired: the store is gone.
    Stopped,
    /// The connection was lost (or stopped answering pings).
    Lost,
}

/// Forwards each notice on `pubsub` to `purges` (keeping `known` up to date), pinging
/// the connection every [`PUBSUB_PING_EVERY`], until it is lost or `stop` fires.
async fn forward(
    pubsub: redis::aio::PubSub,
    purges: &broadcast::Sender<String>,
    known: &mut Option<HashMap<String, i64>>,
    stop: &mut oneshot::Receiver<()>,
    connect_timeout: Duration,
) -> Ended {
    let (mut sink, mut messages) = pubsub.split();
    let mut ping = tokio::time::interval_at(
        tokio::time::Instant::now() + PUBSUB_PING_EVERY,
        PUBSUB_PING_EVERY,
    );
    loop {
        tokio::select! {
            _ = &mut *stop => return Ended::Stopped,
            message = messages.next() => match message {
                Some(message) => match message.get_payload::<String>() {
                    Ok(payload) => {
                        // `identity\ngeneration`; a bare identity from an
                        // older broker is a purge too.
                        let (identity, generation) = match payload.rsplit_once('\n') {
                            Some((i, g)) => (i.to_owned(), g.parse::<i64>().ok()),
                            None => (payload, None),
                        };
                        if let (Some(known), Some(g)) = (known.as_mut(), generation) {
                            known.insert(identity.clone(), g);
                        }
                        // No receivers is fine: nobody is listening yet.
                        drop(purges.send(identity));
                    }
                    Err(_) => tracing::debug!("redis purge notice that is not text"),
                },
                None => return Ended::Lost,
            },
            _ = ping.tick() => {
                let pong = tokio::time::timeout(
                    connect_timeout,
                    sink.ping::<redis::Value>(),
                )
                .await;
                if !matches!(pong, Ok(Ok(_))) {
                    return Ended::Lost;
                }
            }
        }
    }
}

/// The hash of purge generations (identity → number of purges so far).
pub(super) fn generations_key(prefix: &str) -> String {
    format!("{prefix}:purge-generations")
}
