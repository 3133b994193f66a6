//! Outgoing webhooks on SQLite and PostgreSQL: deliveries per second from a backlog to a local
//! receiver (a minimal HTTP server in this process, answering 200), and what writing the event
//! adds to a user update (median latency of `PATCH /users/{id}` with no endpoint; with one that
//! wants `user.updated` but whose deliveries are held back, so the update pays only for writing
//! its event; and with one being delivered to meanwhile, sharing the machine with the worker).
//! Prints figures and ratios; asserts nothing.
//!
//!     cargo bench --bench webhooks -- [--events 5000] [--updates 400] [--backends sqlite,postgres]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{bench_arg as arg, db_query_text, free_port, Backend, Options, TestServer};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A receiver answering 200 to every POST at `/hooks`, counting them; `/hold` answers 2 s late.
async fn receiver(port: u16) -> Arc<AtomicUsize> {
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    let app = axum::Router::new()
        .route(
            "/hooks",
            axum::routing::post(move || {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::Relaxed);
                    "ok"
                }
            }),
        )
        .route(
            "/hold",
            axum::routing::post(|| async {
                tokio::time::sleep(HOLD).await;
                "ok"
            }),
        );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    count
}

const HOLD: Duration = Duration::from_secs(2);

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

/// Median latency of `updates` sequential display-name changes of one user.
async fn update_latency(app: &TestServer, user_id: &str, updates: usize) -> f64 {
    let mut times = Vec::with_capacity(updates);
    for i in 0..updates {
        let started = Instant::now();
        app.server()
            .patch(&format!("/users/{user_id}"))
            .json(json!({ "display_name": format!("Name {i}") }))
            .send()
            .await
            .expect(200);
        times.push(started.elapsed());
    }
    median_ms(times)
}

async fn bench(backend: Backend, events: usize, updates: usize) {
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_WEBHOOKS_ALLOW_LOOPBACK".into(), "true".into())],
        },
    )
    .await;
    let port = free_port();
    let received = receiver(port).await;
    let user = app.create_user("bench@example.com").await;
    let user_id = user["id"].as_str().unwrap().to_string();

    // What an update costs without an endpoint, with one whose deliveries wait (an ordered
    // endpoint whose first delivery is answered late), and with one being delivered to.
    update_latency(&app, &user_id, updates / 4).await; // warm-up
    let without = update_latency(&app, &user_id, updates).await;
    let held_endpoint = app
        .admin()
        .post("/internal/webhooks/endpoints")
        .json(json!({ "url": format!("http://127.0.0.1:{port}/hold"), "event_types": ["user.updated"], "ordered": true }))
        .send()
        .await
        .expect(201);
    let held = update_latency(&app, &user_id, updates).await;
    app.admin()
        .delete(&format!(
            "/internal/webhooks/endpoints/{}",
            held_endpoint["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    tokio::time::sleep(HOLD * 2).await; // the held request ends
    let endpoint = app
        .admin()
        .post("/internal/webhooks/endpoints")
        .json(json!({ "url": format!("http://127.0.0.1:{port}/hooks"), "event_types": ["user.updated"] }))
        .send()
        .await
        .expect(201);
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let with = update_latency(&app, &user_id, updates).await;

    // A backlog of `events` deliveries written while the endpoint is off, then drained.
    while received.load(Ordering::Relaxed) < updates {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.admin()
        .patch(&format!("/internal/webhooks/endpoints/{endpoint_id}"))
        .json(json!({ "enabled": false }))
        .send()
        .await
        .expect(200);
    let series = match backend {
        Backend::Postgres => format!("SELECT g AS n FROM generate_series(1, {events}) g"),
        Backend::Sqlite => format!(
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {events}) SELECT n FROM s"
        ),
    };
    let pid = &app.project_id;
    let payload = json!({ "type": "user.updated", "data": user })
        .to_string()
        .replace('\'', "''");
    db_query_text(
        &app.database_url,
        &format!(
            "INSERT INTO webhook_events (id, project_id, type, payload, created_at)
             SELECT 'msg_bench_' || n, '{pid}', 'user.updated', '{payload}', 0 FROM ({series}) t"
        ),
    );
    db_query_text(
        &app.database_url,
        &format!(
            "INSERT INTO webhook_deliveries (id, project_id, event_id, endpoint_id, seq, status, attempts, next_attempt_at, created_at)
             SELECT 'dlv_bench_' || n, '{pid}', 'msg_bench_' || n, '{endpoint_id}', n, 'pending', 0, 0, 0 FROM ({series}) t"
        ),
    );
    let before = received.load(Ordering::Relaxed);
    let started = Instant::now();
    app.admin()
        .patch(&format!("/internal/webhooks/endpoints/{endpoint_id}"))
        .json(json!({ "enabled": true }))
        .send()
        .await
        .expect(200);
    while received.load(Ordering::Relaxed) < before + events {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if started.elapsed() > Duration::from_secs(300) {
            break;
        }
    }
    let drained = started.elapsed();
    let delivered = received.load(Ordering::Relaxed) - before;
    println!(
        "{backend:?}: {delivered} deliveries in {:.2} s = {:.0}/s (target >= 1000/s on SQLite)",
        drained.as_secs_f64(),
        delivered as f64 / drained.as_secs_f64()
    );
    println!(
        "{backend:?}: user update median {without:.3} ms without an endpoint; {held:.3} ms writing its event: {:+.1} % (target <= 5 %); {with:.3} ms while the worker delivers: {:+.1} %",
        (held / without - 1.0) * 100.0,
        (with / without - 1.0) * 100.0
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = arg("events", "5000").parse().unwrap();
    let updates: usize = arg("updates", "400").parse().unwrap();
    for backend in arg("backends", "sqlite,postgres").split(',') {
        match backend {
            "sqlite" => bench(Backend::Sqlite, events, updates).await,
            "postgres" => bench(Backend::Postgres, events, updates).await,
            other => panic!("unknown backend {other}"),
        }
    }
}
