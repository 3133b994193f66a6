//! The published `@stackframe/js` SDK (pinned in tests/sdk/package-lock.json) driven by Node
//! against the real server, on SQLite and PostgreSQL. `.ci/run` installs the npm packages.

mod common;
use common::*;

/// Runs `tests/sdk/<script>` with Node against `app`; fails with its output on any error.
async fn run_script(app: &TestServer, script: &str) {
    let sdk_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    assert!(
        sdk_dir.join("node_modules/@stackframe/js").exists(),
        "the SDK is not installed: run `npm ci --prefix tests/sdk` (.ci/run does)"
    );
    let out = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(&sdk_dir)
        .env("PORTCULLIS_URL", &app.base)
        .env("PORTCULLIS_PROJECT_ID", &app.project_id)
        .env(
            "PORTCULLIS_PUBLISHABLE_CLIENT_KEY",
            &app.publishable_client_key,
        )
        .env("PORTCULLIS_SECRET_SERVER_KEY", &app.secret_server_key)
        .output()
        .await
        .expect("node must be installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "SDK script {script} failed\nstdout: {stdout}\nstderr: {}\nserver log: {}",
        String::from_utf8_lossy(&out.stderr),
        app.log()
    );
    assert!(stdout.contains("\"ok\":true"));
}

async fn run_sdk_flow(backend: Backend) {
    // 22 s tokens: after a few seconds they are inside the SDK's 20 s refresh margin.
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_ACCESS_TOKEN_TTL_SECS".into(), "22".into())],
        },
    )
    .await;
    run_script(&app, "flow.mjs").await;
}

async fn run_sdk_teams(backend: Backend) {
    let app = TestServer::start(backend).await;
    app.admin()
        .patch("/internal/projects/current")
        .json(serde_json::json!({ "config": { "client_team_creation_enabled": true, "allow_user_api_keys": true } }))
        .send()
        .await
        .expect(200);
    run_script(&app, "teams.mjs").await;
}

on_both_backends!(sdk_teams, run_sdk_teams);

on_both_backends!(sdk_flow, run_sdk_flow);

async fn run_sdk_payments(backend: Backend) {
    let app = TestServer::start(backend).await;
    let catalog = serde_json::json!({
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.products.starter": {
            "displayName": "Starter", "customerType": "user",
            "prices": { "monthly": { "USD": "10", "interval": [1, "month"] } },
            "includedItems": { "credits": { "quantity": 100 } }
        },
        "payments.products.credit-pack": { "displayName": "Credit pack", "customerType": "user", "stackable": true, "prices": { "once": { "USD": "5" } } }
    });
    app.admin()
        .patch("/internal/config/override/branch")
        .json(serde_json::json!({ "config_override_string": catalog.to_string() }))
        .send()
        .await
        .expect(200);
    run_script(&app, "payments.mjs").await;
}

on_both_backends!(sdk_payments, run_sdk_payments);

async fn run_sdk_auth_methods(backend: Backend) {
    let app = TestServer::start(backend).await;
    run_script(&app, "auth-methods.mjs").await;
}

on_both_backends!(sdk_anonymous_mfa_and_cli, run_sdk_auth_methods);
