//! Password sign-up/sign-in/update/set, sessions (list, revoke, sign out), refresh by header and
//! by the OAuth token endpoint, server-created sessions, and JWKS.

mod common;
use common::*;
use serde_json::{json, Value};

both_backends!(sign_up_and_sign_in, |app: TestServer| async move {
    let s = app.sign_up("New@Example.com", "password123").await;
    assert!(s["refresh_token"].as_str().unwrap().len() == 45);
    let again = app
        .client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "new@example.com", "password": "password456" }))
        .send()
        .await;
    let e = again.expect_error(409, "USER_EMAIL_ALREADY_EXISTS");
    assert_eq!(e["details"]["would_work_if_email_was_verified"], false);
    let e = app
        .client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "short@example.com", "password": "1234567" }))
        .send()
        .await
        .expect_error(400, "PASSWORD_TOO_SHORT");
    assert_eq!(e["details"]["min_length"], 8);
    assert_eq!(e["error"], "Password too short. Minimum length is 8.");
    app.client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "long@example.com", "password": "x".repeat(71) }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "not an email", "password": "password123" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client().post("/auth/password/sign-up").json(json!({ "email": "cb@example.com", "password": "password123", "verification_callback_url": "https://evil.example/cb" })).send().await.expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    // Only the successful sign-up created a user.
    let users = app.server().get("/users").send().await.expect(200);
    assert_eq!(users["items"].as_array().unwrap().len(), 1);

    let s2 = app
        .client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": " NEW@example.com ", "password": "password123" }))
        .send()
        .await
        .expect(200);
    assert_eq!(s2["user_id"], s["user_id"]);
    assert_ne!(
        s2["refresh_token"], s["refresh_token"],
        "each sign-in is a new session"
    );
    for (email, pw) in [
        ("new@example.com", "wrong-password"),
        ("nobody@example.com", "password123"),
    ] {
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": email, "password": pw }))
            .send()
            .await
            .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    }
    // A user without a password, or whose email is not used for auth, cannot sign in with one.
    app.server()
        .post("/users")
        .json(json!({ "primary_email": "nopw@example.com", "primary_email_auth_enabled": true }))
        .send()
        .await
        .expect(201);
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "nopw@example.com", "password": "password123" }))
        .send()
        .await
        .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
});

both_backends!(
    project_switches_are_enforced,
    |app: TestServer| async move {
        app.admin()
            .patch("/internal/projects/current")
            .json(json!({ "config": { "sign_up_enabled": false } }))
            .send()
            .await
            .expect(200);
        app.client()
            .post("/auth/password/sign-up")
            .json(json!({ "email": "x@example.com", "password": "password123" }))
            .send()
            .await
            .expect_error(400, "SIGN_UP_NOT_ENABLED");
        app.admin()
            .patch("/internal/projects/current")
            .json(json!({ "config": { "sign_up_enabled": true, "credential_enabled": false } }))
            .send()
            .await
            .expect(200);
        app.client()
            .post("/auth/password/sign-up")
            .json(json!({ "email": "x@example.com", "password": "password123" }))
            .send()
            .await
            .expect_error(400, "PASSWORD_AUTHENTICATION_NOT_ENABLED");
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "x@example.com", "password": "password123" }))
            .send()
            .await
            .expect_error(400, "PASSWORD_AUTHENTICATION_NOT_ENABLED");
        app.server()
            .post("/users")
            .json(json!({ "password": "password123" }))
            .send()
            .await
            .expect_text(400, "Password auth not enabled in the project");
        // Trusted domains accept the callback URL.
        app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "credential_enabled": true, "allow_localhost": false, "domains": [{ "domain": "https://app.example.com", "handler_path": "/handler" }] } }))
        .send()
        .await
        .expect(200);
        app.client().post("/auth/password/sign-up").json(json!({ "email": "cb@example.com", "password": "password123", "verification_callback_url": "http://localhost:3000/cb" })).send().await.expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
        app.client().post("/auth/password/sign-up").json(json!({ "email": "cb@example.com", "password": "password123", "verification_callback_url": "https://app.example.com/handler/email-verification" })).send().await.expect(200);
        // A required publishable key.
        let p = app
            .admin()
            .get("/internal/projects/current")
            .send()
            .await
            .expect(200);
        assert_eq!(
            p["config"]["domains"],
            json!([{ "domain": "https://app.example.com", "handler_path": "/handler" }])
        );
    }
);

