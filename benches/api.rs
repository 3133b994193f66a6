//! Throughput and latency of the hot endpoints — `GET /users/me` with a valid token, password
//! sign-in, token refresh — on SQLite and PostgreSQL, beside the cost of one bare argon2id hash
//! and one ES256 verification measured in the same run. Prints figures and ratios; asserts nothing.
//!
//!     cargo bench --bench api -- [--seconds 5] [--concurrency 32] [--backends sqlite,postgres] [--only decrements|sign-up-rules]
//!
//! The server is the release binary on loopback; the load generator is this process, on one thread.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{bench_arg as arg, Backend, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};

struct Figures {
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies_us: Vec<u64>,
}

impl Figures {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
    fn percentile_ms(&self, p: f64) -> f64 {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        if l.is_empty() {
            return f64::NAN;
        }
        let idx = ((l.len() as f64 - 1.0) * p).round() as usize;
        l[idx] as f64 / 1000.0
    }
    fn line(&self, name: &str, concurrency: usize) -> String {
        format!(
            "{name:<28} c={concurrency:<3} {:>9.0} req/s   p50 {:>7.2} ms   p99 {:>7.2} ms   ({} requests, {} errors)",
            self.rps(),
            self.percentile_ms(0.5),
            self.percentile_ms(0.99),
            self.requests,
            self.errors
        )
    }
}

/// Runs `make_request` from `concurrency` tasks for `duration`; each returns whether it succeeded.
async fn load<F, Fut>(concurrency: usize, duration: Duration, make_request: F) -> Figures
where
    F: Fn(usize) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = bool> + 'static,
{
    let start = Instant::now();
    let deadline = start + duration;
    let local = tokio::task::LocalSet::new();
    let mut handles = vec![];
    for worker in 0..concurrency {
        let f = make_request.clone();
        handles.push(local.spawn_local(async move {
            let mut lat = vec![];
            let mut errors = 0;
            let mut i = 0usize;
            while Instant::now() < deadline {
                let t = Instant::now();
                if !f(worker * 1_000_000 + i).await {
                    errors += 1;
                }
                lat.push(t.elapsed().as_micros() as u64);
                i += 1;
            }
            (lat, errors)
        }));
    }
    let results = local.run_until(async { futures_join(handles).await }).await;
    let elapsed = start.elapsed();
    let mut latencies_us = vec![];
    let mut errors = 0;
    for (l, e) in results {
        latencies_us.extend(l);
        errors += e;
    }
    Figures {
        requests: latencies_us.len(),
        errors,
        elapsed,
        latencies_us,
    }
}

async fn futures_join<T>(handles: Vec<tokio::task::JoinHandle<T>>) -> Vec<T> {
    let mut out = vec![];
    for h in handles {
        out.push(h.await.expect("load task"));
    }
    out
}

fn bare_costs() -> (Duration, Duration, Duration) {
    let n = 20;
    let t = Instant::now();
    let mut stored = String::new();
    for _ in 0..n {
        stored = std::hint::black_box(portcullis::crypto::password::hash("correct horse battery"));
    }
    let hash = t.elapsed() / n;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(portcullis::crypto::password::verify(
            "correct horse battery",
            &stored,
        ));
    }
    let verify_hash = t.elapsed() / n;
    let keys = portcullis::crypto::jwt::JwtKeys::new(b"bench".to_vec());
    let token = keys.sign("p", &json!({ "aud": "p", "sub": "u" }));
    let n = 20_000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(keys.verify::<serde_json::Value>(&token).is_ok());
    }
    (hash, verify_hash, t.elapsed() / n)
}

