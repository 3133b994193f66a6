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
    assert!(
        checked >= 1 && refused >= 1,
        "{checked} checked, {refused} refused"
    );
    // Once the burst is over, sign-in works again.
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "victim@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
}
on_both_backends!(password_hashing_is_bounded, hashing_is_bounded);

/// PostgreSQL cannot store NUL in text: every field, key, query parameter and path segment with
/// one is a SCHEMA_ERROR on both databases, and nothing is written.
async fn nul_characters(backend: Backend) {
    let app = TestServer::start(backend).await;
    let user = app.create_user("nul@example.com").await;
    let id = user["id"].as_str().unwrap();
    let e = app
        .server()
        .patch(&format!("/users/{id}"))
        .json(json!({ "display_name": "a\u{0}b" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert!(e["error"]
        .as_str()
        .unwrap()
        .contains("body.display_name must not contain NUL characters"));
    app.server()
        .patch(&format!("/users/{id}"))
        .json(json!({ "client_metadata": { "nested": ["ok", { "k\u{0}": 1 }] } }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post("/teams")
        .json(json!({ "display_name": "Team\u{0}" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let e = app
        .server()
        .get("/users?query=a%00b")
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert!(e["error"].as_str().unwrap().contains("query.query"));
    app.server()
        .get("/users/a%00b")
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .post("/auth/password/sign-in")
        .raw(
            "application/x-www-form-urlencoded",
            "email=a%00@example.com&password=x",
        )
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let page = app
        .anon()
        .get(&format!("{}/dashboard/projects/a%00b", app.base))
        .send()
        .await;
    assert_eq!(page.status.as_u16(), 400, "{}", page.text);
    // Nothing was written.
    let after = app
        .server()
        .get(&format!("/users/{id}"))
        .send()
        .await
        .expect(200);
    assert_eq!(after["display_name"], user["display_name"]);
    assert_eq!(after["client_metadata"], user["client_metadata"]);
    let teams = app.server().get("/teams").send().await.expect(200);
    assert_eq!(teams["items"].as_array().unwrap().len(), 0);
}
on_both_backends!(nul_characters_are_refused, nul_characters);

/// Routes without a query schema refuse query parameters, as the original does.
async fn strict_queries(backend: Backend) {
    let app = TestServer::start(backend).await;
    let s = app.sign_up("q@example.com", "password123").await;
    let e = app
        .client()
        .user(&s)
        .get("/users/me?foo=1&bar=2")
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .ends_with("query contains unknown properties: foo, bar"),
        "{e}"
    );
    app.client()
        .post("/auth/password/sign-in?x=1")
        .json(json!({ "email": "q@example.com", "password": "password123" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    // Routes with a query schema take their parameters, and still refuse others.
    app.server().get("/users?limit=1").send().await.expect(200);
    app.server()
        .get("/users?limit=1&nope=1")
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.me(&s).await;

    // What the published SDK sends is accepted and means what it says.
    for name in ["Alpha team", "Beta team", "Gamma"] {
        app.server()
            .post("/teams")
            .json(json!({ "display_name": name }))
            .send()
            .await
            .expect(201);
        tokio::time::sleep(std::time::Duration::from_millis(5)).await; // distinct created_at
    }
    let page = app
        .server()
        .get("/teams?order_by=created_at&desc=true&limit=2&query=TEAM")
        .send()
        .await
        .expect(200);
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["display_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Beta team", "Alpha team"]);
    assert_eq!(page["pagination"]["next_cursor"], serde_json::Value::Null);
    let first = app.server().get("/teams?limit=1").send().await.expect(200);
    assert_eq!(first["items"][0]["display_name"], "Alpha team");
    let cursor = first["pagination"]["next_cursor"].as_str().unwrap();
    let next = app
        .server()
        .get(&format!("/teams?limit=1&cursor={cursor}"))
        .send()
        .await
        .expect(200);
    assert_eq!(next["items"][0]["display_name"], "Beta team");
    for id in ["read", "write"] {
        app.admin()
            .post("/team-permission-definitions")
            .json(json!({ "id": id }))
            .send()
            .await
            .expect(201);
    }
    let defs = app
        .admin()
        .get("/team-permission-definitions?limit=1&query=WRITE")
        .send()
        .await
        .expect(200);
    assert_eq!(defs["items"].as_array().unwrap().len(), 1);
    assert_eq!(defs["items"][0]["id"], "write");
    let uid = s["user_id"].as_str().unwrap();
    app.admin()
        .get(&format!(
            "/internal/payments/transactions?customer_type=user&customer_id={uid}&limit=5"
        ))
        .send()
        .await
        .expect(200);
}
on_both_backends!(unknown_query_parameters_are_refused, strict_queries);

const MAX_QUANTITY: i64 = 9_007_199_254_740_991;

async fn set_credit_catalog(app: &TestServer) {
    let catalog = json!({
        "payments.testMode": true,
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.products.pack": {
            "displayName": "Pack", "customerType": "user", "stackable": true,
            "prices": { "once": { "USD": "5" } },
            "includedItems": { "credits": { "quantity": 10, "expires": "never" } }
        }
    });
    app.override_config(catalog).await;
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

/// Quantities are bounded and ledger arithmetic is checked: an overflowing change is refused with
/// a known error and the balance stays readable and unchanged, whoever tries it.
async fn quantity_overflow(backend: Backend) {
    let app = TestServer::start(backend).await;
    set_credit_catalog(&app).await;
    let s = app.sign_up("rich@example.com", "password123").await;
    let uid = s["user_id"].as_str().unwrap().to_string();
    let change = |delta: i64, allow_negative: bool| {
        app.server()
            .post(&format!(
                "/payments/items/user/{uid}/credits/update-quantity?allow_negative={allow_negative}"
            ))
            .json(json!({ "delta": delta }))
    };
    change(i64::MAX, false)
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    change(i64::MIN, true)
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(credits(&app, &uid).await, 0);
    change(MAX_QUANTITY, false).send().await.expect(200);
    change(1, false)
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    change(MAX_QUANTITY, false)
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(credits(&app, &uid).await, MAX_QUANTITY);
    // Spending from the top is fine, and so is going to the bottom and no further.
    change(-MAX_QUANTITY, false).send().await.expect(200);
    change(-MAX_QUANTITY, true).send().await.expect(200);
    change(-1, true)
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(credits(&app, &uid).await, -MAX_QUANTITY);
    change(MAX_QUANTITY, false).send().await.expect(200);
    assert_eq!(credits(&app, &uid).await, 0);

    // A client buying so many units of a stackable product that its grant overflows.
    let url = app
        .client()
        .user(&s)
        .post("/payments/purchases/create-purchase-url")
        .json(json!({ "customer_type": "user", "customer_id": uid, "product_id": "pack" }))
        .send()
        .await
        .expect(200)["url"]
        .as_str()
        .unwrap()
        .to_string();
    let full_code = url
        .split("/purchase/")
        .nth(1)
        .unwrap()
        .split(['?', '#'])
        .next()
        .unwrap()
        .to_string();
    for quantity in [4_611_686_018_427_387_904_i64, MAX_QUANTITY, 0, -1] {
        app.anon()
            .post("/internal/payments/test-mode-purchase-session")
            .json(json!({ "full_code": full_code, "price_id": "once", "quantity": quantity }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
    }
    assert_eq!(credits(&app, &uid).await, 0, "nothing was granted");
    // The same code still buys a sensible quantity.
    app.anon()
        .post("/internal/payments/test-mode-purchase-session")
        .json(json!({ "full_code": full_code, "price_id": "once", "quantity": 3 }))
        .send()
        .await
        .expect(200);
    assert_eq!(credits(&app, &uid).await, 30);
    // Server grants are bounded the same way.
    app.server()
        .post(&format!("/payments/products/user/{uid}"))
        .json(json!({ "product_id": "pack", "quantity": MAX_QUANTITY }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    // A catalog granting more than the bound per unit is refused when saved.
    let e = app
        .admin()
        .patch("/internal/config/override/branch")
        .json(json!({ "config_override_string": json!({ "payments.products.pack.includedItems": { "credits": { "quantity": i64::MAX } } }).to_string() }))
        .send()
        .await;
    assert_eq!(e.status.as_u16(), 400, "{}", e.text);
    assert_eq!(credits(&app, &uid).await, 30);
}
on_both_backends!(ledger_quantities_cannot_overflow, quantity_overflow);

const CALLBACK: &str = "http://localhost:3000/handler/callback";

/// Asserts a rate-limit answer: 429, `{"message"}`, and a `Retry-After` within the window.
#[track_caller]
fn assert_limited(r: &Resp, window_secs: u64) {
    assert_eq!(r.status.as_u16(), 429, "{}", r.text);
    assert!(r.json["message"]
        .as_str()
        .unwrap()
        .starts_with("Too many requests"));
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=window_secs).contains(&retry), "Retry-After {retry}");
}

/// Guessing passwords and codes, and mail bombing, are limited per account, per address and per
/// client IP (429 + `Retry-After`); trusted callers skip the per-IP limits only.
async fn rate_limits(backend: Backend) {
    // The counters are fixed windows aligned to the minute (and ten minutes): start early in
    // one, so the whole run (a few seconds) counts in the same windows.
    while now_secs() % 60 > 40 || now_secs() % 600 > 580 {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    let opts = env(&[(
        "PORTCULLIS_RATE_LIMITS",
        "sign_in_ip=15/60,code_check_ip=4/60,code_send_ip=100/600",
    )]);
    let app = TestServer::start_with(backend, opts).await;
    app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "magic_link_enabled": true } }))
        .send()
        .await
        .expect(200);
    app.sign_up("victim@example.com", "password123").await;
    let sign_in = |email: &str, password: &str| {
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": email, "password": password }))
    };
    // 10 failures per account, then 429 even for the right password, until the window ends.
    for _ in 0..10 {
        sign_in("victim@example.com", "wrong-guess")
            .send()
            .await
            .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    }
    assert_limited(
        &sign_in("victim@example.com", "wrong-guess").send().await,
        600,
    );
    assert_limited(
        &sign_in("Victim@Example.com", "password123").send().await,
        600,
    );
    // Another account is unaffected, until this client's 15 attempts a minute are used up.
    app.sign_up("other@example.com", "password123").await;
    sign_in("other@example.com", "password123")
        .send()
        .await
        .expect(200);
    for i in 0..2 {
        sign_in(&format!("nobody{i}@example.com"), "x")
            .send()
            .await
            .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    }
    assert_limited(
        &sign_in("other@example.com", "password123").send().await,
        60,
    );

    // Codes to one address: 5 per 10 minutes, known or not, whichever kind.
    let send = |path: &str, email: &str| {
        app.client()
            .post(path)
            .json(json!({ "email": email, "callback_url": CALLBACK }))
    };
    for _ in 0..3 {
        send("/auth/otp/send-sign-in-code", "fresh@example.com")
            .send()
            .await
            .expect(200);
    }
    for _ in 0..2 {
        send("/auth/password/send-reset-code", "fresh@example.com")
            .send()
            .await
            .expect(200);
    }
    assert_limited(
        &send("/auth/otp/send-sign-in-code", "fresh@example.com")
            .send()
            .await,
        600,
    );
    for _ in 0..5 {
        send("/auth/password/send-reset-code", "stranger@example.com")
            .send()
            .await
            .expect(200);
    }
    assert_limited(
        &send("/auth/password/send-reset-code", "stranger@example.com")
            .send()
            .await,
        600,
    );
    // The server key skips per-IP limits but not the address's.
    let r = app
        .server()
        .post("/auth/password/send-reset-code")
        .json(json!({ "email": "stranger@example.com", "callback_url": CALLBACK }))
        .send()
        .await;
    assert_limited(&r, 600);

    // Code checks: 4 a minute per client IP.
    for _ in 0..4 {
        app.client()
            .post("/auth/otp/sign-in/check-code")
            .json(json!({ "code": "a".repeat(45) }))
            .send()
            .await
            .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
    }
    let r = app
        .client()
        .post("/auth/password/reset/check-code")
        .json(json!({ "code": "a".repeat(45) }))
        .send()
        .await;
    assert_limited(&r, 60);
    app.server()
        .post("/auth/otp/sign-in/check-code")
        .json(json!({ "code": "a".repeat(45) }))
        .send()
        .await
        .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
}
on_both_backends!(guessing_and_mail_bombing_are_limited, rate_limits);

/// The dashboard's sign-in counts failures per admin account too.
async fn dashboard_sign_in_limited(backend: Backend) {
    let app = TestServer::start(backend).await;
    let http = reqwest::Client::new();
    let attempt = || {
        http.post(format!("{}/dashboard/sign-in", app.base))
            .form(&[
                ("email", "admin@example.com"),
                ("password", "not-it-at-all"),
            ])
            .send()
    };
    for _ in 0..10 {
        assert_eq!(attempt().await.unwrap().status().as_u16(), 400);
    }
    let r = attempt().await.unwrap();
    assert_eq!(r.status().as_u16(), 429);
    assert!(r.headers().contains_key("retry-after"));
    assert!(r.text().await.unwrap().contains("Too many requests"));
}
on_both_backends!(dashboard_sign_in_is_limited, dashboard_sign_in_limited);

/// Limits can be turned off (benchmarks, trusted networks).
async fn limits_off(backend: Backend) {
    let app = TestServer::start_with(backend, env(&[("PORTCULLIS_RATE_LIMITS", "off")])).await;
    app.sign_up("v@example.com", "password123").await;
    for _ in 0..12 {
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "v@example.com", "password": "wrong-guess" }))
            .send()
            .await
            .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    }
}
on_both_backends!(rate_limits_can_be_turned_off, limits_off);

/// Creates the first dashboard admin through the setup link; returns their session cookie.
async fn first_admin(app: &TestServer, http: &reqwest::Client, setup_link: &str) -> String {
    let code = setup_link.split("code=").nth(1).unwrap();
    let res = http
        .post(format!("{}/dashboard/setup", app.base))
        .form(&[
            ("code", code),
            ("email", "first@example.com"),
            ("password", "first-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let set = res.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_string()
}

/// Nobody can make themselves a dashboard admin: sign-up to `internal` is closed (password, OTP,
/// anonymous); the first admin comes from the setup link and invites the next by email.
async fn internal_sign_up_closed(backend: Backend) {
    let sink = SmtpSink::start(None);
    let opts = env(&[("PORTCULLIS_SMTP_URL", &sink.url())]);
    let app = TestServer::start_with(backend, opts).await;
    let internal = || {
        app.anon()
            .header("x-stack-project-id", "internal")
            .header("x-stack-access-type", "client")
    };
    internal()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "intruder@example.com", "password": "password123" }))
        .send()
        .await
        .expect_error(400, "SIGN_UP_NOT_ENABLED");
    let r = internal().post("/auth/anonymous/sign-up").send().await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.text);

    // The first admin, from the setup link.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie = first_admin(&app, &http, &app.setup_link()).await;
    let home = http
        .get(format!("{}/dashboard", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at = home.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = home[at..].split('"').next().unwrap().to_string();
    let created = http
        .post(format!("{}/dashboard/projects", app.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("display_name", "Shared app")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 200);

    // An invitation by email, then the invitee joins and sees the same projects.
    let invited = http
        .post(format!("{}/dashboard/admins/invite", app.base))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str()), ("email", "Second@Example.com")])
        .send()
        .await
        .unwrap();
    assert_eq!(invited.status().as_u16(), 200);
    assert!(invited
        .text()
        .await
        .unwrap()
        .contains("Invitation sent to second@example.com"));
    let mail = &sink.wait_for("second@example.com", 1).await[0];
    let text = mail["text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/dashboard/join?code="))
        .expect("a join link");
    let form = http.get(link).send().await.unwrap().text().await.unwrap();
    assert!(form.contains("second@example.com"), "{form}");
    let code = link.split("code=").nth(1).unwrap();
    let short = http
        .post(format!("{}/dashboard/join", app.base))
        .form(&[("code", code), ("password", "short")])
        .send()
        .await
        .unwrap();
    assert_eq!(short.status().as_u16(), 400);
    let joined = http
        .post(format!("{}/dashboard/join", app.base))
        .form(&[("code", code), ("password", "second-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(joined.status().as_u16(), 303);
    let second = joined.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let home = http
        .get(format!("{}/dashboard", app.base))
        .header("cookie", &second)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("Shared app"),
        "the invitee sees the team's projects"
    );
    // The link works once.
    let again = http
        .post(format!("{}/dashboard/join", app.base))
        .form(&[("code", code), ("password", "third-password")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 400);
    let admins = app
        .anon()
        .header("x-stack-project-id", "internal")
        .header("x-stack-access-type", "server")
        .header("x-stack-secret-server-key", INTERNAL_SSK)
        .get("/users")
        .send()
        .await
        .expect(200);
    assert_eq!(admins["items"].as_array().unwrap().len(), 2);
}
on_both_backends!(dashboard_sign_up_is_closed, internal_sign_up_closed);

/// A development setup can open it.
async fn internal_sign_up_opened(backend: Backend) {
    let opts = env(&[("PORTCULLIS_OPEN_DASHBOARD_SIGN_UP", "true")]);
    let app = TestServer::start_with(backend, opts).await;
    app.anon()
        .header("x-stack-project-id", "internal")
        .header("x-stack-access-type", "client")
        .post("/auth/password/sign-up")
        .json(json!({ "email": "dev@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
}
on_both_backends!(dashboard_sign_up_can_be_opened, internal_sign_up_opened);

/// Pages send a Content-Security-Policy and `no-store`; a used setup link says so instead of
/// showing a form that can only fail.
async fn page_headers(backend: Backend) {
    let app = TestServer::start(backend).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let link = app.setup_link();
    for url in [
        format!("{}/dashboard/sign-in", app.base),
        link.clone(),
        format!("{}/purchase/{}_nope", app.base, app.project_id),
    ] {
        let r = http.get(&url).send().await.unwrap();
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'none'"), "{url}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{url}: {csp}");
        assert_eq!(r.headers()["cache-control"], "no-store", "{url}");
    }
    let cookie = first_admin(&app, &http, &link).await;
    let home = http
        .get(format!("{}/dashboard", app.base))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(home.headers()["cache-control"], "no-store");
    let used = http.get(&link).send().await.unwrap();
    assert_eq!(used.status().as_u16(), 400);
    let page = used.text().await.unwrap();
    assert!(
        page.contains("no longer works") && page.contains("already been used"),
        "{page}"
    );
    assert!(!page.contains("<form"), "no form for a used link");
}
on_both_backends!(pages_send_csp_and_no_store, page_headers);

/// What a second attack found: imported hashes too dear to verify, old setup links, guessing
/// through password update, grants past the quantity bound, NUL inside the config document.
async fn second_round(backend: Backend) {
    let app = TestServer::start(backend).await;
    // Imported hashes whose costs would exhaust or stall the hashing pool are refused.
    for hash in [
        "$argon2id$v=19$m=50000000,t=1,p=1$c29tZXNhbHRzb21lc2FsdA$YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE",
        "$2b$31$abcdefghijklmnopqrstuuyvPXIbu7xe6/CED2DzX8z6Si09MlzlW",
    ] {
        app.server()
            .post("/users")
            .json(json!({ "primary_email": "imported@example.com", "password_hash": hash, "primary_email_auth_enabled": true }))
            .send()
            .await
            .expect_text(400, "Invalid password hash");
    }
    let cheap = "$2b$04$abcdefghijklmnopqrstuuyvPXIbu7xe6/CED2DzX8z6Si09MlzlW";
    app.server()
        .post("/users")
        .json(json!({ "primary_email": "imported@example.com", "password_hash": cheap, "primary_email_auth_enabled": true }))
        .send()
        .await
        .expect(201);

    // Guessing the current password through `password/update` counts like failed sign-ins.
    let s = app.sign_up("holder@example.com", "password123").await;
    for i in 0..10 {
        app.client()
            .user(&s)
            .post("/auth/password/update")
            .json(json!({ "old_password": format!("guess-{i}"), "new_password": "password456" }))
            .send()
            .await
            .expect_error(400, "PASSWORD_CONFIRMATION_MISMATCH");
    }
    let r = app
        .client()
        .user(&s)
        .post("/auth/password/update")
        .json(json!({ "old_password": "password123", "new_password": "password456" }))
        .send()
        .await;
    assert_limited(&r, 600);

    // Repeated grants cannot take a balance past the bound.
    let catalog = json!({
        "payments.items.x": { "displayName": "X", "customerType": "user" },
        "payments.products.y": {
            "displayName": "Y", "customerType": "user", "stackable": true, "prices": {},
            "includedItems": { "x": { "quantity": MAX_QUANTITY, "expires": "never" } }
        }
    });
    app.override_config(catalog).await;
    let uid = s["user_id"].as_str().unwrap();
    let grant = || {
        app.server()
            .post(&format!("/payments/products/user/{uid}"))
            .json(json!({ "product_id": "y", "quantity": 1 }))
    };
    grant().send().await.expect(200);
    grant().send().await.expect_error(400, "SCHEMA_ERROR");
    let x = app
        .server()
        .get(&format!("/payments/items/user/{uid}/x"))
        .send()
        .await
        .expect(200);
    assert_eq!(x["quantity"], MAX_QUANTITY);

    // NUL inside the config document is refused like NUL in any body.
    let e = app
        .admin()
        .patch("/internal/config/override/branch")
        .json(json!({ "config_override_string": "{\"a\\u0000\":1}" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert!(e["error"].as_str().unwrap().contains("NUL"), "{e}");
}
on_both_backends!(second_attack_findings, second_round);

/// Setup links from earlier starts stop working, and none works once an admin exists.
async fn stale_setup_links(backend: Backend) {
    let mut app = TestServer::start(backend).await;
    let old = app.setup_link();
    app.crash_and_restart().await;
    let new = app.setup_link();
    assert_ne!(old, new);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let try_setup = |link: &str, email: &str| {
        let code = link.split("code=").nth(1).unwrap().to_string();
        http.post(format!("{}/dashboard/setup", app.base))
            .form(&[
                ("code", code),
                ("email", email.to_string()),
                ("password", "password-123".to_string()),
            ])
            .send()
    };
    assert_eq!(
        try_setup(&old, "a@example.com")
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );
    assert_eq!(
        try_setup(&new, "b@example.com")
            .await
            .unwrap()
            .status()
            .as_u16(),
        303
    );
    assert_eq!(
        try_setup(&new, "c@example.com")
            .await
            .unwrap()
            .status()
            .as_u16(),
        400
    );
}
on_both_backends!(old_setup_links_stop_working, stale_setup_links);
