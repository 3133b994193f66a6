//! The `x-stack-*` request model: access types, keys, tokens, the error envelope, CORS, and the
//! generic endpoints (`/api/v1`, `/health`, unknown paths, `/api/latest`).

mod common;
use common::*;
use serde_json::json;

both_backends!(
    access_type_and_project_headers,
    |app: TestServer| async move {
        // A key without an access type.
        app.anon()
            .get("/projects/current")
            .header("x-stack-secret-server-key", "x")
            .send()
            .await
            .expect_error(400, "PROJECT_KEY_WITHOUT_ACCESS_TYPE");
        // No access type at all → endpoints needing auth say so.
        app.anon()
            .get("/projects/current")
            .send()
            .await
            .expect_error(400, "ACCESS_TYPE_REQUIRED");
        app.anon()
            .get("/projects/current")
            .access("superuser")
            .send()
            .await
            .expect_error(400, "INVALID_ACCESS_TYPE");
        let e = app
            .client()
            .without("x-stack-project-id")
            .get("/projects/current")
            .send()
            .await
            .expect_error(400, "ACCESS_TYPE_WITHOUT_PROJECT_ID");
        assert_eq!(e["details"]["request_type"], "client");
        let e = app
            .client()
            .project("no-such-project")
            .get("/projects/current")
            .send()
            .await
            .expect_error(400, "CURRENT_PROJECT_NOT_FOUND");
        assert_eq!(e["details"]["project_id"], "no-such-project");
        app.client()
            .header("x-stack-branch-id", "dev")
            .get("/projects/current")
            .send()
            .await
            .expect_error(400, "BRANCH_DOES_NOT_EXIST");
        let p = app
            .client()
            .header("x-stack-branch-id", "main")
            .get("/projects/current")
            .send()
            .await
            .expect(200);
        assert_eq!(p["id"], app.project_id.as_str());
        assert_eq!(p["config"]["credential_enabled"], true);
        assert!(
            p.get("description").is_none(),
            "client read is reduced to the client shape"
        );
    }
);

both_backends!(
    keys_are_checked_per_type_and_project,
    |app: TestServer| async move {
        app.server()
            .without("x-stack-secret-server-key")
            .get("/users")
            .send()
            .await
            .expect_error(401, "SERVER_AUTHENTICATION_REQUIRED");
        // A key of another type is not looked at.
        app.server()
            .without("x-stack-secret-server-key")
            .header(
                "x-stack-publishable-client-key",
                &app.publishable_client_key,
            )
            .get("/users")
            .send()
            .await
            .expect_error(401, "SERVER_AUTHENTICATION_REQUIRED");
        let e = app
            .server()
            .header("x-stack-secret-server-key", "ssk_wrong")
            .get("/users")
            .send()
            .await
            .expect_error(401, "INVALID_SECRET_SERVER_KEY");
        assert_eq!(e["details"]["project_id"], app.project_id.as_str());
        app.admin()
            .without("x-stack-super-secret-admin-key")
            .get("/internal/projects/current")
            .send()
            .await
            .expect_error(401, "ADMIN_AUTHENTICATION_REQUIRED");
        app.admin()
            .header("x-stack-super-secret-admin-key", &app.secret_server_key)
            .get("/internal/projects/current")
            .send()
            .await
            .expect_error(401, "INVALID_SUPER_SECRET_ADMIN_KEY");
        app.client()
            .header("x-stack-publishable-client-key", "pck_nope")
            .get("/projects/current")
            .send()
            .await
            .expect_error(401, "INVALID_PUBLISHABLE_CLIENT_KEY");
        // Keys with characters outside the key alphabet are simply wrong, not a crash.
        app.server()
            .header("x-stack-secret-server-key", "a'b\"c;--")
            .get("/users")
            .send()
            .await
            .expect_error(401, "INVALID_SECRET_SERVER_KEY");
        // Client access without a key is fine unless the project requires one; the SDK's sentinel means "no key".
        app.client()
            .without("x-stack-publishable-client-key")
            .get("/projects/current")
            .send()
            .await
            .expect(200);
        app.client()
            .header("x-stack-publishable-client-key", "__stack_public_client__")
            .get("/projects/current")
            .send()
            .await
            .expect(200);
        // Another project's key is a wrong key.
        let other = create_project_cli(&app.database_url, std::path::Path::new("/tmp"), "Other");
        app.server()
            .header(
                "x-stack-secret-server-key",
                other["secret_server_key"].as_str().unwrap(),
            )
            .get("/users")
            .send()
            .await
            .expect_error(401, "INVALID_SECRET_SERVER_KEY");
        // Access type not allowed by the route.
        let e = app
            .client()
            .get("/users")
            .send()
            .await
            .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
        assert_eq!(
            e["details"],
            json!({ "actual_access_type": "client", "allowed_access_types": ["server", "admin"] })
        );
        app.server()
            .get("/internal/projects/current")
            .send()
            .await
            .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
        // The published SDK's x-hexclave-* spellings work the same.
        let r = app
            .anon()
            .header("x-hexclave-project-id", &app.project_id)
            .header("x-hexclave-access-type", "server")
            .header("x-hexclave-secret-server-key", &app.secret_server_key)
            .get("/users")
            .send()
            .await;
        r.expect(200);
    }
);

