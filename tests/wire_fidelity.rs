//! What the original says, word for word: validation messages with their paths (yup's wording,
//! `packages/stack-shared/src/schema-fields.ts`), the header errors of `smart-request.tsx` with
//! their pointer to the REST authentication docs, and nothing half-written when a request is
//! refused. Each example was sent to the original's source and to us (issue 18).

mod common;

use common::*;
use serde_json::{json, Value};

/// A server whose shared email server is a fresh SMTP sink.
async fn with_sink(backend: Backend) -> (SmtpSink, TestServer) {
    let sink = SmtpSink::start(None);
    let env = vec![
        ("PORTCULLIS_SMTP_URL".into(), sink.url()),
        (
            "PORTCULLIS_SMTP_FROM".into(),
            "Acme <noreply@acme.test>".into(),
        ),
    ];
    let app = TestServer::start_with(backend, Options { env }).await;
    (sink, app)
}

/// The one problem line of a SCHEMA_ERROR for `line` (e.g. `PATCH /api/v1/users/me`).
#[track_caller]
fn schema_problem(error: &Value, line: &str) -> String {
    let message = error["error"].as_str().unwrap();
    let prefix = format!("Request validation failed on {line}:\n  - ");
    assert!(message.starts_with(&prefix), "{message}");
    assert_eq!(error["details"]["message"], message);
    message[prefix.len()..].to_string()
}

async fn validation_messages(backend: Backend) {
    let app = TestServer::start(backend).await;
    let session = app.sign_up("wire@example.com", "password123").await;
    let me = "PATCH /api/v1/users/me";
    let refused = |body: Value| {
        let req = app.client().user(&session).patch("/users/me").json(body);
        async move { req.send().await.expect_error(400, "SCHEMA_ERROR") }
    };
    // A server-only field from a client: named as the original names unknown properties.
    let e = refused(json!({ "server_metadata": {"a": 1} })).await;
    assert_eq!(
        schema_problem(&e, me),
        "body contains unknown properties: server_metadata"
    );
    let e = refused(json!({ "totp_secret_base64": "!!!" })).await;
    assert_eq!(
        schema_problem(&e, me),
        "body.totp_secret_base64 is not valid base64"
    );
    // yup's type message, with the value as it printed it.
    let e = refused(json!({ "otp_auth_enabled": "maybe" })).await;
    assert_eq!(
        schema_problem(&e, me),
        "body.otp_auth_enabled must be a `boolean` type, but the final value was: `\"maybe\"`."
    );
    // None of these changed the user.
    let user = app.me(&session).await;
    assert_eq!(user["otp_auth_enabled"], false);
    assert_eq!(user["requires_totp_mfa"], false);

    // Nested paths on the admin project update.
    let admin_line = "PATCH /api/v1/internal/projects/current";
    let update = |config: Value| {
        let req = app
            .admin()
            .patch("/internal/projects/current")
            .json(json!({ "config": config }));
        async move { req.send().await }
    };
    let e = update(json!({ "domains": [{ "domain": "whatever://x.example.com", "handler_path": "/handler" }] }))
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(
        schema_problem(&e, admin_line),
        "URL must start with http:// or https://"
    );
    let standard = json!({
        "type": "standard", "host": "", "port": 587, "username": "u", "password": "p",
        "sender_name": "Acme", "sender_email": "noreply@acme.test",
    });
    let e = update(json!({ "email_config": standard }))
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(
        schema_problem(&e, admin_line),
        "body.config.email_config.host must not be empty"
    );
    let e = update(json!({ "oauth_providers": [{ "id": "github", "type": "standard", "client_id": "x", "client_secret": "" }] }))
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(
        schema_problem(&e, admin_line),
        "body.config.oauth_providers[0].client_secret must not be empty"
    );
    // Strict at every depth: an unknown key inside email_config is refused, not ignored.
    for email_config in [
        json!({ "type": "shared", "client_id": "x" }),
        json!({ "type": "standard", "host": "smtp.acme.test", "port": 587, "username": "u", "password": "p",
                "sender_name": "Acme", "sender_email": "noreply@acme.test", "client_id": "x" }),
    ] {
        let e = update(json!({ "email_config": email_config, "sign_up_enabled": false }))
            .await
            .expect_error(400, "SCHEMA_ERROR");
        assert_eq!(
            schema_problem(&e, admin_line),
            "body.config.email_config contains unknown properties: client_id"
        );
    }
    let e = update(json!({ "domains": [{ "domain": "https://a.example.com", "handler_path": "/h", "extra": 1 }] }))
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(
        schema_problem(&e, admin_line),
        "body.config.domains[0] contains unknown properties: extra"
    );
    let e = update(json!({ "email_config": { "type": "smtp" } }))
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert_eq!(
        schema_problem(&e, admin_line),
        "body.config.email_config.type must be one of the following values: shared, standard"
    );
    // A standard server with every field is taken; nothing refused above was half-applied.
    let project = app
        .admin()
        .get("/internal/projects/current")
        .send()
        .await
        .expect(200);
    assert_eq!(project["config"]["sign_up_enabled"], true);
    assert_eq!(project["config"]["email_config"]["type"], "shared");
    assert_eq!(project["config"]["domains"], json!([]));
    let mut good = standard.clone();
    good["host"] = json!("smtp.acme.test");
    update(json!({ "email_config": good })).await.expect(200);
}
on_both_backends!(validation_messages_match_the_original, validation_messages);

