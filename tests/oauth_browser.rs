//! OAuth sign-in in headless Chromium through the published `@stackframe/js` SDK
//! (`tests/sdk/oauth-browser.mjs`): a tiny app (`tests/sdk/oauth-app`, bundled with esbuild and
//! served by `tests/sdk/serve-oauth-app.mjs` on its own port, a trusted domain) signs in with
//! GitHub through the provider's login and consent pages (a real OpenID Connect provider,
//! `tests/sdk/oidc-provider.mjs`) and lands signed in, links Google to the signed-in user, and
//! the same app on a port that is not a trusted domain is refused by authorize before the
//! browser reaches the provider. Screenshots go to `tests/artifacts/oauth-browser-<backend>`.

mod common;
use common::*;
use serde_json::json;

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
    let artifacts = browser_artifacts("oauth-browser", backend);

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
    let web = serve_test_app(
        &app,
        &base,
        &[app_port, untrusted_port],
        artifacts.join("oauth-app.log"),
    )
    .await;
    run_browser_script(
        "oauth-browser.mjs",
        &[
            ("APP_URL", format!("{app_url}/")),
            ("UNTRUSTED_URL", format!("{untrusted_url}/")),
            ("OIDC_URL", oidc_url.clone()),
            ("PORTCULLIS_URL", base.clone()),
        ],
        &artifacts,
        &SHOTS,
        || {
            format!(
                "app server: {}\nprovider: {}\nserver: {}",
                web.output(),
                oidc.output(),
                app.log()
            )
        },
    )
    .await;

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

/// OAuth on the project's hosted pages (`tests/sdk/handler-oauth.mjs`): the sign-in page's
/// provider button, the provider's pages, the pages' `oauth-callback`, then where the page was
/// asked to return, signed in — and the callback's URL refused in another browser. Screenshots
/// go to `tests/artifacts/handler-oauth-<backend>`.
async fn oauth_on_pages(backend: Backend) {
    let artifacts = browser_artifacts("handler-oauth", backend);
    let oidc_port = free_port();
    let oidc_url = format!("http://localhost:{oidc_port}");
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_OAUTH_MOCK_ISSUER".into(), oidc_url.clone())],
        },
    )
    .await;
    let base = app.base.replace("127.0.0.1", "localhost");
    let oidc = start_node(
        "oidc-provider.mjs",
        &[oidc_port.to_string(), base.clone()],
        &[],
        &format!("{oidc_url}/.well-known/openid-configuration"),
        artifacts.join("oidc-provider.log"),
    )
    .await;
    // No trusted domain at all: the project's own pages need none.
    app.configure(json!({
        "allow_localhost": false,
        "oauth_providers": [{ "id": "github", "type": "shared" }]
    }))
    .await;
    let pages = format!("{base}/handler/{}", app.project_id);
    run_browser_script(
        "handler-oauth.mjs",
        &[
            ("PAGES_URL", pages.clone()),
            ("RETURN_URL", format!("{pages}/account-settings")),
            ("OIDC_URL", oidc_url.clone()),
        ],
        &artifacts,
        &[
            "01-sign-in-with-providers-1440",
            "01-sign-in-with-providers-390",
            "02-signed-in-with-github-1440",
            "03-callback-replayed-390",
        ],
        || format!("provider: {}\nserver: {}", oidc.output(), app.log()),
    )
    .await;
    let users = app.server().get("/users").send().await.expect(200);
    let items = users["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{users}");
    assert_eq!(items[0]["primary_email"], "octocat@example.com");
    assert_eq!(items[0]["oauth_providers"][0]["id"], "github");
}

on_both_backends!(oauth_on_pages, oauth_on_pages);
