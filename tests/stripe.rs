//! Payments on Stripe against localstripe (a stateful fake of Stripe's API that signs its
//! webhooks like Stripe): connecting the project's account, a paid one-time checkout granted only
//! when Stripe's signed webhook confirms the payment, and the webhook's defences (bad and stale
//! signatures, duplicates, a payment whose Stripe customer is not the checkout's).

mod common;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const WEBHOOK_SECRET: &str = "whsec_portcullis_test_secret";

async fn deliver(app: &TestServer, event: &Value, signature: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!(
            "{}/api/v1/integrations/stripe/webhooks?project_id={}",
            app.base, app.project_id
        ))
        .header("stripe-signature", signature)
        .header("content-type", "application/json")
        .body(event.to_string())
        .send()
        .await
        .unwrap()
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

async fn purchase_code(app: &TestServer, uid: &str, product: &str) -> String {
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
    // `…/purchase/<project_id>_<code>`: the full code.
    url.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_string()
}

async fn paid_checkout(backend: Backend) {
    let (stripe, app) = TestServer::start_with_stripe(backend).await;
    app.override_config(json!({
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.products.credit-pack": {
            "displayName": "Credit pack", "customerType": "user", "stackable": true,
            "prices": { "once": { "USD": "5" } },
            "includedItems": { "credits": { "quantity": 50, "expires": "never" } }
        },
        "payments.products.pro": {
            "displayName": "Pro", "customerType": "user",
            "prices": { "monthly": { "USD": "25", "interval": [1, "month"] } }
        }
    }))
    .await;
    let uid = app.create_user("buyer@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Not connected yet.
    app.admin()
        .get("/internal/payments/stripe/account-info")
        .send()
        .await
        .expect_error(404, "STRIPE_ACCOUNT_INFO_NOT_FOUND");
    let full_code = purchase_code(&app, &uid, "credit-pack").await;
    app.client()
        .post("/payments/purchases/purchase-session")
        .json(json!({ "full_code": full_code, "price_id": "once" }))
        .send()
        .await
        .expect_text(400, "Payments are not set up");

    // Connecting: an empty body answers where to do it; keys are checked and stored sealed.
    let setup = app
        .admin()
        .post("/internal/payments/setup")
        .send()
        .await
        .expect(200);
    assert!(
        setup["url"].as_str().unwrap().ends_with("/payments"),
        "{setup}"
    );
    app.admin()
        .post("/internal/payments/setup")
        .json(json!({ "stripe_secret_key": "pk_test_wrong", "stripe_webhook_secret": WEBHOOK_SECRET }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .post("/internal/payments/setup")
        .json(json!({}))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    let connected = app
        .admin()
        .post("/internal/payments/setup")
        .json(json!({ "stripe_secret_key": "sk_test_portcullis", "stripe_webhook_secret": WEBHOOK_SECRET }))
        .send()
        .await
        .expect(200);
    assert_eq!(connected["charges_enabled"], true);
    let info = app
        .admin()
        .get("/internal/payments/stripe/account-info")
        .send()
        .await
        .expect(200);
    assert_eq!(info["account_id"], connected["account_id"]);
    let stored = db_query_text(
        &app.database_url,
        "SELECT secret_key_sealed, webhook_secret_sealed FROM stripe_accounts",
    );
    assert!(
        !stored.contains("sk_test_portcullis") && !stored.contains(WEBHOOK_SECRET),
        "{stored}"
    );
    stripe
        .register_webhook(
            &format!(
                "{}/api/v1/integrations/stripe/webhooks?project_id={}",
                app.base, app.project_id
            ),
            WEBHOOK_SECRET,
        )
        .await;

    // The paid checkout: a SetupIntent for the card, confirmed by "the browser" with Stripe.
    let session = app
        .client()
        .post("/payments/purchases/purchase-session")
        .json(json!({ "full_code": full_code, "price_id": "once" }))
        .send()
        .await
        .expect(200);
    let client_secret = session["client_secret"].as_str().unwrap().to_string();
    assert!(client_secret.starts_with("seti_"), "{session}");
    let charge = |secret: String| {
        app.client()
            .post("/payments/purchases/purchase-session/charge")
            .json(json!({ "full_code": full_code, "price_id": "once", "client_secret": secret }))
            .send()
    };
    // The browser's word is not enough: the card is not set up yet.
    charge(client_secret.clone())
        .await
        .expect_text(400, "not been set up");
    // A SetupIntent Stripe does not have is not this purchase's.
    charge("seti_madeup_secret_x".into())
        .await
        .expect_text(400, "does not belong to this purchase");
    stripe
        .confirm_card(&client_secret, "4242424242424242")
        .await;
    assert_eq!(credits(&app, &uid).await, 0);
    let charged = charge(client_secret.clone()).await.expect(200);
    let payment_id = charged["payment_intent_id"].as_str().unwrap().to_string();
    assert_eq!(charged["status"], "succeeded");
    // Granted when Stripe's webhook arrives (localstripe sends it a second after the charge).
    let (app_, uid_) = (&app, uid.as_str());
    stripe
        .wait_for("the pack's grant", &app, || async move {
            credits(app_, uid_).await != 0
        })
        .await;
    assert_eq!(credits(&app, &uid).await, 50);
    // The code paid once.
    charge(client_secret.clone())
        .await
        .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");

    // The same event again (a retry or a replay with a fresh signature): applied once.
    let event = json!({
        "id": "evt_replayed", "type": "payment_intent.succeeded",
        "data": { "object": stripe.call(Method::GET, &format!("/v1/payment_intents/{payment_id}"), &[]).await },
    });
    for _ in 0..2 {
        let res = deliver(
            &app,
            &event,
            &stripe_signature(&event.to_string(), WEBHOOK_SECRET, now_secs()),
        )
        .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    assert_eq!(credits(&app, &uid).await, 50);

    // A second checkout, paid; its webhook forged or tampered with first.
    let full_code = purchase_code(&app, &uid, "credit-pack").await;
    let session = app
        .client()
        .post("/payments/purchases/purchase-session")
        .json(json!({ "full_code": full_code, "price_id": "once", "quantity": 2 }))
        .send()
        .await
        .expect(200);
    let secret = session["client_secret"].as_str().unwrap().to_string();
    stripe.confirm_card(&secret, "4242424242424242").await;
    let charged = app
        .client()
        .post("/payments/purchases/purchase-session/charge")
        .json(json!({ "full_code": full_code, "price_id": "once", "quantity": 2, "client_secret": secret }))
        .send()
        .await
        .expect(200);
    let intent = stripe
        .call(
            Method::GET,
            &format!(
                "/v1/payment_intents/{}",
                charged["payment_intent_id"].as_str().unwrap()
            ),
            &[],
        )
        .await;
    assert_eq!(intent["amount"], 1000);
    let mut forged = json!({ "id": "evt_forged", "type": "payment_intent.succeeded", "data": { "object": intent } });
    let body = forged.to_string();
    for signature in [
        stripe_signature(&body, "whsec_someone_else", now_secs()),
        stripe_signature(&body, WEBHOOK_SECRET, now_secs() - 600),
        "t=1,v1=00".to_string(),
        String::new(),
    ] {
        let res = deliver(&app, &forged, &signature).await;
        assert_eq!(res.status(), 400);
    }
    // Signed, but the payment's Stripe customer is not the checkout's: refused, nothing written
    // (not even the event's mark, so the genuine event still applies).
    forged["data"]["object"]["customer"] = json!("cus_someoneelse");
    let res = deliver(
        &app,
        &forged,
        &stripe_signature(&forged.to_string(), WEBHOOK_SECRET, now_secs()),
    )
    .await;
    assert_eq!(res.status(), 400);
    let marks = db_query_text(
        &app.database_url,
        "SELECT COUNT(*) FROM stripe_events WHERE id = 'evt_forged'",
    );
    assert_eq!(marks.trim(), "0");
    stripe
        .wait_for("the second pack's grant", &app, || async move {
            credits(app_, uid_).await != 50
        })
        .await;
    assert_eq!(credits(&app, &uid).await, 150);

    // A subscription: the card set up at checkout pays the first invoice (and the renewals);
    // the plan is granted when Stripe's invoice webhook arrives.
    let pro = purchase_code(&app, &uid, "pro").await;
    let session = app
        .client()
        .post("/payments/purchases/purchase-session")
        .json(json!({ "full_code": pro, "price_id": "monthly" }))
        .send()
        .await
        .expect(200);
    // The pack's SetupIntent (same customer, succeeded) is not this purchase's.
    app.client()
        .post("/payments/purchases/purchase-session/charge")
        .json(json!({ "full_code": pro, "price_id": "monthly", "client_secret": secret }))
        .send()
        .await
        .expect_text(400, "does not belong to this purchase");
    let secret = session["client_secret"].as_str().unwrap().to_string();
    stripe.confirm_card(&secret, "4242424242424242").await;
    let subscribed = app
        .client()
        .post("/payments/purchases/purchase-session/charge")
        .json(json!({ "full_code": pro, "price_id": "monthly", "client_secret": secret }))
        .send()
        .await
        .expect(200);
    assert_eq!(subscribed["status"], "active", "{subscribed}");
    let sub_id = subscribed["subscription_id"].as_str().unwrap();
    let sub = stripe
        .call(Method::GET, &format!("/v1/subscriptions/{sub_id}"), &[])
        .await;
    assert_eq!(sub["plan"]["amount"], 2500);
    assert_eq!(sub["plan"]["interval"], "month");
    stripe
        .wait_for("the subscription's grant", &app, || async move {
            app_.server()
                .get(&format!("/payments/products/user/{uid_}"))
                .send()
                .await
                .expect(200)["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["id"] == "pro")
        })
        .await;
}
on_both_backends!(paid_checkout, paid_checkout);
