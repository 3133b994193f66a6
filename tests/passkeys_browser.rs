//! Passkeys in headless Chromium through the published `@stackframe/js` SDK
//! (`tests/sdk/passkeys-browser.mjs`), with Chromium's virtual authenticator: the tiny app
//! (`tests/sdk/oauth-app`, served on a trusted and an untrusted origin) signs in with a password,
//! registers a passkey, signs out and signs in with the passkey alone; from the untrusted origin
//! the server refuses it. Screenshots go to `tests/artifacts/passkeys-browser-<backend>`.

mod common;
use common::*;
use serde_json::json;

const SHOTS: [&str; 5] = [
    "01-signed-out",
    "02-signed-in-with-password",
    "03-passkey-added",
    "04-signed-in-with-passkey",
    "05-untrusted-refused",
];

async fn passkeys_in_browser(backend: Backend) {
    let artifacts = browser_artifacts("passkeys-browser", backend);
    let app = TestServer::start(backend).await;
    let base = app.base.replace("127.0.0.1", "localhost");
    let (app_port, untrusted_port) = (free_port(), free_port());
    let app_url = format!("http://localhost:{app_port}");
    let untrusted_url = format!("http://localhost:{untrusted_port}");
    app.configure(json!({
        "passkey_enabled": true,
        "allow_localhost": false,
        "domains": [{ "domain": app_url, "handler_path": "/handler" }],
    }))
    .await;
    let user = app.create_user("pat@example.com").await;
    let web = serve_test_app(
        &app,
        &base,
        &[app_port, untrusted_port],
        artifacts.join("app.log"),
    )
    .await;
    run_browser_script(
        "passkeys-browser.mjs",
        &[
            ("APP_URL", format!("{app_url}/")),
            ("UNTRUSTED_URL", format!("{untrusted_url}/")),
            ("EMAIL", "pat@example.com".to_owned()),
            ("PASSWORD", "password123".to_owned()),
        ],
        &artifacts,
        &SHOTS,
        || format!("app server: {}\nserver: {}", web.output(), app.log()),
    )
    .await;

    // Seen through the API: the user has exactly the one passkey, used to sign in once.
    let id = user["id"].as_str().unwrap();
    let list = app
        .server()
        .get(&format!("/users/{id}/passkeys"))
        .send()
        .await
        .expect(200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert!(items[0]["last_used_at_millis"].is_i64(), "{list}");
}

on_both_backends!(passkeys_browser, passkeys_in_browser);
