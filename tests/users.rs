//! `/users` and `/users/me`: create, read, update, delete, list with pagination and search,
//! client restrictions, write rules and their errors (no partial writes).

mod common;
use common::*;
use serde_json::{json, Value};

both_backends!(server_crud, |app: TestServer| async move {
    let u = app
        .server()
        .post("/users")
        .json(json!({ "primary_email": "Alice@Example.com", "display_name": "Alice", "server_metadata": { "plan": "pro" }, "client_metadata": [1, 2] }))
        .send()
        .await
        .expect(201);
    let id = u["id"].as_str().unwrap();
    assert_eq!(
        u["primary_email"], "alice@example.com",
        "emails are normalised"
    );
    assert_eq!(u["primary_email_verified"], false);
    assert_eq!(u["primary_email_auth_enabled"], false);
    assert_eq!(u["has_password"], false);
    assert_eq!(u["server_metadata"], json!({ "plan": "pro" }));
    assert!(u["signed_up_at_millis"].as_i64().unwrap() > 1_700_000_000_000);
    let got = app
        .server()
        .get(&format!("/users/{id}"))
        .send()
        .await
        .expect(200);
    assert_eq!(got, u);
    let upd = app
        .server()
        .patch(&format!("/users/{id}"))
        .json(json!({ "display_name": "", "primary_email_verified": true, "client_read_only_metadata": { "k": "v" } }))
        .send()
        .await
        .expect(200);
    assert_eq!(
        upd["display_name"],
        Value::Null,
        "empty display name is stored as null"
    );
    assert_eq!(upd["primary_email_verified"], true);
    assert_eq!(upd["client_read_only_metadata"], json!({ "k": "v" }));
    app.server()
        .delete(&format!("/users/{id}"))
        .send()
        .await
        .expect(200);
    app.server()
        .get(&format!("/users/{id}"))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    app.server()
        .patch(&format!("/users/{id}"))
        .json(json!({}))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    app.server()
        .delete(&format!("/users/{id}"))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    app.server()
        .get("/users/not-a-uuid")
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
});

