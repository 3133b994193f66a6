//! The faults an attacker and a careless client found (issue 11), each kept as an HTTP test on
//! both databases: bounded password hashing, sessions ended by a reset, NUL characters, ledger
//! overflow, closed dashboard sign-up, rate limits, page headers and strict queries.

mod common;
use common::*;
use serde_json::json;

fn env(pairs: &[(&str, &str)]) -> Options {
    Options {
        env: pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

/// One hashing worker and one queue slot: a burst of sign-ins is answered, in part with an
/// immediate 503 + `Retry-After`, never with an error or an unbounded wait.
async fn hashing_is_bounded(backend: Backend) {
    let opts = env(&[
        ("PORTCULLIS_PASSWORD_WORKERS", "1"),
        ("PORTCULLIS_PASSWORD_QUEUE", "1"),
        ("PORTCULLIS_RATE_LIMITS", "off"),
    ]);
    let app = TestServer::start_with(backend, opts).await;
    app.sign_up("victim@example.com", "password123").await;
    let burst: Vec<_> = (0..24)
        .map(|_| {
            let req = app
                .client()
                .post("/auth/password/sign-in")
                .json(json!({ "email": "victim@example.com", "password": "guess-guess" }));
            tokio::spawn(req.send())
        })
        .collect();
    let (mut checked, mut refused) = (0, 0);
    for r in burst {
        let r = r.await.unwrap();
        match r.status.as_u16() {
            400 => checked += 1,
            503 => {
                assert_eq!(r.headers["retry-after"], "1");
                assert!(r.json["message"].as_str().unwrap().contains("busy"));
                refused += 1;
            }
            other => panic!("unexpected {other}: {}", r.text),
        }
    }
    assert!(checked >= 1 && refused >= 1, "{checked} checked, {refused} refused");
    // Once the burst is over, sign-in works again.
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "victim@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
}
on_both_backends!(password_hashing_is_bounded, hashing_is_bounded);
