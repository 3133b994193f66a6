//! Passkeys through the HTTP API with a software authenticator: a P-256 key pair that makes real
//! "none"-attestation registrations and signed assertions (CTAP2 CBOR, WebAuthn Level 3 §6.1),
//! so every check the server makes (challenge, origin, RP id hash, signature, sign counter) runs
//! on real data. The browser's side (Chromium's virtual authenticator with the SDK) is in
//! tests/passkeys_browser.rs.

mod common;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::*;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const APP: &str = "https://app.example.com";
const RP_ID: &str = "app.example.com";
const SENTINEL: &str = "THIS_VALUE_WILL_BE_REPLACED.example.com";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Minimal CBOR (RFC 8949) for the few shapes an authenticator writes.
fn cbor_head(major: u8, n: usize) -> Vec<u8> {
    match n {
        0..=23 => vec![(major << 5) | n as u8],
        24..=255 => vec![(major << 5) | 24, n as u8],
        _ => {
            let mut v = vec![(major << 5) | 25];
            v.extend_from_slice(&(n as u16).to_be_bytes());
            v
        }
    }
}
fn cbor_bytes(b: &[u8]) -> Vec<u8> {
    [cbor_head(2, b.len()), b.to_vec()].concat()
}
fn cbor_text(t: &str) -> Vec<u8> {
    [cbor_head(3, t.len()), t.as_bytes().to_vec()].concat()
}

/// One credential on a software authenticator. Cloning it copies the private key, as an
/// attacker who extracted it would.
#[derive(Clone)]
struct Authenticator {
    key: SigningKey,
    credential_id: Vec<u8>,
    counter: u32,
    user_handle: Option<String>,
}

impl Authenticator {
    fn new() -> Authenticator {
        Authenticator {
            key: SigningKey::random(&mut rand::thread_rng()),
            credential_id: (0..16).map(|_| rand::random::<u8>()).collect(),
            counter: 0,
            user_handle: None,
        }
    }

    fn client_data(kind: &str, challenge: &str, origin: &str) -> String {
        json!({ "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": false })
            .to_string()
    }

    fn auth_data(&self, rp_id: &str, flags: u8) -> Vec<u8> {
        let mut data = Sha256::digest(rp_id.as_bytes()).to_vec();
        data.push(flags);
        data.extend_from_slice(&self.counter.to_be_bytes());
        data
    }

    /// `navigator.credentials.create()`: answers registration options for `origin`, signing for
    /// `rp_id` (the page's host, as the SDK sets it).
    fn register(&mut self, options: &Value, origin: &str, rp_id: &str) -> Value {
        self.user_handle = Some(options["user"]["id"].as_str().unwrap().to_string());
        let point = self.key.verifying_key().to_encoded_point(false);
        // COSE_Key, EC2 P-256 ES256 (RFC 9053), keys in CTAP2 canonical order.
        let cose = [
            vec![0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01],
            vec![0x21],
            cbor_bytes(point.x().unwrap()),
            vec![0x22],
            cbor_bytes(point.y().unwrap()),
        ]
        .concat();
        let mut auth_data = self.auth_data(rp_id, 0x45); // UP | UV | AT
        auth_data.extend_from_slice(&[0u8; 16]); // AAGUID
        auth_data.extend_from_slice(&(self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend_from_slice(&self.credential_id);
        auth_data.extend_from_slice(&cose);
        let attestation = [
            vec![0xa3],
            cbor_text("fmt"),
            cbor_text("none"),
            cbor_text("attStmt"),
            vec![0xa0],
            cbor_text("authData"),
            cbor_bytes(&auth_data),
        ]
        .concat();
        let client_data = Self::client_data(
            "webauthn.create",
            options["challenge"].as_str().unwrap(),
            origin,
        );
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "attestationObject": b64(&attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }

    /// `navigator.credentials.get()`: a signed assertion over `challenge`, the counter advanced.
    fn assert(&mut self, challenge: &str, origin: &str, rp_id: &str) -> Value {
        self.counter += 1;
        let auth_data = self.auth_data(rp_id, 0x05); // UP | UV
        let client_data = Self::client_data("webauthn.get", challenge, origin);
        let signed = [
            auth_data.clone(),
            Sha256::digest(client_data.as_bytes()).to_vec(),
        ]
        .concat();
        let signature: Signature = self.key.sign(&signed);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data.as_bytes()),
                "authenticatorData": b64(&auth_data),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": self.user_handle,
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        })
    }
}