both_backends!(access_tokens_are_verified, |app: TestServer| async move {
    let s = app.sign_up("tok@example.com", "password123").await;
    let token = s["access_token"].as_str().unwrap().to_string();
    app.client()
        .token(&token)
        .get("/users/me")
        .send()
        .await
        .expect(200);
    // Forged: flip a character of the signature.
    let mut forged = token.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    app.client()
        .token(&forged)
        .get("/users/me")
        .send()
        .await
        .expect_error(401, "UNPARSABLE_ACCESS_TOKEN");
    app.client()
        .token("not-a-jwt")
        .get("/users/me")
        .send()
        .await
        .expect_error(401, "UNPARSABLE_ACCESS_TOKEN");
    app.client()
        .token("a.b.c")
        .get("/users/me")
        .send()
        .await
        .expect_error(401, "UNPARSABLE_ACCESS_TOKEN");
    // A token of another project.
    let other = create_project_cli(&app.database_url, std::path::Path::new("/tmp"), "Other");
    let other_id = other["project_id"].as_str().unwrap();
    let e = app
        .client()
        .project(other_id)
        .without("x-stack-publishable-client-key")
        .token(&token)
        .get("/users/me")
        .send()
        .await
        .expect_error(401, "INVALID_PROJECT_FOR_ACCESS_TOKEN");
    assert_eq!(e["details"]["expected_project_id"], other_id);
    assert_eq!(e["details"]["actual_project_id"], app.project_id.as_str());
    // Without an access type the token is ignored.
    app.anon()
        .token(&token)
        .get("/users/me")
        .send()
        .await
        .expect_error(400, "ACCESS_TYPE_REQUIRED");
    // No token: no user.
    app.client()
        .get("/users/me")
        .send()
        .await
        .expect_error(400, "CANNOT_GET_OWN_USER_WITHOUT_USER");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_access_tokens_are_refused_with_details() {
    let app = TestServer::start_with(
        Backend::Sqlite,
        Options {
            env: vec![("PORTCULLIS_ACCESS_TOKEN_TTL_SECS".into(), "1".into())],
        },
    )
    .await;
    let s = app.sign_up("exp@example.com", "password123").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let e = app
        .client()
        .user(&s)
        .get("/users/me")
        .send()
        .await
        .expect_error(401, "ACCESS_TOKEN_EXPIRED");
    assert_eq!(e["details"]["user_id"], s["user_id"]);
    assert_eq!(e["details"]["project_id"], app.project_id.as_str());
    assert!(e["details"]["expired_at_millis"].as_i64().unwrap() > 0);
    // The refresh token still works and mints a fresh access token.
    let r = app
        .client()
        .user(&s)
        .without("x-stack-access-token")
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect(200);
    app.client()
        .token(r["access_token"].as_str().unwrap())
        .get("/users/me")
        .send()
        .await
        .expect(200);
}

both_backends!(
    anonymous_users_need_the_flag,
    |app: TestServer| async move {
        let s = app
            .client()
            .post("/auth/anonymous/sign-up")
            .send()
            .await
            .expect(200);
        let token = s["access_token"].as_str().unwrap();
        app.client()
            .token(token)
            .get("/users/me")
            .send()
            .await
            .expect_error(401, "ANONYMOUS_AUTHENTICATION_NOT_ALLOWED");
        let me = app
            .client()
            .token(token)
            .header("x-stack-allow-anonymous-user", "true")
            .get("/users/me")
            .send()
            .await
            .expect(200);
        assert_eq!(me["is_anonymous"], true);
        assert_eq!(me["is_restricted"], true);
        assert_eq!(me["restricted_reason"], json!({ "type": "anonymous" }));
        // JWKS without anonymous keys cannot verify it; with them it publishes a third key set.
        let jwks = app
            .anon()
            .get(&format!(
                "/projects/{}/.well-known/jwks.json?include_anonymous=true",
                app.project_id
            ))
            .send()
            .await
            .expect(200);
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
        // Upgrading by signing up with a password keeps the id.
        let up = app
            .client()
            .token(token)
            .header("x-stack-allow-anonymous-user", "true")
            .post("/auth/password/sign-up")
            .json(json!({ "email": "upgraded@example.com", "password": "password123" }))
            .send()
            .await
            .expect(200);
        assert_eq!(up["user_id"], s["user_id"]);
        let me = app.me(&up).await;
        assert_eq!(me["is_anonymous"], false);
        assert_eq!(me["primary_email"], "upgraded@example.com");
    }
);

both_backends!(
    error_envelope_and_body_parsing,
    |app: TestServer| async move {
        let r = app
            .client()
            .post("/auth/password/sign-in")
            .raw("application/json", "{not json")
            .send()
            .await;
        r.expect_error(400, "BODY_PARSING_ERROR");
        app.client()
            .post("/auth/password/sign-in")
            .raw("application/xml", "<a/>")
            .send()
            .await
            .expect_error(400, "BODY_PARSING_ERROR");
        let e = app
            .client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": 5, "password": "x" }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        assert!(e["details"]["message"]
            .as_str()
            .unwrap()
            .starts_with("Request validation failed on POST /api/v1/auth/password/sign-in:"));
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "a@b.co", "password": "x", "extra": 1 }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.client()
            .post("/auth/password/sign-in")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.client()
            .post("/auth/password/sign-in")
            .json(json!([1, 2]))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        // Unknown query parameters are refused.
        app.server()
            .get("/users?bogus=1")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        // The error body has the original's key order and the header matches the code.
        let r = app
            .client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "nobody@example.com", "password": "password123" }))
            .send()
            .await;
        assert!(r.text.find("\"code\"").unwrap() < r.text.find("\"error\"").unwrap());
        r.expect_error(400, "EMAIL_PASSWORD_MISMATCH");
        // Override status: 4xx becomes 200 with the real status in a header.
        let r = app
            .client()
            .header("x-stack-override-error-status", "true")
            .get("/users/me")
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 200);
        assert_eq!(r.headers["x-stack-actual-status"], "400");
        assert_eq!(
            r.headers["x-stack-known-error"],
            "CANNOT_GET_OWN_USER_WITHOUT_USER"
        );
    }
);

