//! The dashboard's payments pages: a browser run in headless Chromium (`dashboard-payments.mjs`:
//! the catalog's forms, notices, refusals that keep their input, refunds offered only for the
//! purchase paid through Stripe — localstripe here —, checkout links, no sideways scroll at 390
//! and 1440 px), then what the forms stored read back through the admin REST API, and bad form
//! input over plain HTTP: each refused with a message on the page (400), never a 500.

mod common;
use common::*;
use serde_json::{json, Value};

const WEBHOOK_SECRET: &str = "whsec_portcullis_dashboard_payments";

/// A purchase paid through Stripe (the API's purchase session and localstripe's card
/// confirmation, as the checkout page's script does); its purchase id once Stripe's webhook
/// granted it.
async fn paid_purchase(app: &TestServer, stripe: &Localstripe, uid: &str) -> String {
    let url = app
        .server()
        .post("/payments/purchases/create-purchase-url")
        .json(json!({ "customer_type": "user", "customer_id": uid, "product_id": "credit-pack" }))
        .send()
        .await
        .expect(200)["url"]
        .as_str()
        .unwrap()
        .to_string();
    let full_code = url.rsplit('/').next().unwrap().to_string();
    let session = app
        .client()
        .post("/payments/purchases/purchase-session")
        .json(json!({ "full_code": full_code, "price_id": "once" }))
        .send()
        .await
        .expect(200);
    let secret = session["client_secret"].as_str().unwrap().to_string();
    stripe.confirm_card(&secret, "4242424242424242").await;
    app.client()
        .post("/payments/purchases/purchase-session/charge")
        .json(json!({ "full_code": full_code, "price_id": "once", "client_secret": secret }))
        .send()
        .await
        .expect(200);
    let purchases = || async {
        app.admin()
            .get("/internal/payments/transactions?type=purchase")
            .send()
            .await
            .expect(200)["transactions"]
            .as_array()
            .unwrap()
            .clone()
    };
    stripe
        .wait_for("the paid purchase", app, || async {
            !purchases().await.is_empty()
        })
        .await;
    purchases().await[0]["id"].as_str().unwrap().to_string()
}

async fn payments_pages(backend: Backend) {
    let (stripe, app) = TestServer::start_with_stripe(backend).await;
    // The harness's project (adopted by the first admin): an item and a stackable one-off
    // product through the API, a user and a team, Stripe connected, one purchase paid.
    app.override_config(json!({
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.products.credit-pack": {
            "displayName": "Credit pack", "customerType": "user", "stackable": true,
            "prices": { "once": { "USD": "5" } },
            "includedItems": { "credits": { "quantity": 50, "expires": "never" } }
        }
    }))
    .await;
    let user = app
        .server()
        .post("/users")
        .json(json!({ "primary_email": "buyer@example.com", "display_name": "Buyer One" }))
        .send()
        .await
        .expect(201);
    let uid = user["id"].as_str().unwrap().to_string();
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Acme Team" }))
        .send()
        .await
        .expect(201);
    let team_id = team["id"].as_str().unwrap().to_string();
    stripe.connect(&app, WEBHOOK_SECRET).await;
    let paid = paid_purchase(&app, &stripe, &uid).await;

    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/artifacts/dashboard-payments-{backend:?}").to_lowercase());
    let summary = run_browser_script(
        "dashboard-payments.mjs",
        &[
            ("SETUP_LINK", app.setup_link()),
            ("PROJECT_ID", app.project_id.clone()),
            ("USER_ID", uid.clone()),
            ("TEAM_ID", team_id.clone()),
            ("PAID_PURCHASE_ID", paid.clone()),
        ],
        &artifacts,
        &[
            "01-catalog",
            "02-product-refused",
            "03-product-saved",
            "04-product-edit",
            "05-customer",
            "06-customer-refused",
            "07-checkout-link",
            "08-checkout-page",
            "09-team-no-products",
            "10-transactions",
            "11-refunded",
            "narrow-catalog",
            "narrow-catalog-edit",
            "narrow-customers",
            "narrow-customer-user",
            "narrow-customer-team",
            "narrow-transactions",
            "narrow-checkout-link",
            "narrow-checkout",
        ],
        || format!("localstripe: {}\nserver: {}", stripe.output(), app.log()),
    )
    .await;
    // Every page was measured at both widths.
    assert_eq!(
        summary["widths"].as_object().unwrap().len(),
        18,
        "{summary}"
    );

    // What the forms stored, through the admin REST API: the stored shapes of a price with an
    // interval and a free trial, and of an included item that repeats.
    let rendered = app.admin().get("/internal/config").send().await.expect(200);
    let config: Value = serde_json::from_str(rendered["config_string"].as_str().unwrap()).unwrap();
    let pro = &config["payments"]["products"]["pro"];
    assert_eq!(
        pro["prices"],
        json!({ "monthly": { "USD": "10.00", "interval": [1, "month"], "freeTrial": [7, "day"] } }),
        "{pro}"
    );
    assert_eq!(
        pro["includedItems"],
        json!({ "credits": { "quantity": 5, "repeat": [1, "month"], "expires": "when-repeated" } }),
        "{pro}"
    );
    assert_eq!(pro["displayName"], "Pro");
    assert_eq!(pro["customerType"], "user");
    assert_eq!(pro["productLineId"], "plans");
    assert_eq!(pro["stackable"], false);
    assert_eq!(
        config["payments"]["productLines"]["plans"],
        json!({ "displayName": "Plans", "customerType": "user" })
    );
    assert!(config["payments"]["items"].get("scratch").is_none());
    // Granted through the API, the product as the API lists it (the wire form: `free_trial`).
    app.server()
        .post(&format!("/payments/products/user/{uid}"))
        .json(json!({ "product_id": "pro" }))
        .send()
        .await
        .expect(200);
    let listed = app
        .server()
        .get(&format!("/payments/products/user/{uid}"))
        .send()
        .await
        .expect(200);
    let listed_pro = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "pro")
        .unwrap_or_else(|| panic!("pro is listed: {listed}"));
    assert_eq!(
        listed_pro["product"]["prices"],
        json!({ "monthly": { "USD": "10.00", "interval": [1, "month"], "free_trial": [7, "day"] } })
    );
    assert_eq!(
        listed_pro["product"]["included_items"]["credits"],
        json!({ "quantity": 5, "repeat": [1, "month"], "expires": "when-repeated" })
    );
    // The refund went through Stripe and is on the purchase's transaction.
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
        .find(|t| t["id"] == paid.as_str())
        .unwrap();
    assert_eq!(
        refunded["adjusted_by"].as_array().unwrap().len(),
        1,
        "{refunded}"
    );
    // The adjustment's note is stored where the API keeps it.
    assert!(
        db_query_text(&app.database_url, "SELECT description FROM item_changes")
            .contains("goodwill credit")
    );

    http_refusals(&app).await;
}

