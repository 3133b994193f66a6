//! A project's end-user pages (`/handler/{project_id}/…`) in headless Chromium
//! (`tests/sdk/handler-pages.mjs`) at 1440 px and 390 px: sign up, verify the email and reset
//! the password from the links in real emails (tests/smtp_sink.py), sign in, rename, sign out;
//! checked afterwards through the API. Screenshots go to
//! `tests/artifacts/handler-pages-<backend>`.

mod common;
use common::*;
use serde_json::json;

/// A browser without JavaScript: keeps cookies (or not), shows redirects instead of following
/// them, and opens a fresh connection each time (a page answered before its body was read, an
/// unknown project's 404, may close the connection, which a pooled client would then reuse).
fn page_client(cookies: bool) -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(cookies)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// The value of the hidden form field `name` in a page.
fn hidden_field(html: &str, name: &str) -> String {
    let needle = format!("name=\"{name}\" value=\"");
    let at = html.find(&needle).expect(name) + needle.len();
    html[at..].split('"').next().unwrap().to_string()
}

/// Opens the sign-in page at `url` and signs in with its form (its token included).
async fn sign_in_on_page(
    client: &reqwest::Client,
    url: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let html = client.get(url).send().await.unwrap().text().await.unwrap();
    let token = hidden_field(&html, "form_token");
    client
        .post(url)
        .form(&[
            ("form_token", token.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

async fn handler_pages(backend: Backend) {
    let artifacts = browser_artifacts("handler-pages", backend);
    let sink = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_SMTP_URL".into(), sink.url())],
        },
    )
    .await;
    // This server's own pages need no listing among the trusted domains; others do.
    app.configure(json!({ "allow_localhost": false, "client_user_deletion_enabled": true }))
        .await;
    // The server's public URL (its default) names it `localhost`.
    let public = app.base.replace("127.0.0.1", "localhost");
    let pages = format!("{public}/handler/{}", app.project_id);
    app.client()
        .post("/auth/password/sign-up")
        .json(
            json!({ "email": "someone@example.com", "password": "first-password",
            "verification_callback_url": "http://localhost:3000/handler/email-verification" }),
        )
        .send()
        .await
        .expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    app.client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "someone@example.com", "password": "first-password",
            "verification_callback_url": format!("{public}/handler/another-project/email-verification") }))
        .send()
        .await
        .expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    run_browser_script(
        "handler-pages.mjs",
        &[
            ("PAGES_URL", pages.clone()),
            ("MAIL_DIR", sink.dir.0.display().to_string()),
        ],
        &artifacts,
        &[
            "01-sign-up-1440",
            "01-sign-up-390",
            "03-verify-1440",
            "03-verify-390",
            "04-verified-1440",
            "06-sign-in-1440",
            "06-sign-in-390",
            "07-forgot-1440",
            "07-forgot-390",
            "08-reset-1440",
            "08-reset-390",
            "10-account-1440",
            "10-account-390",
        ],
        || app.log(),
    )
    .await;

    // What the pages did, seen through the API: the account the pages made and deleted is gone.
    let users = app.server().get("/users").send().await.expect(200);
    assert!(!users.to_string().contains("reader@example.com"), "{users}");
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "reader@example.com", "password": "third-password" }))
        .send()
        .await
        .expect_error(400, "EMAIL_PASSWORD_MISMATCH");

    // A sign-in form posted from elsewhere (no token matching the browser's cookie) is refused
    // before any password is checked.
    let forged = reqwest::Client::new()
        .post(format!("{pages}/sign-in"))
        .form(&[
            ("email", "reader@example.com"),
            ("password", "brand-new-password"),
            ("form_token", "x"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 400);
    assert!(forged.headers().get("set-cookie").is_none());

    // With sign-up closed, the page says so and offers no form.
    app.configure(json!({ "sign_up_enabled": false })).await;
    let closed = reqwest::get(format!("{pages}/sign-up"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        closed.contains("New accounts cannot be created here."),
        "{closed}"
    );
    assert!(!closed.contains("<form"));
}
on_both_backends!(handler_pages, handler_pages);

/// Signing in on the hosted page for an app on another trusted domain (the published SDK's
/// cross-domain handoff): the page sends the browser back to the app's callback with a one-time
/// code and the app's state, never a token; the app exchanges the code with its PKCE verifier
/// for a session of its own. An untrusted return URL is refused before anyone signs in.
async fn app_handoff(backend: Backend) {
    use base64::Engine;
    use portcullis::http::url::percent_encode;
    use sha2::Digest;
    let app = TestServer::start(backend).await;
    let signed_up = app.sign_up("pat@example.com", "password123").await;
    let pages = format!("{}/handler/{}", app.base, app.project_id);
    let callback = "http://localhost:3000/handler/oauth-callback?stack_cross_domain_auth=1";
    let verifier = "app-pkce-verifier-0123456789012345678901234567890";
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier));
    let sign_in_url = |return_to: &str| {
        format!(
            "{pages}/sign-in?after_auth_return_to={}&stack_cross_domain_state=app-state&stack_cross_domain_code_challenge={challenge}&stack_cross_domain_after_callback_redirect_url={}",
            percent_encode(return_to),
            percent_encode("http://localhost:3000/after")
        )
    };
    let browser = page_client(true);

    // An untrusted return: refused with the API's error, and no form to sign in with.
    let untrusted = browser
        .get(sign_in_url("https://evil.example/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(untrusted.status().as_u16(), 400);
    let html = untrusted.text().await.unwrap();
    assert!(html.contains("Redirect URL not whitelisted"), "{html}");
    assert!(!html.contains("<form"));

    let url = sign_in_url(callback);
    let signed_in = sign_in_on_page(&browser, &url, "pat@example.com", "password123").await;
    assert_eq!(signed_in.status().as_u16(), 303);
    let location = signed_in.headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.starts_with(callback), "{location}");
    assert!(!location.contains("token"), "{location}");
    let param = |name: &str| {
        location
            .split_once('?')
            .unwrap()
            .1
            .split('&')
            .find_map(|p| p.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    assert_eq!(param("state").as_deref(), Some("app-state"));
    let code = param("code").expect("an authorization code");
    let exchange = |verifier: &str| {
        let body = format!(
            "grant_type=authorization_code&code={code}&code_verifier={verifier}&redirect_uri={}&client_id={}&client_secret={}",
            percent_encode(callback),
            app.project_id,
            app.publishable_client_key
        );
        app.anon()
            .post("/auth/oauth/token")
            .raw("application/x-www-form-urlencoded", &body)
            .send()
    };
    exchange("a-wrong-verifier-01234567890123456789012345678901")
        .await
        .expect_error(400, "INVALID_AUTHORIZATION_CODE");
    let tokens = exchange(verifier).await.expect(200);
    assert_eq!(tokens["user_id"], signed_up["user_id"]);
    let me = app
        .client()
        .user(&json!({ "access_token": tokens["access_token"] }))
        .get("/users/me")
        .send()
        .await
        .expect(200);
    assert_eq!(me["primary_email"], "pat@example.com");

    // Signed in on the pages already: the next app visit goes straight back with a new code.
    let again = browser.get(&url).send().await.unwrap();
    assert_eq!(again.status().as_u16(), 303);
    let location = again.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(callback) && location.contains("code="),
        "{location}"
    );

    // The same in a browser: the page's own policies let the form end on the app's origin.
    let artifacts = browser_artifacts("handler-handoff", backend);
    run_browser_script(
        "handler-handoff.mjs",
        &[
            ("SIGN_IN_URL", url.clone()),
            (
                "CALLBACK",
                "http://localhost:3000/handler/oauth-callback".to_string(),
            ),
        ],
        &artifacts,
        &["01-sign-in-for-app", "02-back-in-app"],
        || app.log(),
    )
    .await;
}
on_both_backends!(app_handoff, app_handoff);

/// Teams on the pages (`tests/sdk/handler-teams.mjs`): create a team, invite by email, and the
/// invitee signs up from the invitation and joins; checked afterwards through the API.
async fn teams_on_pages(backend: Backend) {
    let artifacts = browser_artifacts("handler-teams", backend);
    let sink = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_SMTP_URL".into(), sink.url())],
        },
    )
    .await;
    app.configure(json!({ "client_team_creation_enabled": true }))
        .await;
    let public = app.base.replace("127.0.0.1", "localhost");
    let pages = format!("{public}/handler/{}", app.project_id);
    run_browser_script(
        "handler-teams.mjs",
        &[
            ("PAGES_URL", pages),
            ("MAIL_DIR", sink.dir.0.display().to_string()),
        ],
        &artifacts,
        &[
            "01-team-1440",
            "01-team-390",
            "02-invitation-signed-out-1440",
            "02-invitation-signed-out-390",
            "03-invitation-1440",
            "04-account-with-team-390",
            "05-team-as-member-390",
        ],
        || app.log(),
    )
    .await;
    let teams = app.server().get("/teams").send().await.expect(200);
    let team = &teams["items"][0];
    assert_eq!(team["display_name"], "Book Club", "{teams}");
    let members = app
        .server()
        .get(&format!("/users?team_id={}", team["id"].as_str().unwrap()))
        .send()
        .await
        .expect(200);
    let emails: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|u| u["primary_email"].as_str())
        .collect();
    assert_eq!(emails, ["owner@example.com"], "the member left: {members}");
    let users = app.server().get("/users").send().await.expect(200);
    let member = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["primary_email"] == "member@example.com")
        .unwrap();
    assert_eq!(
        member["selected_team_id"],
        json!(null),
        "leaving unselects the team"
    );
}
on_both_backends!(teams_on_pages, teams_on_pages);