async fn initiate(app: &TestServer, session: &Value) -> (Value, String) {
    let res = app
        .client()
        .user(session)
        .header("x-stack-allow-anonymous-user", "true")
        .post("/auth/passkey/initiate-passkey-registration")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    (
        res["options_json"].clone(),
        res["code"].as_str().unwrap().to_string(),
    )
}

async fn register(app: &TestServer, session: &Value, credential: Value, code: &str) -> Resp {
    app.client()
        .user(session)
        .header("x-stack-allow-anonymous-user", "true")
        .post("/auth/passkey/register")
        .json(json!({ "credential": credential, "code": code }))
        .send()
        .await
}

/// Registers `authenticator` for `session`'s user on the app's origin.
async fn enrol(app: &TestServer, session: &Value, authenticator: &mut Authenticator) {
    let (options, code) = initiate(app, session).await;
    let credential = authenticator.register(&options, APP, RP_ID);
    register(app, session, credential, &code).await.expect(200);
}

async fn challenge(app: &TestServer) -> (String, String) {
    let res = app
        .client()
        .post("/auth/passkey/initiate-passkey-authentication")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    assert_eq!(res["options_json"]["rpId"], SENTINEL);
    assert_eq!(res["options_json"]["allowCredentials"], json!([]));
    (
        res["options_json"]["challenge"]
            .as_str()
            .unwrap()
            .to_string(),
        res["code"].as_str().unwrap().to_string(),
    )
}

async fn sign_in(app: &TestServer, response: Value, code: &str) -> Resp {
    app.client()
        .post("/auth/passkey/sign-in")
        .json(json!({ "authentication_response": response, "code": code }))
        .send()
        .await
}

async fn enable(app: &TestServer) {
    app.configure(json!({
        "passkey_enabled": true,
        "allow_localhost": false,
        "domains": [{ "domain": APP, "handler_path": "/handler" }],
    }))
    .await;
}