both_backends!(password_update_and_set, |app: TestServer| async move {
    let s1 = app.sign_up("pw@example.com", "password123").await;
    let s2 = app
        .client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "pw@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&s1)
        .post("/auth/password/update")
        .json(json!({ "old_password": "wrong-one", "new_password": "password456" }))
        .send()
        .await
        .expect_error(400, "PASSWORD_CONFIRMATION_MISMATCH");
    app.client()
        .user(&s1)
        .post("/auth/password/update")
        .json(json!({ "old_password": "password123", "new_password": "short" }))
        .send()
        .await
        .expect_error(400, "PASSWORD_TOO_SHORT");
    app.client()
        .post("/auth/password/update")
        .json(json!({ "old_password": "password123", "new_password": "password456" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .user(&s1)
        .post("/auth/password/update")
        .json(json!({ "old_password": "password123", "new_password": "password456" }))
        .send()
        .await
        .expect(200);
    // The session that changed it survives; the other one is ended.
    app.client()
        .user(&s1)
        .without("x-stack-access-token")
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect(200);
    app.client()
        .user(&s2)
        .without("x-stack-access-token")
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "pw@example.com", "password": "password123" }))
        .send()
        .await
        .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "pw@example.com", "password": "password456" }))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&s1)
        .post("/auth/password/set")
        .json(json!({ "password": "password789" }))
        .send()
        .await
        .expect_text(400, "User already has a password set.");

    // A user without a password sets one, then signs in with it.
    let u = app
        .server()
        .post("/users")
        .json(json!({ "primary_email": "nopw@example.com", "primary_email_auth_enabled": true }))
        .send()
        .await
        .expect(201);
    let s = app
        .server()
        .post("/auth/sessions")
        .json(json!({ "user_id": u["id"] }))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&s)
        .post("/auth/password/update")
        .json(json!({ "old_password": "whatever1", "new_password": "password456" }))
        .send()
        .await
        .expect_error(400, "USER_DOES_NOT_HAVE_PASSWORD");
    app.client()
        .user(&s)
        .post("/auth/password/set")
        .json(json!({ "password": "short" }))
        .send()
        .await
        .expect_error(400, "PASSWORD_TOO_SHORT");
    app.client()
        .user(&s)
        .post("/auth/password/set")
        .json(json!({ "password": "password789" }))
        .send()
        .await
        .expect(200);
    app.client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "nopw@example.com", "password": "password789" }))
        .send()
        .await
        .expect(200);
});

