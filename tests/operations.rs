//! What an operator runs the server with: `/metrics` (read by the official Prometheus client's
//! text parser, `prometheus-client` from PyPI), its bearer token, and JSON logs whose request
//! ids match the `x-stack-request-id` the client got.

mod common;

use common::*;
use serde_json::{json, Value};
use std::process::Command;

/// Runs `script` with python3 (its packages from `.ci/run`: prometheus-client,
/// openapi-spec-validator), `input` on its stdin.
fn python(script: &str, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `GET /metrics` with `bearer`, parsed by `prometheus_client.parser`: `{name: [[labels,
/// value]]}` for every sample.
async fn scrape(app: &TestServer, bearer: Option<&str>) -> (u16, Value) {
    let mut req = app.http.get(format!("{}/metrics", app.base));
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    let text = res.text().await.unwrap();
    if status != 200 {
        return (status, json!(text));
    }
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let parser = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = {}
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.setdefault(s.name, []).append([s.labels, s.value])
print(json.dumps(samples))
"#;
    let out = python(parser, &text);
    assert!(
        out.status.success(),
        "not Prometheus text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    (status, serde_json::from_slice(&out.stdout).unwrap())
}

/// The value of `name` whose labels include all of `labels` (0 when no such sample).
fn sample(samples: &Value, name: &str, labels: Value) -> f64 {
    samples[name]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| {
            labels
                .as_object()
                .unwrap()
                .iter()
                .all(|(k, v)| s[0][k] == *v)
        })
        .map(|s| s[1].as_f64().unwrap())
        .sum()
}

async fn metrics_move(backend: Backend) {
    let app = TestServer::start(backend).await;
    let (status, before) = scrape(&app, None).await;
    assert_eq!(status, 200);
    let sign_up =
        json!({ "route": "/api/v1/auth/password/sign-up", "method": "POST", "status": "200" });
    let users = json!({ "route": "/api/v1/users/{user_id}", "method": "GET", "status": "200" });
    assert_eq!(
        sample(&before, "portcullis_http_requests_total", sign_up.clone()),
        0.0
    );

    let session = app.sign_up("metrics@example.com", "password123").await;
    app.sign_up("metrics2@example.com", "password123").await;
    let uid = session["user_id"].as_str().unwrap();
    for _ in 0..3 {
        app.server()
            .get(&format!("/users/{uid}"))
            .send()
            .await
            .expect(200);
    }
    // A wrong password is counted under its route with its status; an unknown path as unmatched.
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "metrics@example.com", "password": "wrong-password" }))
        .send()
        .await
        .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    app.anon().get("/no/such/route").send().await;

    let (_, after) = scrape(&app, None).await;
    assert_eq!(
        sample(&after, "portcullis_http_requests_total", sign_up),
        2.0
    );
    // Routes are templates: three reads of one user are one series.
    assert_eq!(
        sample(&after, "portcullis_http_requests_total", users.clone()),
        3.0
    );
    assert_eq!(
        sample(
            &after,
            "portcullis_http_requests_total",
            json!({ "route": "/api/v1/auth/password/sign-in", "status": "400" })
        ),
        1.0
    );
    assert!(
        sample(
            &after,
            "portcullis_http_requests_total",
            json!({ "route": "unmatched", "status": "404" })
        ) >= 1.0
    );
    let series = after["portcullis_http_requests_total"].as_array().unwrap();
    assert!(
        series
            .iter()
            .all(|s| !s[0]["route"].as_str().unwrap().contains(uid)),
        "no id in a route label"
    );
    // The latency histogram counted the same reads, each within the top bucket.
    let users_timed = json!({ "route": "/api/v1/users/{user_id}", "method": "GET" });
    assert_eq!(
        sample(
            &after,
            "portcullis_http_request_duration_seconds_count",
            users_timed.clone()
        ),
        3.0
    );
    let mut inf = users_timed;
    inf["le"] = json!("+Inf");
    assert_eq!(
        sample(
            &after,
            "portcullis_http_request_duration_seconds_bucket",
            inf
        ),
        3.0
    );
    // Sign-ups and sign-ins by method.
    assert_eq!(
        sample(
            &after,
            "portcullis_sign_ups_total",
            json!({ "method": "password" })
        ),
        2.0
    );
    assert_eq!(
        sample(
            &after,
            "portcullis_sign_ins_total",
            json!({ "method": "password" })
        ),
        2.0
    );
    app.client()
        .post("/auth/anonymous/sign-up")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    // The queues and the pool are measured at each scrape.
    let (_, last) = scrape(&app, None).await;
    assert_eq!(
        sample(
            &last,
            "portcullis_sign_ups_total",
            json!({ "method": "anonymous" })
        ),
        1.0
    );
    for queue in ["emails", "webhooks"] {
        assert!(
            last["portcullis_queue_depth"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s[0]["queue"] == queue),
            "{queue} depth: {last}"
        );
    }
    assert!(sample(&last, "portcullis_db_pool_connections", json!({})) >= 1.0);
}
on_both_backends!(metrics_parse_and_move, metrics_move);

