//! Fabric's pagination: a list answers at most a page of `value`, and while more remain
//! it adds `continuationToken` and `continuationUri` (the same URL with only
//! `?continuationToken=`); the last page has neither (Fabric's REST specs:
//! `PaginatedResponse`, `x-ms-pageable` with `nextLinkName: continuationUri`).
//!
//! The token is opaque to clients. Here it is the base64url of `listing|offset|type`: the
//! listing it belongs to (so a token of one workspace's items is refused for another),
//! where the next page starts, and the `type` filter of the first request (the
//! `continuationUri` carries no other parameter, as Fabric's).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use super::error::FabricError;
use crate::directory::ITEM_TYPES;

/// Longest token accepted (a real one is a few dozen characters).
const MAX_TOKEN: usize = 512;

/// Where a list request starts: offset and item-type filter.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Start {
    pub(crate) offset: usize,
    pub(crate) filter: Option<String>,
}

/// Reads `continuationToken` (when present) for `listing`, else starts at 0 with `filter`.
pub(crate) fn start(
    listing: &str,
    token: Option<&str>,
    filter: Option<&str>,
) -> Result<Start, FabricError> {
    let Some(token) = token else {
        if let Some(t) = filter
            && !ITEM_TYPES.contains(&t)
        {
            return Err(FabricError::invalid_item_type());
        }
        return Ok(Start {
            offset: 0,
            filter: filter.map(str::to_string),
        });
    };
    let bad = FabricError::invalid_continuation_token;
    if token.len() > MAX_TOKEN {
        return Err(bad());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split('|');
    let (Some(l), Some(o), Some(t), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let offset: usize = o.parse().map_err(|_| bad())?;
    if l != listing || offset == 0 || !(t.is_empty() || ITEM_TYPES.contains(&t)) {
        return Err(bad());
    }
    Ok(Start {
        offset,
        filter: (!t.is_empty()).then(|| t.to_string()),
    })
}

/// One page of a list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Page<T> {
    value: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    continuation_uri: Option<String>,
}

/// The page of `all` that starts at `start`, `size` long; `url` is the list's own URL
/// (without query) for `continuationUri`. An offset past the end is a token this listing
/// never issued (the list shrank, or it was forged): refused.
pub(crate) fn page<T>(
    all: Vec<T>,
    start: &Start,
    size: usize,
    listing: &str,
    url: &str,
) -> Result<Page<T>, FabricError> {
    if start.offset > 0 && start.offset >= all.len() {
        return Err(FabricError::invalid_continuation_token());
    }
    let total = all.len();
    let end = start.offset.saturating_add(size.max(1)).min(total);
    let value: Vec<T> = all
        .into_iter()
        .skip(start.offset)
        .take(end - start.offset)
        .collect();
    let (continuation_token, continuation_uri) = if end < total {
        let raw = format!("{listing}|{end}|{}", start.filter.as_deref().unwrap_or(""));
        let token = URL_SAFE_NO_PAD.encode(raw);
        let uri = format!("{url}?continuationToken={token}");
        (Some(token), Some(uri))
    } else {
        (None, None)
    };
    Ok(Page {
        value,
        continuation_token,
        continuation_uri,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_round_trips_and_belongs_to_its_listing() {
        let s = start("workspaces", None, None).unwrap();
        let p = page(
            (0..5).collect(),
            &s,
            2,
            "workspaces",
            "https://x/v1/workspaces",
        )
        .unwrap();
        assert_eq!(p.value, [0, 1]);
        let token = p.continuation_token.unwrap();
        assert_eq!(
            p.continuation_uri.unwrap(),
            format!("https://x/v1/workspaces?continuationToken={token}")
        );
        let next = start("workspaces", Some(&token), None).unwrap();
        assert_eq!(next.offset, 2);
        assert!(start("items/abc", Some(&token), None).is_err());
        let last = page(
            (0..5).collect(),
            &Start {
                offset: 4,
                filter: None,
            },
            2,
            "w",
            "u",
        )
        .unwrap();
        assert_eq!(last.value, [4]);
        assert!(last.continuation_token.is_none() && last.continuation_uri.is_none());
    }

    #[test]
    fn garbage_tokens_and_types_are_refused() {
        for t in ["", "!!", "bm90IGEgdG9rZW4", &"A".repeat(600)] {
            assert!(start("workspaces", Some(t), None).is_err(), "{t}");
        }
        let zero = URL_SAFE_NO_PAD.encode("workspaces|0|");
        assert!(start("workspaces", Some(&zero), None).is_err());
        assert!(start("items/w", None, Some("Nope")).is_err());
        let past = Start {
            offset: 9,
            filter: None,
        };
        assert!(page(vec![1, 2], &past, 2, "w", "u").is_err());
        // The filter rides in the token.
        let s = start("items/w", None, Some("Lakehouse")).unwrap();
        let p = page(vec![1, 2, 3], &s, 1, "items/w", "u").unwrap();
        let next = start("items/w", p.continuation_token.as_deref(), None).unwrap();
        assert_eq!(next.filter.as_deref(), Some("Lakehouse"));
    }
}