both_backends!(
    sessions_list_revoke_sign_out,
    |app: TestServer| async move {
        let s1 = app.sign_up("sess@example.com", "password123").await;
        let s2 = app
            .client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "sess@example.com", "password": "password123" }))
            .send()
            .await
            .expect(200);
        let list = app
            .client()
            .user(&s1)
            .get("/auth/sessions?user_id=me")
            .send()
            .await
            .expect(200);
        let items = list["items"].as_array().unwrap().clone();
        assert_eq!(items.len(), 2);
        assert_eq!(list["is_paginated"], false);
        let current: Vec<&Value> = items
            .iter()
            .filter(|s| s["is_current_session"] == true)
            .collect();
        assert_eq!(current.len(), 1);
        let other_id = items
            .iter()
            .find(|s| s["is_current_session"] == false)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let current_id = current[0]["id"].as_str().unwrap().to_string();
        app.client()
            .user(&s1)
            .delete(&format!("/auth/sessions/{current_id}?user_id=me"))
            .send()
            .await
            .expect_error(400, "CANNOT_DELETE_CURRENT_SESSION");
        app.client()
            .user(&s1)
            .get("/auth/sessions")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        // Another user's sessions are out of reach for a client.
        let stranger = app.sign_up("stranger@example.com", "password123").await;
        app.client()
            .user(&stranger)
            .get(&format!(
                "/auth/sessions?user_id={}",
                s1["user_id"].as_str().unwrap()
            ))
            .send()
            .await
            .expect_text(403, "Client can only list sessions for their own user.");
        app.client()
            .user(&stranger)
            .delete(&format!("/auth/sessions/{other_id}?user_id=me"))
            .send()
            .await
            .expect_text(404, "Session not found.");
        // Revoking the other session ends its refresh token.
        app.client()
            .user(&s1)
            .delete(&format!("/auth/sessions/{other_id}?user_id=me"))
            .send()
            .await
            .expect(200);
        app.client()
            .user(&s2)
            .without("x-stack-access-token")
            .post("/auth/sessions/current/refresh")
            .send()
            .await
            .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
        // Sign out: the session is gone; signing out twice says so.
        app.client()
            .user(&s1)
            .delete("/auth/sessions/current")
            .json(json!({}))
            .send()
            .await
            .expect(200);
        app.client()
            .user(&s1)
            .delete("/auth/sessions/current")
            .json(json!({}))
            .send()
            .await
            .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
        app.client()
            .user(&s1)
            .without("x-stack-access-token")
            .post("/auth/sessions/current/refresh")
            .send()
            .await
            .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
        app.client()
            .delete("/auth/sessions/current")
            .send()
            .await
            .expect_error(401, "ACCESS_TOKEN_EXPIRED");
        // Server listing sees all of a user's sessions.
        let srv = app
            .server()
            .get(&format!(
                "/auth/sessions?user_id={}",
                stranger["user_id"].as_str().unwrap()
            ))
            .send()
            .await
            .expect(200);
        assert_eq!(srv["items"].as_array().unwrap().len(), 1);
    }
);