async fn bench_backend(
    backend: Backend,
    seconds: u64,
    concurrency: usize,
    hash: Duration,
    verify_hash: Duration,
) {
    // Limits stay on (their counting is part of what sign-in costs) but too high to refuse.
    let limits = "sign_in_ip=1000000000/60,sign_in_account=1000000000/600";
    let opts = common::Options {
        env: vec![("PORTCULLIS_RATE_LIMITS".into(), limits.into())],
    };
    let app = TestServer::start_with(backend, opts).await;
    let duration = Duration::from_secs(seconds);
    if arg("--only", "") == "decrements" {
        println!("\n[{backend:?}]");
        let http = reqwest::Client::new();
        return bench_decrements(&app, &http, backend, duration).await;
    }
    if arg("--only", "") == "sign-up-rules" {
        println!("\n[{backend:?}]");
        return bench_sign_up_rules(&app, concurrency, duration).await;
    }
    let session = app.sign_up("bench@example.com", "password123").await;
    let access = session["access_token"].as_str().unwrap().to_string();
    let refresh = session["refresh_token"].as_str().unwrap().to_string();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let me_url = format!("{}/api/v1/users/me", app.base);
    let pid = app.project_id.clone();
    println!("\n[{backend:?}]");

    let sign_in_url = format!("{}/api/v1/auth/password/sign-in", app.base);
    let sign_in = |c: usize| {
        let (http, url, pid) = (http.clone(), sign_in_url.clone(), pid.clone());
        load(c, duration, move |_| {
            let (http, url, pid) = (http.clone(), url.clone(), pid.clone());
            async move {
                http.post(&url)
                    .header("x-stack-project-id", &pid)
                    .header("x-stack-access-type", "client")
                    .json(&json!({ "email": "bench@example.com", "password": "password123" }))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
    };
    let single = sign_in(1).await;
    println!("{}", single.line("POST /auth/password/sign-in", 1));
    let me = {
        let (http, url, pid, access) = (http.clone(), me_url.clone(), pid.clone(), access.clone());
        load(concurrency, duration, move |_| {
            let (http, url, pid, access) = (http.clone(), url.clone(), pid.clone(), access.clone());
            async move {
                http.get(&url)
                    .header("x-stack-project-id", &pid)
                    .header("x-stack-access-type", "client")
                    .header("x-stack-access-token", &access)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    };
    println!("{}", me.line("GET /users/me", concurrency));

    let refresh_url = format!("{}/api/v1/auth/oauth/token", app.base);
    let refresh_fig = {
        let (http, url, pid, refresh) = (
            http.clone(),
            refresh_url.clone(),
            pid.clone(),
            refresh.clone(),
        );
        load(concurrency, duration, move |_| {
            let (http, url) = (http.clone(), url.clone());
            let body = format!("grant_type=refresh_token&refresh_token={refresh}&client_id={pid}&client_secret=__stack_public_client__");
            async move {
                http.post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body)
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await
    };
    println!(
        "{}",
        refresh_fig.line("POST /auth/oauth/token", concurrency)
    );

    let parallel = sign_in(4).await;
    println!("{}", parallel.line("POST /auth/password/sign-in", 4));
    let ratio = single.percentile_ms(0.5) / (hash.as_secs_f64() * 1000.0);
    println!(
        "sign-in p50 (c=1, measured first) / one argon2id hash = {ratio:.2}x (target <= 1.2x)"
    );
    println!(
        "sign-in p50 (c=1) / one argon2id verify (what sign-in computes) = {:.2}x",
        single.percentile_ms(0.5) / (verify_hash.as_secs_f64() * 1000.0)
    );
    if backend == Backend::Sqlite {
        println!(
            "GET /users/me vs target 10k req/s = {:.2}x",
            me.rps() / 10_000.0
        );
    }
    bench_decrements(&app, &http, backend, duration).await;
    bench_sign_up_rules(&app, concurrency, duration).await;
}

/// What evaluating sign-up rules costs a sign-up: `POST /internal/sign-up-rules-test` (load the
/// project's rules from the config document, evaluate them, answer the trace) with no rules and
/// with 20 CEL rules none of which decides, so every one is evaluated.
async fn bench_sign_up_rules(app: &TestServer, concurrency: usize, duration: Duration) {
    let url = format!("{}/api/v1/internal/sign-up-rules-test", app.base);
    let run = |label: &'static str| {
        let (url, pid, key) = (
            url.clone(),
            app.project_id.clone(),
            app.super_secret_admin_key.clone(),
        );
        let http = reqwest::Client::new();
        async move {
            let f = load(concurrency, duration, move |i| {
                let (http, url, pid, key) = (http.clone(), url.clone(), pid.clone(), key.clone());
                let body = json!({
                    "email": format!("user{i}@example.com"), "auth_method": "password",
                    "oauth_provider": null, "country_code": null,
                });
                async move {
                    http.post(&url)
                        .header("x-stack-project-id", &pid)
                        .header("x-stack-access-type", "admin")
                        .header("x-stack-super-secret-admin-key", &key)
                        .json(&body)
                        .send()
                        .await
                        .is_ok_and(|r| r.status().is_success())
                }
            })
            .await;
            println!("{}", f.line(label, concurrency));
            f
        }
    };
    let none = run("sign-up rules test, 0 rules").await;
    let mut rules = serde_json::Map::new();
    for n in 0..20 {
        rules.insert(
            format!("auth.signUpRules.rule-{n:02}"),
            json!({
                "enabled": true, "priority": n, "action": { "type": "log" },
                "condition": format!(
                    r#"email.endsWith("@blocked-{n}.example") || (emailDomain in ["a{n}.example", "b{n}.example"] && email.matches("^[a-z]+{n}$"))"#
                ),
            }),
        );
    }
    app.override_config(serde_json::Value::Object(rules)).await;
    let twenty = run("sign-up rules test, 20 rules").await;
    println!(
        "20 CEL rules vs none: p50 {:.2}x, throughput {:.2}x ({:.1} us per rule at p50)",
        twenty.percentile_ms(0.5) / none.percentile_ms(0.5),
        twenty.rps() / none.rps(),
        (twenty.percentile_ms(0.5) - none.percentile_ms(0.5)) * 1000.0 / 20.0
    );
}

/// Credit decrements with allow_negative=false (the serialised check-and-write) at 1, 8 and 64 clients.
async fn bench_decrements(
    app: &TestServer,
    http: &reqwest::Client,
    backend: Backend,
    duration: Duration,
) {
    let catalog = json!({ "payments.items.credits": { "customerType": "user" } });
    app.override_config(catalog).await;
    let user = app.create_user("spender@example.com").await;
    let uid = user["id"].as_str().unwrap().to_string();
    let url = format!(
        "{}/api/v1/payments/items/user/{uid}/credits/update-quantity?allow_negative=false",
        app.base
    );
    let auth = (app.project_id.clone(), app.secret_server_key.clone());
    let change = |delta: i64| {
        http.post(&url)
            .header("x-stack-project-id", &auth.0)
            .header("x-stack-access-type", "server")
            .header("x-stack-secret-server-key", &auth.1)
            .json(&json!({ "delta": delta }))
            .send()
    };
    change(1_000_000_000).await.unwrap();
    let target = if backend == Backend::Sqlite {
        5_000.0
    } else {
        3_000.0
    };
    for c in [1, 8, 64] {
        let (http, url, auth) = (http.clone(), url.clone(), auth.clone());
        let f = load(c, duration, move |_| {
            let (http, url, auth) = (http.clone(), url.clone(), auth.clone());
            async move {
                http.post(&url)
                    .header("x-stack-project-id", &auth.0)
                    .header("x-stack-access-type", "server")
                    .header("x-stack-secret-server-key", &auth.1)
                    .json(&json!({ "delta": -1 }))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        println!("{}", f.line("decrement, one customer", c));
        if c == 8 {
            println!(
                "decrements/s at 8 clients (one customer) vs target {target:.0}/s = {:.2}x",
                f.rps() / target
            );
        }
    }
    // The same with each client spending its own customer's credits: writers of different
    // customers do not wait for each other.
    let mut urls = Vec::new();
    for i in 0..64 {
        let u = app.create_user(&format!("spender{i}@example.com")).await;
        let url = format!(
            "{}/api/v1/payments/items/user/{}/credits/update-quantity?allow_negative=false",
            app.base,
            u["id"].as_str().unwrap()
        );
        http.post(&url)
            .header("x-stack-project-id", &auth.0)
            .header("x-stack-access-type", "server")
            .header("x-stack-secret-server-key", &auth.1)
            .json(&json!({ "delta": 1_000_000_000 }))
            .send()
            .await
            .unwrap();
        urls.push(url);
    }
    let urls = std::sync::Arc::new(urls);
    for c in [8, 64] {
        let (http, urls, auth) = (http.clone(), urls.clone(), auth.clone());
        let f = load(c, duration, move |n| {
            let (http, url, auth) = (http.clone(), urls[n / 1_000_000].clone(), auth.clone());
            async move {
                http.post(&url)
                    .header("x-stack-project-id", &auth.0)
                    .header("x-stack-access-type", "server")
                    .header("x-stack-secret-server-key", &auth.1)
                    .json(&json!({ "delta": -1 }))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success())
            }
        })
        .await;
        println!("{}", f.line("decrement, own customer", c));
        if c == 8 {
            println!(
                "decrements/s at 8 clients (own customers) vs target {target:.0}/s = {:.2}x",
                f.rps() / target
            );
        }
    }
}

fn main() {
    let seconds: u64 = arg("--seconds", "5").parse().unwrap();
    let concurrency: usize = arg("--concurrency", "32").parse().unwrap();
    let backends = arg("--backends", "sqlite,postgres");
    let (hash, verify_hash, verify) = bare_costs();
    println!(
        "machine: {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "bare argon2id hash (19 MiB, t=2, p=1): {:.2} ms",
        hash.as_secs_f64() * 1000.0
    );
    println!(
        "bare ES256 verify:                     {:.1} us",
        verify.as_secs_f64() * 1e6
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    for b in backends.split(',') {
        let backend = match b {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other}"),
        };
        rt.block_on(bench_backend(
            backend,
            seconds,
            concurrency,
            hash,
            verify_hash,
        ));
    }
}
