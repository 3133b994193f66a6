//! TOTP multi-factor sign-in: a user with a TOTP secret who signs in gets the original's
//! MULTI_FACTOR_AUTHENTICATION_REQUIRED with an attempt code, which `/auth/mfa/sign-in` takes
//! with a TOTP computed here from the secret (RFC 6238) at chosen times.

mod common;
use common::*;
use serde_json::json;

/// The secret an authenticator app would hold (20 random-looking bytes), base64.
const SECRET: &str = "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=";

/// The TOTP for `SECRET` at `offset_steps` 30-second steps from now.
fn totp_at(offset_steps: i64) -> String {
    totp_for(SECRET, offset_steps)
}

async fn password_sign_in(app: &TestServer, email: &str) -> Resp {
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": email, "password": "password123" }))
        .send()
        .await
}

/// A sign-in's attempt code from its MULTI_FACTOR_AUTHENTICATION_REQUIRED answer.
async fn attempt_code(app: &TestServer, email: &str) -> String {
    let e = password_sign_in(app, email)
        .await
        .expect_error(400, "MULTI_FACTOR_AUTHENTICATION_REQUIRED");
    e["details"]["attempt_code"].as_str().unwrap().to_string()
}

async fn second_step(app: &TestServer, code: &str, totp: &str) -> Resp {
    app.client()
        .post("/auth/mfa/sign-in")
        .json(json!({ "type": "totp", "totp": totp, "code": code }))
        .send()
        .await
}

async fn mfa(backend: Backend) {
    let app = TestServer::start(backend).await;
    let session = app.sign_up("mia@example.com", "password123").await;
    // The user turns TOTP on with their session; the secret is kept sealed.
    app.client()
        .user(&session)
        .patch("/users/me")
        .json(json!({ "totp_secret_base64": SECRET }))
        .send()
        .await
        .expect(200);
    let row = db_query_text(&app.database_url, "SELECT totp_secret FROM users");
    assert!(!row.contains(SECRET) && row.contains("enc:"), "{row}");
    let me = app.me(&session).await;
    assert_eq!(me["requires_totp_mfa"], true);

    // The password alone no longer signs in.
    let code = attempt_code(&app, "mia@example.com").await;
    app.client()
        .post("/auth/mfa/sign-in/check-code")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    second_step(&app, &code, "000000x")
        .await
        .expect_error(400, "INVALID_TOTP_CODE");
    let wrong = if totp_at(0) == "123456" {
        "654321"
    } else {
        "123456"
    };
    second_step(&app, &code, wrong)
        .await
        .expect_error(400, "INVALID_TOTP_CODE");
    let tokens = second_step(&app, &code, &totp_at(0)).await.expect(200);
    assert_eq!(tokens["user_id"], session["user_id"]);
    assert_eq!(tokens["is_new_user"], false);
    app.me(&tokens).await;
    // The attempt code works once; the TOTP too, and an older one is refused after it.
    second_step(&app, &code, &totp_at(1))
        .await
        .expect_error(409, "VERIFICATION_CODE_ALREADY_USED");
    let code = attempt_code(&app, "mia@example.com").await;
    second_step(&app, &code, &totp_at(0))
        .await
        .expect_error(400, "INVALID_TOTP_CODE");
    second_step(&app, &code, &totp_at(-1))
        .await
        .expect_error(400, "INVALID_TOTP_CODE");
    // One step of clock drift is allowed; two are not.
    second_step(&app, &code, &totp_at(3))
        .await
        .expect_error(400, "INVALID_TOTP_CODE");
    second_step(&app, &code, &totp_at(1)).await.expect(200);

    // Wrong codes are limited per user, whatever attempt code they come with.
    let mut limited = false;
    for i in 0..12 {
        let code = attempt_code(&app, "mia@example.com").await;
        let r = second_step(&app, &code, &format!("{:06}", 100000 + i)).await;
        if r.status.as_u16() == 429 {
            limited = true;
            break;
        }
        r.expect_error(400, "INVALID_TOTP_CODE");
    }
    assert!(limited, "wrong TOTPs were not limited");

    // The server turns it off for any user: the password signs in again.
    let uid = session["user_id"].as_str().unwrap();
    app.server()
        .patch(&format!("/users/{uid}"))
        .json(json!({ "totp_secret_base64": null }))
        .send()
        .await
        .expect(200);
    password_sign_in(&app, "mia@example.com").await.expect(200);
    // …and on again.
    app.server()
        .patch(&format!("/users/{uid}"))
        .json(json!({ "totp_secret_base64": SECRET }))
        .send()
        .await
        .expect(200);
    attempt_code(&app, "mia@example.com").await;
    // Bad inputs: a clear error, never a 500.
    for body in [
        json!({ "type": "sms", "totp": "123456", "code": code }),
        json!({ "type": "totp", "totp": "123456" }),
        json!({ "type": "totp", "totp": "123456", "code": "short" }),
        json!({ "type": "totp", "totp": "1\u{0}3456", "code": code }),
    ] {
        let r = app
            .client()
            .post("/auth/mfa/sign-in")
            .json(body)
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 400, "{}", r.text);
    }
}
on_both_backends!(totp_multi_factor_sign_in, mfa);

