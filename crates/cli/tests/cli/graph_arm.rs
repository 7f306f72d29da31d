//! Microsoft Graph and Azure Resource Manager from the command line, against the
//! emulator's local APIs: `entra call` takes the scope from the `/graph` and `/arm` paths,
//! prints the service's answer, and `entra doctor --error -` explains its error body.

use serde_json::Value;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_graph_and_arm_locally_and_explain_their_errors() {
    let h = Harness::start().await;
    let mut e = Entra::new(&h, "call-graph-arm");
    e.daemon();

    // ARM: the daemon is Contributor on Contoso's dev subscription.
    let subs = format!("{}/arm/subscriptions?api-version=2022-12-01", h.base());
    let out = e.run(&["call", &subs]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["value"][0]["displayName"], "Contoso Dev", "{v}");

    // Graph: the daemon holds User.Read.All.
    let users = format!("{}/graph/v1.0/users", h.base());
    let out = e.run(&["call", &users]).await;
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["value"].as_array().unwrap().len(), 3, "{v}");

    // /me with an app-only token: Graph's 400 body, printed, exit 1; doctor explains it.
    let me = format!("{}/graph/v1.0/me", h.base());
    let out = e.run(&["call", &me]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "BadRequest", "{v}");
    let explained = run(
        e.command(&["doctor", "--error", "-"]),
        Some(out.stdout.clone().into_bytes()),
    )
    .await;
    assert_eq!(explained.code, Some(0), "{explained:?}");
    assert!(
        explained
            .stdout
            .starts_with("Microsoft Graph said: BadRequest\n"),
        "{}",
        explained.stdout
    );

    // A Graph token on ARM: ARM's audience error, explained.
    let out = e.run(&["call", &subs, "--resource", "graph"]).await;
    assert_eq!(out.code, Some(1), "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        v["error"]["code"], "InvalidAuthenticationTokenAudience",
        "{v}"
    );
    let explained = run(
        e.command(&["doctor", "--error", "-"]),
        Some(out.stdout.clone().into_bytes()),
    )
    .await;
    assert!(
        explained
            .stdout
            .starts_with("Azure Resource Manager said: InvalidAuthenticationTokenAudience\n"),
        "{}",
        explained.stdout
    );
    h.stop().await;
}
