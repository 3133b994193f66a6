//! Outgoing webhooks against a real receiver on loopback (`tests/webhook_receiver.py`), which
//! verifies every request with the official `standardwebhooks` package: user events arrive
//! once each with the original's payloads and both header sets; the test event; a receiver
//! answering 500 is retried on the backoff schedule; a server killed with SIGKILL mid-delivery
//! still delivers every event after a restart; two replicas on one PostgreSQL deliver each event
//! once; endpoints on private addresses and bad input are refused with nothing saved.

mod common;
use common::*;
use serde_json::{json, Value};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The receiver process and the file it logs each request to.
struct Receiver {
    child: Child,
    log: std::path::PathBuf,
    url: String,
}

impl Receiver {
    fn start(secret: &str, port: u16, fail_first: usize) -> Receiver {
        Self::start_slow(secret, port, fail_first, 0)
    }

    /// A receiver that answers each request `delay_ms` late.
    fn start_slow(secret: &str, port: u16, fail_first: usize, delay_ms: u64) -> Receiver {
        let log = std::env::temp_dir().join(format!("webhooks-{port}-{}.jsonl", now_secs()));
        let mut child = Command::new("python3")
            .arg("tests/webhook_receiver.py")
            .args(["--port", &port.to_string(), "--secret", secret])
            .args(["--log", log.to_str().unwrap()])
            .args(["--fail-first", &fail_first.to_string()])
            .args(["--delay-ms", &delay_ms.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 with standardwebhooks is needed (.ci/run installs it)");
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready", "the webhook receiver did not start");
        Receiver {
            child,
            log,
            url: format!("http://127.0.0.1:{port}/hooks"),
        }
    }

    /// Every request received so far, in arrival order.
    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Waits until `done` holds for what arrived (20 s at most).
    async fn wait_until(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "{what}: got {got:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.log);
    }
}

fn loopback_allowed(extra: &[(&str, &str)]) -> Options {
    let mut env = vec![(
        "PORTCULLIS_WEBHOOKS_ALLOW_LOOPBACK".to_string(),
        "true".to_string(),
    )];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Options { env }
}

/// Creates an endpoint for `url`; answers it (with its secret).
async fn endpoint(app: &TestServer, url: &str, body: Value) -> Value {
    let mut body = body;
    body["url"] = json!(url);
    app.admin()
        .post("/internal/webhooks/endpoints")
        .json(body)
        .send()
        .await
        .expect(201)
}

/// `field` of each attempt of an endpoint, as the attempts API lists them.
async fn attempts_field(app: &TestServer, endpoint_id: &str, field: &str) -> Vec<Value> {
    let attempts = app
        .admin()
        .get(&format!(
            "/internal/webhooks/endpoints/{endpoint_id}/attempts"
        ))
        .send()
        .await
        .expect(200);
    attempts["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a[field].clone())
        .collect()
}

/// The distinct event ids among verified requests.
fn distinct_ids(got: &[Value]) -> std::collections::BTreeSet<String> {
    got.iter()
        .filter(|r| r["verified"] == true)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect()
}

async fn user_events(backend: Backend) {
    let app = TestServer::start_with(backend, loopback_allowed(&[])).await;
    let port = free_port();
    // The endpoint is saved before its receiver listens: its secret is only known now.
    let created = endpoint(
        &app,
        &format!("http://127.0.0.1:{port}/hooks"),
        json!({ "description": "users", "ordered": true }),
    )
    .await;
    let secret = created["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"), "{created}");
    let receiver = Receiver::start(secret, port, 0);
    // The secret is not shown again.
    let listed = app
        .admin()
        .get("/internal/webhooks/endpoints")
        .send()
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["url"], receiver.url.as_str());
    assert!(listed.to_string().find("whsec_").is_none(), "{listed}");

    let user = app.create_user("hooked@example.com").await;
    let id = user["id"].as_str().unwrap();
    app.server()
        .patch(&format!("/users/{id}"))
        .json(json!({ "display_name": "Hooked" }))
        .send()
        .await
        .expect(200);
    app.server()
        .delete(&format!("/users/{id}"))
        .send()
        .await
        .expect(200);
    let got = receiver
        .wait_until("three user events", |g| g.len() >= 3)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_again = receiver.received();
    assert_eq!(got_again.len(), 3, "each event once: {got_again:#?}");
    for r in &got {
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(
            r["svix_id"], r["id"],
            "the svix-* headers repeat the webhook-* ones"
        );
    }
    let types: Vec<&str> = got
        .iter()
        .map(|r| r["payload"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["user.created", "user.updated", "user.deleted"],
        "in order"
    );
    assert_eq!(got[0]["payload"]["data"]["id"], id);
    assert_eq!(
        got[0]["payload"]["data"]["primary_email"],
        "hooked@example.com"
    );
    assert_eq!(got[0]["payload"]["data"]["server_metadata"], Value::Null);
    assert_eq!(got[1]["payload"]["data"]["display_name"], "Hooked");
    assert_eq!(got[2]["payload"]["data"], json!({ "id": id, "teams": [] }));
    assert_eq!(distinct_ids(&got).len(), 3);

    // The test event, sent at once and reported.
    let endpoint_id = created["id"].as_str().unwrap();
    let test = app
        .admin()
        .post("/internal/send-test-webhook")
        .json(json!({ "endpoint_id": endpoint_id }))
        .send()
        .await
        .expect(200);
    assert_eq!(test, json!({ "success": true }));
    receiver
        .wait_until("the test event", |g| g.len() == 4)
        .await;
    // Every attempt is on record.
    assert_eq!(
        attempts_field(&app, endpoint_id, "status_code").await,
        [200, 200, 200]
    );

    // A rotated secret signs what follows; the receiver, holding the old one, refuses it.
    app.admin()
        .post(&format!(
            "/internal/webhooks/endpoints/{endpoint_id}/rotate-secret"
        ))
        .send()
        .await
        .expect(200);
    app.create_user("later@example.com").await;
    let got = receiver
        .wait_until("a fifth request", |g| g.len() >= 5)
        .await;
    assert_eq!(got[4]["verified"], false, "{:#?}", got[4]);
}
on_both_backends!(user_events_arrive_signed_once, user_events);

async fn refusals(backend: Backend) {
    let app = TestServer::start_with(backend, loopback_allowed(&[])).await;
    for (body, status, code) in [
        (json!({ "url": "http://10.0.0.7/hooks" }), 400, None),
        (json!({ "url": "http://192.168.1.20/hooks" }), 400, None),
        (
            json!({ "url": "http://169.254.169.254/latest/meta-data" }),
            400,
            None,
        ),
        (json!({ "url": "http://[fd00::1]/hooks" }), 400, None),
        (json!({ "url": "ftp://127.0.0.1/hooks" }), 400, None),
        (json!({ "url": "not a url" }), 400, None),
        (
            json!({ "url": "http://127.0.0.1:9/hooks", "event_types": ["user.exploded"] }),
            400,
            Some("SCHEMA_ERROR"),
        ),
        (
            json!({ "url": "http://127.0.0.1:9/hooks", "secret": "mine" }),
            400,
            Some("SCHEMA_ERROR"),
        ),
        (
            json!({ "url": "http://127.0.0.1:9/hooks", "description": "x".repeat(513) }),
            400,
            Some("SCHEMA_ERROR"),
        ),
    ] {
        let res = app
            .admin()
            .post("/internal/webhooks/endpoints")
            .json(body.clone())
            .send()
            .await;
        match code {
            Some(code) => {
                res.expect_error(status, code);
            }
            None => res.expect_text(status, "webhook URL"),
        }
    }
    let listed = app
        .admin()
        .get("/internal/webhooks/endpoints")
        .send()
        .await
        .expect(200);
    assert_eq!(listed["items"], json!([]), "nothing saved");
    // Only admins manage endpoints.
    app.server()
        .get("/internal/webhooks/endpoints")
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    // Svix's portal token has no meaning here: a clear refusal, never a 500.
    app.admin()
        .get("/webhooks/svix-token")
        .send()
        .await
        .expect_text(400, "no Svix app portal");
    app.admin()
        .post("/internal/send-test-webhook")
        .json(json!({ "endpoint_id": "nope" }))
        .send()
        .await
        .expect_text(404, "Webhook endpoint not found.");
    // Loopback itself needs the operator's consent.
    let strict = TestServer::start(backend).await;
    strict
        .admin()
        .post("/internal/webhooks/endpoints")
        .json(json!({ "url": "http://127.0.0.1:9/hooks" }))
        .send()
        .await
        .expect_text(400, "loopback");
}
on_both_backends!(private_addresses_and_bad_input_refused, refusals);

async fn retries(backend: Backend) {
    // A thousandth of the real schedule: 5 ms, 300 ms, 1.8 s, …
    let app = TestServer::start_with(
        backend,
        loopback_allowed(&[("PORTCULLIS_WEBHOOK_RETRY_SCALE", "0.001")]),
    )
    .await;
    let port = free_port();
    let created = endpoint(&app, &format!("http://127.0.0.1:{port}/hooks"), json!({})).await;
    let receiver = Receiver::start(created["secret"].as_str().unwrap(), port, 3);
    app.create_user("retry@example.com").await;
    let got = receiver
        .wait_until("the fourth attempt, answered 200", |g| g.len() >= 4)
        .await;
    let answered: Vec<i64> = got
        .iter()
        .map(|r| r["answered"].as_i64().unwrap())
        .collect();
    assert_eq!(answered, [500, 500, 500, 200]);
    assert_eq!(
        distinct_ids(&got).len(),
        1,
        "one event, the same webhook-id each time"
    );
    let at: Vec<i64> = got
        .iter()
        .map(|r| r["received_at_ms"].as_i64().unwrap())
        .collect();
    let gaps: Vec<i64> = at.windows(2).map(|w| w[1] - w[0]).collect();
    // The schedule with ±10 % jitter: 5 ms, then 300 ms, then 1.8 s.
    assert!(gaps[1] >= 270 && gaps[2] >= 1_620, "gaps {gaps:?}");
    assert!(
        gaps[2] > gaps[1] && gaps[1] > gaps[0],
        "backing off: {gaps:?}"
    );
    let excerpts = attempts_field(&app, created["id"].as_str().unwrap(), "response_excerpt").await;
    assert_eq!(
        excerpts,
        [
            "ok",
            "failing on purpose",
            "failing on purpose",
            "failing on purpose"
        ]
    );
}
on_both_backends!(failing_receiver_retried_on_the_schedule, retries);

async fn crash(backend: Backend) {
    // Deliveries the killed server had claimed are taken over once their 2 s lease lapses.
    let env = [("PORTCULLIS_WEBHOOK_LEASE_MS", "2000")];
    let mut app = TestServer::start_with(backend, loopback_allowed(&env)).await;
    let port = free_port();
    let created = endpoint(&app, &format!("http://127.0.0.1:{port}/hooks"), json!({})).await;
    // A slow receiver: the server is killed with requests in flight.
    let receiver = Receiver::start_slow(created["secret"].as_str().unwrap(), port, 0, 2_000);
    for i in 0..40 {
        app.create_user(&format!("crash{i}@example.com")).await;
    }
    // The last user's event is logged on arrival and answered 2 s later: killing the server as
    // soon as it arrives leaves that request in flight, however long the users took to create.
    receiver
        .wait_until("the last user's event in flight", |g| {
            g.iter()
                .any(|r| r["payload"]["data"]["primary_email"] == "crash39@example.com")
        })
        .await;
    app.crash_and_restart().await;
    for i in 40..50 {
        app.create_user(&format!("crash{i}@example.com")).await;
    }
    let got = receiver
        .wait_until("50 distinct events", |g| distinct_ids(g).len() >= 50)
        .await;
    let emails: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|r| r["payload"]["data"]["primary_email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 50);
    // A resend after the crash carries the same webhook-id as the first try.
    for r in &got {
        assert_eq!(r["verified"], true);
    }
    let by_id = got
        .iter()
        .fold(std::collections::HashMap::new(), |mut m, r| {
            m.entry(r["id"].as_str().unwrap().to_string())
                .or_insert_with(Vec::new)
                .push(r["payload"]["data"]["id"].clone());
            m
        });
    assert!(by_id
        .values()
        .all(|users| users.iter().all(|u| *u == users[0])));
    assert!(
        by_id.values().any(|tries| tries.len() > 1),
        "a request in flight at the kill is sent again, under its webhook-id"
    );
}
on_both_backends!(every_event_arrives_after_a_crash, crash);

#[tokio::test]
async fn two_replicas_deliver_each_event_once() {
    let app = TestServer::start_with(Backend::Postgres, loopback_allowed(&[])).await;
    let other = app.replica().await;
    let port = free_port();
    let created = endpoint(&app, &format!("http://127.0.0.1:{port}/hooks"), json!({})).await;
    let receiver = Receiver::start(created["secret"].as_str().unwrap(), port, 0);
    for i in 0..60 {
        let server = if i % 2 == 0 { &app } else { &other };
        server.create_user(&format!("replica{i}@example.com")).await;
    }
    receiver
        .wait_until("60 events", |g| distinct_ids(g).len() >= 60)
        .await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 60, "each event delivered once by one replica");
}

/// Team events, each once with the original's payload, to an endpoint that asked for team events
/// only (no user event reaches it).
async fn team_events(backend: Backend) {
    let app = TestServer::start_with(backend, loopback_allowed(&[])).await;
    let port = free_port();
    let types = [
        "team.created",
        "team.updated",
        "team.deleted",
        "team_membership.created",
        "team_membership.deleted",
        "team_permission.created",
        "team_permission.deleted",
    ];
    let created = endpoint(
        &app,
        &format!("http://127.0.0.1:{port}/hooks"),
        json!({ "event_types": types, "ordered": true }),
    )
    .await;
    let receiver = Receiver::start(created["secret"].as_str().unwrap(), port, 0);
    let owner = app.create_user("owner@example.com").await;
    let member = app.create_user("member@example.com").await;
    let (owner, member) = (
        owner["id"].as_str().unwrap(),
        member["id"].as_str().unwrap(),
    );
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Hooks", "creator_user_id": owner }))
        .send()
        .await
        .expect(201);
    let team_id = team["id"].as_str().unwrap();
    app.server()
        .patch(&format!("/teams/{team_id}"))
        .json(json!({ "display_name": "Hooks & Co" }))
        .send()
        .await
        .expect(200);
    app.server()
        .post(&format!("/team-memberships/{team_id}/{member}"))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    let permission = format!("/team-permissions/{team_id}/{member}/$read_members");
    app.server()
        .post(&permission)
        .json(json!({}))
        .send()
        .await
        .expect(201);
    app.server().delete(&permission).send().await.expect(200);
    app.server()
        .delete(&format!("/team-memberships/{team_id}/{member}"))
        .send()
        .await
        .expect(200);
    app.server()
        .delete(&format!("/teams/{team_id}"))
        .send()
        .await
        .expect(200);
    let got = receiver
        .wait_until("team.deleted", |g| {
            g.iter().any(|r| r["payload"]["type"] == "team.deleted")
        })
        .await;
    let events: Vec<(String, Value)> = got
        .iter()
        .map(|r| {
            assert_eq!(r["verified"], true);
            (
                r["payload"]["type"].as_str().unwrap().to_string(),
                r["payload"]["data"].clone(),
            )
        })
        .collect();
    // Each member's default team permissions come with their membership; the one grant made
    // by hand is `$read_members`.
    let is_default =
        |t: &str, d: &Value| t == "team_permission.created" && d["id"] != "$read_members";
    let defaults: Vec<&(String, Value)> = events.iter().filter(|(t, d)| is_default(t, d)).collect();
    assert!(!defaults.is_empty() && defaults.iter().all(|(_, d)| d["team_id"] == team_id));
    let rest: Vec<(&str, Value)> = events
        .iter()
        .filter(|(t, d)| !is_default(t, d))
        .map(|(t, d)| (t.as_str(), d.clone()))
        .collect();
    assert_eq!(rest[0].0, "team.created");
    assert_eq!(rest[0].1["display_name"], "Hooks");
    assert_eq!(rest[0].1["server_metadata"], Value::Null);
    let membership = json!({ "team_id": team_id, "user_id": owner });
    let joined = json!({ "team_id": team_id, "user_id": member });
    let grant = json!({ "id": "$read_members", "user_id": member, "team_id": team_id });
    let tail: Vec<(&str, Value)> = rest[1..].to_vec();
    assert_eq!(tail[0], ("team_membership.created", membership));
    assert_eq!(tail[1].0, "team.updated");
    assert_eq!(tail[1].1["display_name"], "Hooks & Co");
    assert_eq!(tail[2], ("team_membership.created", joined.clone()));
    assert_eq!(tail[3], ("team_permission.created", grant.clone()));
    assert_eq!(tail[4], ("team_permission.deleted", grant));
    assert_eq!(tail[5], ("team_membership.deleted", joined));
    assert_eq!(tail[6], ("team.deleted", json!({ "id": team_id })));
    assert_eq!(tail.len(), 7, "{events:#?}");
    assert_eq!(distinct_ids(&got).len(), got.len(), "each once");
}
on_both_backends!(team_events_arrive_once, team_events);

/// A product granted by the server API is a `payment.purchase_completed` event with the
/// purchase (ours: the original has no payment webhooks).
async fn purchase_events(backend: Backend) {
    let app = TestServer::start_with(backend, loopback_allowed(&[])).await;
    app.override_config(json!({
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.products.pro": {
            "displayName": "Pro", "customerType": "user", "serverOnly": true, "stackable": true,
            "prices": "include-by-default",
            "includedItems": { "credits": { "quantity": 10 } }
        }
    }))
    .await;
    let port = free_port();
    let created = endpoint(
        &app,
        &format!("http://127.0.0.1:{port}/hooks"),
        json!({ "event_types": ["payment.purchase_completed", "payment.item_quantity_changed"] }),
    )
    .await;
    let receiver = Receiver::start(created["secret"].as_str().unwrap(), port, 0);
    let user = app.create_user("buyer@example.com").await;
    let uid = user["id"].as_str().unwrap();
    app.server()
        .post(&format!("/payments/products/user/{uid}"))
        .json(json!({ "product_id": "pro", "quantity": 2 }))
        .send()
        .await
        .expect(200);
    let got = receiver.wait_until("the purchase", |g| !g.is_empty()).await;
    assert_eq!(got.len(), 1, "only the purchase, not the user: {got:#?}");
    let data = &got[0]["payload"]["data"];
    assert_eq!(got[0]["payload"]["type"], "payment.purchase_completed");
    assert_eq!(data["customer_type"], "user");
    assert_eq!(data["customer_id"], uid);
    assert_eq!(data["product_id"], "pro");
    assert_eq!(data["quantity"], 2);
    assert_eq!(data["creation_source"], "API_GRANT");
    assert_eq!(data["product"]["displayName"], "Pro");

    // Manual changes of the balance: a grant that expires (the ledger's slow path), two spends
    // (the group-committed fast path), and a refused overdraft that emits nothing.
    let change = |delta: i64, extra: Value| {
        let mut body = json!({ "delta": delta, "description": format!("change {delta}") });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.server()
            .post(&format!(
                "/payments/items/user/{uid}/credits/update-quantity?allow_negative=false"
            ))
            .json(body)
            .send()
    };
    change(5, json!({ "expires_at": "2100-01-01T00:00:00Z" }))
        .await
        .expect(200);
    change(-3, json!({})).await.expect(200);
    change(-4, json!({})).await.expect(200);
    change(-1_000, json!({}))
        .await
        .expect_error(400, "ITEM_QUANTITY_INSUFFICIENT_AMOUNT");
    receiver
        .wait_until("the three changes", |g| g.len() >= 4)
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got: Vec<Value> = receiver.received().into_iter().skip(1).collect();
    assert_eq!(got.len(), 3, "the refused change emits nothing: {got:#?}");
    // Deliveries run side by side: arrival order is not the changes' order.
    let mut changes: Vec<(i64, Value)> = got
        .iter()
        .map(|r| {
            assert_eq!(r["verified"], true);
            assert_eq!(r["payload"]["type"], "payment.item_quantity_changed");
            let d = &r["payload"]["data"];
            assert_eq!(d["customer_type"], "user");
            assert_eq!(d["customer_id"], uid);
            assert_eq!(d["item_id"], "credits");
            assert_eq!(d["description"], format!("change {}", d["quantity_change"]));
            (
                d["quantity_change"].as_i64().unwrap(),
                d["expires_at_millis"].clone(),
            )
        })
        .collect();
    changes.sort_by_key(|c| c.0);
    assert_eq!(
        changes,
        [
            (-4, Value::Null),
            (-3, Value::Null),
            (5, json!(4_102_444_800_000i64))
        ]
    );
}
on_both_backends!(purchase_completed_event, purchase_events);

/// An endpoint that fails for the whole disable window (five days, scaled down to about 4 s
/// here) while events keep coming is turned off with its reason; turned on again, the reason
/// goes and deliveries resume.
async fn disabling(backend: Backend) {
    let env = [("PORTCULLIS_WEBHOOK_RETRY_SCALE", "0.00001")];
    let app = TestServer::start_with(backend, loopback_allowed(&env)).await;
    let port = free_port();
    let created = endpoint(&app, &format!("http://127.0.0.1:{port}/hooks"), json!({})).await;
    let id = created["id"].as_str().unwrap();
    // Nothing listens on the port: every attempt fails.
    let started = Instant::now();
    let mut n = 0;
    let disabled = loop {
        app.create_user(&format!("failing{n}@example.com")).await;
        n += 1;
        let listed = app
            .admin()
            .get("/internal/webhooks/endpoints")
            .send()
            .await
            .expect(200);
        if listed["items"][0]["enabled"] == false {
            break listed["items"][0].clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "never disabled: {listed}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "disabled too early"
    );
    assert_eq!(
        disabled["disabled_reason"],
        "Disabled after failing for five days."
    );
    let receiver = Receiver::start(created["secret"].as_str().unwrap(), port, 0);
    let enabled = app
        .admin()
        .patch(&format!("/internal/webhooks/endpoints/{id}"))
        .json(json!({ "enabled": true }))
        .send()
        .await
        .expect(200);
    assert_eq!(enabled["disabled_reason"], Value::Null);
    app.create_user("after@example.com").await;
    receiver
        .wait_until("deliveries again", |g| {
            g.iter()
                .any(|r| r["payload"]["data"]["primary_email"] == "after@example.com")
        })
        .await;
}
on_both_backends!(failing_endpoint_disabled_and_enabled_again, disabling);

/// The code text of the element `id` in a page.
fn code_text(html: &str, id: &str) -> String {
    let needle = format!("id=\"{id}\">");
    let at = html
        .find(&needle)
        .unwrap_or_else(|| panic!("{id} in {html}"))
        + needle.len();
    html[at..].split('<').next().unwrap().trim().to_string()
}

/// A dashboard project's admins are emailed (through the instance's sender) when one of its
/// endpoints is disabled.
async fn admins_told(backend: Backend) {
    let sink = SmtpSink::start(None);
    let smtp = sink.url();
    let env = [
        ("PORTCULLIS_WEBHOOK_RETRY_SCALE", "0.00001"),
        ("PORTCULLIS_SMTP_URL", smtp.as_str()),
    ];
    let app = TestServer::start_with(backend, loopback_allowed(&env)).await;
    // The first admin, and a project of theirs, made in the dashboard.
    let http = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let setup = app.setup_link();
    let code = setup.split("code=").nth(1).unwrap().to_string();
    let base = setup.split("/dashboard").next().unwrap().to_string();
    http.post(format!("{base}/dashboard/setup"))
        .form(&[
            ("code", code.as_str()),
            ("email", "owner@example.com"),
            ("password", "owner-password-1"),
        ])
        .send()
        .await
        .unwrap();
    let home = http
        .get(format!("{base}/dashboard"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = home
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let created = http
        .post(format!("{base}/dashboard/projects"))
        .form(&[("csrf", csrf.as_str()), ("display_name", "Hooked")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let secret = code_text(&created, "secret-key");
    let admin_key = code_text(&created, "admin-key");
    let project_id = created
        .split("Project ID")
        .nth(1)
        .and_then(|rest| rest.split("<code>").nth(1))
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_string();
    let api = |path: &str, access: &str| {
        reqwest::Client::new()
            .post(format!("{}/api/v1{path}", app.base))
            .header("x-stack-project-id", &project_id)
            .header("x-stack-access-type", access)
            .header("x-stack-secret-server-key", &secret)
            .header("x-stack-super-secret-admin-key", &admin_key)
    };
    let port = free_port();
    let res = api("/internal/webhooks/endpoints", "admin")
        .json(&json!({ "url": format!("http://127.0.0.1:{port}/hooks") }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let started = Instant::now();
    let mut n = 0;
    let mail = loop {
        let user = api("/users", "server")
            .json(&json!({ "primary_email": format!("u{n}@example.com") }))
            .send()
            .await
            .unwrap();
        assert_eq!(user.status(), 201);
        n += 1;
        let told: Vec<Value> = sink
            .messages()
            .into_iter()
            .filter(|m| {
                m["to"]
                    .as_str()
                    .is_some_and(|t| t.contains("owner@example.com"))
            })
            .collect();
        if let Some(m) = told.first() {
            break m.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no email to the admin"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(mail["subject"], "Webhook endpoint disabled in Hooked");
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains(&format!("http://127.0.0.1:{port}/hooks")));
}
on_both_backends!(admins_told_when_an_endpoint_is_disabled, admins_told);
