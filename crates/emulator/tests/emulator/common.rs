//! What every module of the emulator's tests shares: the harness wrapper [`Env`], the
//! development identities (from `entra_testkit::dev`), and small helpers.

pub(crate) use entra_emulator::{Emulator, Options};
pub(crate) use entra_jose::{RsaPublicKey, decode_unverified};
pub(crate) use entra_testkit::dev::{
    ALICE, ALICE_OID, ALICE_PASSWORD, API, BOB, BOB_PASSWORD, DAEMON, DAEMON_SECRET, MFA_PASSWORD,
    MFA_USER, PUBLIC_CLIENT as PUBLIC, SYSTEM_MI, TENANT_ID as CONTOSO, USER_MI, WEB,
};
pub(crate) use entra_testkit::{Browser, Harness, field, query_param, sign_in};
pub(crate) use serde_json::Value;

/// The shared harness plus what these tests read often.
pub(crate) struct Env {
    pub(crate) h: Harness,
    pub(crate) base: String,
    pub(crate) admin: String,
}

impl std::ops::Deref for Env {
    type Target = Harness;

    fn deref(&self) -> &Harness {
        &self.h
    }
}

impl Env {
    pub(crate) async fn start() -> Self {
        let h = Harness::start().await;
        let base = h.ready().authority.clone();
        let admin = h.ready().admin_token.clone();
        Self { h, base, admin }
    }

    pub(crate) async fn token<F: serde::Serialize + ?Sized>(
        &self,
        tenant: &str,
        form: &F,
    ) -> (u16, Value) {
        self.h.token_response(tenant, form).await
    }

    pub(crate) async fn admin_post(&self, path: &str, body: Value) -> reqwest::Response {
        self.h.admin().post(path, body).await
    }

    pub(crate) async fn jwks(&self) -> Vec<(String, RsaPublicKey)> {
        let keys: Value = self
            .http
            .get(self.url(&format!("/{CONTOSO}/discovery/v2.0/keys")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| {
                (
                    k["kid"].as_str().unwrap().to_string(),
                    RsaPublicKey::from_jwk_components(
                        k["n"].as_str().unwrap(),
                        k["e"].as_str().unwrap(),
                    )
                    .unwrap(),
                )
            })
            .collect()
    }

    /// Verifies a token's signature against the published JWKS and returns its claims.
    pub(crate) async fn verify(&self, token: &str) -> serde_json::Map<String, Value> {
        let decoded = decode_unverified(token).unwrap();
        let kid = decoded.header_str("kid").unwrap().to_string();
        let keys = self.jwks().await;
        let (_, key) = keys.iter().find(|(k, _)| *k == kid).expect("kid published");
        key.verify_token(&decoded).expect("signature verifies");
        decoded.claims
    }

    pub(crate) async fn stop(self) {
        self.h.stop().await;
    }
}

/// (tenant, form, expected status, expected error, expected AADSTS code).
pub(crate) type ErrorCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, u64);

pub(crate) fn code_of(body: &Value) -> u64 {
    body["error_codes"][0].as_u64().unwrap_or(0)
}

pub(crate) fn pkce() -> (String, String) {
    // 64 random characters (PKCE verifiers are 43 to 128).
    let verifier = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let challenge = entra_jose::b64url(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    (verifier, challenge)
}
