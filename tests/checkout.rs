//! The hosted checkout page that purchase URLs open, in headless Chromium: a test-mode purchase
//! that returns to the app, a used link, a product already owned, a bad quantity refused with a
//! message. What the page bought is then read back through the API.

mod common;
use common::*;
use serde_json::{json, Value};

async fn checkout_in_browser(backend: Backend) {
    let app = TestServer::start(backend).await;
    let catalog = json!({
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.productLines.plans": { "displayName": "Plans", "customerType": "user" },
        "payments.products.starter": {
            "displayName": "Starter", "customerType": "user", "productLineId": "plans",
            "prices": { "monthly": { "USD": "10", "interval": [1, "month"] } },
            "includedItems": { "credits": { "quantity": 100 } }
        },
        "payments.products.credit-pack": {
            "displayName": "Credit pack", "customerType": "user", "stackable": true,
            "prices": { "once": { "USD": "5" } },
            "includedItems": { "credits": { "quantity": 50 } }
        }
    });
    app.override_config(catalog).await;
    let s = app.sign_up("buyer@example.com", "password123").await;
    let uid = s["user_id"].as_str().unwrap().to_string();
    let url_for = |product: &str, return_url: Option<&str>| {
        let mut body =
            json!({ "customer_type": "user", "customer_id": uid, "product_id": product });
        if let Some(r) = return_url {
            body["return_url"] = json!(r);
        }
        let request = app
            .client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(body)
            .send();
        async move {
            request.await.expect(200)["url"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let plan = url_for("starter", Some("http://localhost:3000/after")).await;
    let plan_again = url_for("starter", None).await;
    let pack = url_for("credit-pack", None).await;
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/artifacts/checkout-{backend:?}").to_lowercase());
    let out = tokio::process::Command::new("node")
        .arg("checkout.mjs")
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk"))
        .env("PLAN_URL", &plan)
        .env("PLAN_URL_AGAIN", &plan_again)
        .env("PACK_URL", &pack)
        .env("ARTIFACTS", &artifacts)
        .output()
        .await
        .expect("node");
    assert!(
        out.status.success(),
        "browser run failed\nstdout: {}\nstderr: {}\nserver: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        app.log()
    );
    for shot in [
        "01-checkout",
        "02-complete",
        "03-used-link",
        "04-already-owned",
        "05-quantity-error",
    ] {
        assert!(
            artifacts.join(format!("{shot}.png")).exists(),
            "screenshot {shot}"
        );
    }
    let owned = app
        .server()
        .get(&format!("/payments/products/user/{uid}"))
        .send()
        .await
        .expect(200);
    let owned: Vec<(Value, Value)> = owned["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].clone(), p["quantity"].clone()))
        .collect();
    assert_eq!(
        owned,
        vec![
            (json!("credit-pack"), json!(3)),
            (json!("starter"), json!(1))
        ]
    );
    let credits = app
        .server()
        .get(&format!("/payments/items/user/{uid}/credits"))
        .send()
        .await
        .expect(200);
    assert_eq!(credits["quantity"], 100 + 3 * 50);
}

on_both_backends!(checkout_page, checkout_in_browser);
