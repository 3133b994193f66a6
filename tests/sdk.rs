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
        .env(
            "PORTCULLIS_SUPER_SECRET_ADMIN_KEY",
            &app.super_secret_admin_key,
        )
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

/// The data vault through the SDK (`tests/sdk/data-vault.mjs`), then what is stored: only hashed
/// keys and values sealed again with the instance's key; and the original's errors at the API.
async fn run_sdk_data_vault(backend: Backend) {
    let app = TestServer::start(backend).await;
    app.admin()
        .patch("/internal/config/override/branch")
        .json(
            serde_json::json!({ "config_override_string": serde_json::json!({
            "dataVault.stores.user-secrets": { "displayName": "User secrets" }
        }).to_string() }),
        )
        .send()
        .await
        .expect(200);
    run_script(&app, "data-vault.mjs").await;
    let stored = db_query_text(
        &app.database_url,
        "SELECT hashed_key, sealed_value FROM data_vault_entries",
    );
    assert_eq!(stored.lines().count(), 1, "{stored}");
    assert!(
        !stored.contains("github-token") && !stored.contains("ghp_"),
        "{stored}"
    );
    // The API's refusals: an undeclared store, an unknown key, a missing or empty key, client
    // access, an unknown field.
    let get = |store: &str| format!("/data-vault/stores/{store}/get");
    app.server()
        .post(&get("nope"))
        .json(serde_json::json!({ "hashed_key": "abc" }))
        .send()
        .await
        .expect_error(400, "DATA_VAULT_STORE_DOES_NOT_EXIST");
    let unknown = app
        .server()
        .post(&get("user-secrets"))
        .json(serde_json::json!({ "hashed_key": "abc" }))
        .send()
        .await
        .expect_error(400, "DATA_VAULT_STORE_HASHED_KEY_DOES_NOT_EXIST");
    assert_eq!(
        unknown["details"],
        serde_json::json!({ "store_id": "user-secrets", "hashed_key": "abc" })
    );
    for body in [
        serde_json::json!({}),
        serde_json::json!({ "hashed_key": "" }),
        serde_json::json!({ "hashed_key": "a", "extra": 1 }),
    ] {
        app.server()
            .post(&get("user-secrets"))
            .json(body)
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
    }
    app.server()
        .post("/data-vault/stores/user-secrets/set")
        .json(serde_json::json!({ "hashed_key": "abc" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .post(&get("user-secrets"))
        .json(serde_json::json!({ "hashed_key": "abc" }))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
}

on_both_backends!(sdk_data_vault, run_sdk_data_vault);

async fn run_sdk_admin_app(backend: Backend) {
    let app = TestServer::start(backend).await;
    run_script(&app, "admin-app.mjs").await;
}

on_both_backends!(sdk_admin_app, run_sdk_admin_app);
