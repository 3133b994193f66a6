//! Stripe webhook events applied per second on SQLite and PostgreSQL: events that are only
//! marked (signature check, event mark and its transaction), and subscription renewals (the
//! invoice recorded, items renewed, dunning reset), and the time our side adds to `purchase-session` beyond Stripe's own
//! answer (localstripe plays Stripe). Prints figures and ratios; asserts nothing.
//!
//!     cargo bench --bench stripe_webhooks -- [--events 3000] [--concurrency 16] [--backends sqlite,postgres]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{bench_arg as arg, db_query_text, stripe_signature, Backend, TestServer};
use reqwest::Method;
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_bench_secret_value";

fn median_ms(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64() * 1000.0
}

async fn bench(backend: Backend, events: usize, concurrency: usize) {
    let (stripe, app) = TestServer::start_with_stripe(backend).await;
    app.admin()
        .post("/internal/payments/setup")
        .json(json!({ "stripe_secret_key": "sk_test_bench", "stripe_webhook_secret": SECRET }))
        .send()
        .await
        .expect(200);

    // Webhooks: distinct events with a Stripe-sized payload, `concurrency` deliveries at a time.
    let url = Arc::new(format!(
        "{}/api/v1/integrations/stripe/webhooks?project_id={}",
        app.base, app.project_id
    ));
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let bodies: Vec<(String, String)> = (0..events)
        .map(|i| {
            let body = json!({
                "id": format!("evt_bench_{i}"), "object": "event", "type": "customer.updated",
                "data": { "object": { "id": format!("cus_{i}"), "object": "customer",
                    "metadata": { "note": "x".repeat(1500) } } },
            })
            .to_string();
            let signature = stripe_signature(&body, SECRET, t);
            (body, signature)
        })
        .collect();
    let (elapsed, errors) = deliver_all(&url, bodies, concurrency).await;
    let rate = events as f64 / elapsed.as_secs_f64();
    println!(
        "{backend:?}: {events} webhook events (mark only) in {:.2} s = {rate:.0} events/s at c={concurrency} ({errors} errors; target 500/s: {:.1}x)",
        elapsed.as_secs_f64(),
        rate / 500.0
    );

    // Renewals: paid `subscription_cycle` invoices of one Stripe subscription, each recorded,
    // renewing the items (stored balances recomputed) and resetting dunning.
    let now_ms = t * 1000;
    let product = json!({ "displayName": "Plan", "customerType": "custom",
        "includedItems": { "credits": { "quantity": 100, "repeat": [1, "month"], "expires": "never" } } });
    let pid = &app.project_id;
    db_query_text(&app.database_url, &format!(
        "INSERT INTO purchases (id, project_id, customer_type, customer_id, product_id, price_id, product, quantity, kind, status, creation_source, created_at)
         VALUES ('bench-sub', '{pid}', 'custom', 'bench', 'plan', 'monthly', '{product}', 1, 'subscription', 'active', 'PURCHASE_PAGE', {now_ms})"
    ));
    db_query_text(&app.database_url, &format!(
        "INSERT INTO stripe_checkouts (payment_id, project_id, customer_type, customer_id, stripe_customer_id, product_id, product, price_id, quantity, amount_cents, code_hash, status, created_at, granted_at, purchase_id)
         VALUES ('sub_bench', '{pid}', 'custom', 'bench', 'cus_bench', 'plan', '{product}', 'monthly', 1, 1000, 'x', 'succeeded', {now_ms}, {now_ms}, 'bench-sub')"
    ));
    let bodies: Vec<(String, String)> = (0..events)
        .map(|i| {
            let body = json!({
                "id": format!("evt_renewal_{i}"), "object": "event", "type": "invoice.paid",
                "data": { "object": { "id": format!("in_bench_{i}"), "object": "invoice",
                    "subscription": "sub_bench", "customer": "cus_bench", "billing_reason": "subscription_cycle",
                    "status": "paid", "total": 1000, "created": t,
                    "lines": { "data": [{ "period": { "start": t, "end": t + 2_592_000 } }] } } },
            })
            .to_string();
            let signature = stripe_signature(&body, SECRET, t);
            (body, signature)
        })
        .collect();
    let (elapsed, errors) = deliver_all(&url, bodies, concurrency).await;
    let rate = events as f64 / elapsed.as_secs_f64();
    println!(
        "{backend:?}: {events} renewals (invoice.paid) in {:.2} s = {rate:.0} events/s at c={concurrency} ({errors} errors; target 500/s: {:.1}x)",
        elapsed.as_secs_f64(),
        rate / 500.0
    );

    // purchase-session against Stripe's own answer (a SetupIntent create at localstripe).
    app.override_config(json!({
            "payments.products.pack": { "displayName": "Pack", "customerType": "custom", "stackable": true,
                "prices": { "once": { "USD": "5" } } }
        })).await;
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..40 {
        let url = app
            .server()
            .post("/payments/purchases/create-purchase-url")
            .json(
                json!({ "customer_type": "custom", "customer_id": "bench", "product_id": "pack" }),
            )
            .send()
            .await
            .expect(200)["url"]
            .as_str()
            .unwrap()
            .to_string();
        let full_code = url.rsplit('/').next().unwrap().to_string();
        let s = Instant::now();
        app.client()
            .post("/payments/purchases/purchase-session")
            .json(json!({ "full_code": full_code, "price_id": "once" }))
            .send()
            .await
            .expect(200);
        if i > 0 {
            ours.push(s.elapsed());
        }
        let s = Instant::now();
        stripe
            .call(
                Method::POST,
                "/v1/setup_intents",
                &[("usage", "off_session")],
            )
            .await;
        theirs.push(s.elapsed());
    }
    let (o, s) = (median_ms(ours), median_ms(theirs));
    println!(
        "{backend:?}: purchase-session median {o:.2} ms, Stripe's SetupIntent alone {s:.2} ms: our side adds {:.2} ms ({:.2}x)",
        o - s,
        o / s
    );
}

/// Delivers every signed body, `concurrency` at a time; returns the time taken and the number
/// of deliveries that did not answer 2xx.
async fn deliver_all(
    url: &Arc<String>,
    bodies: Vec<(String, String)>,
    concurrency: usize,
) -> (Duration, usize) {
    let http = reqwest::Client::new();
    let queue = Arc::new(std::sync::Mutex::new(bodies));
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (queue, http, url) = (queue.clone(), http.clone(), url.clone());
        workers.push(tokio::spawn(async move {
            let mut errors = 0;
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((body, signature)) = next else { break };
                let res = http
                    .post(url.as_str())
                    .header("stripe-signature", signature)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                if !res.is_ok_and(|r| r.status().is_success()) {
                    errors += 1;
                }
            }
            errors
        }));
    }
    let mut errors = 0;
    for w in workers {
        errors += w.await.unwrap();
    }
    (started.elapsed(), errors)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let events: usize = arg("events", "3000").parse().unwrap();
    let concurrency: usize = arg("concurrency", "16").parse().unwrap();
    for name in arg("backends", "sqlite,postgres").split(',') {
        let backend = match name {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend {other}"),
        };
        bench(backend, events, concurrency).await;
    }
}
