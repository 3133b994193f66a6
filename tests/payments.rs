//! Payments through HTTP: the catalog in the config document, item balances and changes, grants
//! and the purchase rules, test-mode checkout, transactions — and 64 concurrent decrements that
//! must never overdraw.

mod common;
use common::*;
use serde_json::{json, Value};

fn catalog() -> Value {
    json!({
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.items.seats": { "displayName": "Seats", "customerType": "team" },
        "payments.productLines.plans": { "displayName": "Plans", "customerType": "user" },
        "payments.products.starter": {
            "displayName": "Starter", "customerType": "user", "productLineId": "plans",
            "prices": { "monthly": { "USD": "10", "interval": [1, "month"] } },
            "includedItems": { "credits": { "quantity": 100, "repeat": "never", "expires": "when-purchase-expires" } }
        },
        "payments.products.pro": {
            "displayName": "Pro", "customerType": "user", "productLineId": "plans",
            "prices": { "monthly": { "USD": "25", "interval": [1, "month"] } }
        },
        "payments.products.lifetime": {
            "displayName": "Lifetime", "customerType": "user", "productLineId": "plans",
            "prices": { "once": { "USD": "300" } }
        },
        "payments.products.credit-pack": {
            "displayName": "Credit pack", "customerType": "user", "stackable": true,
            "prices": { "once": { "USD": "5" } },
            "includedItems": { "credits": { "quantity": 50, "expires": "never" } }
        },
        "payments.products.boost": {
            "displayName": "Boost", "customerType": "user", "isAddOnTo": { "pro": true },
            "prices": { "once": { "USD": "3" } }
        },
        "payments.products.internal-tool": {
            "displayName": "Internal", "customerType": "user", "serverOnly": true,
            "prices": { "once": { "USD": "1" } }
        },
        "payments.products.team-plan": {
            "displayName": "Team plan", "customerType": "team",
            "prices": { "monthly": { "USD": "50", "interval": [1, "month"] } },
            "includedItems": { "seats": { "quantity": 5 } }
        }
    })
}

async fn set_catalog(app: &TestServer) {
    app.override_config(catalog()).await;
}

async fn item(app: &TestServer, uid: &str, item: &str) -> i64 {
    app.server()
        .get(&format!("/payments/items/user/{uid}/{item}"))
        .send()
        .await
        .expect(200)["quantity"]
        .as_i64()
        .unwrap()
}

/// A change of `uid`'s credits as the server. The request owns its data, so it can also run in a
/// spawned task.
fn credits_change(app: &TestServer, uid: &str, body: Value, allow_negative: bool) -> Req {
    app.server()
        .post(&format!(
            "/payments/items/user/{uid}/credits/update-quantity?allow_negative={allow_negative}"
        ))
        .json(body)
}

async fn change(app: &TestServer, uid: &str, delta: i64, allow_negative: bool) -> Resp {
    credits_change(app, uid, json!({ "delta": delta }), allow_negative)
        .send()
        .await
}

/// The `<project>_<code>` part of a purchase URL.
fn code_of(url: &str) -> String {
    let after = url.split("/purchase/").nth(1).expect("a purchase URL");
    after.split('?').next().unwrap().to_string()
}

