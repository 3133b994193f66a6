//! Email flows through a real SMTP server (tests/smtp_sink.py): OTP / magic-link sign-in,
//! password reset, email verification, a project's own SMTP server, send-email with unsubscribe,
//! retries with backoff, and delivery across a SIGKILL.

mod common;
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const CALLBACK: &str = "http://localhost:3000/handler/callback";

async fn with_smtp(backend: Backend, sink: &SmtpSink, extra: &[(&str, &str)]) -> TestServer {
    let mut env = vec![
        ("PORTCULLIS_SMTP_URL".to_string(), sink.url()),
        (
            "PORTCULLIS_SMTP_FROM".to_string(),
            "Acme <noreply@acme.test>".to_string(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    TestServer::start_with(backend, Options { env }).await
}

async fn enable_otp(app: &TestServer) {
    app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "magic_link_enabled": true } }))
        .send()
        .await
        .expect(200);
}

async fn otp_flow(backend: Backend) {
    let sink = SmtpSink::start(None);
    let app = with_smtp(backend, &sink, &[]).await;
    app.client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "otp@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect_text(403, "OTP sign-in is not enabled");
    enable_otp(&app).await;

    // New user, by OTP typed from the subject + the nonce the client kept.
    let sent = app
        .client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "OTP@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    let nonce = sent["nonce"].as_str().unwrap().to_string();
    assert_eq!(nonce.len(), 39);
    let mail = &sink.wait_for("otp@example.com", 1).await[0];
    let subject = mail["subject"].as_str().unwrap();
    assert!(
        subject.starts_with("Sign in to Test project: Your code is "),
        "{subject}"
    );
    // The shared server sends as the project (the original's `<display name> <instance address>`).
    assert_eq!(mail["from"], "Test project <noreply@acme.test>");
    let otp = subject.rsplit(' ').next().unwrap().to_string();
    assert_eq!(otp.len(), 6);
    assert!(mail["html"].as_str().unwrap().contains(&otp));
    let code = format!("{otp}{nonce}");
    app.client()
        .post("/auth/otp/sign-in/check-code")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    let s = app
        .client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    assert_eq!(s["is_new_user"], true);
    let me = app.me(&s).await;
    assert_eq!(me["primary_email"], "otp@example.com");
    assert_eq!(me["primary_email_verified"], true);
    assert_eq!(me["otp_auth_enabled"], true);
    app.client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect_error(409, "VERIFICATION_CODE_ALREADY_USED");

    // Existing user, by the magic link's code.
    app.client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "otp@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    let mail = sink.wait_for("otp@example.com", 2).await.pop().unwrap();
    let link_code = code_from_link(mail["text"].as_str().unwrap());
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains(&format!("{CALLBACK}?code={link_code}")));
    let s2 = app
        .client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": link_code.to_uppercase() }))
        .send()
        .await
        .expect(200);
    assert_eq!(s2["is_new_user"], false);
    assert_eq!(s2["user_id"], s["user_id"]);

    // Bad input.
    app.client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "not-an-email", "callback_url": CALLBACK }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "x@example.com", "callback_url": "https://evil.example/cb" }))
        .send()
        .await
        .expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    app.client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": "short" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": "0".repeat(45) }))
        .send()
        .await
        .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
    // A password user whose email is unverified cannot take over by OTP.
    app.sign_up("unverified@example.com", "password123").await;
    let e = app
        .client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "unverified@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect_error(409, "USER_EMAIL_ALREADY_EXISTS");
    assert_eq!(e["details"]["would_work_if_email_was_verified"], true);

    // Brute force: 20 wrong OTPs against one nonce exhaust it; the right code then fails too.
    let sent = app
        .client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "brute@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    let nonce = sent["nonce"].as_str().unwrap();
    let mail = &sink.wait_for("brute@example.com", 1).await[0];
    let otp = mail["subject"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    for i in 0..20 {
        let wrong = format!("{:06}", i).replace(&otp, "zzzzzz");
        let wrong = if wrong.eq_ignore_ascii_case(&otp) {
            "yyyyyy".to_string()
        } else {
            wrong
        };
        app.client()
            .post("/auth/otp/sign-in")
            .json(json!({ "code": format!("{wrong}{nonce}") }))
            .send()
            .await
            .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
    }
    app.client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": format!("{otp}{nonce}") }))
        .send()
        .await
        .expect_error(400, "VERIFICATION_CODE_MAX_ATTEMPTS_REACHED");
    // Sign-up closed: a new address cannot get a code.
    app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "sign_up_enabled": false } }))
        .send()
        .await
        .expect(200);
    app.client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "late@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect_error(400, "SIGN_UP_NOT_ENABLED");
}

