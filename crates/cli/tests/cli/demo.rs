//! `entra demo`: every scenario against its own emulator, as data and as a table, with
//! no token, code or secret printed.

use crate::common::{entra, temp_dir};

#[test]
fn demo_runs_every_scenario_against_its_own_emulator() {
    let dir = temp_dir("demo");
    let out = entra(&dir).args(["demo", "--json"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let steps = v["steps"].as_array().unwrap();
    let names: Vec<&str> = steps.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "Service principal token",
            "Browser sign-in with PKCE",
            "Device code sign-in",
            "Silent refresh, rotation",
            "On-behalf-of",
            "Managed identity",
            "Token broker",
            "Protected API",
            "Code sent as a bearer",
            "Fabric and Power BI",
            "Code sent to Fabric"
        ]
    );
    assert!(steps.iter().all(|s| s["ok"] == true), "{text}");
    assert_eq!(v["failed"], 0);
    assert!(
        steps[6]["detail"]
            .as_str()
            .unwrap()
            .contains("(1 upstream request)")
    );
    assert!(
        steps[8]["detail"]
            .as_str()
            .unwrap()
            .contains("this looks like an authorization code")
    );
    let fabric = steps[9]["detail"].as_str().unwrap();
    assert!(
        fabric.contains("alice: 5 Fabric workspaces in 2 pages")
            && fabric.contains("only its own: Sales, Automation"),
        "{fabric}"
    );
    let seed = steps[10]["detail"].as_str().unwrap();
    assert!(
        seed.contains(r#"401 {"errorCode":"InvalidToken","message":"Access token is invalid"}"#)
            && seed.contains("redeemed first: 200, 5 workspaces"),
        "{seed}"
    );
    // No token, code or secret is printed.
    for secret in ["eyJ", "daemon-dev-secret", "alice-dev-password"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }

    // The human table, with times normalised.
    let out = entra(&dir).arg("demo").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            // Up to the time column ("<n> ms"), which varies.
            let cells: Vec<&str> = l.split_whitespace().collect();
            let end = cells
                .windows(2)
                .position(|w| w[0].parse::<u64>().is_ok() && w[1] == "ms")
                .unwrap_or(cells.len());
            cells[..end].join(" ")
        })
        .collect();
    assert_eq!(
        lines,
        [
            "# step result time detail",
            "1 Service principal token ok",
            "2 Browser sign-in with PKCE ok",
            "3 Device code sign-in ok",
            "4 Silent refresh, rotation ok",
            "5 On-behalf-of ok",
            "6 Managed identity ok",
            "7 Token broker ok",
            "8 Protected API ok",
            "9 Code sent as a bearer ok",
            "10 Fabric and Power BI ok",
            "11 Code sent to Fabric ok"
        ]
    );
    assert!(text.contains("11 of 11 steps ok"), "{text}");
}