/// With `--metrics-token`, `/metrics` answers only a request bearing it.
#[tokio::test]
async fn metrics_token_required_when_set() {
    let app = TestServer::start_with(
        Backend::Sqlite,
        Options {
            env: vec![("PORTCULLIS_METRICS_TOKEN".into(), "scrape-me-123".into())],
        },
    )
    .await;
    assert_eq!(scrape(&app, None).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-me-12")).await.0, 401);
    assert_eq!(scrape(&app, Some("scrape-me-1234")).await.0, 401);
    let (status, samples) = scrape(&app, Some("scrape-me-123")).await;
    assert_eq!(status, 200);
    assert!(samples["portcullis_http_requests_total"].is_array());
}

/// With `--log-json`, each log line is a JSON object, and a request's lines carry the id its
/// client was answered in `x-stack-request-id`.
#[tokio::test]
async fn json_logs_carry_the_request_id() {
    let app = TestServer::start_with(
        Backend::Sqlite,
        Options {
            env: vec![
                ("PORTCULLIS_LOG_JSON".into(), "true".into()),
                (
                    "RUST_LOG".into(),
                    "info,sqlx=warn,portcullis::http::metrics=debug".into(),
                ),
            ],
        },
    )
    .await;
    let res = app
        .http
        .get(format!("{}/api/v1/users/me", app.base))
        .header("x-stack-project-id", &app.project_id)
        .header("x-stack-access-type", "client")
        .header(
            "x-stack-publishable-client-key",
            &app.publishable_client_key,
        )
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let id = res.headers()["x-stack-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let log = app.log();
    let lines: Vec<Value> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let answered = lines
        .iter()
        .find(|l| l["span"]["id"] == id.as_str() && l["fields"]["message"] == "answered")
        .unwrap_or_else(|| panic!("no line of request {id}: {log}"));
    assert_eq!(answered["span"]["path"], "/api/v1/users/me");
    assert_eq!(answered["fields"]["status"], status);
}

/// Every `(METHOD, /path)` the API's route modules register, read from the source: each
/// `.api_route("/path", get(..).post(..))` and any plain `.route(` (which would bypass the
/// document). `src/ui` serves pages, and `server.rs`'s own `.route`s (`/health`, `/metrics`)
/// are outside `/api/v1`.
fn routes_in_source() -> std::collections::BTreeSet<(String, String)> {
    let mut found = std::collections::BTreeSet::new();
    let mut files = vec![std::path::PathBuf::from("src")];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            if path.ends_with("src/ui") {
                continue;
            }
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let calls: &[&str] = if path.ends_with("server.rs") {
            &[".api_route("]
        } else {
            &[".api_route(", ".route("]
        };
        for call in calls {
            for (at, _) in text.match_indices(call) {
                let args = &text[at + call.len()..];
                // The call's text: up to its closing parenthesis.
                let mut depth = 1;
                let end = args
                    .char_indices()
                    .find(|&(_, c)| {
                        depth += match c {
                            '(' => 1,
                            ')' => -1,
                            _ => 0,
                        };
                        depth == 0
                    })
                    .unwrap()
                    .0;
                let args = &args[..end];
                let path = args.split('"').nth(1).unwrap().replace("{*", "{");
                for method in ["get", "post", "put", "patch", "delete"] {
                    let used = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                        i == 0
                            || !args.as_bytes()[i - 1].is_ascii_alphanumeric()
                                && args.as_bytes()[i - 1] != b'_'
                    });
                    if used {
                        found.insert((method.to_uppercase(), path.clone()));
                    }
                }
            }
        }
    }
    found
}

/// `/api/v1/openapi.json` is an OpenAPI 3.1 document that `openapi-spec-validator` (PyPI)
/// accepts, it lists exactly the routes the source registers, and each documented operation is
/// answered by its route (not the API's unknown-path 404, not 405).
#[tokio::test]
async fn openapi_document_covers_every_route() {
    let app = TestServer::start(Backend::Sqlite).await;
    let res = app
        .http
        .get(format!("{}/api/v1/openapi.json", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let text = res.text().await.unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let validator = r#"
import sys, json
from openapi_spec_validator import validate
validate(json.load(sys.stdin))
"#;
    let out = python(validator, &text);
    assert!(
        out.status.success(),
        "the document does not validate: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|m| ["get", "post", "put", "patch", "delete"].contains(&m.as_str()))
                .map(|m| (m.to_uppercase(), path.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    let served = routes_in_source();
    assert!(served.len() > 100, "{served:?}");
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "served but not documented: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not in the source: {unserved:?}"
    );

    // Every documented operation reaches its handler (a redirect is its answer, not followed).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in &documented {
        let url = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "probe" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        // The nested root is `/api/v1` itself.
        let url = url.trim_end_matches('/');
        let res = http
            .request(method.parse().unwrap(), format!("{}/api/v1{url}", app.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        let body = res.text().await.unwrap();
        assert_ne!(status, 405, "{method} {path}");
        assert!(
            !body.contains("this page does not exist in Stack Auth's API"),
            "{method} {path} is not routed: {status} {body}"
        );
    }
}
