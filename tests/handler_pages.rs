//! The end-user pages a project's emails link to (`/handler/{project_id}/…`), in headless
//! Chromium (`tests/sdk/handler-pages.mjs`) at 1440 px and 390 px: email verification and
//! password reset from the links in real emails (tests/smtp_sink.py), checked afterwards
//! through the API. Screenshots go to `tests/artifacts/handler-pages-<backend>`.

mod common;
use common::*;
use serde_json::json;

/// The link in an email's text.
fn link_in(text: &str) -> String {
    text.split_whitespace()
        .find(|w| w.starts_with("http"))
        .expect("a link")
        .to_string()
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
    let signed_up = app
        .client()
        .post("/auth/password/sign-up")
        .json(
            json!({ "email": "reader@example.com", "password": "first-password",
            "verification_callback_url": format!("{pages}/email-verification") }),
        )
        .send()
        .await
        .expect(200);
    let uid = signed_up["user_id"].as_str().unwrap().to_string();
    let verify = link_in(
        sink.wait_for("reader@example.com", 1).await[0]["text"]
            .as_str()
            .unwrap(),
    );
    assert!(
        verify.starts_with(&format!("{pages}/email-verification?code=")),
        "{verify}"
    );
    app.client()
        .post("/auth/password/send-reset-code")
        .json(json!({ "email": "reader@example.com", "callback_url": format!("{pages}/password-reset") }))
        .send()
        .await
        .expect(200);
    let reset = link_in(
        sink.wait_for("reader@example.com", 2).await[1]["text"]
            .as_str()
            .unwrap(),
    );

    run_browser_script(
        "handler-pages.mjs",
        &[
            ("VERIFY_URL", verify),
            ("RESET_URL", reset),
            ("SIGN_IN_URL", format!("{pages}/sign-in")),
        ],
        &artifacts,
        &[
            "01-verify-1440",
            "01-verify-390",
            "02-verified-1440",
            "04-reset-1440",
            "04-reset-390",
            "05-reset-done-1440",
            "06-sign-in-1440",
            "06-sign-in-390",
            "08-account-1440",
            "08-account-390",
        ],
        || app.log(),
    )
    .await;

    // What the pages did, seen through the API.
    let user = app
        .server()
        .get(&format!("/users/{uid}"))
        .send()
        .await
        .expect(200);
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
}
on_both_backends!(handler_pages, handler_pages);