async fn register_and_sign_in(app: TestServer) {
    let session = app.sign_up("pia@example.com", "password123").await;
    // Off by default, as in the original.
    app.client()
        .user(&session)
        .post("/auth/passkey/initiate-passkey-registration")
        .json(json!({}))
        .send()
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_NOT_ENABLED");
    app.client()
        .post("/auth/passkey/initiate-passkey-authentication")
        .json(json!({}))
        .send()
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_NOT_ENABLED");
    enable(&app).await;

    // Registration needs a user.
    app.client()
        .post("/auth/passkey/initiate-passkey-registration")
        .json(json!({}))
        .send()
        .await
        .expect_error(401, "USER_AUTHENTICATION_REQUIRED");
    let (options, code) = initiate(&app, &session).await;
    assert_eq!(options["rp"]["id"], SENTINEL);
    assert_eq!(options["authenticatorSelection"]["residentKey"], "required");
    assert_eq!(options["user"]["displayName"], "pia@example.com");
    let mut key = Authenticator::new();

    // The browser signs for an origin the project does not trust, or for another RP id.
    let evil = key.register(&options, "https://evil.example.net", "evil.example.net");
    register(&app, &session, evil, &code)
        .await
        .expect_error(400, "PASSKEY_REGISTRATION_FAILED");
    let other_rp = key.register(&options, APP, "example.org");
    register(&app, &session, other_rp, &code)
        .await
        .expect_error(400, "PASSKEY_REGISTRATION_FAILED");
    // A ceremony started for one user cannot register a passkey for another.
    let other = app.sign_up("oli@example.com", "password123").await;
    let good = key.register(&options, APP, RP_ID);
    register(&app, &other, good.clone(), &code)
        .await
        .expect_error(400, "PASSKEY_REGISTRATION_FAILED");
    // Nothing was stored by the refusals.
    assert_eq!(app.me(&session).await["passkey_auth_enabled"], false);

    let done = register(&app, &session, good.clone(), &code)
        .await
        .expect(200);
    assert_eq!(done["user_handle"], good["id"]);
    assert_eq!(app.me(&session).await["passkey_auth_enabled"], true);
    // The challenge works once.
    register(&app, &session, good, &code)
        .await
        .expect_error(409, "VERIFICATION_CODE_ALREADY_USED");
    // The same credential cannot be registered twice, even on a fresh ceremony.
    let (options, code) = initiate(&app, &session).await;
    assert_eq!(
        options["excludeCredentials"][0]["id"],
        b64(&key.credential_id)
    );
    let again = key.clone().register(&options, APP, RP_ID);
    register(&app, &session, again, &code)
        .await
        .expect_error(400, "PASSKEY_REGISTRATION_FAILED");

    // Sign-in with the passkey, no email or password.
    let (challenge_1, code_1) = challenge(&app).await;
    let assertion = key.assert(&challenge_1, APP, RP_ID);
    let signed_in = sign_in(&app, assertion.clone(), &code_1).await.expect(200);
    assert_eq!(signed_in["user_id"], session["user_id"]);
    assert_eq!(signed_in["is_new_user"], false);
    let me = app.me(&signed_in).await;
    assert_eq!(me["primary_email"], "pia@example.com");

    // Replays: the same code, or the old signed challenge on a new code.
    sign_in(&app, assertion.clone(), &code_1)
        .await
        .expect_error(409, "VERIFICATION_CODE_ALREADY_USED");
    let (_, code_2) = challenge(&app).await;
    sign_in(&app, assertion, &code_2)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    // Wrong origin, wrong RP id.
    let (challenge_3, code_3) = challenge(&app).await;
    let evil = key.assert(&challenge_3, "https://evil.example.net", "evil.example.net");
    sign_in(&app, evil, &code_3)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    let (challenge_4, code_4) = challenge(&app).await;
    let other_rp = key.assert(&challenge_4, APP, "example.org");
    sign_in(&app, other_rp, &code_4)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    // A forged signature (another key claiming this credential id).
    let (challenge_5, code_5) = challenge(&app).await;
    let mut forger = Authenticator {
        key: SigningKey::random(&mut rand::thread_rng()),
        counter: 100,
        ..key.clone()
    };
    sign_in(&app, forger.assert(&challenge_5, APP, RP_ID), &code_5)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");

    // A cloned authenticator: the copy taken earlier signs with a counter the server has seen.
    let mut clone = key.clone();
    let (challenge_6, code_6) = challenge(&app).await;
    sign_in(&app, key.assert(&challenge_6, APP, RP_ID), &code_6)
        .await
        .expect(200);
    let (challenge_7, code_7) = challenge(&app).await;
    let cloned = clone.assert(&challenge_7, APP, RP_ID);
    let e = sign_in(&app, cloned, &code_7)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    assert!(e["error"].as_str().unwrap().contains("counter"), "{e}");
    // The genuine authenticator goes on working.
    let (challenge_8, code_8) = challenge(&app).await;
    sign_in(&app, key.assert(&challenge_8, APP, RP_ID), &code_8)
        .await
        .expect(200);

    // An unknown credential.
    let (challenge_9, code_9) = challenge(&app).await;
    let mut stranger = Authenticator::new();
    stranger.user_handle = key.user_handle.clone();
    sign_in(&app, stranger.assert(&challenge_9, APP, RP_ID), &code_9)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
}
both_backends!(register_and_sign_in, register_and_sign_in);