/// Billing on the pages (`tests/sdk/handler-billing.mjs`) against localstripe: buy a monthly
/// plan through the checkout page, come back with it, cancel it at the period's end, reactivate
/// it, switch to the line's other plan, and change the card; Stripe's own copies of the
/// subscription and the customer's default card are checked afterwards.
async fn billing_on_pages(backend: Backend) {
    const SECRET: &str = "whsec_portcullis_pages_secret";
    let artifacts = browser_artifacts("handler-billing", backend);
    let (stripe, app) = TestServer::start_with_stripe(backend).await;
    app.override_config(json!({
            "payments.testMode": false,
            "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
            "payments.productLines.plans": { "displayName": "Plans", "customerType": "user" },
            "payments.products.pro": {
                "displayName": "Pro", "customerType": "user", "productLineId": "plans",
                "prices": { "monthly": { "USD": "25", "interval": [1, "month"] } },
                "includedItems": { "credits": { "quantity": 100, "repeat": [1, "month"], "expires": "never" } }
            },
            "payments.products.max": {
                "displayName": "Max", "customerType": "user", "productLineId": "plans",
                "prices": { "monthly": { "USD": "60", "interval": [1, "month"] } },
                "includedItems": { "credits": { "quantity": 500, "repeat": [1, "month"], "expires": "never" } }
            }
        })).await;
    stripe.connect(&app, SECRET).await;
    let public = app.base.replace("127.0.0.1", "localhost");
    run_browser_script(
        "handler-billing.mjs",
        &[("PAGES_URL", format!("{public}/handler/{}", app.project_id))],
        &artifacts,
        &[
            "01-billing-empty-1440",
            "01-billing-empty-390",
            "02-billing-plan-1440",
            "02-billing-plan-390",
            "03-billing-canceled-1440",
        ],
        || format!("localstripe: {}\nserver: {}", stripe.output(), app.log()),
    )
    .await;
    let users = app.server().get("/users").send().await.expect(200);
    let uid = users["items"][0]["id"].as_str().unwrap();
    let credits = app
        .server()
        .get(&format!("/payments/items/user/{uid}/credits"))
        .send()
        .await
        .expect(200);
    // Switched to Max on the page: its grants from the start, and Stripe bills Max's price.
    assert_eq!(credits["quantity"], 500, "{credits}");
    let subscriptions = stripe
        .call(reqwest::Method::GET, "/v1/subscriptions", &[])
        .await;
    let amounts: Vec<i64> = subscriptions["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["items"]["data"][0]["plan"]["amount"]
                .as_i64()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(amounts, [6000], "{subscriptions}");
    // The card changed on the page is the Stripe customer's default for invoices.
    let customers = stripe
        .call(reqwest::Method::GET, "/v1/customers", &[])
        .await;
    let default = customers["data"][0]["invoice_settings"]["default_payment_method"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let method = stripe
        .call(
            reqwest::Method::GET,
            &format!("/v1/payment_methods/{default}"),
            &[],
        )
        .await;
    assert_eq!(method["card"]["last4"], "4444", "{customers}");
}
on_both_backends!(billing_on_pages, billing_on_pages);

/// Sign-in with an emailed code on the pages (`tests/sdk/handler-otp.mjs`): the one-time
/// password and the magic link from real emails; the account made is checked through the API.
async fn otp_on_pages(backend: Backend) {
    let artifacts = browser_artifacts("handler-otp", backend);
    let sink = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_SMTP_URL".into(), sink.url())],
        },
    )
    .await;
    app.configure(json!({ "magic_link_enabled": true })).await;
    let public = app.base.replace("127.0.0.1", "localhost");
    let pages = format!("{public}/handler/{}", app.project_id);
    let callback = "http://localhost:3000/handler/oauth-callback";
    let handoff = format!(
        "{pages}/sign-in?after_auth_return_to={}&stack_cross_domain_state=app-state&stack_cross_domain_code_challenge={}",
        portcullis::http::url::percent_encode(callback),
        "A".repeat(43)
    );
    run_browser_script(
        "handler-otp.mjs",
        &[
            ("PAGES_URL", pages.clone()),
            ("MAIL_DIR", sink.dir.0.display().to_string()),
            ("HANDOFF_SIGN_IN_URL", handoff),
            ("CALLBACK", callback.to_string()),
        ],
        &artifacts,
        &[
            "01-sign-in-with-code-1440",
            "01-sign-in-with-code-390",
            "02-enter-code-1440",
            "03-magic-link-1440",
            "03-magic-link-390",
        ],
        || app.log(),
    )
    .await;
    let users = app.server().get("/users").send().await.expect(200);
    let user = &users["items"][0];
    assert_eq!(user["primary_email"], "coder@example.com", "{users}");
    assert_eq!(user["otp_auth_enabled"], true);
    assert_eq!(user["primary_email_verified"], true);
}
on_both_backends!(otp_on_pages, otp_on_pages);