/// The second factor after a one-time code (magic link / OTP) as after a password: the code
/// is spent, the session waits for the TOTP.
async fn mfa_after_otp(backend: Backend) {
    let sink = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_SMTP_URL".into(), sink.url())],
        },
    )
    .await;
    app.configure(json!({ "magic_link_enabled": true })).await;
    let user = app.create_user("oli@example.com").await;
    let uid = user["id"].as_str().unwrap();
    app.server()
        .patch(&format!("/users/{uid}"))
        .json(json!({ "totp_secret_base64": SECRET, "primary_email_verified": true }))
        .send()
        .await
        .expect(200);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the project cache
    let sent = app
        .client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "oli@example.com", "callback_url": "http://localhost:3000/cb" }))
        .send()
        .await
        .expect(200);
    let mail = &sink.wait_for("oli@example.com", 1).await[0];
    let otp = mail["subject"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap();
    let code = format!("{otp}{}", sent["nonce"].as_str().unwrap());
    let e = app
        .client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect_error(400, "MULTI_FACTOR_AUTHENTICATION_REQUIRED");
    let attempt = e["details"]["attempt_code"].as_str().unwrap();
    let tokens = second_step(&app, attempt, &totp_at(0)).await.expect(200);
    assert_eq!(tokens["user_id"], uid);
}
on_both_backends!(totp_after_one_time_code, mfa_after_otp);

/// A dashboard admin with a TOTP secret signs in to the dashboard with the code too.
async fn dashboard_mfa(backend: Backend) {
    let app = TestServer::start(backend).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let link = app.setup_link();
    let code = link.split("code=").nth(1).unwrap();
    let res = http
        .post(format!("{}/dashboard/setup", app.base))
        .form(&[
            ("code", code),
            ("email", "ada@example.com"),
            ("password", "password123"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    // The admin turns TOTP on through the API, as a user of the `internal` project.
    let internal = || {
        app.anon()
            .project("internal")
            .header("x-stack-access-type", "client")
            .header("x-stack-publishable-client-key", INTERNAL_PCK)
    };
    let session = internal()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "ada@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
    internal()
        .user(&session)
        .patch("/users/me")
        .json(json!({ "totp_secret_base64": SECRET }))
        .send()
        .await
        .expect(200);
    let sign_in = |totp: String| {
        http.post(format!("{}/dashboard/sign-in", app.base))
            .form(&[
                ("email", "ada@example.com".to_string()),
                ("password", "password123".to_string()),
                ("totp", totp),
            ])
            .send()
    };
    // The password alone, or with a wrong code: no session.
    for totp in [String::new(), "000000x".to_string()] {
        let res = sign_in(totp).await.unwrap();
        assert_ne!(res.status().as_u16(), 303);
        assert!(res.headers().get("set-cookie").is_none());
        assert!(res.text().await.unwrap().contains("TOTP code is invalid"));
    }
    let res = sign_in(totp_at(0)).await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("portcullis_dashboard="));
    // The same code does not work twice.
    let res = sign_in(totp_at(0)).await.unwrap();
    assert_ne!(res.status().as_u16(), 303);
}
on_both_backends!(totp_for_dashboard_admins, dashboard_mfa);
