//! Unit tests of the managed-identity modules: detection, identity parameters, resources,
//! challenges, thumbprints and host errors.

use std::time::Duration;

use super::arc::basic_realm;
use super::credential::resource_for;
use super::detect::ARC_DEFAULT_ENDPOINT;
use super::imds::backoff;
use super::pinned_tls::parse_thumbprint;
use super::response::{aadsts_code, host_error, scrub};
use super::*;
use crate::env::Env;

fn host_of(pairs: &[(&str, &str)]) -> Result<ManagedIdentityHost, String> {
    ManagedIdentityEndpoint::detect(&Env::from_pairs(pairs.iter().copied()), true, false)
        .map(|e| e.host())
        .map_err(|e| e.to_string())
}

#[test]
fn hosts_are_detected_in_azure_identity_order() {
    use ManagedIdentityHost::*;
    let ep = ("IDENTITY_ENDPOINT", "http://127.0.0.1:41741/msi/token");
    let header = ("IDENTITY_HEADER", "h");
    let msi = ("MSI_ENDPOINT", "http://127.0.0.1:41741/msi/token");
    let secret = ("MSI_SECRET", "s");
    assert_eq!(host_of(&[]), Ok(Imds));
    assert_eq!(host_of(&[ep, header]), Ok(AppService));
    assert_eq!(
        host_of(&[ep, header, ("IDENTITY_SERVER_THUMBPRINT", "ab")]),
        Ok(ServiceFabric)
    );
    assert_eq!(
        host_of(&[ep, ("IMDS_ENDPOINT", "http://localhost:40342")]),
        Ok(AzureArc)
    );
    // App Service sets both protocols' variables; the newer wins.
    assert_eq!(host_of(&[ep, header, msi, secret]), Ok(AppService));
    assert_eq!(host_of(&[msi, secret]), Ok(AppService2017));
    assert_eq!(
        host_of(&[msi, secret, ("DEFAULT_IDENTITY_CLIENT_ID", "c")]),
        Ok(AzureMl)
    );
    assert_eq!(host_of(&[msi]), Ok(CloudShell));
    let err = host_of(&[ep]).unwrap_err();
    assert!(
        err.contains("unavailable") && err.contains("IDENTITY_HEADER"),
        "{err}"
    );
    assert!(
        host_of(&[("IDENTITY_ENDPOINT", "not a url"), header])
            .unwrap_err()
            .contains("not an http(s) URL")
    );
    let workload = [
        ("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"),
        ("AZURE_TENANT_ID", "t"),
        ("AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/token"),
    ];
    assert_eq!(host_of(&workload), Ok(WorkloadIdentity));
    let detected =
        ManagedIdentityEndpoint::detect(&Env::from_pairs(workload), false, false).unwrap();
    assert_eq!(detected.host(), Imds);
    assert!(matches!(
        ManagedIdentityEndpoint::detect(&Env::new(), true, true),
        Ok(ManagedIdentityEndpoint::AzureArc { url }) if url == ARC_DEFAULT_ENDPOINT
    ));
    match ManagedIdentityEndpoint::detect(
        &Env::from_pairs([(
            "AZURE_POD_IDENTITY_AUTHORITY_HOST",
            "https://localhost:8443/",
        )]),
        true,
        false,
    ) {
        Ok(ManagedIdentityEndpoint::Imds { base, explicit }) => {
            assert_eq!((base.as_str(), explicit), ("https://localhost:8443", true))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn identities_map_to_each_hosts_parameter_names() {
    let id = ManagedIdentityId::ObjectId("o".into());
    let imds = [Some("client_id"), Some("object_id"), Some("msi_res_id")];
    assert_eq!(
        id.param(ManagedIdentityHost::Imds, imds).unwrap(),
        Some(("object_id", "o"))
    );
    assert_eq!(
        ManagedIdentityId::System
            .param(ManagedIdentityHost::Imds, imds)
            .unwrap(),
        None
    );
    let e = id
        .param(ManagedIdentityHost::AzureMl, [Some("clientid"), None, None])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Azure ML") && e.contains("client id only"),
        "{e}"
    );
    let e = ManagedIdentityId::ClientId("c".into())
        .param(ManagedIdentityHost::AzureArc, [None, None, None])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Azure Arc") && e.contains("system-assigned"),
        "{e}"
    );
}

#[test]
fn scopes_become_a_resource() {
    assert_eq!(
        resource_for(&["https://vault.azure.net/.default".into()]).unwrap(),
        "https://vault.azure.net"
    );
    assert_eq!(resource_for(&["api://x".into()]).unwrap(), "api://x");
    assert!(resource_for(&[]).is_err());
    assert!(resource_for(&["a/.default".into(), "b/.default".into()]).is_err());
}

#[test]
fn challenges_thumbprints_and_codes() {
    assert_eq!(
        basic_realm("Basic realm=/var/opt/azcmagent/tokens/x.key"),
        Some("/var/opt/azcmagent/tokens/x.key")
    );
    assert_eq!(
        basic_realm("basic realm=\"C:\\a\\b.key\""),
        Some("C:\\a\\b.key")
    );
    assert_eq!(basic_realm("Bearer realm=x"), None);
    assert_eq!(basic_realm("Basic"), None);
    assert_eq!(
        parse_thumbprint("AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:01")
            .unwrap()
            .len(),
        20
    );
    assert!(parse_thumbprint("xyz").is_err());
    assert!(parse_thumbprint("abcd").is_err());
    assert_eq!(
        aadsts_code("AADSTS500011: The resource principal"),
        Some(500011)
    );
    assert_eq!(aadsts_code("nothing"), None);
    assert_eq!(
        scrub("bad header hunter2-secret!", &["hunter2-secret"]),
        "bad header [redacted]!"
    );
    assert_eq!(
        backoff(&ImdsRetryPolicy::default(), 1),
        Duration::from_secs(1)
    );
    assert_eq!(
        backoff(&ImdsRetryPolicy::default(), 3),
        Duration::from_secs(4)
    );
    assert_eq!(
        backoff(&ImdsRetryPolicy::default(), 9),
        Duration::from_secs(4)
    );
}

#[test]
fn host_errors_are_typed_and_scrubbed() {
    let e = host_error(
        ManagedIdentityHost::Imds,
        "http://x/metadata?resource=r",
        400,
        br#"{"error":"invalid_resource","error_description":"AADSTS500011: The resource principal named r was not found"}"#,
        &[],
    );
    assert_eq!(e.entra().unwrap().codes, vec![500011]);
    let text = e.to_string();
    assert!(
        text.starts_with("IMDS managed identity: invalid_resource (HTTP 400): AADSTS500011"),
        "{text}"
    );
    assert!(text.contains("hint:"), "{text}");
    let e = host_error(
        ManagedIdentityHost::ServiceFabric,
        "https://x",
        401,
        br#"{"error":{"code":"SecretHeaderNotFound","message":"Secret s3cr3t-value is not valid"}}"#,
        &["s3cr3t-value"],
    );
    assert_eq!(e.entra().unwrap().error, "SecretHeaderNotFound");
    assert!(!e.to_string().contains("s3cr3t-value"), "{e}");
    let e = host_error(
        ManagedIdentityHost::AppService,
        "http://x?q",
        500,
        b"<html>s3cr3t-value",
        &["s3cr3t-value"],
    );
    assert_eq!(
        e.to_string(),
        "App Service (2019-08-01) managed identity: unexpected response from http://x: HTTP 500 without a JSON error body"
    );
}