both_backends!(catalog_config, |app: TestServer| async move {
    set_catalog(&app).await;
    let rendered = app.admin().get("/internal/config").send().await.expect(200);
    let config: Value = serde_json::from_str(rendered["config_string"].as_str().unwrap()).unwrap();
    assert_eq!(config["payments"]["testMode"], true);
    assert_eq!(
        config["payments"]["products"]["pro"]["serverOnly"], false,
        "defaults are filled in"
    );
    assert_eq!(
        config["payments"]["products"]["starter"]["includedItems"]["credits"]["quantity"],
        100
    );
    // Invalid catalogs are refused and change nothing.
    for bad in [
        json!({ "payments.products.x": { "productLineId": "nope", "prices": { "p": { "USD": "1" } } } }),
        json!({ "payments.products.x": { "prices": { "p": { "USD": "1.999" } } } }),
        json!({ "payments.products.x": { "prices": { "p": { "interval": [1, "month"] } } } }),
        json!({ "payments.items.y": { "customerType": "robot" } }),
        json!({ "payments.items.y": { "displayName": 5 } }),
        json!({ "payments.testMode": "yes" }),
        json!({ "payments.products.x": { "prices": {}, "includedItems": { "credits": { "quantity": "lots" } } } }),
        json!({ "payments.products.x": { "prices": {}, "includedItems": { "credits": { "expires": "someday" } } } }),
        json!({ "payments.products.x": { "prices": {}, "isAddOnTo": "pro" } }),
    ] {
        app.admin()
            .patch("/internal/config/override/branch")
            .json(json!({ "config_override_string": bad.to_string() }))
            .send()
            .await
            .expect_text(400, "Invalid config");
    }
    // An included item given as a bare number is refused with its path, not stored as quantity 0.
    app.admin()
        .patch("/internal/config/override/branch")
        .json(json!({ "config_override_string": json!({ "payments.products.pro.includedItems": { "credits": 100 } }).to_string() }))
        .send()
        .await
        .expect_text(400, "payments.products.pro.includedItems.credits must be an object");
    let stored = app.admin().get("/internal/config").send().await.expect(200);
    let stored: Value = serde_json::from_str(stored["config_string"].as_str().unwrap()).unwrap();
    assert_eq!(
        stored["payments"]["products"]["pro"]["includedItems"],
        config["payments"]["products"]["pro"]["includedItems"],
        "nothing was stored"
    );
    app.admin()
        .patch("/internal/config/override/branch")
        .json(json!({ "config_override_string": "[1]" }))
        .send()
        .await
        .expect_text(400, "Invalid config JSON");
    app.server()
        .patch("/internal/config/override/project")
        .json(json!({ "config_override_string": "{}" }))
        .send()
        .await
        .expect_text(
            403,
            "Server access can only manage branch config overrides.",
        );
    app.client()
        .patch("/internal/config/override/branch")
        .json(json!({ "config_override_string": "{}" }))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    let after: Value = serde_json::from_str(
        app.admin().get("/internal/config").send().await.expect(200)["config_string"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(after["payments"]["products"].as_object().unwrap().len(), 7);
    // Removing a key with null.
    app.override_config(json!({ "payments.products.boost": null }))
        .await;
    let after: Value = serde_json::from_str(
        app.admin().get("/internal/config").send().await.expect(200)["config_string"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert!(after["payments"]["products"].get("boost").is_none());
    // Concurrent patches of one level each land: none overwrites another.
    let patches: Vec<_> = (0..12)
        .map(|i| {
            let patch = json!({ format!("payments.items.gem{i}"): { "customerType": "user" } });
            let request = app
                .admin()
                .patch("/internal/config/override/environment")
                .json(json!({ "config_override_string": patch.to_string() }));
            tokio::spawn(request.send())
        })
        .collect();
    for p in patches {
        p.await.unwrap().expect(200);
    }
    let level = app
        .admin()
        .get("/internal/config/override/environment")
        .send()
        .await
        .expect(200);
    let level: Value = serde_json::from_str(level["config_string"].as_str().unwrap()).unwrap();
    assert_eq!(
        level["payments"]["items"].as_object().unwrap().len(),
        12,
        "{level}"
    );
});

both_backends!(items_and_quantity_changes, |app: TestServer| async move {
    set_catalog(&app).await;
    let s = app.sign_up("buyer@example.com", "password123").await;
    let uid = s["user_id"].as_str().unwrap().to_string();
    let got = app
        .client()
        .user(&s)
        .get(&format!("/payments/items/user/{uid}/credits"))
        .send()
        .await
        .expect(200);
    assert_eq!(
        got,
        json!({ "id": "credits", "display_name": "Credits", "quantity": 0 })
    );
    change(&app, &uid, 10, false).await.expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 10);
    let e = change(&app, &uid, -11, false)
        .await
        .expect_error(400, "ITEM_QUANTITY_INSUFFICIENT_AMOUNT");
    assert_eq!(
        e["details"],
        json!({ "item_id": "credits", "customer_id": uid, "quantity": -11 })
    );
    change(&app, &uid, -10, false).await.expect(200);
    change(&app, &uid, -5, true).await.expect(200);
    assert_eq!(item(&app, &uid, "credits").await, -5);
    // Below zero, even an increase that leaves it negative is refused without allow_negative.
    change(&app, &uid, 2, false)
        .await
        .expect_error(400, "ITEM_QUANTITY_INSUFFICIENT_AMOUNT");
    change(&app, &uid, 8, false).await.expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 3);
    // Expiring grants count until they expire; one already expired counts nothing.
    let url = format!("/payments/items/user/{uid}/credits/update-quantity?allow_negative=false");
    app.server()
        .post(&url)
        .json(json!({ "delta": 7, "expires_at": "2001-01-01T00:00:00Z" }))
        .send()
        .await
        .expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 3);
    app.server()
        .post(&url)
        .json(
            json!({ "delta": 7, "expires_at": "2999-01-01T00:00:00.000Z", "description": "promo" }),
        )
        .send()
        .await
        .expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 10);
    // Errors.
    app.server()
        .post(&format!(
            "/payments/items/user/{uid}/credits/update-quantity"
        ))
        .json(json!({ "delta": 1 }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post(&url)
        .json(json!({ "delta": 1.5 }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post(&url)
        .json(json!({ "delta": 1, "expires_at": "soon" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .get(&format!("/payments/items/user/{uid}/gold"))
        .send()
        .await
        .expect_error(404, "ITEM_NOT_FOUND");
    let e = app
        .server()
        .get(&format!("/payments/items/team/{uid}/credits"))
        .send()
        .await
        .expect_error(400, "ITEM_CUSTOMER_TYPE_DOES_NOT_MATCH");
    assert_eq!(e["details"]["item_customer_type"], "user");
    app.server()
        .get("/payments/items/user/00000000-0000-4000-8000-000000000000/credits")
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    app.server()
        .get("/payments/items/robot/x/credits")
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .user(&s)
        .post(&url)
        .json(json!({ "delta": 1 }))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    // Clients read only their own balances.
    let other = app.create_user("other@example.com").await;
    app.client()
        .user(&s)
        .get(&format!(
            "/payments/items/user/{}/credits",
            other["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect_text(403, "Clients can only access their own user or team items.");
    app.client()
        .get(&format!("/payments/items/user/{uid}/credits"))
        .send()
        .await
        .expect_error(401, "USER_AUTHENTICATION_REQUIRED");
    // Team items: members need team_admin.
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Buyers", "creator_user_id": uid }))
        .send()
        .await
        .expect(201);
    let tid = team["id"].as_str().unwrap();
    app.client()
        .user(&s)
        .get(&format!("/payments/items/team/{tid}/seats"))
        .send()
        .await
        .expect(200);
    let member = app.sign_up("member@example.com", "password123").await;
    app.server()
        .post(&format!(
            "/team-memberships/{tid}/{}",
            member["user_id"].as_str().unwrap()
        ))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    app.client()
        .user(&member)
        .get(&format!("/payments/items/team/{tid}/seats"))
        .send()
        .await
        .expect_error(401, "TEAM_PERMISSION_REQUIRED");
    // Custom customers exist implicitly, for trusted callers.
    app.server()
        .post("/payments/items/custom/org-42/credits/update-quantity?allow_negative=false")
        .json(json!({ "delta": 1 }))
        .send()
        .await
        .expect_error(400, "ITEM_CUSTOMER_TYPE_DOES_NOT_MATCH");
});

both_backends!(grants_and_purchase_rules, |app: TestServer| async move {
    set_catalog(&app).await;
    let u = app.create_user("grant@example.com").await;
    let uid = u["id"].as_str().unwrap().to_string();
    let grant = |body: Value| {
        app.server()
            .post(&format!("/payments/products/user/{uid}"))
            .json(body)
            .send()
    };
    let g = grant(json!({ "product_id": "starter" })).await.expect(200);
    assert!(g["subscription_id"].as_str().is_some());
    assert_eq!(item(&app, &uid, "credits").await, 100);
    grant(json!({ "product_id": "starter" }))
        .await
        .expect_error(400, "PRODUCT_ALREADY_GRANTED");
    grant(json!({ "product_id": "pro", "quantity": 2 }))
        .await
        .expect_text(400, "This product is not stackable; quantity must be 1");
    grant(json!({ "product_id": "boost" })).await.expect_text(
        400,
        "This product is an add-on to a product that the customer does not have",
    );
    // Another plan in the line replaces the active subscription; its expiring items go with it.
    grant(json!({ "product_id": "pro" })).await.expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 0);
    grant(json!({ "product_id": "boost" })).await.expect(200);
    // Stackable: quantities add up, items multiply.
    grant(json!({ "product_id": "credit-pack", "quantity": 2 }))
        .await
        .expect(200);
    grant(json!({ "product_id": "credit-pack" }))
        .await
        .expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 150);
    // The plan is listed as a subscription, with the other plans of its line to switch to.
    let listed = app
        .server()
        .get(&format!("/payments/products/user/{uid}?cursor=pro"))
        .send()
        .await
        .expect(200);
    let pro = &listed["items"][0];
    assert_eq!(pro["id"], "pro");
    assert_eq!(pro["type"], "subscription");
    assert!(pro["subscription"]["current_period_end"]
        .as_str()
        .unwrap()
        .ends_with('Z'));
    let options: Vec<&str> = pro["switch_options"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["product_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        options,
        vec!["starter"],
        "one-time and add-on products are no switch targets"
    );
    // A one-time purchase in the line replaces the subscription, then blocks further line purchases.
    grant(json!({ "product_id": "lifetime" })).await.expect(200);
    grant(json!({ "product_id": "starter" })).await.expect_text(
        400,
        "Customer already has a one-time purchase in this product line",
    );
    // Errors before anything is written.
    let e = grant(json!({ "product_id": "credits" }))
        .await
        .expect_error(400, "PRODUCT_DOES_NOT_EXIST");
    assert_eq!(e["details"]["context"], "item_exists");
    let e = grant(json!({ "product_id": "team-plan" }))
        .await
        .expect_error(400, "PRODUCT_CUSTOMER_TYPE_DOES_NOT_MATCH");
    assert_eq!(e["details"]["product_customer_type"], "team");
    grant(json!({}))
        .await
        .expect_text(400, "Must specify either product_id or product_inline!");
    grant(json!({ "product_id": "pro", "product_inline": {} }))
        .await
        .expect_text(400, "Cannot specify both");
    app.server()
        .post("/payments/products/user/00000000-0000-4000-8000-000000000000")
        .json(json!({ "product_id": "pro" }))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    // Inline products (server only).
    grant(json!({ "product_inline": { "display_name": "Custom deal", "customer_type": "user", "prices": { "p": { "USD": "99" } }, "included_items": { "credits": { "quantity": 5 } } } })).await.expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 155);
    grant(json!({ "product_inline": { "display_name": "Bad", "customer_type": "user", "prices": { "p": {} } } })).await.expect_error(400, "SCHEMA_ERROR");

    // Listing: sorted by id, paginated, inline bucket shown as null.
    let page = app
        .server()
        .get(&format!("/payments/products/user/{uid}?limit=2"))
        .send()
        .await
        .expect(200);
    let ids: Vec<Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].clone())
        .collect();
    assert_eq!(
        ids,
        vec![
            json!("__null__").as_str().map(|_| Value::Null).unwrap(),
            json!("boost")
        ]
    );
    let next = page["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let page2 = app
        .server()
        .get(&format!(
            "/payments/products/user/{uid}?limit=10&cursor={next}"
        ))
        .send()
        .await
        .expect(200);
    let rest: Vec<&str> = page2["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        rest,
        vec!["credit-pack", "lifetime"],
        "pro was replaced; the add-on stays"
    );
    let pack = &page2["items"][0];
    assert_eq!(pack["quantity"], 3);
    assert_eq!(pack["type"], "one_time");
    app.server()
        .get(&format!("/payments/products/user/{uid}?cursor=nope"))
        .send()
        .await
        .expect_text(400, "Invalid cursor");
    // Cancel: runs to the period end; one-time purchases cannot be canceled.
    app.server()
        .delete(&format!("/payments/products/user/{uid}/lifetime"))
        .send()
        .await
        .expect_text(
            400,
            "This product is a one time purchase and cannot be canceled.",
        );
    app.server()
        .delete(&format!("/payments/products/user/{uid}/starter"))
        .send()
        .await
        .expect_text(400, "Customer does not have this product.");
    let v = app.create_user("subscriber@example.com").await;
    let vid = v["id"].as_str().unwrap();
    app.server()
        .post(&format!("/payments/products/user/{vid}"))
        .json(json!({ "product_id": "pro" }))
        .send()
        .await
        .expect(200);
    app.server()
        .delete(&format!("/payments/products/user/{vid}/pro"))
        .send()
        .await
        .expect(200);
    let after = app
        .server()
        .get(&format!("/payments/products/user/{vid}"))
        .send()
        .await
        .expect(200);
    assert_eq!(
        after["items"][0]["id"], "pro",
        "canceled but still owned until the period ends"
    );
    assert_eq!(after["items"][0]["type"], "one_time");
    assert_eq!(after["items"][0]["subscription"], Value::Null);
    // Clients: own products only; server-only products hidden.
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "T" }))
        .send()
        .await
        .expect(201);
    app.server()
        .post(&format!(
            "/payments/products/team/{}",
            team["id"].as_str().unwrap()
        ))
        .json(json!({ "product_id": "team-plan" }))
        .send()
        .await
        .expect(200);
    let seats = app
        .server()
        .get(&format!(
            "/payments/items/team/{}/seats",
            team["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    assert_eq!(seats["quantity"], 5);
});

both_backends!(
    test_mode_checkout_and_transactions,
    |app: TestServer| async move {
        set_catalog(&app).await;
        let s = app.sign_up("checkout@example.com", "password123").await;
        let uid = s["user_id"].as_str().unwrap().to_string();
        let body = |product: &str| json!({ "customer_type": "user", "customer_id": uid, "product_id": product, "return_url": "http://localhost:3000/after" });
        let r = app
            .client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(body("starter"))
            .send()
            .await
            .expect(200);
        let url = r["url"].as_str().unwrap();
        assert!(
            url.contains("/purchase/")
                && url.contains("return_url=http%3A%2F%2Flocalhost%3A3000%2Fafter"),
            "{url}"
        );
        let full_code = code_of(url);
        let v = app
            .anon()
            .post("/payments/purchases/validate-code")
            .json(json!({ "full_code": full_code }))
            .send()
            .await
            .expect(200);
        assert_eq!(v["product"]["display_name"], "Starter");
        assert_eq!(v["test_mode"], true);
        assert_eq!(v["already_bought_non_stackable"], false);
        app.anon()
            .post("/internal/payments/test-mode-purchase-session")
            .json(json!({ "full_code": full_code, "price_id": "nope" }))
            .send()
            .await
            .expect_text(400, "Price not found");
        app.anon()
            .post("/internal/payments/test-mode-purchase-session")
            .json(json!({ "full_code": full_code, "price_id": "monthly" }))
            .send()
            .await
            .expect(200);
        assert_eq!(item(&app, &uid, "credits").await, 100);
        // One code, one purchase.
        app.anon()
            .post("/internal/payments/test-mode-purchase-session")
            .json(json!({ "full_code": full_code, "price_id": "monthly" }))
            .send()
            .await
            .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
        app.anon()
            .post("/payments/purchases/validate-code")
            .json(json!({ "full_code": "garbage" }))
            .send()
            .await
            .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
        app.client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(body("starter"))
            .send()
            .await
            .expect_error(400, "PRODUCT_ALREADY_GRANTED");
        // A plan switch through checkout shows the conflict, then replaces the plan.
        let r = app
            .client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(body("pro"))
            .send()
            .await
            .expect(200);
        let code2 = code_of(r["url"].as_str().unwrap());
        let v = app
            .anon()
            .post("/payments/purchases/validate-code")
            .json(json!({ "full_code": code2 }))
            .send()
            .await
            .expect(200);
        assert_eq!(
            v["conflicting_products"],
            json!([{ "product_id": "starter", "display_name": "Starter" }])
        );
        app.anon()
            .post("/internal/payments/test-mode-purchase-session")
            .json(json!({ "full_code": code2, "price_id": "monthly" }))
            .send()
            .await
            .expect(200);
        // Client refusals.
        let e = app
            .client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(body("internal-tool"))
            .send()
            .await
            .expect_error(400, "PRODUCT_DOES_NOT_EXIST");
        assert_eq!(e["details"]["context"], "server_only");
        let other = app.create_user("someone@example.com").await;
        app.client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(
                json!({ "customer_type": "user", "customer_id": other["id"], "product_id": "pro" }),
            )
            .send()
            .await
            .expect_text(403, "Clients can only create purchase URLs");
        app.client().user(&s).post("/payments/purchases/create-purchase-url").json(json!({ "customer_type": "user", "customer_id": uid, "product_inline": { "display_name": "x", "customer_type": "user", "prices": {} } })).send().await.expect_text(400, "Cannot specify product_inline when calling from client");
        app.client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(json!({ "customer_type": "team", "customer_id": uid, "product_id": "pro" }))
            .send()
            .await
            .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
        app.client().user(&s).post("/payments/purchases/create-purchase-url").json(json!({ "customer_type": "user", "customer_id": uid, "product_id": "credit-pack", "return_url": "https://evil.example/x" })).send().await.expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
        // Blocked purchases; test mode off.
        app.admin().patch("/internal/config/override/environment").json(json!({ "config_override_string": json!({ "payments.blockNewPurchases": true }).to_string() })).send().await.expect(200);
        app.client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(body("credit-pack"))
            .send()
            .await
            .expect_error(403, "NEW_PURCHASES_BLOCKED");
        app.admin().patch("/internal/config/override/environment").json(json!({ "config_override_string": json!({ "payments.blockNewPurchases": false, "payments.testMode": false }).to_string() })).send().await.expect(200);
        app.client()
            .user(&s)
            .post("/payments/purchases/create-purchase-url")
            .json(body("credit-pack"))
            .send()
            .await
            .expect_text(400, "Payments are not set up");

        // Transactions: purchases and manual changes, newest first, paginated, filterable.
        change(&app, &uid, 3, false).await.expect(200);
        let all = app
            .admin()
            .get("/internal/payments/transactions")
            .send()
            .await
            .expect(200);
        let txns = all["transactions"].as_array().unwrap();
        assert_eq!(txns.len(), 3);
        assert_eq!(txns[0]["type"], "manual-item-quantity-change");
        assert_eq!(txns[1]["type"], "purchase");
        assert_eq!(txns[1]["test_mode"], true);
        assert_eq!(txns[1]["entries"][0]["type"], "product_grant");
        assert_eq!(txns[1]["entries"][0]["product_id"], "pro");
        assert!(txns[2]["entries"][0]["subscription_id"].is_string());
        assert_eq!(
            txns[2]["entries"][1],
            json!({ "type": "item_quantity_change", "adjusted_transaction_id": null, "adjusted_entry_index": null, "customer_type": "user", "customer_id": uid, "item_id": "credits", "quantity": 100 })
        );
        let p1 = app
            .admin()
            .get("/internal/payments/transactions?limit=2")
            .send()
            .await
            .expect(200);
        let next = p1["next_cursor"].as_str().unwrap();
        let p2 = app
            .admin()
            .get(&format!(
                "/internal/payments/transactions?limit=2&cursor={next}"
            ))
            .send()
            .await
            .expect(200);
        assert_eq!(p2["transactions"].as_array().unwrap().len(), 1);
        assert_eq!(p2["next_cursor"], Value::Null);
        let purchases = app
            .admin()
            .get("/internal/payments/transactions?type=purchase")
            .send()
            .await
            .expect(200);
        assert_eq!(purchases["transactions"].as_array().unwrap().len(), 2);
        app.admin()
            .get("/internal/payments/transactions?type=refund")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.admin()
            .get("/internal/payments/transactions?cursor=%%%")
            .send()
            .await
            .expect_text(400, "Invalid cursor");
        app.server()
            .get("/internal/payments/transactions")
            .send()
            .await
            .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
        // Pages of 7 walk the whole ledger in the same order as one page, however many rows
        // share a millisecond.
        let changes: Vec<_> = (0..30)
            .map(|i| {
                tokio::spawn(credits_change(&app, &uid, json!({ "delta": i + 1 }), false).send())
            })
            .collect();
        for c in changes {
            c.await.unwrap().expect(200);
        }
        let ids = |page: &Value| -> Vec<String> {
            page["transactions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_string())
                .collect()
        };
        let whole = app
            .admin()
            .get("/internal/payments/transactions?limit=200")
            .send()
            .await
            .expect(200);
        assert_eq!(whole["next_cursor"], Value::Null);
        let mut walked = Vec::new();
        let mut path = "/internal/payments/transactions?limit=7".to_string();
        loop {
            let page = app.admin().get(&path).send().await.expect(200);
            walked.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => path = format!("/internal/payments/transactions?limit=7&cursor={c}"),
                None => break,
            }
        }
        assert_eq!(walked.len(), 33);
        assert_eq!(walked, ids(&whole));
    }
);

/// Buys `product` for the signed-in user through test-mode checkout.
async fn buy_in_test_mode(app: &TestServer, session: &Value, product: &str) {
    let uid = session["user_id"].as_str().unwrap();
    let r = app
        .client()
        .user(session)
        .post("/payments/purchases/create-purchase-url")
        .json(json!({ "customer_type": "user", "customer_id": uid, "product_id": product }))
        .send()
        .await
        .expect(200);
    let code = code_of(r["url"].as_str().unwrap());
    app.anon()
        .post("/internal/payments/test-mode-purchase-session")
        .json(json!({ "full_code": code, "price_id": "monthly" }))
        .send()
        .await
        .expect(200);
}

both_backends!(plan_switch, |app: TestServer| async move {
    set_catalog(&app).await;
    app.override_config(json!({
            "payments.products.pro.includedItems": { "credits": { "quantity": 500, "expires": "when-purchase-expires" } },
            "payments.products.pro.prices": {
                "monthly": { "USD": "25", "interval": [1, "month"] },
                "yearly": { "USD": "250", "interval": [1, "year"] },
                "eur-only": { "EUR": "25", "interval": [1, "month"] }
            }
        })).await;
    let s = app.sign_up("switcher@example.com", "password123").await;
    let uid = s["user_id"].as_str().unwrap().to_string();
    buy_in_test_mode(&app, &s, "starter").await;
    change(&app, &uid, -30, false).await.expect(200);
    assert_eq!(item(&app, &uid, "credits").await, 70);
    let url = format!("/payments/products/user/{uid}/switch");
    let switch = |body: Value| app.client().user(&s).post(&url).json(body).send();
    let owned = |app: &TestServer| {
        let path = format!("/payments/products/user/{uid}");
        let get = app.server().get(&path).send();
        async move { get.await.expect(200)["items"].as_array().unwrap().clone() }
    };
    let before = owned(&app).await;
    let subscription_id = before[0]["subscription"]["subscription_id"].clone();
    assert_eq!(before[0]["id"], "starter");
    assert_eq!(
        before[0]["switch_options"].as_array().unwrap()[0]["product_id"],
        "pro"
    );

    // Refusals, in the original's order, and none of them changes anything.
    let refusals = [
        (
            json!({ "from_product_id": "starter", "to_product_id": "nope" }),
            "Product not found.",
        ),
        (
            json!({ "from_product_id": "credit-pack", "to_product_id": "pro" }),
            "Products must be in the same product line to switch.",
        ),
        (
            json!({ "from_product_id": "starter", "to_product_id": "starter" }),
            "Product is already active.",
        ),
        (
            json!({ "from_product_id": "lifetime", "to_product_id": "pro" }),
            "This subscription cannot be switched.",
        ),
        (
            json!({ "from_product_id": "pro", "to_product_id": "starter" }),
            "This subscription cannot be switched.",
        ),
        (
            json!({ "from_product_id": "starter", "to_product_id": "lifetime" }),
            "Price not found for target product.",
        ),
        (
            json!({ "from_product_id": "starter", "to_product_id": "pro", "price_id": "nope" }),
            "Price not found for target product.",
        ),
        (
            json!({ "from_product_id": "starter", "to_product_id": "pro", "price_id": "eur-only" }),
            "Target price must include a USD amount.",
        ),
        (
            json!({ "from_product_id": "starter", "to_product_id": "pro", "quantity": 2 }),
            "This product is not stackable; quantity must be 1",
        ),
    ];
    for (body, message) in refusals {
        switch(body).await.expect_text(400, message);
    }
    switch(json!({ "from_product_id": "starter" }))
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post("/payments/products/custom/c1/switch")
        .json(json!({ "from_product_id": "starter", "to_product_id": "pro" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let other = app
        .sign_up("other-switcher@example.com", "password123")
        .await;
    app.client()
        .user(&other)
        .post(&url)
        .json(json!({ "from_product_id": "starter", "to_product_id": "pro" }))
        .send()
        .await
        .expect_text(403, "Clients can only manage their own subscriptions.");
    // A granted subscription has nothing to charge the change to.
    let oid = other["user_id"].as_str().unwrap();
    app.server()
        .post(&format!("/payments/products/user/{oid}"))
        .json(json!({ "product_id": "starter" }))
        .send()
        .await
        .expect(200);
    app.server()
        .post(&format!("/payments/products/user/{oid}/switch"))
        .json(json!({ "from_product_id": "starter", "to_product_id": "pro" }))
        .send()
        .await
        .expect_text(400, "This subscription cannot be switched.");
    app.admin().patch("/internal/config/override/environment").json(json!({ "config_override_string": json!({ "payments.blockNewPurchases": true }).to_string() })).send().await.expect(200);
    switch(json!({ "from_product_id": "starter", "to_product_id": "pro" }))
        .await
        .expect_error(403, "NEW_PURCHASES_BLOCKED");
    app.admin().patch("/internal/config/override/environment").json(json!({ "config_override_string": json!({ "payments.blockNewPurchases": false }).to_string() })).send().await.expect(200);
    assert_eq!(owned(&app).await, before);
    assert_eq!(item(&app, &uid, "credits").await, 70);

    // The switch: same subscription, new product and price; grants are the new product's.
    let r = switch(
        json!({ "from_product_id": "starter", "to_product_id": "pro", "price_id": "yearly" }),
    )
    .await
    .expect(200);
    assert_eq!(r, json!({ "success": true }));
    let after = owned(&app).await;
    assert_eq!(after.len(), 1);
    assert_eq!(after[0]["id"], "pro");
    assert_eq!(after[0]["subscription"]["subscription_id"], subscription_id);
    assert_eq!(
        after[0]["switch_options"].as_array().unwrap()[0]["product_id"],
        "starter"
    );
    assert_eq!(item(&app, &uid, "credits").await, 470);
    // And back.
    switch(json!({ "from_product_id": "pro", "to_product_id": "starter" }))
        .await
        .expect(200);
    assert_eq!(owned(&app).await[0]["id"], "starter");
    assert_eq!(item(&app, &uid, "credits").await, 70);
});

/// 64 concurrent decrements of 1 on a balance of 20: exactly 20 succeed and the balance ends at 0.
async fn concurrent_decrements(backend: Backend) {
    let app = TestServer::start(backend).await;
    set_catalog(&app).await;
    let u = app.create_user("race@example.com").await;
    let uid = u["id"].as_str().unwrap().to_string();
    change(&app, &uid, 20, false).await.expect(200);
    let tasks: Vec<_> = (0..64)
        .map(|_| tokio::spawn(credits_change(&app, &uid, json!({ "delta": -1 }), false).send()))
        .collect();
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap().status.as_u16() {
            200 => ok += 1,
            400 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(ok, 20, "exactly the balance may be spent");
    assert_eq!(item(&app, &uid, "credits").await, 0);

    // Again with grants (some expiring at once) and purchases interleaved with the decrements.
    let tasks: Vec<_> = (0..48)
        .map(|i| {
            let (request, is_decrement) = match i % 6 {
                0 => (
                    credits_change(&app, &uid, json!({ "delta": 2 }), false),
                    false,
                ),
                1 => {
                    let expired = json!({ "delta": 5, "expires_at": "2001-01-01T00:00:00Z" });
                    (credits_change(&app, &uid, expired, false), false)
                }
                2 => {
                    let grant = app
                        .server()
                        .post(&format!("/payments/products/user/{uid}"))
                        .json(json!({ "product_id": "credit-pack" }));
                    (grant, false)
                }
                _ => (
                    credits_change(&app, &uid, json!({ "delta": -3 }), false),
                    true,
                ),
            };
            tokio::spawn(async move { (is_decrement, request.send().await) })
        })
        .collect();
    let mut spent = 0;
    for t in tasks {
        let (is_decrement, r) = t.await.unwrap();
        let status = r.status.as_u16();
        assert!(
            status == 200 || (is_decrement && status == 400),
            "status {status}: {}",
            r.text
        );
        if is_decrement && status == 200 {
            spent += 3;
        }
    }
    // 8 grants of 2, 8 expired grants of 5 (worth nothing), 8 packs of 50.
    let granted = 8 * 2 + 8 * 50;
    let balance = item(&app, &uid, "credits").await;
    assert!(balance >= 0, "never negative");
    assert_eq!(balance, granted - spent);
    // Stored balances only cache the ledger: folding the whole history gives the same answer.
    db_query_text(&app.database_url, "DELETE FROM item_balances");
    assert_eq!(item(&app, &uid, "credits").await, balance);

    // Eight customers at once, 10 spends of 1 each on balances of 5: batches mix customers (one
    // change each, or several), and each customer still spends exactly 5.
    let mut ids = Vec::new();
    for i in 0..8 {
        let u = app.create_user(&format!("crowd{i}@example.com")).await;
        let id = u["id"].as_str().unwrap().to_string();
        change(&app, &id, 5, false).await.expect(200);
        change(&app, &id, -1, false).await.expect(200);
        change(&app, &id, 1, false).await.expect(200);
        ids.push(id);
    }
    let mut tasks = Vec::new();
    for round in 0..10 {
        for id in &ids {
            let body = json!({ "delta": -1, "description": format!("round {round}") });
            let request = credits_change(&app, id, body, false);
            let id = id.clone();
            tasks.push(tokio::spawn(async move {
                (id, request.send().await.status.as_u16())
            }));
        }
    }
    let mut spent = std::collections::HashMap::new();
    for t in tasks {
        let (id, status) = t.await.unwrap();
        assert!(status == 200 || status == 400, "status {status}");
        *spent.entry(id).or_insert(0) += i64::from(status == 200);
    }
    for id in &ids {
        assert_eq!(spent[id], 5, "{id}");
        assert_eq!(item(&app, id, "credits").await, 0);
    }
}

on_both_backends!(concurrent_decrements, concurrent_decrements, 4);

/// The Payments docs' Python `requests` examples, run as written against this server.
async fn rest_examples(backend: Backend) {
    let app = TestServer::start(backend).await;
    set_catalog(&app).await;
    let s = app.sign_up("python@example.com", "password123").await;
    change(&app, s["user_id"].as_str().unwrap(), 3, false)
        .await
        .expect(200);
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rest_examples.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .env("PORTCULLIS_URL", &app.base)
        .env("PROJECT_ID", &app.project_id)
        .env("PUBLISHABLE_CLIENT_KEY", &app.publishable_client_key)
        .env("SECRET_SERVER_KEY", &app.secret_server_key)
        .env("ACCESS_TOKEN", s["access_token"].as_str().unwrap())
        .output()
        .await
        .expect("python3 with requests is needed (.ci/run installs it)");
    assert!(
        out.status.success(),
        "examples failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

on_both_backends!(rest_examples, rest_examples);
