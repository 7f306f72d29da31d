//! The RSA implementation setting (`ValidatorConfigBuilder::rsa_backend`): `AwsLc`
//! really routes every RSA verification to aws-lc, for static key sets and for keys
//! fetched by discovery, and `Auto` leaves entra-rsa on where this process would use it.

use entra_testkit::Harness;
use entra_validate::{Algorithm, Authority, JwksSettings, RsaBackend, Validator, ValidatorConfig};

use crate::common::*;

#[test]
fn rsa_backend_aws_lc_routes_static_keys_to_aws_lc() {
    let forge = Forge::test_key();
    let token = forge.token(&v2_claims());
    let off = Validator::new(
        builder(&forge)
            .rsa_backend(RsaBackend::AwsLc)
            .build()
            .unwrap(),
    );
    let auto = Validator::new(builder(&forge).build().unwrap());
    // Both verify the same token...
    check(&off, &token).unwrap();
    check(&auto, &token).unwrap();
    // ...with the implementation each was told to use.
    let backend = |v: &Validator| {
        run(v.jwks().key("", &forge.kid))
            .unwrap()
            .backend(Algorithm::RS256)
    };
    assert_eq!(off.config().rsa_backend(), RsaBackend::AwsLc);
    assert_eq!(backend(&off), Some(RsaBackend::AwsLc));
    // Auto: entra-rsa wherever this process would use it (an IFMA CPU, no
    // ENTRA_RSA_BACKEND=aws-lc), so on such a CPU the two really differ.
    assert_eq!(backend(&auto), Some(RsaBackend::effective()));
    // A forged signature is refused either way.
    let forged = Forge::generated(&forge.kid).token(&v2_claims());
    assert!(check(&off, &forged).is_err() && check(&auto, &forged).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_backend_aws_lc_routes_fetched_keys_to_aws_lc() {
    let h = Harness::start().await;
    let build = |backend: Option<RsaBackend>| {
        let mut b = ValidatorConfig::builder()
            .authority(Authority::custom(h.base()))
            .tenant(TENANT)
            .audience(API)
            .audience(API_URI)
            .extra_ca_file(&h.ready().ca_file)
            .jwks_settings(JwksSettings {
                background_interval: None,
                ..JwksSettings::default()
            });
        if let Some(backend) = backend {
            b = b.rsa_backend(backend);
        }
        Validator::new(b.build().unwrap())
    };
    let token = h.daemon_token("api://contoso-api/.default").await;
    for (v, expected) in [
        (build(Some(RsaBackend::AwsLc)), RsaBackend::AwsLc),
        (build(None), RsaBackend::effective()),
    ] {
        v.validate(&token).await.unwrap();
        let keys = v.jwks().keys(TENANT).expect("fetched");
        assert!(!keys.is_empty());
        for kid in keys.kids() {
            let key = keys.get(kid).unwrap();
            assert_eq!(key.backend(Algorithm::RS256), Some(expected), "{kid}");
        }
    }
}