/// Bodies no browser would send get a clear 400, never a 500.
async fn bad_input(app: TestServer) {
    enable(&app).await;
    let session = app.sign_up("bea@example.com", "password123").await;
    let (_, code) = initiate(&app, &session).await;
    for credential in [
        json!({}),
        json!("text"),
        json!({ "id": "x", "response": { "clientDataJSON": "!!!" } }),
        json!({ "id": "x", "response": { "clientDataJSON": b64(b"{\"origin\":\"https://app.example.com\"}"), "attestationObject": "AAAA" } }),
    ] {
        register(&app, &session, credential, &code)
            .await
            .expect_error(400, "PASSKEY_REGISTRATION_FAILED");
    }
    register(&app, &session, json!({}), "short")
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let (_, code) = challenge(&app).await;
    for response in [
        json!({}),
        json!({ "id": 5 }),
        json!({ "id": "AAAA", "response": { "clientDataJSON": "e30" } }),
    ] {
        sign_in(&app, response, &code)
            .await
            .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    }
    app.client()
        .post("/auth/passkey/sign-in")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");

    // A real authenticator's assertion with its user handle nulled (found crashing the handler
    // inside the WebAuthn crate), or signed for an origin with a path: refused.
    let mut key = Authenticator::new();
    enrol(&app, &session, &mut key).await;
    let (c, code) = challenge(&app).await;
    let mut nulled = key.assert(&c, APP, RP_ID);
    nulled["response"]["userHandle"] = Value::Null;
    sign_in(&app, nulled, &code)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    let (c, code) = challenge(&app).await;
    sign_in(
        &app,
        key.assert(&c, "https://app.example.com/x?y", RP_ID),
        &code,
    )
    .await
    .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    let (c, code) = challenge(&app).await;
    sign_in(&app, key.assert(&c, APP, RP_ID), &code)
        .await
        .expect(200);

    // Anyone may start a ceremony, so a client IP may start only so many a minute.
    let mut limited = false;
    for _ in 0..40 {
        let res = app
            .client()
            .post("/auth/passkey/initiate-passkey-authentication")
            .json(json!({}))
            .send()
            .await;
        if res.status == 429 {
            limited = true;
            break;
        }
        res.expect(200);
    }
    assert!(limited, "no 429 after 40 ceremonies from one client");
}
both_backends!(bad_input, bad_input);

