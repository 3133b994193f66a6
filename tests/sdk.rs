//! The published `@stackframe/js` SDK (pinned in tests/sdk/package-lock.json) driven by Node
//! against the real server, on SQLite and PostgreSQL. `.ci/run` installs the npm packages.

mod common;
use common::*;

async fn run_sdk_flow(backend: Backend) {
    let sdk_dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    assert!(
        sdk_dir.join("node_modules/@stackframe/js").exists(),
        "the SDK is not installed: run `npm ci --prefix tests/sdk` (.ci/run does)"
    );
    // 22 s tokens: after a few seconds they are inside the SDK's 20 s refresh margin.
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_ACCESS_TOKEN_TTL_SECS".into(), "22".into())],
        },
    )
    .await;
    let out = tokio::process::Command::new("node")
        .arg("flow.mjs")
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
        "SDK flow failed\nstdout: {stdout}\nstderr: {}\nserver log: {}",
        String::from_utf8_lossy(&out.stderr),
        app.log()
    );
    assert!(stdout.contains("\"ok\":true"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_flow_sqlite() {
    run_sdk_flow(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_flow_postgres() {
    run_sdk_flow(Backend::Postgres).await;
}