both_backends!(
    server_sessions_and_impersonation,
    |app: TestServer| async move {
        let u = app.create_user("imp@example.com").await;
        let uid = u["id"].as_str().unwrap();
        let s = app
            .server()
            .post("/auth/sessions")
            .json(json!({ "user_id": uid, "is_impersonation": true, "expires_in_millis": 60000 }))
            .send()
            .await
            .expect(200);
        let me = app.me(&s).await;
        assert_eq!(me["id"], uid);
        // Impersonation sessions are listed only for admins.
        let client_list = app
            .client()
            .user(&s)
            .get("/auth/sessions?user_id=me")
            .send()
            .await
            .expect(200);
        assert_eq!(client_list["items"].as_array().unwrap().len(), 0);
        let admin_list = app
            .admin()
            .get(&format!("/auth/sessions?user_id={uid}"))
            .send()
            .await
            .expect(200);
        assert_eq!(admin_list["items"][0]["is_impersonation"], true);
        let missing = "00000000-0000-4000-8000-000000000000";
        let e = app
            .server()
            .post("/auth/sessions")
            .json(json!({ "user_id": missing }))
            .send()
            .await
            .expect_error(400, "USER_ID_DOES_NOT_EXIST");
        assert_eq!(e["details"]["user_id"], missing);
        app.server()
            .post("/auth/sessions")
            .json(json!({ "user_id": uid, "expires_in_millis": 400i64 * 24 * 3600 * 1000 }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.client()
            .post("/auth/sessions")
            .json(json!({ "user_id": uid }))
            .send()
            .await
            .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
        // Deleting the user ends the session.
        app.server()
            .delete(&format!("/users/{uid}"))
            .send()
            .await
            .expect(200);
        app.client()
            .user(&s)
            .without("x-stack-access-token")
            .post("/auth/sessions/current/refresh")
            .send()
            .await
            .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
    }
);

both_backends!(oauth_token_refresh_grant, |app: TestServer| async move {
    let s = app.sign_up("oauth@example.com", "password123").await;
    let form = |secret: &str, rt: &str| {
        format!(
            "grant_type=refresh_token&refresh_token={rt}&client_id={}&client_secret={secret}",
            app.project_id
        )
    };
    let rt = s["refresh_token"].as_str().unwrap();
    let r = app
        .anon()
        .post("/auth/oauth/token")
        .raw(
            "application/x-www-form-urlencoded",
            &form(&app.publishable_client_key, rt),
        )
        .send()
        .await
        .expect(200);
    assert_eq!(r["token_type"], "Bearer");
    assert!(
        r.get("refresh_token").is_none(),
        "the refresh grant does not rotate the refresh token"
    );
    let me = app
        .client()
        .token(r["access_token"].as_str().unwrap())
        .get("/users/me")
        .send()
        .await
        .expect(200);
    assert_eq!(me["id"], s["user_id"]);
    app.anon()
        .post("/auth/oauth/token")
        .raw(
            "application/x-www-form-urlencoded",
            &form("__stack_public_client__", rt),
        )
        .send()
        .await
        .expect(200);
    app.anon()
        .post("/auth/oauth/token")
        .raw("application/x-www-form-urlencoded", &form("pck_wrong", rt))
        .send()
        .await
        .expect_error(400, "INVALID_OAUTH_CLIENT_ID_OR_SECRET");
    app.anon()
        .post("/auth/oauth/token")
        .raw(
            "application/x-www-form-urlencoded",
            &form(&app.publishable_client_key, "nope"),
        )
        .send()
        .await
        .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
    let bad = app
        .anon()
        .post("/auth/oauth/token")
        .raw("application/x-www-form-urlencoded", "client_id=x")
        .send()
        .await;
    assert_eq!(bad.status.as_u16(), 400);
    assert_eq!(bad.json["error"], "invalid_request");
    // A refresh token of another project does not work here.
    let other = create_project_cli(&app.database_url, std::path::Path::new("/tmp"), "Other");
    let other_form = format!(
        "grant_type=refresh_token&refresh_token={rt}&client_id={}&client_secret={}",
        other["project_id"].as_str().unwrap(),
        other["publishable_client_key"].as_str().unwrap()
    );
    app.anon()
        .post("/auth/oauth/token")
        .raw("application/x-www-form-urlencoded", &other_form)
        .send()
        .await
        .expect_error(401, "REFRESH_TOKEN_NOT_FOUND_OR_EXPIRED");
});

both_backends!(
    jwks_publishes_the_signing_keys,
    |app: TestServer| async move {
        let s = app.sign_up("jwks@example.com", "password123").await;
        let r = app
            .anon()
            .get(&format!(
                "/projects/{}/.well-known/jwks.json",
                app.project_id
            ))
            .send()
            .await;
        assert_eq!(r.headers["cache-control"], "public, max-age=3600");
        let jwks = r.expect(200);
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["alg"], "ES256");
        assert_eq!(keys[0]["crv"], "P-256");
        // The token's kid is the published key's.
        use base64::Engine;
        let token = s["access_token"].as_str().unwrap();
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["kid"], keys[0]["kid"]);
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        for claim in [
            "sub",
            "iat",
            "exp",
            "iss",
            "aud",
            "project_id",
            "branch_id",
            "refresh_token_id",
            "role",
            "name",
            "email",
            "email_verified",
            "selected_team_id",
            "signed_up_at",
            "is_anonymous",
            "is_restricted",
            "restricted_reason",
            "requires_totp_mfa",
        ] {
            assert!(claims.get(claim).is_some(), "claim {claim} missing");
        }
        assert_eq!(claims["aud"], app.project_id.as_str());
        assert_eq!(claims["role"], "authenticated");
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            600
        );
        let with_restricted = app
            .anon()
            .get(&format!(
                "/projects/{}/.well-known/jwks.json?include_restricted=true",
                app.project_id
            ))
            .send()
            .await
            .expect(200);
        assert_eq!(with_restricted["keys"].as_array().unwrap().len(), 2);
        app.anon()
            .get("/projects/nope/.well-known/jwks.json")
            .send()
            .await
            .expect_text(404, "Project not found");
        let redirect = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let r = redirect
            .get(format!(
                "{}/api/v1/projects-anonymous-users/{}/.well-known/jwks.json",
                app.base, app.project_id
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 307);
        assert!(r.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with(&format!(
                "/projects/{}/.well-known/jwks.json?include_anonymous=true",
                app.project_id
            )));
    }
);
