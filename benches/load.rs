//! Memory and throughput under a sign-in flood: `concurrency` clients send wrong passwords to
//! `POST /auth/password/sign-in` for `seconds`, while the server's RSS is sampled from `/proc`;
//! then the RSS after the burst. Throughput is compared with the hash limit of this machine
//! (cores ÷ one bare argon2id verify). Prints figures and ratios; asserts nothing.
//!
//!     cargo bench --bench load -- [--seconds 30] [--concurrency 64] [--backends sqlite,postgres]
//!     cargo bench --bench load -- --only wal [--refreshes 20000]
//!
//! `--only wal` (SQLite): sign-in p50 before and after 20k token refreshes at 16 clients, and the
//! size of the write-ahead log during and after them (it must stay bounded: checkpointing).
//!
//! Targets (DESIGN.md §5): RSS ≤ 100 MiB during and after the load; sign-in throughput ≥ 90% of
//! the hash limit; refusals past the queue are immediate 503s with `Retry-After`.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{bench_arg as arg, Backend, Options, TestServer};
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// Sign-ins a second this machine can verify at most: the hashing pool (one worker per core,
/// reused working sets, as in the server) kept full in this process for 3 s.
fn hash_limit() -> f64 {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let rate = rt.block_on(async {
        let pool = portcullis::crypto::password::PasswordHasher::start(0, 64);
        let stored = pool.hash("correct horse battery".into()).await.unwrap();
        let done = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        let mut tasks = vec![];
        for _ in 0..2 * cores {
            let (pool, stored, done) = (pool.clone(), stored.clone(), done.clone());
            tasks.push(tokio::spawn(async move {
                while start.elapsed() < Duration::from_secs(3) {
                    let _ = pool
                        .verify("wrong horse".into(), Some(stored.clone()))
                        .await;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
        done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
    });
    println!(
        "hash limit on {cores} cores (the pool alone, in process): {rate:.1} verifies/s, {:.2} ms each per core",
        1000.0 * cores as f64 / rate
    );
    rate
}

#[derive(Default)]
struct Counts {
    checked: AtomicU64,
    refused: AtomicU64,
    refused_without_retry_after: AtomicU64,
    other: AtomicU64,
}

async fn on_backend(backend: Backend, seconds: u64, concurrency: usize, limit: f64) {
    let app = TestServer::start_with(
        backend,
        Options {
            // The flood measures hashing, not the guessing limits: they count but never refuse.
            env: vec![(
                "PORTCULLIS_RATE_LIMITS".into(),
                "sign_in_ip=1000000000/60,sign_in_account=1000000000/600".into(),
            )],
        },
    )
    .await;
    app.sign_up("victim@example.com", "password123").await;
    println!("\n[{backend:?}]");
    flood(&app, seconds, concurrency, limit).await;
    // Past the queue: 4x the clients for a short burst must be refused at once, not held.
    flood(&app, seconds.min(5), concurrency * 4, limit).await;
}

async fn flood(app: &TestServer, seconds: u64, concurrency: usize, limit: f64) {
    let pid = app.pid();
    println!("{concurrency} clients, {seconds} s of wrong passwords");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = rss_mib(pid);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()
        .unwrap();
    let url = format!("{}/api/v1/auth/password/sign-in", app.base);
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = vec![];
    for _ in 0..concurrency {
        let (http, url, pid, counts, stop) = (
            http.clone(),
            url.clone(),
            app.project_id.clone(),
            counts.clone(),
            stop.clone(),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let res = http
                    .post(&url)
                    .header("x-stack-project-id", &pid)
                    .header("x-stack-access-type", "client")
                    .json(&json!({ "email": "victim@example.com", "password": "guess-guess" }))
                    .send()
                    .await;
                match res.map(|r| (r.status().as_u16(), r.headers().contains_key("retry-after"))) {
                    Ok((400, _)) => counts.checked.fetch_add(1, Ordering::Relaxed),
                    Ok((503, true)) => counts.refused.fetch_add(1, Ordering::Relaxed),
                    Ok((503, false)) => counts
                        .refused_without_retry_after
                        .fetch_add(1, Ordering::Relaxed),
                    _ => counts.other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    let start = Instant::now();
    let mut peak: f64 = 0.0;
    while start.elapsed() < Duration::from_secs(seconds) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        peak = peak.max(rss_mib(pid));
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = start.elapsed().as_secs_f64();
    for c in clients {
        let _ = c.await;
    }
    let checked = counts.checked.load(Ordering::Relaxed) as f64;
    let rate = checked / elapsed;
    let at_end = rss_mib(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = rss_mib(pid);
    println!(
        "  RSS: idle {idle:.1} MiB, peak during load {peak:.1} MiB, at end {at_end:.1} MiB, 3 s after {after:.1} MiB (target <= 100 MiB)"
    );
    println!(
        "  sign-ins checked: {checked:.0} ({rate:.1}/s) = {:.0}% of the hash limit (target >= 90%)",
        100.0 * rate / limit
    );
    println!(
        "  refused at capacity: {} (503 with Retry-After), {} 503 without it, {} other answers",
        counts.refused.load(Ordering::Relaxed),
        counts.refused_without_retry_after.load(Ordering::Relaxed),
        counts.other.load(Ordering::Relaxed)
    );
}

/// Sign-in latency p50 (ms) over `n` sequential sign-ins.
async fn sign_in_p50(app: &TestServer, http: &reqwest::Client, n: usize) -> f64 {
    let url = format!("{}/api/v1/auth/password/sign-in", app.base);
    let mut times = vec![];
    for _ in 0..n {
        let t = Instant::now();
        let r = http
            .post(&url)
            .header("x-stack-project-id", &app.project_id)
            .header("x-stack-access-type", "client")
            .json(&json!({ "email": "wal@example.com", "password": "password123" }))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        times.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times[n / 2]
}

fn wal_mib(app: &TestServer) -> f64 {
    let db = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_string();
    std::fs::metadata(format!("{db}-wal")).map_or(0.0, |m| m.len() as f64 / 1048576.0)
}

async fn wal(refreshes: usize) {
    let opts = Options {
        env: vec![("PORTCULLIS_RATE_LIMITS".into(), "off".into())],
    };
    let app = TestServer::start_with(Backend::Sqlite, opts).await;
    let session = app.sign_up("wal@example.com", "password123").await;
    let refresh = session["refresh_token"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let before = sign_in_p50(&app, &http, 40).await;
    let url = format!("{}/api/v1/auth/oauth/token", app.base);
    let body = format!(
        "grant_type=refresh_token&refresh_token={refresh}&client_id={}&client_secret=__stack_public_client__",
        app.project_id
    );
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut clients = vec![];
    for _ in 0..16 {
        let (http, url, body, done) = (http.clone(), url.clone(), body.clone(), done.clone());
        clients.push(tokio::spawn(async move {
            while (done.fetch_add(1, Ordering::Relaxed) as usize) < refreshes {
                let r = http
                    .post(&url)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(body.clone())
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success());
            }
        }));
    }
    let mut peak: f64 = 0.0;
    while clients.iter().any(|c| !c.is_finished()) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        peak = peak.max(wal_mib(&app));
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after_load = wal_mib(&app);
    let after = sign_in_p50(&app, &http, 40).await;
    println!(
        "\n[Sqlite] {refreshes} refreshes at 16 clients in {elapsed:.1} s ({:.0}/s)",
        refreshes as f64 / elapsed
    );
    println!("  WAL: peak {peak:.1} MiB during the load, {after_load:.1} MiB after it");
    println!(
        "  sign-in p50: {before:.2} ms before, {after:.2} ms after = {:.2}x",
        after / before
    );
}

fn main() {
    if arg("--only", "") == "wal" {
        let refreshes: usize = arg("--refreshes", "20000").parse().unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        return rt.block_on(wal(refreshes));
    }
    let seconds: u64 = arg("--seconds", "30").parse().unwrap();
    let concurrency: usize = arg("--concurrency", "64").parse().unwrap();
    let backends = arg("--backends", "sqlite,postgres");
    let limit = hash_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for b in backends.split(',') {
        let backend = match b {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other}"),
        };
        rt.block_on(on_backend(backend, seconds, concurrency, limit));
    }
}