both_backends!(
    generic_endpoints_and_headers,
    |app: TestServer| async move {
        let root = app.anon().get("").send().await;
        assert_eq!(root.status.as_u16(), 200);
        assert!(root.text.contains("Authentication: None"));
        let root = app.server().get("").send().await;
        assert!(root.text.contains(&format!(
            "Authentication: Server\n  Project: {}\n  User: None",
            app.project_id
        )));
        app.server()
            .get("?x=1")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        let latest = app
            .anon()
            .get(&format!("{}/api/latest/projects/current", app.base))
            .project(&app.project_id)
            .access("client")
            .send()
            .await
            .expect(200);
        assert_eq!(latest["id"], app.project_id.as_str());
        let nf = app.anon().get("/no/such/endpoint").send().await;
        nf.expect_text(404, "this page does not exist");
        let health = app
            .anon()
            .get(&format!("{}/health?db=1", app.base))
            .send()
            .await;
        assert_eq!(health.json, json!({ "status": "ok" }));
        // Every API response carries the CORS and request headers.
        let r = app.client().get("/projects/current").send().await;
        assert_eq!(r.headers["access-control-allow-origin"], "*");
        assert_eq!(r.headers["cache-control"], "no-store, max-age=0");
        assert!(r.headers.contains_key("x-stack-request-id"));
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
        // Preflight: empty 200 with the allow-list, no auth needed.
        let pre = app
            .http
            .request(
                reqwest::Method::OPTIONS,
                format!("{}/api/v1/users/me", app.base),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(pre.status().as_u16(), 200);
        let allow = pre.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(
            allow.contains("x-stack-access-token") && allow.contains("x-hexclave-access-token")
        );
        assert!(pre.headers()["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .contains("x-stack-known-error"));
    }
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn development_override_key_only_in_dev_mode() {
    let prod = TestServer::start(Backend::Sqlite).await;
    prod.server()
        .without("x-stack-secret-server-key")
        .header("x-stack-development-override-key", INTERNAL_SAK)
        .get("/users")
        .send()
        .await
        .expect_text(401, "only allowed in development");
    let dev = TestServer::start_with(
        Backend::Sqlite,
        Options {
            env: vec![("PORTCULLIS_DEV_MODE".into(), "true".into())],
        },
    )
    .await;
    dev.server()
        .without("x-stack-secret-server-key")
        .header("x-stack-development-override-key", INTERNAL_SAK)
        .get("/users")
        .send()
        .await
        .expect(200);
    dev.admin()
        .without("x-stack-super-secret-admin-key")
        .header("x-stack-development-override-key", "sak_wrong")
        .get("/internal/projects/current")
        .send()
        .await
        .expect_text(401, "Invalid development key override");
}