async fn header_errors(backend: Backend) {
    let app = TestServer::start(backend).await;
    let docs = "\n\nFor more information, see the docs on REST API authentication: https://docs.stack-auth.com/rest-api/overview#authentication";
    let e = app
        .anon()
        .header("x-stack-access-type", "client")
        .get("/users/me")
        .send()
        .await
        .expect_error(400, "ACCESS_TYPE_WITHOUT_PROJECT_ID");
    assert_eq!(
        e["error"],
        format!("The x-stack-access-type header was 'client', but the x-stack-project-id header was not provided.{docs}")
    );
    assert_eq!(e["details"], json!({ "request_type": "client" }));
    let e = app
        .anon()
        .header("x-stack-project-id", &app.project_id)
        .get("/users")
        .send()
        .await
        .expect_error(400, "ACCESS_TYPE_REQUIRED");
    assert_eq!(
        e["error"],
        format!("You must specify an access level for this Stack project. Make sure project API keys are provided (eg. x-stack-publishable-client-key) and you set the x-stack-access-type header to 'client', 'server', or 'admin'.{docs}")
    );
    let e = app
        .anon()
        .header("x-stack-project-id", &app.project_id)
        .header("x-stack-secret-server-key", &app.secret_server_key)
        .get("/users")
        .send()
        .await
        .expect_error(400, "PROJECT_KEY_WITHOUT_ACCESS_TYPE");
    assert_eq!(
        e["error"],
        "Either an API key or an admin access token was provided, but the x-stack-access-type header is missing. Set it to 'client', 'server', or 'admin' as appropriate."
    );
    let e = app
        .server()
        .header("x-stack-secret-server-key", "ssk_wrong")
        .get("/users")
        .send()
        .await
        .expect_error(401, "INVALID_SECRET_SERVER_KEY");
    assert_eq!(
        e["error"],
        format!(
            "The secret server key is not valid for the project \"{}\". Does the project and/or the key exist?",
            app.project_id
        )
    );
}
on_both_backends!(header_errors_match_the_original, header_errors);

