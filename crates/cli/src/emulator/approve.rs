//! `entra emulator approve-device-code CODE --user UPN`: completes a device-code sign-in
//! without a browser, through the emulator's admin API
//! (`POST /admin/device-codes/{user_code}/approve` with `{"user": UPN}`, the admin token
//! as a bearer), so that scripts and other languages' tests can finish one.

use entra_emulator::Ready;
use entra_identity::http::{HttpClient as _, ReqwestClient};
use serde_json::{Value, json};

use crate::exit::CliError;
use crate::percent;

/// The admin API request that approves `user_code` as `user`.
pub(crate) fn request(
    ready: &Ready,
    user_code: &str,
    user: &str,
) -> Result<http::Request<Vec<u8>>, CliError> {
    let url = format!(
        "{}/admin/device-codes/{}/approve",
        ready.authority.trim_end_matches('/'),
        percent::encode(user_code.trim())
    );
    http::Request::builder()
        .method("POST")
        .uri(&url)
        .header("authorization", format!("Bearer {}", ready.admin_token))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(json!({ "user": user }).to_string().into_bytes())
        .map_err(|e| CliError::usage(format!("cannot build the request to {url}: {e}")))
}

/// What the admin API answered, as the line to print or the error: 200 with
/// `{user_code, user, client_id}`; 404 for an unknown or expired code; 400 for an unknown
/// user; errors as `{error, error_description}`.
pub(crate) fn outcome(
    user_code: &str,
    response: &http::Response<Vec<u8>>,
) -> Result<String, CliError> {
    let body: Value = serde_json::from_slice(response.body()).unwrap_or(Value::Null);
    let text = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let status = response.status().as_u16();
    if status == 200 {
        return Ok(format!(
            "Approved device code {} for {} (client {}): the waiting client gets its tokens at its next poll.",
            text("user_code"),
            text("user"),
            text("client_id")
        ));
    }
    let why = match (body.get("error"), body.get("error_description")) {
        (Some(_), Some(_)) => format!("{}: {}", text("error"), text("error_description")),
        (Some(_), None) => text("error"),
        _ => format!("HTTP {status}"),
    };
    Err(match status {
        404 => CliError::failure(format!(
            "device code {user_code} is unknown or has expired ({why})"
        ))
        .with_hint(
            "the code is the one the device shows (e.g. ABCD-EFGH); codes expire after 15 minutes",
        ),
        400 => CliError::usage(format!("the emulator refused: {why}")),
        401 | 403 => CliError::failure(format!("the admin API refused the admin token ({why})"))
            .with_hint("is ready.json from the emulator running now? (--state-dir)"),
        _ => CliError::failure(format!("the admin API answered {why}")),
    })
}

/// Sends the approval to the emulator that wrote `ready`, and prints the outcome.
pub(crate) fn run(ready: &Ready, user_code: &str, user: &str) -> Result<(), CliError> {
    let request = request(ready, user_code, user)?;
    let client =
        ReqwestClient::new(Some(std::path::Path::new(&ready.ca_file))).map_err(CliError::usage)?;
    let runtime = crate::term::runtime()?;
    let response = runtime
        .block_on(client.send(request))
        .map_err(|e| CliError::unreachable(format!("the emulator at {}: {e}", ready.authority)))?;
    println!("{}", outcome(user_code, &response)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready() -> Ready {
        Ready {
            authority: "https://localhost:8443/".into(),
            ca_file: "/nonexistent/ca.pem".into(),
            admin_token: "admin-token-value".into(),
            identity_endpoint: String::new(),
            identity_header: String::new(),
            imds_endpoint: String::new(),
            daemon_certificate: String::new(),
            pid: 0,
            broker: None,
            proxy: None,
        }
    }

    fn answer(status: u16, body: Value) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(status)
            .body(body.to_string().into_bytes())
            .unwrap()
    }

    #[test]
    fn the_request_is_the_admin_api_contract() {
        let r = request(&ready(), " ABCD-EFGH ", "alice@contoso.onmicrosoft.com").unwrap();
        assert_eq!(r.method(), "POST");
        assert_eq!(
            r.uri().to_string(),
            "https://localhost:8443/admin/device-codes/ABCD-EFGH/approve"
        );
        assert_eq!(r.headers()["authorization"], "Bearer admin-token-value");
        assert_eq!(r.headers()["content-type"], "application/json");
        let body: Value = serde_json::from_slice(r.body()).unwrap();
        assert_eq!(body, json!({"user": "alice@contoso.onmicrosoft.com"}));
        // Whatever is typed stays inside its path segment.
        let odd = request(&ready(), "a/../b?c", "alice").unwrap();
        assert_eq!(
            odd.uri().path(),
            "/admin/device-codes/a%2F..%2Fb%3Fc/approve"
        );
    }

    #[test]
    fn answers_become_lines_or_exit_codes() {
        let ok = answer(
            200,
            json!({"user_code": "ABCD-EFGH", "user": "alice@contoso.onmicrosoft.com", "client_id": "c1"}),
        );
        let line = outcome("ABCD-EFGH", &ok).unwrap();
        assert!(
            line.starts_with(
                "Approved device code ABCD-EFGH for alice@contoso.onmicrosoft.com (client c1)"
            ),
            "{line}"
        );
        let gone = answer(
            404,
            json!({"error": "not_found", "error_description": "no such code"}),
        );
        let e = outcome("ABCD-EFGH", &gone).unwrap_err();
        assert_eq!(e.code, crate::exit::FAILURE);
        assert!(
            e.message.contains("ABCD-EFGH") && e.message.contains("no such code"),
            "{}",
            e.message
        );
        let who = answer(
            400,
            json!({"error": "invalid_request", "error_description": "unknown user mallory"}),
        );
        let e = outcome("ABCD-EFGH", &who).unwrap_err();
        assert_eq!(e.code, crate::exit::USAGE);
        assert!(e.message.contains("unknown user mallory"), "{}", e.message);
        let odd = http::Response::builder()
            .status(500)
            .body(b"oops".to_vec())
            .unwrap();
        assert!(outcome("X", &odd).unwrap_err().message.contains("HTTP 500"));
    }
}