both_backends!(write_rules, |app: TestServer| async move {
    let a = app.create_user("taken@example.com").await;
    // Duplicate auth email (case-insensitive) → 409 and no user written.
    let e = app
        .server()
        .post("/users")
        .json(json!({ "primary_email": "TAKEN@example.com", "primary_email_auth_enabled": true }))
        .send()
        .await
        .expect_error(409, "USER_EMAIL_ALREADY_EXISTS");
    assert_eq!(e["details"]["email"], "taken@example.com");
    // The same email without auth is allowed (not used for sign-in).
    app.server()
        .post("/users")
        .json(json!({ "primary_email": "taken@example.com" }))
        .send()
        .await
        .expect(201);
    let list = app.server().get("/users").send().await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // Rules answered with the original's plain-text errors.
    app.server()
        .post("/users")
        .json(json!({ "primary_email_verified": true }))
        .send()
        .await
        .expect_text(
            400,
            "primary_email_verified cannot be true without primary_email",
        );
    app.server()
        .post("/users")
        .json(json!({ "primary_email_auth_enabled": true }))
        .send()
        .await
        .expect_text(
            400,
            "primary_email_auth_enabled cannot be true without primary_email",
        );
    app.server()
        .post("/users")
        .json(json!({ "password": "password123", "password_hash": "$2a$10$abc" }))
        .send()
        .await
        .expect_text(400, "Cannot set both password and password_hash");
    app.server()
        .post("/users")
        .json(json!({ "password_hash": "md5:abc" }))
        .send()
        .await
        .expect_text(400, "Invalid password hash");
    app.server()
        .post("/users")
        .json(json!({ "restricted_by_admin_reason": "spam" }))
        .send()
        .await
        .expect_text(
            400,
            "restricted_by_admin_reason requires restricted_by_admin=true",
        );
    app.server()
        .post("/users")
        .json(json!({ "passkey_auth_enabled": true }))
        .send()
        .await
        .expect_text(400, "Cannot manually enable passkey auth");
    app.server()
        .post("/users")
        .json(json!({ "otp_auth_enabled": true }))
        .send()
        .await
        .expect_text(400, "OTP auth not enabled in the project");
    app.server()
        .post("/users")
        .json(json!({ "oauth_providers": [{ "id": "github", "account_id": "1", "email": null }] }))
        .send()
        .await
        .expect_text(400, "OAuth provider github not found");
    // Schema errors: wrong types, bad email, too long, unknown fields.
    app.server()
        .post("/users")
        .json(json!({ "display_name": 5 }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post("/users")
        .json(json!({ "primary_email": "not-an-email" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post("/users")
        .json(json!({ "display_name": "x".repeat(257) }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post("/users")
        .json(json!({ "nickname": "x" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.server()
        .post("/users")
        .json(json!({ "password": "short" }))
        .send()
        .await
        .expect_error(400, "PASSWORD_TOO_SHORT");
    // None of the refused writes left a user behind.
    let list = app.server().get("/users").send().await.expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    // Update to a taken auth email → 409, and the user is unchanged.
    let b = app.create_user("b@example.com").await;
    let bid = b["id"].as_str().unwrap();
    app.server()
        .patch(&format!("/users/{bid}"))
        .json(json!({ "primary_email": "taken@example.com", "display_name": "Should not stick" }))
        .send()
        .await
        .expect_error(409, "USER_EMAIL_ALREADY_EXISTS");
    let b2 = app
        .server()
        .get(&format!("/users/{bid}"))
        .send()
        .await
        .expect(200);
    assert_eq!(b2["primary_email"], "b@example.com");
    assert_eq!(b2["display_name"], Value::Null);
    assert_eq!(a["primary_email_auth_enabled"], true);
});

both_backends!(
    imported_bcrypt_hash_signs_in,
    |app: TestServer| async move {
        // bcrypt("hunter2pass", cost 4), as the original stores passwords.
        let hash = "$2b$04$yTyE2qUSD2YiYPOCmakQY.7h79D16x/gx5rbjMvto1BIu.SJOQ.ci";
        let u = app
        .server()
        .post("/users")
        .json(json!({ "primary_email": "imported@example.com", "primary_email_auth_enabled": true, "password_hash": hash }))
        .send()
        .await
        .expect(201);
        assert_eq!(u["has_password"], true);
        let s = app
            .client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "imported@example.com", "password": "hunter2pass" }))
            .send()
            .await
            .expect(200);
        assert_eq!(s["user_id"], u["id"]);
        app.client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "imported@example.com", "password": "hunter3pass" }))
            .send()
            .await
            .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    }
);

both_backends!(client_access_to_me, |app: TestServer| async move {
    let s = app.sign_up("me@example.com", "password123").await;
    let me = app.me(&s).await;
    assert!(
        me.get("server_metadata").is_none(),
        "client read hides server fields"
    );
    assert_eq!(me["has_password"], true);
    let me = app
        .client()
        .user(&s)
        .patch("/users/me")
        .json(json!({ "display_name": "Me", "client_metadata": { "theme": "dark" } }))
        .send()
        .await
        .expect(200);
    assert_eq!(me["display_name"], "Me");
    assert_eq!(me["client_metadata"], json!({ "theme": "dark" }));
    // Server-only fields are refused from a client.
    app.client()
        .user(&s)
        .patch("/users/me")
        .json(json!({ "server_metadata": { "x": 1 } }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .user(&s)
        .patch("/users/me")
        .json(json!({ "client_read_only_metadata": { "x": 1 } }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .user(&s)
        .patch("/users/me")
        .json(json!({ "profile_image_url": "https://example.com/a.png" }))
        .send()
        .await
        .expect_text(400, "Invalid profile image URL");
    app.client()
        .user(&s)
        .patch("/users/me")
        .json(json!({ "profile_image_url": "data:image/png;base64,iVBORw0KGgo=" }))
        .send()
        .await
        .expect(200);
    // Clients cannot reach other users.
    let other = app.create_user("other@example.com").await;
    app.client()
        .user(&s)
        .get(&format!("/users/{}", other["id"].as_str().unwrap()))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    // Server access sees the server shape of the same user.
    let me_server = app
        .server()
        .user(&s)
        .get("/users/me")
        .send()
        .await
        .expect(200);
    assert_eq!(me_server["server_metadata"], Value::Null);
    assert_eq!(me_server["display_name"], "Me");
    // Deleting oneself needs the project's permission.
    app.client()
        .user(&s)
        .delete("/users/me")
        .send()
        .await
        .expect_text(400, "Client user deletion is not enabled");
    app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": { "client_user_deletion_enabled": true } }))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&s)
        .delete("/users/me")
        .send()
        .await
        .expect(200);
    // The token is still valid, but the user is gone.
    app.client()
        .user(&s)
        .get("/users/me")
        .send()
        .await
        .expect_error(400, "CANNOT_GET_OWN_USER_WITHOUT_USER");
});

both_backends!(
    list_pagination_search_and_filters,
    |app: TestServer| async move {
        let mut ids = vec![];
        for i in 0..7 {
            let u = app
            .server()
            .post("/users")
            .json(json!({ "primary_email": format!("user{i}@example.com"), "display_name": format!("Person {i}") }))
            .send()
            .await
            .expect(201);
            ids.push(u["id"].as_str().unwrap().to_string());
            tokio::time::sleep(std::time::Duration::from_millis(3)).await;
        }
        // Walk pages of 3 ascending: 3 + 3 + 1, cursors chaining, nothing repeated or skipped.
        let mut seen = vec![];
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/users?limit=3&cursor={c}"),
                None => "/users?limit=3".into(),
            };
            let page = app.server().get(&path).send().await.expect(200);
            assert_eq!(page["is_paginated"], true);
            for u in page["items"].as_array().unwrap() {
                seen.push(u["id"].as_str().unwrap().to_string());
            }
            match page["pagination"]["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.into()),
                None => break,
            }
        }
        assert_eq!(seen, ids);
        let desc = app
            .server()
            .get("/users?desc=true&limit=2")
            .send()
            .await
            .expect(200);
        let desc_ids: Vec<&str> = desc["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert_eq!(desc_ids, vec![ids[6].as_str(), ids[5].as_str()]);
        // Search: case-insensitive substring of name or email, or exact id; LIKE wildcards are literal.
        let found = app
            .server()
            .get("/users?query=PERSON%203")
            .send()
            .await
            .expect(200);
        assert_eq!(found["items"].as_array().unwrap().len(), 1);
        assert_eq!(found["items"][0]["id"], ids[3].as_str());
        let found = app
            .server()
            .get("/users?query=user5%40")
            .send()
            .await
            .expect(200);
        assert_eq!(found["items"][0]["id"], ids[5].as_str());
        let found = app
            .server()
            .get(&format!("/users?query={}", ids[1]))
            .send()
            .await
            .expect(200);
        assert_eq!(found["items"].as_array().unwrap().len(), 1);
        let found = app
            .server()
            .get("/users?query=%25")
            .send()
            .await
            .expect(200);
        assert_eq!(found["items"].as_array().unwrap().len(), 0);
        // Anonymous and restricted users are hidden unless asked for.
        app.client()
            .post("/auth/anonymous/sign-up")
            .send()
            .await
            .expect(200);
        app.server()
            .patch(&format!("/users/{}", ids[0]))
            .json(json!({ "restricted_by_admin": true, "restricted_by_admin_reason": "spam" }))
            .send()
            .await
            .expect(200);
        let n = |v: Value| v["items"].as_array().unwrap().len();
        assert_eq!(n(app.server().get("/users").send().await.expect(200)), 6);
        assert_eq!(
            n(app
                .server()
                .get("/users?include_restricted=true")
                .send()
                .await
                .expect(200)),
            7
        );
        assert_eq!(
            n(app
                .server()
                .get("/users?include_anonymous=true")
                .send()
                .await
                .expect(200)),
            8
        );
        assert_eq!(
            n(app
                .server()
                .get("/users?include_anonymous=true&only_anonymous=true")
                .send()
                .await
                .expect(200)),
            1
        );
        app.server()
            .get("/users?only_anonymous=true")
            .send()
            .await
            .expect_text(400, "only_anonymous=true requires include_anonymous=true");
        app.server()
            .get("/users?limit=0")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.server()
            .get("/users?limit=abc")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.server()
            .get("/users?cursor=nope")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.server()
            .get("/users?order_by=email")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.server()
            .get("/users?desc=maybe")
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
    }
);

both_backends!(projects_are_isolated, |app: TestServer| async move {
    let u = app.create_user("iso@example.com").await;
    let other = create_project_cli(&app.database_url, std::path::Path::new("/tmp"), "Other");
    let other_server = || {
        app.server()
            .project(other["project_id"].as_str().unwrap())
            .header(
                "x-stack-secret-server-key",
                other["secret_server_key"].as_str().unwrap(),
            )
    };
    other_server()
        .get(&format!("/users/{}", u["id"].as_str().unwrap()))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    assert_eq!(
        other_server().get("/users").send().await.expect(200)["items"],
        json!([])
    );
    // The same email may sign up in another project.
    other_server()
        .post("/users")
        .json(json!({ "primary_email": "iso@example.com", "primary_email_auth_enabled": true }))
        .send()
        .await
        .expect(201);
});
