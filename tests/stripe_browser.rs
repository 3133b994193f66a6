//! The checkout page paying with Stripe in headless Chromium (`tests/sdk/stripe-checkout.mjs`):
//! localstripe's Stripe.js stand-in mounts the card element in our page, a declined card is
//! reported in place, a good card buys a monthly plan, and the buyer lands back on the app with
//! the plan's items granted (by Stripe's signed webhook, not the browser). Screenshots go to
//! `tests/artifacts/stripe-checkout-<backend>`.

mod common;
use common::*;
use serde_json::json;

const WEBHOOK_SECRET: &str = "whsec_portcullis_browser_secret";

async fn stripe_checkout_in_browser(backend: Backend) {
    let artifacts = browser_artifacts("stripe-checkout", backend);
    let (stripe, app) = TestServer::start_with_stripe(backend).await;
    app.override_config(json!({
            "payments.testMode": false,
            "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
            "payments.products.pro": {
                "displayName": "Pro", "customerType": "user",
                "prices": { "monthly": { "USD": "25", "interval": [1, "month"] } },
                "includedItems": { "credits": { "quantity": 100, "repeat": [1, "month"], "expires": "never" } }
            }
        })).await;
    stripe.connect(&app, WEBHOOK_SECRET).await;
    let uid = app.create_user("browser-buyer@example.com").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let return_url = "http://localhost:3000/after";
    let url = app
        .server()
        .post("/payments/purchases/create-purchase-url")
        .json(json!({ "customer_type": "user", "customer_id": uid, "product_id": "pro", "return_url": return_url }))
        .send()
        .await
        .expect(200)["url"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.contains("return_url="), "{url}");
    run_browser_script(
        "stripe-checkout.mjs",
        &[
            ("CHECKOUT_URL", url),
            ("RETURN_URL", return_url.to_string()),
        ],
        &artifacts,
        &["01-checkout", "02-declined", "03-back-in-app"],
        || format!("localstripe: {}\nserver: {}", stripe.output(), app.log()),
    )
    .await;
    // Landed back with the plan and its items: granted on Stripe's webhook before the redirect.
    let credits = app
        .server()
        .get(&format!("/payments/items/user/{uid}/credits"))
        .send()
        .await
        .expect(200);
    assert_eq!(credits["quantity"], 100, "{credits}");
}
on_both_backends!(stripe_checkout_in_browser, stripe_checkout_in_browser);
