//! A project's end-user pages (`/handler/{project_id}/…`) in headless Chromium
//! (`tests/sdk/handler-pages.mjs`) at 1440 px and 390 px: sign up, verify the email and reset
//! the password from the links in real emails (tests/smtp_sink.py), sign in, rename, sign out;
//! checked afterwards through the API. Screenshots go to
//! `tests/artifacts/handler-pages-<backend>`.

mod common;
use common::*;
use serde_json::json;

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
    app.configure(json!({ "allow_localhost": false })).await;
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

    // What the pages did, seen through the API.
    let users = app.server().get("/users").send().await.expect(200);
    let user = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["primary_email"] == "reader@example.com")
        .expect("the user the sign-up page made")
        .clone();
    assert_eq!(user["primary_email_verified"], true, "{user}");
    let sign_in = |password: &str| {
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "reader@example.com", "password": password }))
            .send()
    };
    sign_in("first-password")
        .await
        .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    sign_in("brand-new-password").await.expect(200);
    assert_eq!(user["display_name"], "Rita Reader");

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