/// Bad catalog, customer, checkout and refund forms over plain HTTP: a 400 page with the reason
/// in an alert and what was typed kept — never a 500 — and nothing stored.
async fn http_refusals(app: &TestServer) {
    let (http, cookie) = app
        .dashboard_sign_in("admin@example.com", "admin-password-1")
        .await;
    let pay = format!(
        "{}/dashboard/projects/{}/payments",
        app.base, app.project_id
    );
    let page = http
        .get(&pay)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..].split('"').next().unwrap().to_string();
    let before = app
        .admin()
        .get("/internal/config/override/branch")
        .send()
        .await
        .expect(200);
    let post = |url: String, form: Vec<(&'static str, &'static str)>| {
        let mut form: Vec<(String, String)> = form
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        form.push(("csrf".into(), csrf.clone()));
        let (http, cookie) = (http.clone(), cookie.clone());
        async move {
            let r = http
                .post(url)
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let product = |extra: &[(&'static str, &'static str)]| {
        let mut f = vec![
            ("what", "product"),
            ("id", "bad"),
            ("display_name", "Bad product"),
            ("customer_type", "user"),
            ("currency.0", "USD"),
            ("amount.0", "10"),
            ("interval_unit.0", "month"),
            ("expires.0", "when-repeated"),
        ];
        for (k, v) in extra {
            f.retain(|(name, _)| name != k);
            f.push((k, v));
        }
        f
    };
    // (form, what the alert says)
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            product(&[("amount.0", "1e3")]),
            "Price 1: the amount must be a number",
        ),
        (
            product(&[("amount.0", "-5")]),
            "Price 1: the amount must be a number",
        ),
        (
            product(&[("currency.0", "JPY"), ("amount.0", "5.5")]),
            "JPY takes no decimals",
        ),
        (
            product(&[("currency.0", "XXX")]),
            "Price 1: choose a currency.",
        ),
        (
            product(&[("interval_count.0", "-1")]),
            "Price 1: “every” must be a whole number",
        ),
        (
            product(&[("interval_count.0", "99999999999999999999")]),
            "must be a whole number from 1 to 10000",
        ),
        (
            product(&[("interval_unit.0", "fortnight")]),
            "Price 1: choose day, week, month or year.",
        ),
        (
            product(&[
                ("interval_unit.0", ""),
                ("trial_count.0", "7"),
                ("trial_unit.0", "day"),
            ]),
            "a free trial needs a price charged every so often",
        ),
        (
            product(&[("trial_count.0", "7")]),
            "choose the free trial's unit",
        ),
        (
            product(&[("trial_unit.0", "day")]),
            "Price 1: the free trial: enter how many.",
        ),
        (
            product(&[("amount.0", ""), ("interval_count.0", "2")]),
            "Price 1: enter an amount, or clear the row.",
        ),
        (
            product(&[("price_id.0", "has space")]),
            "Price 1: price IDs use letters",
        ),
        (
            product(&[("item_id.0", "credits"), ("item_quantity.0", "lots")]),
            "Included item 1: the quantity must be a whole number.",
        ),
        (
            product(&[("item_id.0", "nothing-here"), ("item_quantity.0", "1")]),
            "Included item 1: the catalog has no item “nothing-here”.",
        ),
        (
            product(&[
                ("item_id.0", "credits"),
                ("item_quantity.0", "1"),
                ("expires.0", "someday"),
            ]),
            "Included item 1: choose when it expires.",
        ),
        (
            product(&[
                ("item_id.0", "credits"),
                ("item_quantity.0", "1"),
                ("customer_type", "team"),
            ]),
            "is for user customers, the product for team customers",
        ),
        (
            product(&[("item_quantity.0", "4")]),
            "Included item 1: choose the item, or clear the row.",
        ),
        (
            product(&[("customer_type", "robot")]),
            "Choose the customer type",
        ),
        (
            product(&[("customer_type", "team"), ("product_line_id", "plans")]),
            "Product line “plans” is for user customers",
        ),
        (
            product(&[("prices", "[1, 2]")]),
            "Prices must be a JSON object.",
        ),
        (product(&[("id", "")]), "IDs use letters"),
        (vec![("what", "robots")], "Unknown catalog form."),
        (
            vec![("what", "product"), ("op", "delete"), ("id", "pro")],
            "Tick “confirm” to delete product “pro”",
        ),
        (
            vec![("what", "item"), ("op", "delete"), ("id", "credits")],
            "Tick “confirm” to delete item “credits”",
        ),
        (
            vec![
                ("what", "item"),
                ("op", "delete"),
                ("id", "credits"),
                ("confirm", "on"),
            ],
            "The item “credits” is used by products: Credit pack, Pro.",
        ),
        (
            vec![
                ("what", "line"),
                ("op", "delete"),
                ("id", "plans"),
                ("confirm", "on"),
            ],
            "The product line “plans” is used by a product: Pro.",
        ),
    ];
    for (form, says) in cases {
        let (status, body) = post(pay.clone(), form.clone()).await;
        assert_eq!(status, 400, "{form:?}: {body}");
        assert!(body.contains("role=\"alert\""), "{form:?}");
        assert!(body.contains(says), "{form:?} should say {says:?}: {body}");
        // A refused product form keeps the display name typed.
        if form.iter().any(|(k, v)| *k == "what" && *v == "product")
            && !form.iter().any(|(k, _)| *k == "op")
        {
            assert!(body.contains("value=\"Bad product\""), "{form:?}");
        }
    }
    let after = app
        .admin()
        .get("/internal/config/override/branch")
        .send()
        .await
        .expect(200);
    assert_eq!(before, after, "nothing refused was stored");

    // A refund without its confirmation, and of an unknown purchase.
    let (status, body) = post(
        format!("{pay}/transactions/refund"),
        vec![("type", "one-time-purchase"), ("id", "nope")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("Tick “confirm” to refund this purchase"),
        "{body}"
    );
    let (status, body) = post(
        format!("{pay}/transactions/refund"),
        vec![
            ("type", "one-time-purchase"),
            ("id", "nope"),
            ("confirm", "on"),
            ("quantity", "x"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("Units to refund must be a whole number."),
        "{body}"
    );
    // Customer forms and the checkout form.
    let customer = format!("{pay}/customers/custom/acme-corp");
    let (status, body) = post(
        format!("{customer}/grant"),
        vec![("product_id", "credit-pack"), ("quantity", "0")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("Quantity must be at least 1."), "{body}");
    let (status, body) = post(
        format!("{pay}/checkout"),
        vec![
            ("customer_type", "user"),
            ("customer_id", ""),
            ("product_id", "pro"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.contains("Enter the customer&#39;s ID.") || body.contains("Enter the customer's ID."),
        "{body}"
    );
    let (status, body) = post(
        format!("{pay}/checkout"),
        vec![
            ("customer_type", "user"),
            ("customer_id", "u"),
            ("product_id", "pro"),
            ("return_url", "not a url"),
        ],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    // The Stripe page: refused keys keep the publishable key typed; saved ones get a notice.
    let (status, body) = post(
        format!("{pay}/stripe"),
        vec![
            ("secret_key", "pk_test_not_a_secret"),
            ("webhook_secret", WEBHOOK_SECRET),
            ("publishable_key", "pk_test_kept"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("role=\"alert\""), "{body}");
    assert!(body.contains("value=\"pk_test_kept\""), "{body}");
    let (status, _) = post(
        format!("{pay}/stripe"),
        vec![
            ("secret_key", "sk_test_portcullis"),
            ("webhook_secret", WEBHOOK_SECRET),
            ("publishable_key", "pk_test_portcullis"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    let saved = http
        .get(format!("{pay}/stripe?done=keys"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        saved.contains("role=\"status\">Stripe keys saved."),
        "{saved}"
    );
    // A bad cursor on the transactions page is a message, not an error document.
    let r = http
        .get(format!("{pay}/transactions?cursor=garbage"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("role=\"alert\""));
}

on_both_backends!(payments_dashboard, payments_pages);
