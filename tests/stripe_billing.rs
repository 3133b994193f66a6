//! A Stripe subscription's life after checkout, against localstripe: renewals (items once per
//! paid cycle, none on proration invoices), dunning (three failed payments suspend, a payment
//! restores), a webhook whose handler fails midway and is retried, plan switch, cancel and
//! reactivate, card change, Stripe's own cancel, invoices, and refunds.
//!
//! localstripe bills no cycles and sends no `billing_reason`, so renewals and failed payments
//! are Stripe's events for the real subscription, signed here with the project's secret.

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const WEBHOOK_SECRET: &str = "whsec_portcullis_billing_secret";

/// Delivers a signed event; returns the status.
async fn deliver(app: &TestServer, id: &str, kind: &str, object: Value) -> u16 {
    let event = json!({ "id": id, "type": kind, "data": { "object": object } });
    let body = event.to_string();
    reqwest::Client::new()
        .post(format!(
            "{}/api/v1/integrations/stripe/webhooks?project_id={}",
            app.base, app.project_id
        ))
        .header(
            "stripe-signature",
            stripe_signature(&body, WEBHOOK_SECRET, now_secs()),
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// An invoice of `subscription` as Stripe sends it.
fn invoice(id: &str, subscription: &str, customer: &str, reason: &str, total: i64) -> Value {
    json!({
        "id": id, "object": "invoice", "subscription": subscription, "customer": customer,
        "billing_reason": reason, "total": total, "status": "paid", "created": now_secs(),
        "hosted_invoice_url": format!("https://invoice.stripe.test/{id}"),
        "lines": { "data": [{ "period": { "start": now_secs(), "end": now_secs() + 30 * 86400 } }] },
    })
}

async fn credits(app: &TestServer, uid: &str) -> i64 {
    app.server()
        .get(&format!("/payments/items/user/{uid}/credits"))
        .send()
        .await
        .expect(200)["quantity"]
        .as_i64()
        .unwrap()
}

async fn products(app: &TestServer, uid: &str) -> Vec<Value> {
    app.server()
        .get(&format!("/payments/products/user/{uid}"))
        .send()
        .await
        .expect(200)["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn billing(app: &TestServer, user: &str, uid: &str) -> Value {
    app.client()
        .get(&format!("/payments/billing/user/{uid}"))
        .header("x-stack-access-token", user)
        .send()
        .await
        .expect(200)
}

/// Buys `product` at `price` through the checkout with a test card; returns the charge answer.
async fn buy(
    app: &TestServer,
    stripe: &Localstripe,
    uid: &str,
    product: &str,
    price: &str,
    quantity: i64,
) -> Value {
    let url = app
        .server()
        .post("/payments/purchases/create-purchase-url")
        .json(json!({ "customer_type": "user", "customer_id": uid, "product_id": product }))
        .send()
        .await
        .expect(200)["url"]
        .as_str()
        .unwrap()
        .to_string();
    let code = url.trim_end_matches('/').rsplit('/').next().unwrap();
    let body = json!({ "full_code": code, "price_id": price, "quantity": quantity });
    let session = app
        .client()
        .post("/payments/purchases/purchase-session")
        .json(body.clone())
        .send()
        .await
        .expect(200);
    let secret = session["client_secret"].as_str().unwrap();
    stripe.confirm_card(secret, "4242424242424242").await;
    let mut body = body;
    body["client_secret"] = json!(secret);
    app.client()
        .post("/payments/purchases/purchase-session/charge")
        .json(body)
        .send()
        .await
        .expect(200)
}

/// Makes every UPDATE of a purchase fail (`on`), as a database fault in the middle of a handler.
fn fail_purchase_updates(app: &TestServer, on: bool) {
    let sql = match (app.database_url.starts_with("postgres"), on) {
        (true, true) => "CREATE FUNCTION fail_midway() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER fail_midway BEFORE UPDATE ON purchases FOR EACH ROW EXECUTE FUNCTION fail_midway();",
        (true, false) => "DROP TRIGGER fail_midway ON purchases; DROP FUNCTION fail_midway();",
        (false, true) => "CREATE TRIGGER fail_midway BEFORE UPDATE ON purchases BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        (false, false) => "DROP TRIGGER fail_midway;",
    };
    db_query_text(&app.database_url, sql);
}

async fn subscription_lifecycle(backend: Backend) {
    let stripe = Localstripe::start().await;
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![
                ("PORTCULLIS_STRIPE_API_BASE".into(), stripe.url.clone()),
                ("PORTCULLIS_WEBHOOKS_ALLOW_LOOPBACK".into(), "true".into()),
            ],
        },
    )
    .await;
    // Our own payment webhooks, collected along the way.
    let hooks = payment_hooks(&app).await;
    let plan = |name: &str, usd: &str, credits: i64| {
        json!({
            "displayName": name, "customerType": "user", "productLineId": "plans",
            "prices": { "monthly": { "USD": usd, "interval": [1, "month"] } },
            "includedItems": { "credits": { "quantity": credits, "repeat": [1, "month"], "expires": "never" } }
        })
    };
    app.override_config(json!({
            "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
            "payments.productLines.plans": { "displayName": "Plans", "customerType": "user" },
            "payments.products.basic": plan("Basic", "10", 100),
            "payments.products.pro": plan("Pro", "25", 1000),
            "payments.products.pack": {
                "displayName": "Pack", "customerType": "user", "stackable": true,
                "prices": { "once": { "USD": "5" } },
                "includedItems": { "credits": { "quantity": 50, "expires": "never" } }
            },
            "payments.products.trial": {
                "displayName": "Trial", "customerType": "user",
                "prices": { "monthly": { "USD": "9", "interval": [1, "month"], "freeTrial": [1, "week"] } }
            }
        })).await;
    stripe.connect(&app, WEBHOOK_SECRET).await;
    let session = app
        .sign_up("subscriber@example.com", "a-long-passphrase")
        .await;
    let signed_in = session["access_token"].as_str().unwrap().to_string();
    let user_id = session["user_id"].as_str().unwrap().to_string();
    let uid = user_id.as_str();
    let app_ = &app;

    // Billing before any purchase: no Stripe customer.
    let before = billing(&app, &signed_in, uid).await;
    assert_eq!(before["has_customer"], false, "{before}");

    // Subscribe to Basic; granted on the first invoice's webhook.
    let subscribed = buy(&app, &stripe, uid, "basic", "monthly", 1).await;
    let sub = subscribed["subscription_id"].as_str().unwrap().to_string();
    stripe
        .wait_for("the subscription's grant", &app, || async move {
            credits(app_, uid).await == 100
        })
        .await;
    let customer = stripe
        .call(Method::GET, &format!("/v1/subscriptions/{sub}"), &[])
        .await["customer"]
        .as_str()
        .unwrap()
        .to_string();
    let invoices = app
        .client()
        .get(&format!("/payments/invoices/user/{uid}"))
        .header("x-stack-access-token", &signed_in)
        .send()
        .await
        .expect(200);
    assert_eq!(invoices["items"].as_array().unwrap().len(), 1, "{invoices}");
    assert_eq!(invoices["items"][0]["status"], "paid");
    assert_eq!(invoices["items"][0]["amount_total"], 1000);

    // A paid renewal grants the included items once, whichever of Stripe's two events for the
    // invoice arrives, however often.
    let renewal = invoice("in_cycle_1", &sub, &customer, "subscription_cycle", 1000);
    assert_eq!(
        deliver(&app, "evt_r1", "invoice.paid", renewal.clone()).await,
        200
    );
    assert_eq!(credits(&app, uid).await, 200);
    assert_eq!(
        deliver(&app, "evt_r1", "invoice.paid", renewal.clone()).await,
        200
    );
    assert_eq!(
        deliver(&app, "evt_r1b", "invoice.payment_succeeded", renewal).await,
        200
    );
    assert_eq!(credits(&app, uid).await, 200);
    // A proration invoice is paid for, but renews nothing.
    let proration = invoice("in_prorate", &sub, &customer, "subscription_update", 300);
    assert_eq!(deliver(&app, "evt_p", "invoice.paid", proration).await, 200);
    assert_eq!(credits(&app, uid).await, 200);
    // A renewal whose Stripe customer is not ours is refused, and writes nothing.
    let foreign = invoice(
        "in_foreign",
        &sub,
        "cus_someoneelse",
        "subscription_cycle",
        1000,
    );
    assert_eq!(deliver(&app, "evt_f", "invoice.paid", foreign).await, 400);
    assert_eq!(credits(&app, uid).await, 200);

    // Dunning: the third failed payment in a row suspends; then nothing more can be bought.
    for n in 1..=3 {
        let mut failed = invoice("in_cycle_2", &sub, &customer, "subscription_cycle", 1000);
        failed["status"] = json!("open");
        assert_eq!(
            deliver(
                &app,
                &format!("evt_fail{n}"),
                "invoice.payment_failed",
                failed
            )
            .await,
            200
        );
        let state = billing(&app, &signed_in, uid).await;
        assert_eq!(state["subscriptions"][0]["suspended"], n == 3, "{state}");
    }
    let url = app
        .server()
        .post("/payments/purchases/create-purchase-url")
        .json(json!({ "customer_type": "user", "customer_id": uid, "product_id": "pack" }))
        .send()
        .await
        .expect(200)["url"]
        .as_str()
        .unwrap()
        .to_string();
    let code = url.rsplit('/').next().unwrap();
    app.client()
        .post("/payments/purchases/purchase-session")
        .json(json!({ "full_code": code, "price_id": "once" }))
        .send()
        .await
        .expect_text(402, "suspended");
    assert_eq!(credits(&app, uid).await, 200);

    // The handler fails midway (the database refuses the purchase's update after the event's
    // mark and the invoice are written): nothing stays, and Stripe's retry applies it once.
    fail_purchase_updates(&app, true);
    let paid = invoice("in_cycle_2", &sub, &customer, "subscription_cycle", 1000);
    assert_eq!(
        deliver(&app, "evt_paid2", "invoice.paid", paid.clone()).await,
        500
    );
    let marks = db_query_text(
        &app.database_url,
        "SELECT COUNT(*) FROM stripe_events WHERE id = 'evt_paid2'",
    );
    assert_eq!(marks.trim(), "0");
    assert_eq!(credits(&app, uid).await, 200);
    fail_purchase_updates(&app, false);
    for _ in 0..2 {
        assert_eq!(
            deliver(&app, "evt_paid2", "invoice.paid", paid.clone()).await,
            200
        );
    }
    assert_eq!(credits(&app, uid).await, 300);
    let state = billing(&app, &signed_in, uid).await;
    assert_eq!(state["subscriptions"][0]["suspended"], false, "{state}");
    assert_eq!(state["subscriptions"][0]["failed_payments"], 0);
    // A failure reported after the invoice was paid (out of order) counts for nothing.
    let mut late = invoice("in_cycle_2", &sub, &customer, "subscription_cycle", 1000);
    late["status"] = json!("open");
    assert_eq!(
        deliver(&app, "evt_late", "invoice.payment_failed", late).await,
        200
    );
    assert_eq!(
        billing(&app, &signed_in, uid).await["subscriptions"][0]["failed_payments"],
        0
    );

    // Switch Basic → Pro: at Stripe (prorated there) and here at once.
    app.client()
        .post(&format!("/payments/products/user/{uid}/switch"))
        .header("x-stack-access-token", &signed_in)
        .json(json!({ "from_product_id": "basic", "to_product_id": "pro" }))
        .send()
        .await
        .expect(200);
    let owned = products(&app, uid).await;
    assert_eq!(owned.len(), 1, "{owned:?}");
    assert_eq!(owned[0]["id"], "pro");
    let at_stripe = stripe
        .call(Method::GET, &format!("/v1/subscriptions/{sub}"), &[])
        .await;
    assert_eq!(at_stripe["plan"]["amount"], 2500, "{at_stripe}");

    // Cancel at the period's end, then reactivate before it: at Stripe and here.
    app.client()
        .delete(&format!("/payments/products/user/{uid}/pro"))
        .header("x-stack-access-token", &signed_in)
        .send()
        .await
        .expect(200);
    let owned = products(&app, uid).await;
    assert_eq!(owned[0]["subscription"]["cancel_at_period_end"], true);
    let at_stripe = stripe
        .call(Method::GET, &format!("/v1/subscriptions/{sub}"), &[])
        .await;
    assert_eq!(at_stripe["cancel_at_period_end"], true);
    assert_eq!(
        billing(&app, &signed_in, uid).await["subscriptions"][0]["cancel_at_period_end"],
        true
    );
    app.client()
        .post(&format!("/payments/products/user/{uid}/pro/reactivate"))
        .header("x-stack-access-token", &signed_in)
        .send()
        .await
        .expect(200);
    let at_stripe = stripe
        .call(Method::GET, &format!("/v1/subscriptions/{sub}"), &[])
        .await;
    assert_eq!(at_stripe["cancel_at_period_end"], false);
    assert_eq!(
        products(&app, uid).await[0]["subscription"]["cancel_at_period_end"],
        false
    );
    app.client()
        .post(&format!("/payments/products/user/{uid}/pro/reactivate"))
        .header("x-stack-access-token", &signed_in)
        .send()
        .await
        .expect_text(400, "scheduled to cancel");

    // Card change in place: a SetupIntent confirmed on the page, then made the default.
    let setup = app
        .client()
        .post(&format!("/payments/payment-method/user/{uid}/setup-intent"))
        .header("x-stack-access-token", &signed_in)
        .json(json!({}))
        .send()
        .await
        .expect(200);
    let secret = setup["client_secret"].as_str().unwrap();
    let setup_id = secret.split("_secret_").next().unwrap();
    let set_default = |id: String| {
        app.client()
            .post(&format!("/payments/payment-method/user/{uid}/set-default"))
            .header("x-stack-access-token", &signed_in)
            .json(json!({ "setup_intent_id": id }))
            .send()
    };
    set_default(setup_id.to_string())
        .await
        .expect_text(400, "Setup intent has not succeeded.");
    set_default("seti_notours".into())
        .await
        .expect_text(403, "does not belong to this customer");
    stripe.confirm_card(secret, "5555555555554444").await;
    let changed = set_default(setup_id.to_string()).await.expect(200);
    assert_eq!(
        changed["default_payment_method"]["last4"], "4444",
        "{changed}"
    );
    let state = billing(&app, &signed_in, uid).await;
    assert_eq!(state["has_customer"], true);
    assert_eq!(state["default_payment_method"]["last4"], "4444", "{state}");
    // Another user may not see or change this customer's billing.
    let other = app
        .sign_up("someone@example.com", "a-long-passphrase")
        .await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.client()
        .get(&format!("/payments/billing/user/{uid}"))
        .header("x-stack-access-token", &other)
        .send()
        .await
        .expect_text(403, "Clients can only manage their own billing.");

    // Stripe cancels the subscription itself (its dashboard, or the end of a scheduled cancel):
    // the product goes; an older `updated` event arriving after it changes nothing.
    let stale = stripe
        .call(Method::GET, &format!("/v1/subscriptions/{sub}"), &[])
        .await;
    stripe
        .call(Method::DELETE, &format!("/v1/subscriptions/{sub}"), &[])
        .await;
    stripe
        .wait_for("Stripe's cancel", &app, || async move {
            products(app_, uid).await.is_empty()
        })
        .await;
    assert_eq!(
        deliver(&app, "evt_stale", "customer.subscription.updated", stale).await,
        200
    );
    assert!(products(&app, uid).await.is_empty());

    // Refunds through Stripe: a one-time pack, partly.
    let pack = buy(&app, &stripe, uid, "pack", "once", 2).await;
    let intent = pack["payment_intent_id"].as_str().unwrap().to_string();
    stripe
        .wait_for("the pack's grant", &app, || async move {
            products(app_, uid).await.iter().any(|p| p["id"] == "pack")
        })
        .await;
    let txns = app
        .admin()
        .get("/internal/payments/transactions?type=purchase")
        .send()
        .await
        .expect(200);
    let find = |key: &str| {
        txns["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["entries"][0][key].is_string())
            .unwrap()
            .clone()
    };
    let pack_txn = find("one_time_purchase_id");
    assert_eq!(
        pack_txn["entries"][1]["type"], "money_transfer",
        "{pack_txn}"
    );
    assert_eq!(pack_txn["entries"][1]["charged_amount"]["USD"], "10");
    let refund = |kind: &str, id: &Value, entries: Value| {
        app.admin()
            .post("/internal/payments/transactions/refund")
            .json(json!({ "type": kind, "id": id, "refund_entries": entries }))
            .send()
    };
    let pack_id = &pack_txn["id"];
    refund(
        "one-time-purchase",
        pack_id,
        json!([{ "entry_index": 0, "quantity": 1, "amount_usd": "10.01" }]),
    )
    .await
    .expect_error(400, "SCHEMA_ERROR");
    refund(
        "one-time-purchase",
        pack_id,
        json!([{ "entry_index": 1, "quantity": 1, "amount_usd": "1" }]),
    )
    .await
    .expect_error(400, "SCHEMA_ERROR");
    refund(
        "one-time-purchase",
        pack_id,
        json!([{ "entry_index": 0, "quantity": 1, "amount_usd": "4.50" }]),
    )
    .await
    .expect(200);
    let refunds = stripe
        .call(
            Method::GET,
            &format!("/v1/refunds?payment_intent={intent}"),
            &[],
        )
        .await;
    assert_eq!(refunds["data"][0]["amount"], 450, "{refunds}");
    let owned = products(&app, uid).await;
    assert_eq!(owned[0]["quantity"], 1, "{owned:?}");
    refund(
        "one-time-purchase",
        pack_id,
        json!([{ "entry_index": 0, "quantity": 1, "amount_usd": "1" }]),
    )
    .await
    .expect_error(400, "ONE_TIME_PURCHASE_ALREADY_REFUNDED");
    // And the subscription, on its first invoice's payment.
    let sub_txn = find("subscription_id");
    refund(
        "subscription",
        &sub_txn["id"],
        json!([{ "entry_index": 0, "quantity": 1, "amount_usd": "10" }]),
    )
    .await
    .expect(200);
    let txns = app
        .admin()
        .get("/internal/payments/transactions?type=purchase")
        .send()
        .await
        .expect(200);
    let refunded = txns["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| !t["adjusted_by"].as_array().unwrap().is_empty())
        .count();
    assert_eq!(refunded, 2, "{txns}");

    // The payment emails, queued with their events (so the retried renewal sent one receipt):
    // receipts for the checkout, two paid renewals and the pack; three failed payments (the
    // stale one sent none); the scheduled cancel and Stripe's cancel.
    let outbox = app
        .server()
        .get("/emails/outbox?limit=100")
        .send()
        .await
        .expect(200);
    let subjects: Vec<String> = outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["subject"].as_str().unwrap().to_string())
        .collect();
    let count = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).count();
    assert_eq!(count("Your receipt from"), 4, "{subjects:?}");
    assert_eq!(count("Payment failed for"), 3, "{subjects:?}");
    assert_eq!(count("Your Pro subscription"), 2, "{subjects:?}");
    let ends = outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["subject"]
                .as_str()
                .unwrap()
                .starts_with("Your Pro subscription")
        })
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    assert!(
        ends.iter().any(|t| t.contains("stays active until")),
        "{ends:?}"
    );
    assert!(ends.iter().any(|t| t.contains("It has ended.")), "{ends:?}");

    // A refund made in Stripe's dashboard (`charge.refunded`): a full one revokes the purchase;
    // one whose Stripe customer is not the checkout's is refused.
    let pack_units = |owned: &[Value]| {
        owned
            .iter()
            .find(|p| p["id"] == "pack")
            .map_or(0, |p| p["quantity"].as_i64().unwrap())
    };
    let second = buy(&app, &stripe, uid, "pack", "once", 1).await;
    let intent = second["payment_intent_id"].as_str().unwrap().to_string();
    stripe
        .wait_for("the second pack's grant", &app, || async move {
            pack_units(&products(app_, uid).await) == 2
        })
        .await;
    let charge = |customer: &str| {
        json!({ "id": "ch_dashboard", "object": "charge", "payment_intent": intent,
            "customer": customer, "refunded": true, "amount_refunded": 500 })
    };
    assert_eq!(
        deliver(
            &app,
            "evt_ch_foreign",
            "charge.refunded",
            charge("cus_someoneelse")
        )
        .await,
        400
    );
    assert_eq!(pack_units(&products(&app, uid).await), 2);
    assert_eq!(
        deliver(&app, "evt_ch", "charge.refunded", charge(&customer)).await,
        200
    );
    assert_eq!(pack_units(&products(&app, uid).await), 1);

    // A free trial: Stripe bills nothing for a week, and its first (zero) invoice, paid at once,
    // grants the product. (localstripe issues no invoice during a trial; Stripe does, and this
    // is the event it sends.)
    let trial = buy(&app, &stripe, uid, "trial", "monthly", 1).await;
    let trial_sub = trial["subscription_id"].as_str().unwrap().to_string();
    let at_stripe = stripe
        .call(Method::GET, &format!("/v1/subscriptions/{trial_sub}"), &[])
        .await;
    assert_eq!(at_stripe["trial_period_days"], 7, "{at_stripe}");
    assert!(!products(&app, uid).await.iter().any(|p| p["id"] == "trial"));
    let first = invoice("in_trial", &trial_sub, &customer, "subscription_create", 0);
    assert_eq!(deliver(&app, "evt_trial", "invoice.paid", first).await, 200);
    assert!(products(&app, uid).await.iter().any(|p| p["id"] == "trial"));

    // Our payment webhooks said what happened: purchases, the paid renewals, the cancel.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let types = |got: &[Value]| -> Vec<String> {
        got.iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    loop {
        let got = hooks.lock().unwrap().clone();
        let t = types(&got);
        let bought: Vec<&str> = got
            .iter()
            .filter(|e| e["type"] == "payment.purchase_completed")
            .filter_map(|e| e["data"]["product_id"].as_str())
            .collect();
        let all_kinds = [
            "payment.subscription_renewed",
            "payment.subscription_canceled",
        ]
        .iter()
        .all(|k| t.iter().any(|x| x == k));
        if all_kinds
            && ["basic", "pack", "trial"]
                .iter()
                .all(|p| bought.contains(p))
        {
            let renewed: Vec<&Value> = got
                .iter()
                .filter(|e| e["type"] == "payment.subscription_renewed")
                .collect();
            assert!(
                renewed.iter().all(
                    |e| e["data"]["customer_id"] == uid && e["data"]["purchase_id"].is_string()
                ),
                "{renewed:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "payment webhooks: {t:?} {bought:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
on_both_backends!(subscription_lifecycle, subscription_lifecycle);

/// A receiver in this process for the project's `payment.*` webhooks; answers their bodies.
async fn payment_hooks(app: &TestServer) -> std::sync::Arc<std::sync::Mutex<Vec<Value>>> {
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = got.clone();
    let receiver = axum::Router::new().route(
        "/hooks",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                sink.lock()
                    .unwrap()
                    .push(serde_json::from_str::<Value>(&body).unwrap_or(Value::Null));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    app.admin()
        .post("/internal/webhooks/endpoints")
        .json(json!({ "url": url, "event_types": [
            "payment.purchase_completed", "payment.subscription_renewed", "payment.subscription_canceled"
        ] }))
        .send()
        .await
        .expect(201);
    got
}

/// The dashboard's Stripe settings: the webhook URL to paste, keys checked with Stripe and
/// stored, never shown back.
async fn dashboard_stripe_settings(backend: Backend) {
    let (_stripe, app) = TestServer::start_with_stripe(backend).await;
    app.anon()
        .header("x-stack-project-id", "internal")
        .header("x-stack-access-type", "server")
        .header("x-stack-secret-server-key", INTERNAL_SSK)
        .post("/users")
        .json(json!({ "primary_email": "owner@example.com", "primary_email_auth_enabled": true, "password": "password123" }))
        .send()
        .await
        .expect(201);
    let (http, cookie) = app
        .dashboard_sign_in("owner@example.com", "password123")
        .await;
    let page = |path: String| {
        http.get(format!("{}{path}", app.base))
            .header("cookie", &cookie)
            .send()
    };
    let csrf_of = |html: &str| {
        let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
        html[at..].split('"').next().unwrap().to_string()
    };
    let home = page("/dashboard".into())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let created = http
        .post(format!("{}/dashboard/projects", app.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf_of(&home).as_str()), ("display_name", "Shop")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = created.find("Project ID").expect("the new project's keys") + 10;
    let pid = created[at..]
        .split("<code>")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_string();
    let settings = format!("/dashboard/projects/{pid}/payments/stripe");
    let before = page(settings.clone()).await.unwrap().text().await.unwrap();
    assert!(before.contains("Not connected"), "{before}");
    let webhook = format!("/api/v1/integrations/stripe/webhooks?project_id={pid}");
    assert!(before.contains(&webhook), "{before}");
    let post = |fields: Vec<(&'static str, String)>| {
        http.post(format!("{}{settings}", app.base))
            .header("cookie", &cookie)
            .form(&fields)
            .send()
    };
    let csrf = csrf_of(&before);
    let refused = post(vec![
        ("csrf", csrf.clone()),
        ("secret_key", "pk_test_not_a_secret".into()),
        ("webhook_secret", "whsec_dashboard_secret".into()),
        ("publishable_key", String::new()),
    ])
    .await
    .unwrap();
    assert_eq!(refused.status().as_u16(), 400);
    assert!(refused.text().await.unwrap().contains("secret key"));
    let saved = post(vec![
        ("csrf", csrf),
        ("secret_key", "sk_test_dashboard_key".into()),
        ("webhook_secret", "whsec_dashboard_secret".into()),
        ("publishable_key", "pk_test_dashboard".into()),
    ])
    .await
    .unwrap();
    assert_eq!(saved.status().as_u16(), 303);
    let after = page(settings).await.unwrap().text().await.unwrap();
    assert!(after.contains("Connected to"), "{after}");
    assert!(after.contains("pk_test_dashboard"));
    assert!(!after.contains("sk_test_dashboard_key") && !after.contains("whsec_dashboard_secret"));
}
on_both_backends!(dashboard_stripe_settings, dashboard_stripe_settings);