/// Bad input to every page: garbage bodies, wrong content types, forged tokens, unknown
/// projects and teams, signed in or not. Each gets a page or a redirect, never a 500, and
/// nothing is written.
async fn pages_refuse_bad_input(backend: Backend) {
    let app = TestServer::start(backend).await;
    app.configure(json!({ "magic_link_enabled": true, "client_team_creation_enabled": true }))
        .await;
    app.sign_up("pat@example.com", "password123").await;
    let pid = app.project_id.clone();
    let signed_in = page_client(true);
    let pages = format!("{}/handler/{pid}", app.base);
    let answer = sign_in_on_page(
        &signed_in,
        &format!("{pages}/sign-in"),
        "pat@example.com",
        "password123",
    )
    .await;
    assert_eq!(answer.status().as_u16(), 303);
    let anonymous = page_client(false);
    let before = db_query_text(
        &app.database_url,
        "SELECT (SELECT COUNT(*) FROM users) || '/' || (SELECT COUNT(*) FROM teams) || '/' || (SELECT COUNT(*) FROM verification_codes)",
    );
    let paths = [
        "sign-in",
        "sign-up",
        "forgot-password",
        "password-reset",
        "email-verification",
        "sign-in/code",
        "sign-in/code/verify",
        "magic-link-callback",
        "sign-out",
        "account-settings",
        "account-settings/sessions",
        "account-settings/password",
        "account-settings/delete",
        "teams",
        "teams/not-a-uuid",
        "teams/00000000-0000-4000-8000-000000000000",
        "teams/00000000-0000-4000-8000-000000000000/invite",
        "team-invitation",
        "billing",
        "billing/buy",
        "billing/subscription",
        "error",
    ];
    // (Bodies stay small enough for the server to drain when it answers before reading them —
    // an unknown project's 404 — rather than close the connection under the client.)
    let bodies: [(&str, Vec<u8>); 5] = [
        ("application/x-www-form-urlencoded", b"".to_vec()),
        (
            "application/x-www-form-urlencoded",
            b"csrf=x&form_token=y&email=%00%ff&password=&code=%%%".to_vec(),
        ),
        (
            "application/json",
            b"{\"email\": [1, 2], \"code\": {}}".to_vec(),
        ),
        ("text/plain", vec![0xff, 0xfe, 0x00, 0x41]),
        (
            "application/x-www-form-urlencoded",
            format!(
                "email={}&display_name={}",
                "a".repeat(20_000),
                "b".repeat(5000)
            )
            .into_bytes(),
        ),
    ];
    for project in [pid.as_str(), "not-a-project"] {
        for path in paths {
            let url = format!(
                "{}/handler/{project}/{path}?code=%ff&after_auth_return_to=javascript:alert(1)",
                app.base
            );
            for client in [&signed_in, &anonymous] {
                let got = client.get(&url).send().await.unwrap().status().as_u16();
                assert!(got < 500, "GET {url}: {got}");
                for (kind, body) in &bodies {
                    let got = client
                        .post(&url)
                        .header("content-type", *kind)
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16();
                    assert!(got < 500, "POST {url} ({kind}): {got}");
                }
            }
        }
    }
    let after = db_query_text(
        &app.database_url,
        "SELECT (SELECT COUNT(*) FROM users) || '/' || (SELECT COUNT(*) FROM teams) || '/' || (SELECT COUNT(*) FROM verification_codes)",
    );
    assert_eq!(before, after, "bad input wrote something");

    // The error page shows a flow's error as text, never as markup.
    let shown = anonymous
        .get(format!(
            "{pages}/error?errorCode=SOME_CODE&message=%3Cscript%3Ealert(1)%3C%2Fscript%3E"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(shown.status().as_u16(), 400);
    let html = shown.text().await.unwrap();
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;") && html.contains("SOME_CODE"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
}
on_both_backends!(pages_refuse_bad_input, pages_refuse_bad_input);

/// `portcullis.js` on a plain page of another trusted origin (`tests/sdk/portcullis-js.mjs`):
/// sign in through the hosted page and back, the user shown, signed out; the session the script
/// ended is gone on the server.
async fn script_on_any_page(backend: Backend) {
    let app = TestServer::start(backend).await;
    let signed_up = app.sign_up("pat@example.com", "password123").await;
    let artifacts = browser_artifacts("portcullis-js", backend);
    run_browser_script(
        "portcullis-js.mjs",
        &[
            ("PORTCULLIS_URL", app.base.replace("127.0.0.1", "localhost")),
            ("PROJECT_ID", app.project_id.clone()),
            ("CLIENT_KEY", app.publishable_client_key.clone()),
            ("APP_PORT", free_port().to_string()),
        ],
        &artifacts,
        &["01-app-signed-in", "02-app-signed-out"],
        || app.log(),
    )
    .await;
    // The sign-up's session and the hosted page's remain; the script's own one was ended.
    let sessions = app
        .server()
        .get(&format!(
            "/auth/sessions?user_id={}",
            signed_up["user_id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    assert_eq!(sessions["items"].as_array().unwrap().len(), 2, "{sessions}");
}
on_both_backends!(script_on_any_page, script_on_any_page);

/// `cli-auth-confirm` (HTTP): signed out, the page sends the user to sign in and come back;
/// confirming completes the command-line tool's login code, and its next poll collects a
/// session of the user's; a used code is refused.
async fn cli_confirm_on_pages(backend: Backend) {
    let app = TestServer::start(backend).await;
    app.sign_up("cy@example.com", "password123").await;
    let codes = app
        .client()
        .post("/auth/cli")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    let login = codes["login_code"].as_str().unwrap();
    let polling = codes["polling_code"].as_str().unwrap();
    let public = app.base.replace("127.0.0.1", "localhost");
    let browser = page_client(true);
    let confirm = format!(
        "{public}/handler/{}/cli-auth-confirm?login_code={login}",
        app.project_id
    );
    let to_sign_in = browser.get(&confirm).send().await.unwrap();
    assert_eq!(to_sign_in.status().as_u16(), 303);
    let sign_in = format!(
        "{public}{}",
        to_sign_in.headers()["location"].to_str().unwrap()
    );
    assert!(sign_in.contains("after_auth_return_to="), "{sign_in}");
    let back = sign_in_on_page(&browser, &sign_in, "cy@example.com", "password123").await;
    assert_eq!(back.status().as_u16(), 303);
    assert_eq!(back.headers()["location"].to_str().unwrap(), confirm);
    let page = browser
        .get(&confirm)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("cy@example.com"), "{page}");
    assert_eq!(
        app.client()
            .post("/auth/cli/poll")
            .json(json!({ "polling_code": polling }))
            .send()
            .await
            .expect(200)["status"],
        "waiting"
    );
    let csrf = hidden_field(&page, "csrf");
    let post = || {
        browser
            .post(&confirm)
            .form(&[("csrf", csrf.as_str()), ("login_code", login)])
            .send()
    };
    let done = post().await.unwrap();
    assert_eq!(done.status().as_u16(), 200);
    assert!(done
        .text()
        .await
        .unwrap()
        .contains("Go back to your terminal"));
    let collected = app
        .client()
        .post("/auth/cli/poll")
        .json(json!({ "polling_code": polling }))
        .send()
        .await
        .expect(201);
    let refreshed = app
        .client()
        .header(
            "x-stack-refresh-token",
            collected["refresh_token"].as_str().unwrap(),
        )
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect(200);
    let me = app
        .client()
        .token(refreshed["access_token"].as_str().unwrap())
        .get("/users/me")
        .send()
        .await
        .expect(200);
    assert_eq!(me["primary_email"], "cy@example.com");
    assert_eq!(post().await.unwrap().status().as_u16(), 400);
}
on_both_backends!(cli_confirm_on_pages, cli_confirm_on_pages);

/// A user with TOTP signs in on the pages: the password (or emailed code) leads to the second
/// step, whose attempt code lives only in the form; a wrong TOTP is refused in the API's words,
/// the right one signs in and returns where the app asked. Opened directly, the step says to
/// sign in first.
async fn mfa_on_pages(backend: Backend) {
    const SECRET: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=";
    let app = TestServer::start(backend).await;
    let user = app.create_user("mia@example.com").await;
    app.server()
        .patch(&format!("/users/{}", user["id"].as_str().unwrap()))
        .json(json!({ "password": "password123", "totp_secret_base64": SECRET }))
        .send()
        .await
        .expect(200);
    let public = app.base.replace("127.0.0.1", "localhost");
    let pages = format!("{public}/handler/{}", app.project_id);
    let client = page_client(true);
    let direct = client.get(format!("{pages}/mfa")).send().await.unwrap();
    assert_eq!(direct.status(), 200);
    assert!(direct.text().await.unwrap().contains("Sign in first"));

    let back = format!("{pages}/account-settings?from=app");
    let sign_in = format!(
        "{pages}/sign-in?after_auth_return_to={}",
        portcullis::http::url::percent_encode(&back)
    );
    let step = sign_in_on_page(&client, &sign_in, "mia@example.com", "password123").await;
    assert_eq!(step.status(), 200);
    let cookies: Vec<_> = step.headers().get_all("set-cookie").iter().collect();
    assert!(!format!("{cookies:?}").contains("portcullis_session="));
    let html = step.text().await.unwrap();
    assert!(html.contains("Two-factor authentication"), "{html}");
    let attempt = hidden_field(&html, "attempt_code");
    let token = hidden_field(&html, "form_token");
    let action = format!(
        "{pages}/mfa?after_auth_return_to={}",
        portcullis::http::url::percent_encode(&back)
    );
    let post = |totp: String, attempt: String| {
        let (client, action, token) = (client.clone(), action.clone(), token.clone());
        async move {
            client
                .post(action)
                .form(&[
                    ("form_token", token),
                    ("attempt_code", attempt),
                    ("totp", totp),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let wrong = if totp_for(SECRET, 0) == "123456" {
        "654321"
    } else {
        "123456"
    };
    let refused = post(wrong.into(), attempt.clone()).await;
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("The TOTP code is invalid"));
    let forged = post(totp_for(SECRET, 0), "not-a-real-attempt-code".into()).await;
    assert_eq!(forged.status(), 400);
    let done = post(totp_for(SECRET, 0), attempt.clone()).await;
    assert_eq!(done.status(), 303, "{:?}", done.text().await);
    assert_eq!(done.headers()["location"], back.as_str());
    let account = client.get(&back).send().await.unwrap();
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains("mia@example.com"));
    // The attempt code worked once.
    let again = post(totp_for(SECRET, 1), attempt).await;
    assert_eq!(again.status(), 400);
    // Without the form cookie (another site posting), the step is refused.
    let other = page_client(false)
        .post(&action)
        .form(&[
            ("form_token", "x".repeat(32)),
            ("attempt_code", "y".into()),
            ("totp", "123456".into()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 400);
}
on_both_backends!(mfa_on_pages, mfa_on_pages);

/// The account page's emails and security in Chromium (`tests/sdk/handler-account.mjs`): a user
/// who signed in with an emailed code adds and verifies a second email and makes it primary, sets
/// a first password, turns on TOTP from the page's key, and signs in again with both factors.
async fn account_security_on_pages(backend: Backend) {
    let artifacts = browser_artifacts("handler-account", backend);
    let sink = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_SMTP_URL".into(), sink.url())],
        },
    )
    .await;
    app.configure(json!({ "magic_link_enabled": true, "allow_user_api_keys": true }))
        .await;
    let public = app.base.replace("127.0.0.1", "localhost");
    let pages = format!("{public}/handler/{}", app.project_id);
    let summary = run_browser_script(
        "handler-account.mjs",
        &[
            ("PAGES_URL", pages.clone()),
            ("MAIL_DIR", sink.dir.0.display().to_string()),
        ],
        &artifacts,
        &[
            "01-account-no-password-1440",
            "01-account-no-password-390",
            "02-account-two-emails-390",
            "03-mfa-setup-1440",
            "03-mfa-setup-390",
            "04-account-mfa-on-390",
            "05-api-key-created-390",
            "06-mfa-step-1440",
        ],
        || app.log(),
    )
    .await;
    assert_eq!(summary["widths"].as_array().unwrap().len(), 5);
    // The key the page showed once is a real one, revoked on the page.
    app.server()
        .post("/user-api-keys/check")
        .json(json!({ "api_key": summary["apiKey"] }))
        .send()
        .await
        .expect_error(401, "API_KEY_REVOKED");
    // What the browser did, through the API.
    let users = app.server().get("/users").send().await.expect(200);
    let user = &users["items"][0];
    assert_eq!(user["primary_email"], "second@example.com", "{users}");
    assert_eq!(user["primary_email_verified"], true);
    assert_eq!(user["has_password"], true);
    assert_eq!(user["requires_totp_mfa"], true);
    assert!(user["profile_image_url"]
        .as_str()
        .unwrap()
        .starts_with("data:image/png;base64,"));
    let channels = app
        .server()
        .get(&format!(
            "/contact-channels?user_id={}",
            user["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    assert_eq!(channels["items"].as_array().unwrap().len(), 2, "{channels}");
    let preferences = app
        .server()
        .get(&format!(
            "/emails/notification-preference/{}",
            user["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    let enabled: Vec<bool> = preferences["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["enabled"].as_bool().unwrap())
        .collect();
    assert_eq!(enabled, [true, false], "{preferences}");
}
on_both_backends!(account_security_on_pages, account_security_on_pages);

/// The project's theme on its pages (`tests/sdk/handler-theme.mjs`): its colour on the buttons,
/// its logo, and dark colours for a visitor who prefers them; a colour that is not one, or an
/// unknown scheme, refused by the admin API with nothing saved.
async fn themed_pages(backend: Backend) {
    let artifacts = browser_artifacts("handler-theme", backend);
    let app = TestServer::start(backend).await;
    let logo = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='28' height='28'%3E%3Ccircle cx='14' cy='14' r='12' fill='%23e0a800'/%3E%3C/svg%3E";
    for bad in [
        json!({ "primary_color": "red", "color_scheme": "system" }),
        json!({ "primary_color": "#12345", "color_scheme": "system" }),
        json!({ "primary_color": "#123456", "color_scheme": "sepia" }),
        json!({ "primary_color": "#123456" }),
        json!({ "primary_color": "#123456", "color_scheme": "dark", "font": "x" }),
    ] {
        app.admin()
            .patch("/internal/projects/current")
            .json(json!({ "display_name": "Changed", "config": { "pages_theme": bad } }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
    }
    let project = app
        .admin()
        .get("/internal/projects/current")
        .send()
        .await
        .expect(200);
    assert_ne!(project["display_name"], "Changed");
    app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "display_name": "Acme", "logo_url": logo,
            "config": { "credential_enabled": true, "pages_theme": { "primary_color": "#0a7d32", "color_scheme": "system" } } }))
        .send()
        .await
        .expect(200);
    let public = app.base.replace("127.0.0.1", "localhost");
    let summary = run_browser_script(
        "handler-theme.mjs",
        &[
            ("PAGES_URL", format!("{public}/handler/{}", app.project_id)),
            ("PRIMARY", "#0a7d32".into()),
        ],
        &artifacts,
        &[
            "sign-in-light-1440",
            "sign-in-dark-390",
            "sign-up-dark-1440",
            "forgot-password-light-390",
        ],
        || app.log(),
    )
    .await;
    assert_eq!(summary["pages"].as_array().unwrap().len(), 12);
}
on_both_backends!(themed_pages, themed_pages);

/// Passkeys on the pages in Chromium with a virtual authenticator
/// (`tests/sdk/handler-passkeys.mjs`): added on the account page, used alone to sign in, removed.
async fn passkeys_on_pages(backend: Backend) {
    let artifacts = browser_artifacts("handler-passkeys", backend);
    let app = TestServer::start(backend).await;
    app.configure(json!({ "passkey_enabled": true, "credential_enabled": true }))
        .await;
    let user = app.create_user("key@example.com").await;
    let public = app.base.replace("127.0.0.1", "localhost");
    run_browser_script(
        "handler-passkeys.mjs",
        &[
            ("PAGES_URL", format!("{public}/handler/{}", app.project_id)),
            ("EMAIL", "key@example.com".into()),
        ],
        &artifacts,
        &[
            "01-account-with-passkey-1440",
            "01-account-with-passkey-390",
            "02-sign-in-with-passkey-390",
        ],
        || app.log(),
    )
    .await;
    let passkeys = app
        .server()
        .get(&format!("/users/{}/passkeys", user["id"].as_str().unwrap()))
        .send()
        .await
        .expect(200);
    assert_eq!(passkeys["items"], json!([]), "removed on the page");
    // Without a ceremony of its own, a forged answer signs no one in.
    let client = page_client(true);
    let pages = format!("{public}/handler/{}", app.project_id);
    let html = client
        .get(format!("{pages}/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token = hidden_field(&html, "form_token");
    for (code, response) in [
        ("", "not json"),
        ("nope", "{}"),
        ("nope", r#"{"id":"x","response":{}}"#),
    ] {
        let refused = client
            .post(format!("{pages}/sign-in/passkey"))
            .form(&[
                ("form_token", token.as_str()),
                ("code", code),
                ("response", response),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), 400);
        let cookies: Vec<_> = refused.headers().get_all("set-cookie").iter().collect();
        assert!(!format!("{cookies:?}").contains("portcullis_session="));
    }
}
on_both_backends!(passkeys_on_pages, passkeys_on_pages);

/// A team's API keys on its page: its creator (a team admin) creates one, shown once and live at
/// the API; another signed-in user who is not a member is refused with nothing created.
async fn team_api_keys_on_pages(backend: Backend) {
    let app = TestServer::start(backend).await;
    app.configure(json!({ "client_team_creation_enabled": true, "allow_team_api_keys": true, "credential_enabled": true }))
        .await;
    for email in ["owner@example.com", "other@example.com"] {
        app.create_user(email).await;
    }
    let public = app.base.replace("127.0.0.1", "localhost");
    let pages = format!("{public}/handler/{}", app.project_id);
    let owner = page_client(true);
    let signed_in = sign_in_on_page(
        &owner,
        &format!("{pages}/sign-in"),
        "owner@example.com",
        "password123",
    )
    .await;
    assert_eq!(signed_in.status(), 303);
    let account = owner
        .get(format!("{pages}/account-settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_field(&account, "csrf");
    let created = owner
        .post(format!("{pages}/teams"))
        .form(&[("csrf", csrf.as_str()), ("display_name", "Ops")])
        .send()
        .await
        .unwrap();
    let team_page = created.headers()["location"].to_str().unwrap().to_string();
    let team_id = team_page.rsplit('/').next().unwrap().to_string();
    let html = owner
        .get(format!("{public}{team_page}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("API keys"), "{html}");
    let key_page = owner
        .post(format!("{pages}/teams/{team_id}/api-keys"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("action", "create"),
            ("description", "Deploy bot"),
            ("expires_in_days", "30"),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = key_page
        .split("id=\"new-api-key\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the key's value on its page")
        .to_string();
    let checked = app
        .server()
        .post("/team-api-keys/check")
        .json(json!({ "api_key": value }))
        .send()
        .await
        .expect(200);
    assert_eq!(checked["team_id"], team_id.as_str());
    assert_eq!(checked["description"], "Deploy bot");

    let other = page_client(true);
    sign_in_on_page(
        &other,
        &format!("{pages}/sign-in"),
        "other@example.com",
        "password123",
    )
    .await;
    let other_account = other
        .get(format!("{pages}/account-settings"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let other_csrf = hidden_field(&other_account, "csrf");
    let refused = other
        .post(format!("{pages}/teams/{team_id}/api-keys"))
        .form(&[
            ("csrf", other_csrf.as_str()),
            ("action", "create"),
            ("description", "Mine now"),
            ("expires_in_days", "never"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    let keys = app
        .server()
        .get(&format!("/team-api-keys?team_id={team_id}"))
        .send()
        .await
        .expect(200);
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "{keys}");
}
on_both_backends!(team_api_keys_on_pages, team_api_keys_on_pages);

/// Every hosted page (`tests/sdk/handler-sweep.mjs`), signed out and in, for a project with
/// every sign-in method on: each answers, has a heading, names every input by a label, and fits
/// a 390 px phone with no sideways scroll, measured in Chromium; screenshots at both widths.
async fn every_page_fits_a_phone(backend: Backend) {
    let artifacts = browser_artifacts("handler-sweep", backend);
    let app = TestServer::start(backend).await;
    app.configure(json!({
        "credential_enabled": true, "magic_link_enabled": true, "passkey_enabled": true,
        "client_team_creation_enabled": true, "allow_user_api_keys": true, "allow_team_api_keys": true,
        "client_user_deletion_enabled": true,
        "oauth_providers": [{ "id": "github", "type": "shared" }, { "id": "google", "type": "shared" }]
    }))
    .await;
    let user = app
        .create_user("long.name.for.a.phone@subdomain.example.com")
        .await;
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "A team with a rather long name for a phone", "creator_user_id": user["id"] }))
        .send()
        .await
        .expect(201);
    let public = app.base.replace("127.0.0.1", "localhost");
    let summary = run_browser_script(
        "handler-sweep.mjs",
        &[
            ("PAGES_URL", format!("{public}/handler/{}", app.project_id)),
            (
                "EMAIL",
                "long.name.for.a.phone@subdomain.example.com".into(),
            ),
            ("PASSWORD", "password123".into()),
            ("TEAM_ID", team["id"].as_str().unwrap().to_string()),
        ],
        &artifacts,
        &[
            "sign-in-390",
            "account-settings-390",
            "account-settings-1440",
            "team-390",
            "error-390",
        ],
        || app.log(),
    )
    .await;
    assert_eq!(summary["pages"].as_array().unwrap().len(), 16, "{summary}");
}
on_both_backends!(every_page_fits_a_phone, every_page_fits_a_phone);
