//! Passkeys in headless Chromium through the published `@stackframe/js` SDK
//! (`tests/sdk/passkeys-browser.mjs`), with Chromium's virtual authenticator: the tiny app
//! (`tests/sdk/oauth-app`, served on a trusted and an untrusted origin) signs in with a password,
//! registers a passkey, signs out and signs in with the passkey alone; from the untrusted origin
//! the server refuses it. Screenshots go to `tests/artifacts/passkeys-browser-<backend>`.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;

const SHOTS: [&str; 5] = [
    "01-signed-out",
    "02-signed-in-with-password",
    "03-passkey-added",
    "04-signed-in-with-passkey",
    "05-untrusted-refused",
];

async fn passkeys_in_browser(backend: Backend) {
    assert!(
        sdk_dir().join("node_modules/esbuild").exists(),
        "the npm packages are not installed: run `npm ci --prefix tests/sdk` (.ci/run does)"
    );
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/artifacts/passkeys-browser-{backend:?}").to_lowercase());
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

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
    let web = start_node(
        "serve-oauth-app.mjs",
        &[app_port.to_string(), untrusted_port.to_string()],
        &[
            ("PORTCULLIS_URL", &base),
            ("PORTCULLIS_PROJECT_ID", &app.project_id),
            (
                "PORTCULLIS_PUBLISHABLE_CLIENT_KEY",
                &app.publishable_client_key,
            ),
        ],
        &format!("{untrusted_url}/app.js"),
        artifacts.join("app.log"),
    )
    .await;

    let out = tokio::process::Command::new("node")
        .arg("passkeys-browser.mjs")
        .current_dir(sdk_dir())
        .env("APP_URL", format!("{app_url}/"))
        .env("UNTRUSTED_URL", format!("{untrusted_url}/"))
        .env("EMAIL", "pat@example.com")
        .env("PASSWORD", "password123")
        .env("ARTIFACTS", &artifacts)
        .output()
        .await
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser run failed\nstdout: {stdout}\nstderr: {}\napp server: {}\nserver: {}",
        String::from_utf8_lossy(&out.stderr),
        web.output(),
        app.log()
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(result["ok"], true, "{stdout}");
    for shot in SHOTS {
        assert!(
            artifacts.join(format!("{shot}.png")).exists(),
            "screenshot {shot}"
        );
    }

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
