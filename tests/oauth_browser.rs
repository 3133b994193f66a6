//! OAuth sign-in in headless Chromium through the published `@stackframe/js` SDK
//! (`tests/sdk/oauth-browser.mjs`): a tiny app (`tests/sdk/oauth-app`, bundled with esbuild and
//! served by `tests/sdk/serve-oauth-app.mjs` on its own port, a trusted domain) signs in with
//! GitHub through the provider's login and consent pages (a real OpenID Connect provider,
//! `tests/sdk/oidc-provider.mjs`) and lands signed in, links Google to the signed-in user, and
//! the same app on a port that is not a trusted domain is refused by authorize before the
//! browser reaches the provider. Screenshots go to `tests/artifacts/oauth-browser-<backend>`.

mod common;
use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Instant;

const SHOTS: [&str; 8] = [
    "01-app-signed-out",
    "02-provider-login",
    "03-provider-consent",
    "04-signed-in",
    "05-link-provider-login",
    "06-link-provider-consent",
    "07-linked",
    "08-untrusted-refused",
];

async fn oauth_in_browser(backend: Backend) {
    assert!(
        sdk_dir().join("node_modules/esbuild").exists(),
        "the npm packages are not installed: run `npm ci --prefix tests/sdk` (.ci/run does)"
    );
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/artifacts/oauth-browser-{backend:?}").to_lowercase());
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();

    let (oidc_port, app_port, untrusted_port) = (free_port(), free_port(), free_port());
    let oidc_url = format!("http://localhost:{oidc_port}");
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_OAUTH_MOCK_ISSUER".into(), oidc_url.clone())],
        },
    )
    .await;
    // The public URL (the provider's callback host) is localhost: the browser uses the same host.
    let base = app.base.replace("127.0.0.1", "localhost");
    let oidc = start_node(
        "oidc-provider.mjs",
        &[oidc_port.to_string(), base.clone()],
        &[],
        &format!("{oidc_url}/.well-known/openid-configuration"),
        artifacts.join("oidc-provider.log"),
    )
    .await;
    let app_url = format!("http://localhost:{app_port}");
    let untrusted_url = format!("http://localhost:{untrusted_port}");
    // Only the app's own origin is trusted; localhost in general is not.
    app.configure(json!({
        "allow_localhost": false,
        "domains": [{ "domain": app_url, "handler_path": "/handler" }],
        "oauth_providers": [
            { "id": "github", "type": "shared" },
            { "id": "google", "type": "shared" }
        ]
    }))
    .await;
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
        artifacts.join("oauth-app.log"),
    )
    .await;

    let started = Instant::now();
    let out = tokio::process::Command::new("node")
        .arg("oauth-browser.mjs")
        .current_dir(sdk_dir())
        .env("APP_URL", format!("{app_url}/"))
        .env("UNTRUSTED_URL", format!("{untrusted_url}/"))
        .env("OIDC_URL", &oidc_url)
        .env("PORTCULLIS_URL", &base)
        .env("ARTIFACTS", &artifacts)
        .output()
        .await
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser run failed after {:?}\nstdout: {stdout}\nstderr: {}\napp server: {}\nprovider: {}\nserver: {}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr),
        web.output(),
        oidc.output(),
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

    // What the browser did, seen through the API: one user, signed up with GitHub, Google linked.
    let users = app.server().get("/users").send().await.expect(200);
    let items = users["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{users}");
    let user = &items[0];
    assert_eq!(user["primary_email"], "octocat@example.com");
    let mut providers: Vec<(&str, &str)> = user["oauth_providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["account_id"].as_str().unwrap()))
        .collect();
    providers.sort();
    assert_eq!(
        providers,
        [("github", "octocat"), ("google", "octocat-google")],
        "{user}"
    );
}

on_both_backends!(oauth_browser, oauth_in_browser);