on_both_backends!(otp_sign_in, otp_flow);

async fn reset_flow(backend: Backend) {
    let sink = SmtpSink::start(None);
    // The timing check below sends 20 codes to one address.
    let limits = ("PORTCULLIS_RATE_LIMITS", "code_send_address=100/600");
    let app = with_smtp(backend, &sink, &[limits]).await;
    let s = app.sign_up("reset@example.com", "password123").await;
    let r = app
        .client()
        .post("/auth/password/send-reset-code")
        .json(json!({ "email": "Reset@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    assert_eq!(r["success"], "maybe, only if user with e-mail exists");
    let mail = &sink.wait_for("reset@example.com", 1).await[0];
    assert_eq!(mail["subject"], "Reset your password at Test project");
    let code = code_from_link(mail["text"].as_str().unwrap());
    app.client()
        .post("/auth/password/reset/check-code")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    app.client()
        .post("/auth/password/reset")
        .json(json!({ "code": "1".repeat(45), "password": "newpassword1" }))
        .send()
        .await
        .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
    app.client()
        .post("/auth/password/reset")
        .json(json!({ "code": code, "password": "newpassword1" }))
        .send()
        .await
        .expect(200);
    app.client()
        .post("/auth/password/reset")
        .json(json!({ "code": code, "password": "newpassword2" }))
        .send()
        .await
        .expect_error(409, "VERIFICATION_CODE_ALREADY_USED");
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "reset@example.com", "password": "password123" }))
        .send()
        .await
        .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "reset@example.com", "password": "newpassword1" }))
        .send()
        .await
        .expect(200);
    // A reset ends every session the user had (the original keeps them; docs/compat.md).
    app.client()
        .user(&s)
        .without("x-stack-access-token")
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
    // Unknown emails get the same answer, no mail, and at the same moment as known ones.
    let r = app
        .client()
        .post("/auth/password/send-reset-code")
        .json(json!({ "email": "nobody@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    assert_eq!(r["success"], "maybe, only if user with e-mail exists");
    let mut medians = vec![];
    for email in ["reset@example.com", "nobody@example.com"] {
        let mut times = vec![];
        for _ in 0..20 {
            let t = std::time::Instant::now();
            app.client()
                .post("/auth/password/send-reset-code")
                .json(json!({ "email": email, "callback_url": CALLBACK }))
                .send()
                .await
                .expect(200);
            times.push(t.elapsed());
        }
        times.sort();
        medians.push(times[10]);
    }
    let gap = medians[0].abs_diff(medians[1]);
    assert!(
        gap < Duration::from_millis(50) && medians[0] < Duration::from_secs(1),
        "known vs unknown address: medians {medians:?}"
    );
    app.client()
        .post("/auth/password/send-reset-code")
        .json(json!({ "email": "reset@example.com", "callback_url": "https://evil.example/cb" }))
        .send()
        .await
        .expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    app.client()
        .post("/auth/password/send-reset-code")
        .json(json!({ "email": "bad", "callback_url": CALLBACK }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert!(sink
        .messages()
        .iter()
        .all(|m| m["to"].as_str().unwrap().contains("reset@example.com")));
}

on_both_backends!(password_reset, reset_flow);

async fn verification_and_channels(backend: Backend) {
    let sink = SmtpSink::start(None);
    let app = with_smtp(backend, &sink, &[]).await;
    let s = app
        .client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "verify@example.com", "password": "password123", "verification_callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    let mail = &sink.wait_for("verify@example.com", 1).await[0];
    assert_eq!(mail["subject"], "Verify your email at Test project");
    let code = code_from_link(mail["text"].as_str().unwrap());
    app.client()
        .post("/contact-channels/verify/check-code")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    app.client()
        .post("/contact-channels/verify")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    let me = app.me(&s).await;
    assert_eq!(me["primary_email_verified"], true);
    app.client()
        .post("/contact-channels/verify")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect_error(409, "VERIFICATION_CODE_ALREADY_USED");

    // Channels: list, add a second email, verify it, make it primary.
    let list = app
        .client()
        .user(&s)
        .get("/contact-channels?user_id=me")
        .send()
        .await
        .expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let first = list["items"][0].clone();
    assert_eq!(first["is_primary"], true);
    assert_eq!(first["used_for_auth"], true);
    let cid = first["id"].as_str().unwrap();
    app.client()
        .user(&s)
        .post(&format!(
            "/contact-channels/me/{cid}/send-verification-code"
        ))
        .json(json!({ "callback_url": CALLBACK }))
        .send()
        .await
        .expect_error(409, "EMAIL_ALREADY_VERIFIED");
    let second = app
        .client()
        .user(&s)
        .post("/contact-channels")
        .json(json!({ "user_id": "me", "value": "Second@Example.com", "type": "email", "used_for_auth": false }))
        .send()
        .await
        .expect(201);
    assert_eq!(second["value"], "second@example.com");
    assert_eq!(second["is_verified"], false);
    let sid = second["id"].as_str().unwrap();
    app.client().user(&s).post("/contact-channels").json(json!({ "user_id": "me", "value": "second@example.com", "type": "email", "used_for_auth": false })).send().await.expect_text(400, "Contact channel already exists");
    app.client()
        .user(&s)
        .post(&format!(
            "/contact-channels/me/{sid}/send-verification-code"
        ))
        .json(json!({ "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    let mail = &sink.wait_for("second@example.com", 1).await[0];
    app.client()
        .post("/contact-channels/verify")
        .json(json!({ "code": code_from_link(mail["text"].as_str().unwrap()) }))
        .send()
        .await
        .expect(200);
    let promoted = app
        .client()
        .user(&s)
        .patch(&format!("/contact-channels/me/{sid}"))
        .json(json!({ "is_primary": true, "used_for_auth": true }))
        .send()
        .await
        .expect(200);
    assert_eq!(promoted["is_primary"], true);
    let me = app.me(&s).await;
    assert_eq!(me["primary_email"], "second@example.com");
    assert_eq!(me["primary_email_verified"], true);
    // Both emails now sign in; the users list finds the user by either.
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "second@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
    let found = app
        .server()
        .get("/users?query=verify%40")
        .send()
        .await
        .expect(200);
    assert_eq!(found["items"].as_array().unwrap().len(), 1);

    // Another user cannot claim an email used for auth, nor touch these channels.
    let other = app.sign_up("other@example.com", "password123").await;
    let e = app.client().user(&other).post("/contact-channels").json(json!({ "user_id": "me", "value": "second@example.com", "type": "email", "used_for_auth": true })).send().await.expect_error(409, "CONTACT_CHANNEL_ALREADY_USED_FOR_AUTH_BY_SOMEONE_ELSE");
    assert_eq!(e["details"]["contact_channel_value"], "second@example.com");
    app.client().user(&other).post("/contact-channels").json(json!({ "user_id": "me", "value": "second@example.com", "type": "email", "used_for_auth": false })).send().await.expect(201);
    let uid = s["user_id"].as_str().unwrap();
    app.client()
        .user(&other)
        .get(&format!("/contact-channels/{uid}/{sid}"))
        .send()
        .await
        .expect_text(
            403,
            "Client can only read contact channels for their own user.",
        );
    app.client()
        .user(&other)
        .get(&format!("/contact-channels?user_id={uid}"))
        .send()
        .await
        .expect_text(403, "");
    app.client().user(&other).post("/contact-channels").json(json!({ "user_id": uid, "value": "x@example.com", "type": "email", "used_for_auth": false })).send().await.expect_text(403, "");
    app.client().user(&s).post("/contact-channels").json(json!({ "user_id": "me", "value": "y@example.com", "type": "email", "used_for_auth": false, "is_verified": true })).send().await.expect_error(400, "SCHEMA_ERROR");
    app.client()
        .user(&s)
        .post("/contact-channels")
        .json(json!({ "user_id": "me", "value": "nope", "type": "email", "used_for_auth": false }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client().user(&s).post("/contact-channels").json(json!({ "user_id": "me", "value": "z@example.com", "type": "phone", "used_for_auth": false })).send().await.expect_error(400, "SCHEMA_ERROR");
    // Deleting the primary leaves no primary email.
    app.client()
        .user(&s)
        .delete(&format!("/contact-channels/me/{sid}"))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&s)
        .delete(&format!("/contact-channels/me/{sid}"))
        .send()
        .await
        .expect_text(400, "Contact channel not found");
    let me = app.me(&s).await;
    assert_eq!(me["primary_email"], Value::Null);
    // Server sees all channels of the project.
    let all = app
        .server()
        .get("/contact-channels")
        .send()
        .await
        .expect(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
}

on_both_backends!(verification_and_channels, verification_and_channels);

async fn custom_smtp_and_send_email(backend: Backend) {
    let instance = SmtpSink::start(None);
    let custom = SmtpSink::start(Some(("mailer", "s3cret")));
    let app = with_smtp(backend, &instance, &[]).await;
    let u = app.create_user("customer@example.com").await;
    let uid = u["id"].as_str().unwrap().to_string();
    // The shared server may not be used for arbitrary email.
    app.server()
        .post("/emails/send-email")
        .json(json!({ "user_ids": [uid], "html": "<p>Hi</p>", "subject": "Hello" }))
        .send()
        .await
        .expect_error(400, "REQUIRES_CUSTOM_EMAIL_SERVER");
    app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "email_config": { "type": "standard", "host": "127.0.0.1", "port": custom.port, "username": "mailer", "password": "s3cret", "sender_name": "Custom Co", "sender_email": "hello@custom.test" } } }))
        .send()
        .await
        .expect(200);
    let r = app
        .server()
        .post("/emails/send-email")
        .json(json!({ "user_ids": [uid], "html": "<p>Hi <b>there</b></p>", "subject": "Hello" }))
        .send()
        .await
        .expect(200);
    assert_eq!(r["results"], json!([{ "user_id": uid }]));
    let mail = &custom.wait_for("customer@example.com", 1).await[0];
    assert_eq!(mail["subject"], "Hello");
    assert_eq!(mail["from"], "Custom Co <hello@custom.test>");
    assert_eq!(mail["authenticated_as"], "mailer");
    assert!(mail["html"].as_str().unwrap().contains("<b>there</b>"));
    assert!(
        instance.messages().is_empty(),
        "the project's own server was used"
    );
    // Template by id, with variables.
    app.server()
        .post("/emails/send-email")
        .json(json!({ "user_ids": [uid], "template_id": "e84de395-2076-4831-9c19-8e9a96a868e4", "variables": { "teamDisplayName": "Ops", "teamInvitationLink": "https://x.example/i" } }))
        .send()
        .await
        .expect(200);
    let mail = custom
        .wait_for("customer@example.com", 2)
        .await
        .pop()
        .unwrap();
    assert_eq!(mail["subject"], "You have been invited to join Ops");
    // Marketing mail carries an unsubscribe link; after using it the next one is skipped.
    app.server().post("/emails/send-email").json(json!({ "user_ids": [uid], "html": "<p>News</p>", "subject": "News", "notification_category_name": "Marketing" })).send().await.expect(200);
    let mail = custom
        .wait_for("customer@example.com", 3)
        .await
        .pop()
        .unwrap();
    let text = mail["text"].as_str().unwrap();
    let link = text[text.find("Unsubscribe: ").unwrap() + 13..]
        .trim()
        .to_string();
    let page = app.anon().get(&link).send().await;
    assert_eq!(page.status.as_u16(), 200);
    assert!(page.text.contains("Successfully unsubscribed"));
    assert!(app
        .anon()
        .get(&link)
        .send()
        .await
        .text
        .contains("already unsubscribed"));
    app.server().post("/emails/send-email").json(json!({ "user_ids": [uid], "html": "<p>More news</p>", "subject": "More", "notification_category_name": "Marketing" })).send().await.expect(200);
    let skipped = app
        .server()
        .get("/emails/outbox?status=skipped")
        .send()
        .await
        .expect(200);
    assert_eq!(skipped["items"][0]["skipped_reason"], "USER_UNSUBSCRIBED");
    // Outbox: sent items, newest first, paginated.
    let sent = app
        .server()
        .get("/emails/outbox?simple_status=ok&limit=2")
        .send()
        .await
        .expect(200);
    assert_eq!(sent["items"].as_array().unwrap().len(), 2);
    let next = sent["pagination"]["next_cursor"]
        .as_str()
        .unwrap()
        .to_string();
    let page2 = app
        .server()
        .get(&format!(
            "/emails/outbox?simple_status=ok&limit=2&cursor={next}"
        ))
        .send()
        .await
        .expect(200);
    assert_eq!(page2["items"].as_array().unwrap().len(), 2);
    let one = app
        .server()
        .get(&format!(
            "/emails/outbox/{}",
            sent["items"][0]["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    assert_eq!(one["to"]["type"], "user-primary-email");
    app.server()
        .get("/emails/outbox/00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .expect_text(404, "Email not found");
    app.server()
        .get("/emails/outbox?limit=101")
        .send()
        .await
        .expect_text(400, "Limit cannot exceed 100");
    app.client()
        .get("/emails/outbox")
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    // Bad input: unknown user (nothing queued), both recipients forms, unknown category/template.
    let before = app.server().get("/emails/outbox").send().await.expect(200)["items"]
        .as_array()
        .unwrap()
        .len();
    app.server().post("/emails/send-email").json(json!({ "user_ids": [uid, "00000000-0000-4000-8000-000000000000"], "html": "x", "subject": "x" })).send().await.expect_error(400, "USER_ID_DOES_NOT_EXIST");
    app.server()
        .post("/emails/send-email")
        .json(json!({ "user_ids": [uid], "all_users": true, "html": "x" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post("/emails/send-email")
        .json(json!({ "user_ids": [uid], "html": "x", "notification_category_name": "Spam" }))
        .send()
        .await
        .expect_text(400, "Notification category not found");
    app.server()
        .post("/emails/send-email")
        .json(json!({ "user_ids": [uid], "template_id": "00000000-0000-4000-8000-000000000000" }))
        .send()
        .await
        .expect_text(400, "No template found");
    let after = app.server().get("/emails/outbox").send().await.expect(200)["items"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "refused requests queue nothing");
}

on_both_backends!(custom_smtp_and_send_email, custom_smtp_and_send_email);

both_backends!(
    without_smtp_emails_wait_in_the_outbox,
    |app: TestServer| async move {
        app.client().post("/auth/password/sign-up").json(json!({ "email": "wait@example.com", "password": "password123", "verification_callback_url": CALLBACK })).send().await.expect(200);
        tokio::time::sleep(Duration::from_millis(600)).await;
        let outbox = app.server().get("/emails/outbox").send().await.expect(200);
        let item = &outbox["items"][0];
        assert_eq!(item["status"], "queued");
        assert_eq!(item["simple_status"], "in-progress");
        assert_eq!(item["has_delivered"], false);
        assert_eq!(item["subject"], "Verify your email at Test project");
    }
);

async fn refused_smtp_retries_then_fails(backend: Backend) {
    // Nothing listens on this port: every attempt is refused.
    let dead_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = vec![
        (
            "PORTCULLIS_SMTP_URL".to_string(),
            format!("smtp://127.0.0.1:{dead_port}"),
        ),
        (
            "PORTCULLIS_EMAIL_RETRY_BASE_MS".to_string(),
            "300".to_string(),
        ),
        ("PORTCULLIS_EMAIL_MAX_ATTEMPTS".to_string(), "3".to_string()),
    ];
    let app = TestServer::start_with(backend, Options { env }).await;
    app.client().post("/auth/password/sign-up").json(json!({ "email": "refused@example.com", "password": "password123", "verification_callback_url": CALLBACK })).send().await.expect(200);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let item = loop {
        let outbox = app.server().get("/emails/outbox").send().await.expect(200);
        let item = outbox["items"][0].clone();
        if item["status"] == "server-error" {
            break item;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never gave up: {item}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(item["simple_status"], "error");
    let errors = item["send_attempt_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    let times: Vec<i64> = errors
        .iter()
        .map(|e| e["timestamp"].as_i64().unwrap())
        .collect();
    assert!(
        times[1] - times[0] >= 300,
        "first retry waits the base delay: {times:?}"
    );
    assert!(
        times[2] - times[1] >= 600,
        "the next waits twice as long: {times:?}"
    );
    assert!(!item["server_error"].as_str().unwrap().is_empty());
}

on_both_backends!(
    refused_smtp_retries_then_fails,
    refused_smtp_retries_then_fails
);

/// SIGKILL the server while it is sending; after a restart every email arrives exactly once as a
/// message (one Message-ID each). SMTP has no idempotency: a message the server accepted just
/// before the kill, but not yet recorded as sent, is sent again after the restart — with the same
/// Message-ID, which is how receivers recognise a resend. At most the in-flight ones repeat.
async fn crash_while_sending(backend: Backend) {
    let sink = SmtpSink::start(None);
    let concurrency = 2;
    let mut app = with_smtp(
        backend,
        &sink,
        &[
            ("PORTCULLIS_EMAIL_LEASE_MS", "1500"),
            ("PORTCULLIS_EMAIL_CONCURRENCY", "2"),
            // 41 sign-in codes from one client in a moment.
            ("PORTCULLIS_RATE_LIMITS", "code_send_ip=100/600"),
        ],
    )
    .await;
    enable_otp(&app).await;
    // Warm up the sink and the connection pool, so the kill lands amid steady sending.
    app.client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "warmup@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    sink.wait_for("warmup@example.com", 1).await;
    let n = 40;
    let addresses: Vec<String> = (0..n).map(|i| format!("crash{i}@example.com")).collect();
    for a in &addresses {
        app.client()
            .post("/auth/otp/send-sign-in-code")
            .json(json!({ "email": a, "callback_url": CALLBACK }))
            .send()
            .await
            .expect(200);
    }
    let before_kill = sink.messages().len() - 1;
    app.crash_and_restart().await;
    assert!(
        before_kill < n,
        "the kill should land while emails are pending ({before_kill} of {n} had arrived)"
    );

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let outbox = app
            .server()
            .get("/emails/outbox?simple_status=ok")
            .send()
            .await
            .expect(200);
        if outbox["items"].as_array().unwrap().len() == n + 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not every email was delivered after the restart"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let messages: Vec<Value> = sink
        .messages()
        .into_iter()
        .filter(|m| m["to"] != "warmup@example.com")
        .collect();
    let mut by_id: std::collections::HashMap<String, Vec<String>> = Default::default();
    for m in &messages {
        by_id
            .entry(m["message_id"].as_str().unwrap().to_string())
            .or_default()
            .push(m["to"].as_str().unwrap().to_string());
    }
    assert_eq!(by_id.len(), n, "each email is one distinct message");
    let mut recipients: Vec<String> = by_id
        .values()
        .map(|tos| {
            assert!(
                tos.iter().all(|t| t == &tos[0]),
                "a Message-ID is never reused for another email"
            );
            tos[0].clone()
        })
        .collect();
    recipients.sort();
    let mut expected = addresses.clone();
    expected.sort();
    assert_eq!(recipients, expected, "every address got its email");
    assert!(
        messages.len() <= n + concurrency,
        "at most the in-flight messages are repeated ({} deliveries)",
        messages.len()
    );
    eprintln!("crash test ({backend:?}): {before_kill} delivered before the kill, {} deliveries for {n} emails", messages.len());
}

on_both_backends!(crash_while_sending, crash_while_sending);
