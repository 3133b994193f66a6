//! CLI sign-in: the test plays the CLI (asking for codes, then polling) and the signed-in browser
//! user (completing the login code) at the same time.

mod common;
use common::*;
use serde_json::json;
use std::time::Duration;

async fn start(app: &TestServer, body: serde_json::Value) -> serde_json::Value {
    app.client()
        .post("/auth/cli")
        .json(body)
        .send()
        .await
        .expect(200)
}

async fn poll(app: &TestServer, polling_code: &str) -> Resp {
    app.client()
        .post("/auth/cli/poll")
        .json(json!({ "polling_code": polling_code }))
        .send()
        .await
}

async fn complete(app: &TestServer, body: serde_json::Value) -> Resp {
    app.client()
        .post("/auth/cli/complete")
        .json(body)
        .send()
        .await
}

async fn cli(backend: Backend) {
    let app = TestServer::start(backend).await;
    let browser = app.sign_up("cy@example.com", "password123").await;
    // No body at all is the defaults.
    let empty = app.client().post("/auth/cli").send().await.expect(200);
    assert!(empty["expires_at"].as_str().unwrap().ends_with('Z'));
    let codes = start(&app, json!({})).await;
    let (polling, login) = (
        codes["polling_code"].as_str().unwrap().to_string(),
        codes["login_code"].as_str().unwrap().to_string(),
    );

    // The CLI polls while the user completes in the browser.
    let cli_side = async {
        loop {
            let r = poll(&app, &polling).await;
            if r.status.as_u16() == 201 {
                return r.json;
            }
            assert_eq!(r.json, json!({ "status": "waiting" }), "{}", r.text);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let browser_side = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let check = complete(&app, json!({ "login_code": login, "mode": "check" }))
            .await
            .expect(200);
        assert_eq!(check["cli_session_state"], "none");
        complete(
            &app,
            json!({ "login_code": login, "refresh_token": browser["refresh_token"] }),
        )
        .await
        .expect(200)
    };
    let (collected, completed) = tokio::join!(cli_side, browser_side);
    assert_eq!(completed, json!({ "success": true }));
    assert_eq!(collected["status"], "success");
    // The CLI's session is its own, of the browser's user.
    let cli_token = collected["refresh_token"].as_str().unwrap();
    assert_ne!(cli_token, browser["refresh_token"].as_str().unwrap());
    let refreshed = app
        .client()
        .header("x-stack-refresh-token", cli_token)
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
    // Each code works once.
    assert_eq!(
        poll(&app, &polling).await.expect(200),
        json!({ "status": "used" })
    );
    complete(
        &app,
        json!({ "login_code": login, "refresh_token": browser["refresh_token"] }),
    )
    .await
    .expect_text(400, "Invalid login code");
    poll(&app, "not-a-polling-code")
        .await
        .expect_error(400, "INVALID_POLLING_CODE");

    // Completing twice before the poll: the second is refused, one session waits.
    let twice = start(&app, json!({})).await;
    let body =
        json!({ "login_code": twice["login_code"], "refresh_token": browser["refresh_token"] });
    complete(&app, body.clone()).await.expect(200);
    complete(&app, body)
        .await
        .expect_text(400, "Invalid login code");
    let r = poll(&app, twice["polling_code"].as_str().unwrap()).await;
    assert_eq!(r.expect(201)["status"], "success");

    // Expiry.
    let short = start(&app, json!({ "expires_in_millis": 300 })).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        poll(&app, short["polling_code"].as_str().unwrap())
            .await
            .expect(200),
        json!({ "status": "expired" })
    );
    complete(
        &app,
        json!({ "login_code": short["login_code"], "refresh_token": browser["refresh_token"] }),
    )
    .await
    .expect_text(400, "Invalid login code");

    // A CLI signed in anonymously: the browser can take that session over, once.
    let anon = app
        .client()
        .post("/auth/anonymous/sign-up")
        .send()
        .await
        .expect(200);
    let with_anon = start(&app, json!({ "anon_refresh_token": anon["refresh_token"] })).await;
    let login = with_anon["login_code"].as_str().unwrap();
    let check = complete(&app, json!({ "login_code": login, "mode": "check" }))
        .await
        .expect(200);
    assert_eq!(check["cli_session_state"], "anonymous");
    let claimed = complete(
        &app,
        json!({ "login_code": login, "mode": "claim-anon-session" }),
    )
    .await
    .expect(200);
    assert_eq!(claimed["refresh_token"], anon["refresh_token"]);
    assert!(claimed["access_token"].is_string());
    complete(
        &app,
        json!({ "login_code": login, "mode": "claim-anon-session" }),
    )
    .await
    .expect_text(400, "No anonymous session");

    // Completed from an impersonation session (60 s): the CLI's session is one too, no longer.
    let uid = browser["user_id"].as_str().unwrap();
    let impersonation = app
        .server()
        .post("/auth/sessions")
        .json(json!({ "user_id": uid, "expires_in_millis": 60_000, "is_impersonation": true }))
        .send()
        .await
        .expect(200);
    let codes = start(&app, json!({})).await;
    complete(
        &app,
        json!({ "login_code": codes["login_code"], "refresh_token": impersonation["refresh_token"] }),
    )
    .await
    .expect(200);
    poll(&app, codes["polling_code"].as_str().unwrap())
        .await
        .expect(201);
    let newest = db_query_text(
        &app.database_url,
        "SELECT expires_at - created_at, is_impersonation FROM sessions ORDER BY created_at DESC LIMIT 1",
    );
    let (lifetime, is_impersonation) = newest.trim().split_once('|').unwrap();
    assert!(lifetime.parse::<i64>().unwrap() <= 60_000, "{newest}");
    assert_eq!(is_impersonation, "1");

    // Bad input: clear errors.
    for body in [
        json!({ "expires_in_millis": 0 }),
        json!({ "expires_in_millis": 86_400_001 }),
        json!({ "expires_in_millis": "soon" }),
        json!({ "unknown": 1 }),
    ] {
        let r = app.client().post("/auth/cli").json(body).send().await;
        r.expect_error(400, "SCHEMA_ERROR");
    }
    app.client()
        .post("/auth/cli")
        .json(json!({ "anon_refresh_token": browser["refresh_token"] }))
        .send()
        .await
        .expect_text(400, "anonymous session");
    complete(&app, json!({ "login_code": login, "mode": "steal" }))
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let fresh = start(&app, json!({})).await;
    complete(&app, json!({ "login_code": fresh["login_code"] }))
        .await
        .expect_text(400, "refresh_token is required");
    complete(
        &app,
        json!({ "login_code": fresh["login_code"], "refresh_token": "not-a-session" }),
    )
    .await
    .expect_text(400, "Invalid refresh token");
}
on_both_backends!(cli_sign_in, cli);
