//! The public API under a property-based fuzzer (`tests/fuzz_api.py`, hypothesis): for a bounded
//! time on each database, generated requests to every route with every access type; no answer may
//! be a server error. Prints how many requests were sent.

mod common;
use common::*;

/// Seconds of fuzzing per database (`PORTCULLIS_FUZZ_SECONDS` to run longer by hand).
fn seconds() -> String {
    std::env::var("PORTCULLIS_FUZZ_SECONDS").unwrap_or_else(|_| "25".into())
}

async fn fuzz(backend: Backend) {
    let opts = Options {
        env: vec![("PORTCULLIS_RATE_LIMITS".into(), "off".into())],
    };
    let app = TestServer::start_with(backend, opts).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_api.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .args(["--base", &app.base, "--project", &app.project_id])
        .args(["--pck", &app.publishable_client_key])
        .args(["--ssk", &app.secret_server_key])
        .args(["--sak", &app.super_secret_admin_key])
        .args(["--seconds", &seconds(), "--seed", "11"])
        .output()
        .await
        .expect("python3 with hypothesis and requests (see .ci/run)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = stdout
        .lines()
        .find(|l| l.starts_with("fuzz:"))
        .unwrap_or("no summary");
    println!("[{backend:?}] {summary}");
    assert!(
        out.status.success(),
        "the fuzzer found server errors on {backend:?}:\n{stdout}\nstderr: {}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        app.log()
    );
}
on_both_backends!(public_api_fuzz, fuzz);