/// A project in use (users with sessions, teams with members and invitations, permission
/// definitions granted to both, API keys, contact channels) is deleted in one request, and
/// everything of it goes.
async fn delete_project_in_use(backend: Backend) {
    let app = TestServer::start(backend).await;
    let alice = app.sign_up("alice@example.com", "password123").await;
    let bob = app.create_user("bob@example.com").await;
    let bob_id = bob["id"].as_str().unwrap();
    let alice_id = app.me(&alice).await["id"].as_str().unwrap().to_string();
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Crew", "creator_user_id": alice_id }))
        .send()
        .await
        .expect(201);
    let team_id = team["id"].as_str().unwrap();
    app.server()
        .post(&format!("/team-memberships/{team_id}/{bob_id}"))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    for (path, id) in [
        ("/team-permission-definitions", "read:reports"),
        ("/project-permission-definitions", "admin:billing"),
    ] {
        app.admin()
            .post(path)
            .json(json!({ "id": id, "description": "x" }))
            .send()
            .await
            .expect(201);
    }
    app.server()
        .post(&format!(
            "/team-permissions/{team_id}/{bob_id}/read:reports"
        ))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    app.server()
        .post(&format!("/project-permissions/{bob_id}/admin:billing"))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    app.configure(json!({ "allow_team_api_keys": true, "allow_user_api_keys": true }))
        .await;
    app.server()
        .post("/team-api-keys")
        .json(json!({ "team_id": team_id, "description": "ci", "expires_at_millis": null }))
        .send()
        .await
        .expect(200);
    app.server()
        .post("/team-invitations/send-code")
        .json(json!({ "team_id": team_id, "email": "carol@example.com", "callback_url": "http://localhost:3000/invite" }))
        .send()
        .await
        .expect(200);

    app.admin()
        .delete("/internal/projects/current")
        .send()
        .await
        .expect(200);
    app.admin()
        .get("/internal/projects/current")
        .send()
        .await
        .expect_error(400, "CURRENT_PROJECT_NOT_FOUND");
    for table in [
        "users",
        "teams",
        "team_members",
        "contact_channels",
        "sessions",
        "permission_definitions",
        "permission_grants",
        "api_keys",
        "verification_codes",
    ] {
        let left = db_query_text(
            &app.database_url,
            &format!(
                "SELECT COUNT(*) FROM {table} WHERE project_id = '{}'",
                app.project_id
            ),
        );
        assert_eq!(left.trim(), "0", "{table} rows left behind");
    }
}
on_both_backends!(deleting_a_project_in_use, delete_project_in_use);

