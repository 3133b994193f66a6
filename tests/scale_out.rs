//! Two servers on one PostgreSQL database behave as one: accounts, sessions, spends, the email
//! outbox, configuration and rate limits are all shared state in the database. The only cache is
//! the project (and verified-key) cache, which lives one second (`store::recent`); access tokens
//! are JWTs and stay valid until they expire, on any replica, like after any sign-out.

mod common;
use common::*;
use serde_json::json;
use std::time::{Duration, Instant};

const CALLBACK: &str = "http://localhost:3000/handler/callback";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_state() {
    let sink = SmtpSink::start(None);
    let a = TestServer::start_with(
        Backend::Postgres,
        Options {
            env: vec![
                ("PORTCULLIS_SMTP_URL".into(), sink.url()),
                ("PORTCULLIS_EMAIL_CONCURRENCY".into(), "4".into()),
                // Replicas share their public URL: it is the issuer of their access tokens.
                (
                    "PORTCULLIS_PUBLIC_URL".into(),
                    "http://auth.example.test".into(),
                ),
            ],
        },
    )
    .await;
    let b = a.replica().await;

    // Signed up on A, signed in on B.
    let on_a = a.sign_up("shared@example.com", "password123").await;
    let sign_in = |app: &TestServer| {
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "shared@example.com", "password": "password123" }))
    };
    let on_b = sign_in(&b).send().await.expect(200);
    assert_eq!(on_a["user_id"], on_b["user_id"]);

    // A session ended on B cannot be refreshed on A, at once (sessions are not cached).
    let session = sign_in(&a).send().await.expect(200);
    b.client()
        .user(&session)
        .delete("/auth/sessions/current")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    a.client()
        .user(&session)
        .without("x-stack-access-token")
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");

    // A configuration change on A is seen by B within the cache's second.
    let catalog =
        json!({ "payments.items.credits": { "displayName": "Credits", "customerType": "user" } });
    a.override_config(catalog).await;
    a.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "sign_up_enabled": false } }))
        .send()
        .await
        .expect(200);
    let changed = Instant::now();
    loop {
        let r = b
            .client()
            .post("/auth/password/sign-up")
            .json(json!({ "email": "late@example.com", "password": "password123" }))
            .send()
            .await;
        if r.status.as_u16() == 400 {
            r.expect_error(400, "SIGN_UP_NOT_ENABLED");
            break;
        }
        assert!(
            changed.elapsed() < Duration::from_secs(3),
            "B still signs up after {:?}",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "config change seen by the other replica after {:?}",
        changed.elapsed()
    );

    // 64 decrements spread over A and B never overdraw 40 credits.
    let uid = on_a["user_id"].as_str().unwrap().to_string();
    let change = |app: &TestServer, delta: i64| {
        app.server()
            .post(&format!(
                "/payments/items/user/{uid}/credits/update-quantity?allow_negative=false"
            ))
            .json(json!({ "delta": delta }))
    };
    change(&a, 40).send().await.expect(200);
    let spends: Vec<_> = (0..64)
        .map(|i| tokio::spawn(change(if i % 2 == 0 { &a } else { &b }, -1).send()))
        .collect();
    let mut spent = 0;
    for s in spends {
        let r = s.await.unwrap();
        match r.status.as_u16() {
            200 => spent += 1,
            _ => {
                r.expect_error(400, "ITEM_QUANTITY_INSUFFICIENT_AMOUNT");
            }
        }
    }
    assert_eq!(spent, 40);
    for app in [&a, &b] {
        let item = app
            .server()
            .get(&format!("/payments/items/user/{uid}/credits"))
            .send()
            .await
            .expect(200);
        assert_eq!(item["quantity"], 0);
    }

    // 40 emails queued through both are each delivered exactly once.
    a.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "magic_link_enabled": true, "sign_up_enabled": true } }))
        .send()
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(1100)).await; // B's cached project expires
    for i in 0..40 {
        let app = if i % 2 == 0 { &a } else { &b };
        app.server()
            .post("/auth/otp/send-sign-in-code")
            .json(json!({ "email": format!("mail{i}@example.com"), "callback_url": CALLBACK }))
            .send()
            .await
            .expect(200);
    }
    sink.wait_for("@example.com", 40).await;
    tokio::time::sleep(Duration::from_secs(2)).await; // time for a duplicate to show
    let mut to: Vec<String> = sink
        .messages()
        .iter()
        .map(|m| m["to"].as_str().unwrap().to_string())
        .collect();
    to.sort();
    let total = to.len();
    to.dedup();
    assert_eq!((total, to.len()), (40, 40), "each email once: {to:?}");

    // Rate limits count across both: 10 failures spread over A and B lock the account on both.
    for i in 0..10 {
        let app = if i % 2 == 0 { &a } else { &b };
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "shared@example.com", "password": "wrong-guess" }))
            .send()
            .await
            .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    }
    for app in [&a, &b] {
        let r = sign_in(app).send().await;
        assert_eq!(r.status.as_u16(), 429, "{}", r.text);
    }
}
