//! The table behind `entra doctor --error`: Entra's AADSTS codes come from
//! [`entra_identity::aadsts`] (the one table, shared with the library's error hints);
//! the 401 texts APIs such as Fabric, Power BI and Graph answer with are here.

#[cfg(test)]
use entra_identity::aadsts::CODES;
pub(crate) use entra_identity::aadsts::{codes_in, lookup};

/// An explanation of a message an API (not Entra) answers with.
#[derive(Debug)]
pub(crate) struct ApiMessage {
    pub title: &'static str,
    pub meaning: &'static str,
    pub action: &'static str,
}

/// Texts from APIs and their token validators (Fabric, Power BI, Graph, ASP.NET's
/// IdentityModel), matched case-insensitively.
const API_MESSAGES: &[(&[&str], ApiMessage)] = &[
    (
        &["insufficient_claims"],
        ApiMessage {
            title: "claims challenge (insufficient_claims)",
            meaning: "The API wants a token with more claims (Conditional Access, continuous access evaluation): its WWW-Authenticate header carries claims=\"<base64>\".",
            action: "Get a new token with those claims (TokenRequest claims) and retry once; `entra call` does this for you.",
        },
    ),
    (
        &[
            "lifetime validation failed",
            "idx10223",
            "tokenexpired",
            "token is expired",
            "token has expired",
        ],
        ApiMessage {
            title: "expired token",
            meaning: "The access token's exp has passed (or this machine's clock is far off).",
            action: "Get a fresh token (`entra token` refreshes from the cache); check the clock with `entra doctor`.",
        },
    ),
    (
        &[
            "audience validation failed",
            "idx10214",
            "invalidaudience",
            "invalid audience",
        ],
        ApiMessage {
            title: "wrong audience",
            meaning: "The token was issued for another API (its aud claim), so this API refuses it.",
            action: "Ask for a scope of this API (`entra token --resource fabric`, or --scope <App ID URI>/.default); `entra decode - --for URL` shows which audience a token has.",
        },
    ),
    (
        &[
            "signature validation failed",
            "idx10501",
            "idx10503",
            "invalidsignature",
        ],
        ApiMessage {
            title: "signature not trusted",
            meaning: "The API could not verify the token's signature with its issuer's keys: a token from another tenant or cloud, from an emulator, or altered.",
            action: "Get the token from the authority (tenant, cloud) the API trusts; `entra decode` shows the issuer.",
        },
    ),
    (
        &["powerbinotauthorizedexception"],
        ApiMessage {
            title: "Power BI: not authorized",
            meaning: "The token is valid, but the caller may not do this: no role in the workspace, or (for a service principal) the tenant setting that lets service principals use Fabric/Power BI APIs is off.",
            action: "Add the user or service principal to the workspace (Member or Admin), and have a Fabric admin allow service principals in the tenant settings.",
        },
    ),
    (
        &[
            "access token is invalid",
            "invalidauthenticationtoken",
            "access token validation failure",
            "401 unauthorized",
            "http 401",
            "tokennotprovided",
        ],
        ApiMessage {
            title: "the API refused the access token (HTTP 401)",
            meaning: "The usual causes, most common first: (1) an authorization code (0.A...) or an ID token was sent as the bearer instead of an access token; \
                      (2) the token is for another audience (a Graph token sent to Fabric or Power BI); (3) the token expired; (4) the header is not exactly 'Authorization: Bearer <token>'.",
            action: "Run `entra decode - --for <the API URL>` on the token you sent: it names each of these. Then get a token for the API itself: \
                     `entra token --resource fabric` (or powerbi, graph, arm...), or let `entra call <URL>` attach one.",
        },
    ),
];

/// The API message explanations that match `text`.
pub(crate) fn api_messages(text: &str) -> Vec<&'static ApiMessage> {
    let lower = text.to_ascii_lowercase();
    API_MESSAGES
        .iter()
        .filter(|(needles, _)| needles.iter().any(|n| lower.contains(n)))
        .map(|(_, m)| m)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_covers_the_issue_3_hints() {
        assert!(CODES.windows(2).all(|w| w[0].code < w[1].code));
        for code in [
            7000215, 7000222, 65001, 700016, 1002012, 70011, 50076, 50079, 500011, 700024, 90002,
            50049, 50126, 50034, 700082, 50173, 70008, 54005, 9002313, 50011, 7000218, 500113,
            53003, 530003, 65002, 50020, 700054, 7000112, 90014, 900144, 50058, 50105, 1000031,
        ] {
            assert!(lookup(code).is_some(), "{code} missing");
        }
    }

    #[test]
    fn codes_are_found_in_text() {
        assert_eq!(codes_in("50076"), [50076]);
        assert_eq!(
            codes_in("AADSTS7000215: Invalid client secret. aadsts7000215 again, AADSTS50076"),
            [7000215, 50076]
        );
        assert!(codes_in("Access token is invalid").is_empty());
        assert_eq!(
            api_messages("{\"message\":\"Access token is invalid\"}").len(),
            1
        );
    }
}