/// `internal/api-keys`: key sets over the API in the original's shapes; a set without a key
/// has none, a revoked set's keys stop working.
async fn internal_api_keys(backend: Backend) {
    let app = TestServer::start(backend).await;
    let far = 4_102_444_800_000i64;
    let created = app
        .admin()
        .post("/internal/api-keys")
        .json(json!({ "description": "CI", "expires_at_millis": far, "has_publishable_client_key": false,
                      "has_secret_server_key": true, "has_super_secret_admin_key": false }))
        .send()
        .await
        .expect(200);
    let id = created["id"].as_str().unwrap().to_string();
    let secret = created["secret_server_key"].as_str().unwrap().to_string();
    assert!(secret.starts_with("ssk_"));
    assert!(created.get("publishable_client_key").is_none(), "{created}");
    assert_eq!(created["expires_at_millis"], far);
    // The new key works; its last four are what the list shows.
    app.server()
        .header("x-stack-secret-server-key", &secret)
        .get("/users")
        .send()
        .await
        .expect(200);
    let listed = app
        .admin()
        .get("/internal/api-keys")
        .send()
        .await
        .expect(200);
    let item = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        item["secret_server_key"],
        json!({ "last_four": &secret[secret.len() - 4..] })
    );
    assert!(item.get("publishable_client_key").is_none());
    assert!(item.get("manually_revoked_at_millis").is_none());
    assert_eq!(listed["is_paginated"], false);
    // Unknown ids and bad values, nothing changed.
    app.admin()
        .get("/internal/api-keys/00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .expect_error(404, "API_KEY_NOT_FOUND");
    app.admin()
        .patch("/internal/api-keys/00000000-0000-4000-8000-000000000000")
        .json(json!({ "revoked": true }))
        .send()
        .await
        .expect_error(404, "API_KEY_NOT_FOUND");
    let e = app
        .admin()
        .patch(&format!("/internal/api-keys/{id}"))
        .json(json!({ "revoked": false }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert!(e["error"]
        .as_str()
        .unwrap()
        .ends_with("body.revoked must be one of the following values: true"));
    app.server()
        .get("/internal/api-keys")
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    // Revoked: listed with its time, the key refused.
    let revoked = app
        .admin()
        .patch(&format!("/internal/api-keys/{id}"))
        .json(json!({ "revoked": true, "description": "old CI" }))
        .send()
        .await
        .expect(200);
    assert!(revoked["manually_revoked_at_millis"].is_i64());
    assert_eq!(revoked["description"], "old CI");
    app.server()
        .header("x-stack-secret-server-key", &secret)
        .get("/users")
        .send()
        .await
        .expect_error(401, "INVALID_SECRET_SERVER_KEY");
}
on_both_backends!(internal_api_key_sets, internal_api_keys);

/// `GET /internal/config` renders the whole config with the original's defaults and the
/// project's settings; dotted overrides of a setting change the setting itself.
async fn rendered_config(backend: Backend) {
    let app = TestServer::start(backend).await;
    let read = || async {
        let r = app.admin().get("/internal/config").send().await.expect(200);
        serde_json::from_str::<Value>(r["config_string"].as_str().unwrap()).unwrap()
    };
    let config = read().await;
    assert_eq!(config["users"]["allowClientUserDeletion"], false);
    assert_eq!(config["auth"]["allowSignUp"], true);
    assert_eq!(config["auth"]["password"]["allowSignIn"], true);
    assert_eq!(
        config["auth"]["oauth"]["accountMergeStrategy"],
        "link_method"
    );
    assert!(config["auth"]["oauth"]["providers"].is_object());
    assert!(config["domains"]["trustedDomains"].is_object());
    assert_eq!(config["auth"]["signUpRulesDefaultAction"], "allow");
    assert_eq!(config["emails"]["server"]["isShared"], true);
    assert_eq!(config["payments"]["testMode"], true);
    assert!(config["dataVault"]["stores"].is_object());
    assert_eq!(config["onboarding"]["requireEmailVerification"], false);
    assert_eq!(
        config["rbac"]["defaultPermissions"]["teamMember"],
        json!({ "team_member": true })
    );
    assert_eq!(
        config["rbac"]["permissions"]["team_member"]["scope"],
        "team"
    );

    // Settings written through the legacy project update show in the config…
    app.configure(json!({
        "client_user_deletion_enabled": true,
        "domains": [{ "domain": "https://app.example.com", "handler_path": "/handler" }],
        "oauth_providers": [{ "id": "github", "type": "shared" }],
    }))
    .await;
    let config = read().await;
    assert_eq!(config["users"]["allowClientUserDeletion"], true);
    let domains: Vec<&Value> = config["domains"]["trustedDomains"]
        .as_object()
        .unwrap()
        .values()
        .collect();
    assert_eq!(
        domains,
        vec![&json!({ "baseUrl": "https://app.example.com", "handlerPath": "/handler" })]
    );
    assert_eq!(
        config["auth"]["oauth"]["providers"]["github"]["isShared"],
        true
    );

    // …and a dotted override of a setting is that setting, seen by the project read too.
    app.admin()
        .patch("/internal/config/override/environment")
        .json(json!({ "config_override_string": json!({
            "auth.allowSignUp": false,
            "teams": { "createPersonalTeamOnSignUp": true },
            "dataVault.stores.notes": { "displayName": "Notes" },
        }).to_string() }))
        .send()
        .await
        .expect(200);
    let config = read().await;
    assert_eq!(config["auth"]["allowSignUp"], false);
    assert_eq!(config["teams"]["createPersonalTeamOnSignUp"], true);
    assert_eq!(
        config["dataVault"]["stores"]["notes"]["displayName"],
        "Notes"
    );
    let project = app
        .admin()
        .get("/internal/projects/current")
        .send()
        .await
        .expect(200);
    assert_eq!(project["config"]["sign_up_enabled"], false);
    assert_eq!(project["config"]["create_team_on_sign_up"], true);
    // A setting of the wrong type is refused, and nothing of that patch is kept.
    app.admin()
        .patch("/internal/config/override/environment")
        .json(json!({ "config_override_string": json!({
            "users.allowClientUserDeletion": "yes",
            "dataVault.stores.other": { "displayName": "Other" },
        }).to_string() }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let config = read().await;
    assert_eq!(config["users"]["allowClientUserDeletion"], true);
    assert!(config["dataVault"]["stores"].get("other").is_none());

    // The original's first checks of an override, in its words, nothing stored.
    for (doc, message) in [
        (
            json!({ "foo.bar": 1 }),
            "The key \"foo.bar\" is not valid (nested object not found in schema: \"foo\").",
        ),
        (
            json!({ "dataVault": { "stores.x": { "displayName": "X" } } }),
            "Key stores.x contains a dot, which is not allowed in config override.",
        ),
    ] {
        app.admin()
            .patch("/internal/config/override/environment")
            .json(json!({ "config_override_string": doc.to_string() }))
            .send()
            .await
            .expect_text(400, message);
    }
    assert!(read().await.get("foo").is_none());

    // Reset keys: the stored key goes, the default shows through.
    app.admin()
        .post("/internal/config/override/environment/reset-keys")
        .json(json!({ "keys": ["dataVault.stores.notes"] }))
        .send()
        .await
        .expect(200);
    assert!(read().await["dataVault"]["stores"].get("notes").is_none());

    // The pushed-config source: unlinked until pushed, then what was pushed, then unlinked.
    let source = || async {
        app.admin()
            .get("/internal/config/source")
            .send()
            .await
            .expect(200)["source"]
            .clone()
    };
    assert_eq!(source().await, json!({ "type": "unlinked" }));
    let pushed = json!({ "type": "pushed-from-github", "owner": "acme", "repo": "app", "branch": "main",
                         "commit_hash": "abc123", "config_file_path": "stack.config.ts" });
    app.admin()
        .put("/internal/config/override/branch")
        .json(json!({ "config_string": "{}", "source": pushed }))
        .send()
        .await
        .expect(200);
    assert_eq!(source().await, pushed);
    app.admin()
        .delete("/internal/config/source")
        .send()
        .await
        .expect(200);
    assert_eq!(source().await, json!({ "type": "unlinked" }));
}
on_both_backends!(rendered_config_and_overrides, rendered_config);

/// `internal/send-test-email` tries a server before it is saved: delivered through it with its
/// credentials, or the failure explained, always 200 as the original answers.
async fn send_test_email(backend: Backend) {
    let app = TestServer::start(backend).await;
    let sink = SmtpSink::start(Some(("mailer", "s3cret")));
    let send = |password: &str, port: u16| {
        let req = app.admin().post("/internal/send-test-email").json(json!({
            "recipient_email": "ops@acme.test",
            "email_config": { "host": "127.0.0.1", "port": port, "username": "mailer", "password": password,
                              "sender_name": "Acme", "sender_email": "hello@acme.test" },
        }));
        async move { req.send().await.expect(200) }
    };
    assert_eq!(send("s3cret", sink.port).await, json!({ "success": true }));
    let mail = &sink.wait_for("ops@acme.test", 1).await[0];
    assert_eq!(mail["subject"], "Test Email from Stack Auth");
    assert_eq!(mail["from"], "Acme <hello@acme.test>");
    assert_eq!(mail["authenticated_as"], "mailer");
    let refused = send("wrong", sink.port).await;
    assert_eq!(refused["success"], false);
    assert!(
        refused["error_message"]
            .as_str()
            .unwrap()
            .starts_with("Email server rejected the email: "),
        "{refused}"
    );
    let closed = send("s3cret", free_port()).await;
    assert_eq!(closed["success"], false);
    assert!(closed["error_message"]
        .as_str()
        .unwrap()
        .contains("Make sure the email server is running"));
    let e = app
        .admin()
        .post("/internal/send-test-email")
        .json(json!({ "recipient_email": "nope", "email_config": { "host": "h", "port": 25, "username": "u",
                      "password": "p", "sender_name": "n", "sender_email": "a@b.co" } }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    assert!(e["error"]
        .as_str()
        .unwrap()
        .ends_with("body.recipient_email must be a valid email"));
    app.server()
        .post("/internal/send-test-email")
        .json(json!({ "recipient_email": "ops@acme.test", "email_config": { "host": "127.0.0.1", "port": sink.port,
                      "username": "mailer", "password": "s3cret", "sender_name": "n", "sender_email": "a@b.co" } }))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
}
on_both_backends!(test_email_through_a_server_not_yet_saved, send_test_email);

/// `onboarding.requireEmailVerification`: previewed before it is turned on (who would be
/// restricted), then users without a verified primary email are restricted with the original's
/// reason and left out of the list unless asked for.
async fn requiring_verified_emails(backend: Backend) {
    let app = TestServer::start(backend).await;
    app.sign_up("alice@example.com", "password123").await;
    let bob = app
        .server()
        .post("/users")
        .json(json!({ "primary_email": "bob@example.com", "primary_email_verified": true }))
        .send()
        .await
        .expect(201);
    app.client()
        .post("/auth/anonymous/sign-up")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    let preview = |body: Value, query: &'static str| {
        let req = app
            .admin()
            .post(&format!(
                "/internal/onboarding/preview-affected-users{query}"
            ))
            .json(body);
        async move { req.send().await.expect(200) }
    };
    let turned_on = json!({ "onboarding": { "require_email_verification": true } });
    let p = preview(turned_on.clone(), "").await;
    assert_eq!(p["total_affected_count"], 1);
    let affected = &p["affected_users"][0];
    assert_eq!(affected["primary_email"], "alice@example.com");
    assert_eq!(
        affected["restricted_reason"],
        json!({ "type": "email_not_verified" })
    );
    let p = preview(turned_on.clone(), "?limit=0").await;
    assert_eq!(p["affected_users"], json!([]));
    assert_eq!(p["total_affected_count"], 1);
    let p = preview(json!({ "onboarding": {} }), "").await;
    assert_eq!(p["total_affected_count"], 0);

    // Turned on through the config: alice is restricted, bob is not.
    app.admin()
        .patch("/internal/config/override/environment")
        .json(json!({ "config_override_string": json!({ "onboarding.requireEmailVerification": true }).to_string() }))
        .send()
        .await
        .expect(200);
    let listed = app.server().get("/users").send().await.expect(200);
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![bob["id"].as_str().unwrap()]);
    let all = app
        .server()
        .get("/users?include_restricted=true")
        .send()
        .await
        .expect(200);
    let alice_listed = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["primary_email"] == "alice@example.com")
        .unwrap()
        .clone();
    assert_eq!(alice_listed["is_restricted"], true);
    assert_eq!(
        alice_listed["restricted_reason"],
        json!({ "type": "email_not_verified" })
    );
    // Already required: nobody more would be affected.
    assert_eq!(preview(turned_on, "").await["total_affected_count"], 0);
    // What her fresh sessions may do is in `known_errors_in_the_original_words`.
}
on_both_backends!(
    requiring_verified_emails_restricts,
    requiring_verified_emails
);

/// `internal/send-sign-in-invitation`: the invitation email, sent as the project, its button
/// leading to the trusted callback URL; untrusted URLs and client access refused.
async fn sign_in_invitation(backend: Backend) {
    let (sink, app) = with_sink(backend).await;
    let send = |access: fn(&TestServer) -> Req, url: &str| {
        let req = access(&app)
            .post("/internal/send-sign-in-invitation")
            .json(json!({ "email": "Guest@Example.com", "callback_url": url }));
        async move { req.send().await }
    };
    let ok = send(TestServer::server, "http://localhost:3000/handler/sign-in")
        .await
        .expect(200);
    assert_eq!(ok, json!({ "success": true }));
    let mail = &sink.wait_for("guest@example.com", 1).await[0];
    assert_eq!(
        mail["subject"],
        "You have been invited to sign in to Test project"
    );
    assert_eq!(mail["from"], "Test project <noreply@acme.test>");
    assert!(mail["text"]
        .as_str()
        .unwrap()
        .contains("http://localhost:3000/handler/sign-in"));
    send(TestServer::admin, "https://evil.example.com/x")
        .await
        .expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    send(TestServer::client, "http://localhost:3000/handler/sign-in")
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
}
on_both_backends!(sign_in_invitation_email, sign_in_invitation);

/// With `create_team_on_sign_up`, every way a user comes to exist gives them a personal team,
/// selected, named as the original names it; an anonymous user's "Personal Team" takes the
/// user's name when they sign up for real.
async fn personal_teams(backend: Backend) {
    let (sink, app) = with_sink(backend).await;
    app.configure(json!({ "create_team_on_sign_up": true, "magic_link_enabled": true }))
        .await;
    let selected_team = |user: Value| {
        let app = &app;
        async move {
            let id = user["id"].as_str().unwrap().to_string();
            let team_id = user["selected_team_id"]
                .as_str()
                .expect("a selected team")
                .to_string();
            let team = app
                .server()
                .get(&format!("/teams/{team_id}"))
                .send()
                .await
                .expect(200);
            let members = app
                .server()
                .get(&format!("/team-member-profiles?team_id={team_id}"))
                .send()
                .await
                .expect(200);
            assert_eq!(members["items"][0]["user_id"], id.as_str());
            team["display_name"].as_str().unwrap().to_string()
        }
    };
    // Password sign-up.
    let s = app.sign_up("pat@example.com", "password123").await;
    assert_eq!(
        selected_team(app.me(&s).await).await,
        "pat@example.com's Team"
    );
    // Server-created, with a display name.
    let u = app
        .server()
        .post("/users")
        .json(json!({ "primary_email": "sam@example.com", "display_name": "Sam" }))
        .send()
        .await
        .expect(201);
    assert_eq!(selected_team(u).await, "Sam's Team");
    // A one-time code.
    let sent = app
        .client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "otto@example.com", "callback_url": "http://localhost:3000/handler/callback" }))
        .send()
        .await
        .expect(200);
    let mail = &sink.wait_for("otto@example.com", 1).await[0];
    let otp = mail["subject"]
        .as_str()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string();
    let code = format!("{otp}{}", sent["nonce"].as_str().unwrap());
    let s = app
        .client()
        .post("/auth/otp/sign-in")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    assert_eq!(
        selected_team(app.me(&s).await).await,
        "otto@example.com's Team"
    );
    // Anonymous, then signed up for real: the same team, renamed.
    let anon = app
        .client()
        .post("/auth/anonymous/sign-up")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    let me = app
        .client()
        .user(&anon)
        .header("x-stack-allow-anonymous-user", "true")
        .get("/users/me")
        .send()
        .await
        .expect(200);
    let team_id = me["selected_team_id"].as_str().unwrap().to_string();
    assert_eq!(selected_team(me).await, "Personal Team");
    let upgraded = app
        .client()
        .user(&anon)
        .header("x-stack-allow-anonymous-user", "true")
        .post("/auth/password/sign-up")
        .json(json!({ "email": "ana@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
    let me = app.me(&upgraded).await;
    assert_eq!(me["selected_team_id"], team_id.as_str());
    assert_eq!(selected_team(me).await, "ana@example.com's Team");
}
on_both_backends!(personal_team_for_every_new_user, personal_teams);

/// Known errors in the original's words (`known-errors.tsx`): status, `error` text and `details`,
/// as the original builds them from the same arguments.
async fn known_error_texts(backend: Backend) {
    let (_sink, app) = with_sink(backend).await;
    let refused = |e: &Value, text: &str, details: Option<Value>| {
        assert_eq!(e["error"], text, "{e}");
        assert_eq!(e.get("details").cloned(), details, "{e}");
    };

    // USER_EMAIL_ALREADY_EXISTS: signing up again, and an OTP for an unverified address.
    app.sign_up("taken@example.com", "password123").await;
    let e = app
        .client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": "taken@example.com", "password": "password123" }))
        .send()
        .await
        .expect_error(409, "USER_EMAIL_ALREADY_EXISTS");
    refused(
        &e,
        "A user with email \"taken@example.com\" already exists.",
        Some(json!({ "email": "taken@example.com", "would_work_if_email_was_verified": false })),
    );
    app.configure(json!({ "magic_link_enabled": true })).await;
    let e = app
        .client()
        .post("/auth/otp/send-sign-in-code")
        .json(json!({ "email": "taken@example.com", "callback_url": "http://localhost:3000/handler/callback" }))
        .send()
        .await
        .expect_error(409, "USER_EMAIL_ALREADY_EXISTS");
    refused(
        &e,
        "A user with email \"taken@example.com\" already exists but the email is not verified. Please login to your existing account with the method you used to sign up, and then verify your email to sign in with this login method.",
        Some(json!({ "email": "taken@example.com", "would_work_if_email_was_verified": true })),
    );

    // EMAIL_PASSWORD_MISMATCH.
    let e = app
        .client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "taken@example.com", "password": "wrong-password" }))
        .send()
        .await
        .expect_error(400, "EMAIL_PASSWORD_MISMATCH");
    refused(&e, "Wrong e-mail or password.", None);

    // CANNOT_GET_OWN_USER_WITHOUT_USER and USER_NOT_FOUND.
    let e = app
        .client()
        .get("/users/me")
        .send()
        .await
        .expect_error(400, "CANNOT_GET_OWN_USER_WITHOUT_USER");
    refused(
        &e,
        "You have specified 'me' as a userId, but did not provide authentication for a user.",
        None,
    );
    let missing = "3f0c5a4e-7d1b-4c2a-9e6f-0a1b2c3d4e5f";
    let e = app
        .server()
        .get(&format!("/users/{missing}"))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    refused(&e, "User not found.", None);

    // Permission definitions: PERMISSION_ID_ALREADY_EXISTS, CONTAINED_PERMISSION_NOT_FOUND.
    let define = |scope: &str, body: Value| {
        let req = app
            .admin()
            .post(&format!("/{scope}-permission-definitions"))
            .json(body);
        async move { req.send().await }
    };
    define("team", json!({ "id": "editor" })).await.expect(201);
    define("project", json!({ "id": "billing" }))
        .await
        .expect(201);
    let e = define("team", json!({ "id": "editor" }))
        .await
        .expect_error(400, "PERMISSION_ID_ALREADY_EXISTS");
    refused(
        &e,
        "Permission with ID \"editor\" already exists. Choose a different ID.",
        Some(json!({ "permission_id": "editor" })),
    );
    let e = define(
        "team",
        json!({ "id": "x", "contained_permission_ids": ["nope"] }),
    )
    .await
    .expect_error(400, "CONTAINED_PERMISSION_NOT_FOUND");
    refused(
        &e,
        "Contained permission with ID \"nope\" not found. Make sure you created it on the dashboard.",
        Some(json!({ "permission_id": "nope" })),
    );

    // Team permissions: TEAM_MEMBERSHIP_NOT_FOUND, PERMISSION_NOT_FOUND, WRONG_PERMISSION_SCOPE.
    let user = app.create_user("member@example.com").await;
    let uid = user["id"].as_str().unwrap();
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "T" }))
        .send()
        .await
        .expect(201);
    let tid = team["id"].as_str().unwrap();
    let grant = |permission: &str| {
        let req = app
            .server()
            .post(&format!("/team-permissions/{tid}/{uid}/{permission}"))
            .json(json!({}));
        async move { req.send().await }
    };
    let e = grant("editor")
        .await
        .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
    refused(
        &e,
        &format!("User {uid} is not found in team {tid}."),
        Some(json!({ "team_id": tid, "user_id": uid })),
    );
    app.server()
        .post(&format!("/team-memberships/{tid}/{uid}"))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    let e = grant("undefined_perm")
        .await
        .expect_error(404, "PERMISSION_NOT_FOUND");
    refused(
        &e,
        "Permission \"undefined_perm\" not found. Make sure you created it on the dashboard.",
        Some(json!({ "permission_id": "undefined_perm" })),
    );
    let e = grant("billing")
        .await
        .expect_error(404, "WRONG_PERMISSION_SCOPE");
    refused(
        &e,
        "Permission \"billing\" not found. (It was found for a different scope \"project\", but scope \"team\" was expected.)",
        Some(json!({ "permission_id": "billing", "expected_scope": "team", "actual_scope": "project" })),
    );

    // TEAM_NOT_FOUND.
    let e = app
        .server()
        .get(&format!("/teams/{missing}"))
        .send()
        .await
        .expect_error(404, "TEAM_NOT_FOUND");
    refused(
        &e,
        &format!("Team {missing} not found."),
        Some(json!({ "team_id": missing })),
    );

    // ANONYMOUS_AUTHENTICATION_NOT_ALLOWED.
    let anon = app
        .client()
        .post("/auth/anonymous/sign-up")
        .send()
        .await
        .expect(200);
    let token = anon["access_token"].as_str().unwrap();
    let e = app
        .client()
        .token(token)
        .get("/users/me")
        .send()
        .await
        .expect_error(401, "ANONYMOUS_AUTHENTICATION_NOT_ALLOWED");
    refused(&e, "X-Stack-Access-Token is for an anonymous user, but anonymous users are not enabled. Set the X-Stack-Allow-Anonymous-User header of this request to 'true' to allow anonymous users.", None);

    // RESTRICTED_USER_NOT_ALLOWED: verified emails required, a fresh session of an unverified user.
    app.admin()
        .patch("/internal/config/override/environment")
        .json(json!({ "config_override_string": json!({ "onboarding.requireEmailVerification": true }).to_string() }))
        .send()
        .await
        .expect(200);
    let session = app
        .client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "taken@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
    let e = app
        .client()
        .user(&session)
        .get("/users/me")
        .send()
        .await
        .expect_error(403, "RESTRICTED_USER_NOT_ALLOWED");
    refused(
        &e,
        "The user in the access token is in restricted state. Reason: email_not_verified. Please pass the X-Stack-Allow-Restricted-User header if this is intended.",
        Some(json!({ "restricted_reason": { "type": "email_not_verified" } })),
    );
}
on_both_backends!(known_errors_in_the_original_words, known_error_texts);