/// A user's passkeys are listed and removed by the user (or the server), after a passkey the
/// TOTP second factor still applies, and an anonymous user who adds a passkey keeps their id.
async fn manage_mfa_and_upgrade(app: TestServer) {
    enable(&app).await;
    let session = app.sign_up("max@example.com", "password123").await;
    let mut key = Authenticator::new();
    enrol(&app, &session, &mut key).await;
    let mut spare = Authenticator::new();
    enrol(&app, &session, &mut spare).await;

    let list = app
        .client()
        .user(&session)
        .get("/users/me/passkeys")
        .send()
        .await
        .expect(200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["credential_id"], b64(&key.credential_id));
    // Another user's client cannot read or remove them; the server can read them.
    let user_id = session["user_id"].as_str().unwrap();
    let other = app.sign_up("eve@example.com", "password123").await;
    app.client()
        .user(&other)
        .get(&format!("/users/{user_id}/passkeys"))
        .send()
        .await
        .expect_text(403, "own user");
    let spare_id = items[1]["id"].as_str().unwrap();
    app.client()
        .user(&other)
        .delete(&format!("/users/{user_id}/passkeys/{spare_id}"))
        .send()
        .await
        .expect_text(403, "own user");
    let by_server = app
        .server()
        .get(&format!("/users/{user_id}/passkeys"))
        .send()
        .await
        .expect(200);
    assert_eq!(by_server["items"].as_array().unwrap().len(), 2);
    app.client()
        .user(&session)
        .delete(&format!("/users/me/passkeys/{spare_id}"))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&session)
        .delete(&format!("/users/me/passkeys/{spare_id}"))
        .send()
        .await
        .expect_text(404, "Passkey not found");
    let (c, code) = challenge(&app).await;
    sign_in(&app, spare.assert(&c, APP, RP_ID), &code)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");

    // With a TOTP secret, the passkey is only the first factor.
    app.client()
        .user(&session)
        .patch("/users/me")
        .json(json!({ "totp_secret_base64": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=" }))
        .send()
        .await
        .expect(200);
    let (c, code) = challenge(&app).await;
    let e = sign_in(&app, key.assert(&c, APP, RP_ID), &code)
        .await
        .expect_error(400, "MULTI_FACTOR_AUTHENTICATION_REQUIRED");
    assert!(e["details"]["attempt_code"].is_string());

    // `passkey_auth_enabled: false` removes them all (the original's way); true is refused.
    app.client()
        .user(&session)
        .patch("/users/me")
        .json(json!({ "passkey_auth_enabled": true }))
        .send()
        .await
        .expect_text(400, "Cannot manually enable passkey auth");
    let me = app
        .client()
        .user(&session)
        .patch("/users/me")
        .json(json!({ "passkey_auth_enabled": false }))
        .send()
        .await
        .expect(200);
    assert_eq!(me["passkey_auth_enabled"], false);
    let (c, code) = challenge(&app).await;
    sign_in(&app, key.assert(&c, APP, RP_ID), &code)
        .await
        .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");

    // An anonymous user adds a passkey: same id and data, no longer anonymous, and the passkey
    // signs them in.
    let anon = app
        .client()
        .post("/auth/anonymous/sign-up")
        .send()
        .await
        .expect(200);
    app.client()
        .user(&anon)
        .header("x-stack-allow-anonymous-user", "true")
        .patch("/users/me")
        .json(json!({ "client_metadata": { "cart": 3 } }))
        .send()
        .await
        .expect(200);
    let mut device = Authenticator::new();
    enrol(&app, &anon, &mut device).await;
    let (c, code) = challenge(&app).await;
    let signed_in = sign_in(&app, device.assert(&c, APP, RP_ID), &code)
        .await
        .expect(200);
    assert_eq!(signed_in["user_id"], anon["user_id"]);
    let me = app.me(&signed_in).await;
    assert_eq!(me["is_anonymous"], false);
    assert_eq!(me["client_metadata"]["cart"], 3);
}
both_backends!(manage_mfa_and_upgrade, manage_mfa_and_upgrade);

/// Trusted domains with wildcards (the original's rules): `*` is one label, `**` any depth.
async fn wildcard_domains(app: TestServer) {
    app.configure(json!({
        "passkey_enabled": true,
        "allow_localhost": false,
        "domains": [{ "domain": "https://*.example.com", "handler_path": "/handler" }],
    }))
    .await;
    let session = app.sign_up("wil@example.com", "password123").await;
    let mut key = Authenticator::new();
    let (options, code) = initiate(&app, &session).await;
    let deep = key.register(&options, "https://a.b.example.com", "a.b.example.com");
    register(&app, &session, deep, &code)
        .await
        .expect_error(400, "PASSKEY_REGISTRATION_FAILED");
    let credential = key.register(&options, APP, RP_ID);
    register(&app, &session, credential, &code)
        .await
        .expect(200);
    let (c, code) = challenge(&app).await;
    sign_in(&app, key.assert(&c, APP, RP_ID), &code)
        .await
        .expect(200);

    app.configure(json!({
        "domains": [{ "domain": "https://**.example.com", "handler_path": "/handler" }],
    }))
    .await;
    // The passkey is bound to its RP id (app.example.com): a deeper origin may use it only if
    // the browser allows, and the server checks the RP id hash against the origin's host.
    let (c, code) = challenge(&app).await;
    sign_in(
        &app,
        key.assert(&c, "https://x.app.example.com", RP_ID),
        &code,
    )
    .await
    .expect_error(400, "PASSKEY_AUTHENTICATION_FAILED");
    let (c, code) = challenge(&app).await;
    sign_in(&app, key.assert(&c, APP, RP_ID), &code)
        .await
        .expect(200);
}
both_backends!(wildcard_domains, wildcard_domains);
