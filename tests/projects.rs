//! Projects: the `internal` project's users create and own projects; admin access tokens reach
//! only the projects their teams own; admin read/update/delete of the current project.

mod common;
use common::*;
use serde_json::{json, Value};

/// A dashboard admin: a user of the `internal` project (who gets a personal team when created).
/// Sign-up to `internal` is closed, so the internal server key creates them; they sign in.
async fn internal_admin(app: &TestServer, email: &str) -> (Value, Value) {
    let internal = || {
        app.client()
            .project("internal")
            .header("x-stack-publishable-client-key", INTERNAL_PCK)
    };
    app.anon()
        .header("x-stack-project-id", "internal")
        .header("x-stack-access-type", "server")
        .header("x-stack-secret-server-key", INTERNAL_SSK)
        .post("/users")
        .json(json!({ "primary_email": email, "primary_email_auth_enabled": true, "password": "password123" }))
        .send()
        .await
        .expect(201);
    let s = internal()
        .post("/auth/password/sign-in")
        .json(json!({ "email": email, "password": "password123" }))
        .send()
        .await
        .expect(200);
    let me = internal()
        .user(&s)
        .get("/users/me")
        .send()
        .await
        .expect(200);
    (s, me)
}

both_backends!(
    internal_users_create_and_manage_projects,
    |app: TestServer| async move {
        let (s, me) = internal_admin(&app, "owner@example.com").await;
        let team = me["selected_team_id"]
            .as_str()
            .expect("a personal team is created on sign-up")
            .to_string();
        let internal = || {
            app.client()
                .project("internal")
                .without("x-stack-publishable-client-key")
                .user(&s)
        };
        let created = internal()
        .post("/internal/projects")
        .json(json!({ "display_name": "Acme", "owner_team_id": team, "config": { "magic_link_enabled": true } }))
        .send()
        .await
        .expect(201);
        let pid = created["id"].as_str().unwrap().to_string();
        assert_eq!(created["display_name"], "Acme");
        assert_eq!(created["owner_team_id"], team.as_str());
        assert_eq!(created["config"]["allow_localhost"], true);
        assert_eq!(created["config"]["credential_enabled"], true);
        assert_eq!(created["config"]["magic_link_enabled"], true);
        assert_eq!(
            created["config"]["team_member_default_permissions"],
            json!([{ "id": "team_member" }])
        );
        let list = internal()
            .get("/internal/projects")
            .send()
            .await
            .expect(200);
        assert_eq!(list["items"].as_array().unwrap().len(), 1);
        assert_eq!(list["items"][0]["id"], pid.as_str());

        // The admin access token grants admin access to the owned project, without keys.
        let token = s["access_token"].as_str().unwrap();
        let as_admin = || {
            app.anon()
                .project(&pid)
                .access("admin")
                .header("x-stack-admin-access-token", token)
        };
        let p = as_admin()
            .get("/internal/projects/current")
            .send()
            .await
            .expect(200);
        assert_eq!(p["id"], pid.as_str());
        as_admin()
            .access("server")
            .post("/users")
            .json(json!({ "primary_email": "customer@example.com" }))
            .send()
            .await
            .expect(201);

        // Another admin cannot reach it, by guessing its id.
        let (s2, _) = internal_admin(&app, "intruder@example.com").await;
        let intruder = app.anon().project(&pid).access("admin").header(
            "x-stack-admin-access-token",
            s2["access_token"].as_str().unwrap(),
        );
        intruder
            .get("/internal/projects/current")
            .send()
            .await
            .expect_error(401, "ADMIN_ACCESS_TOKEN_IS_NOT_ADMIN");
        let intruder_list = app
            .client()
            .project("internal")
            .without("x-stack-publishable-client-key")
            .user(&s2)
            .get("/internal/projects")
            .send()
            .await
            .expect(200);
        assert_eq!(intruder_list["items"], json!([]));
        // ...nor create a project in a team they are not in.
        app.client()
            .project("internal")
            .without("x-stack-publishable-client-key")
            .user(&s2)
            .post("/internal/projects")
            .json(json!({ "display_name": "Stolen", "owner_team_id": team }))
            .send()
            .await
            .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
        // A token of a normal project is not an admin token; garbage is unparsable.
        let customer = app.sign_up("cust@example.com", "password123").await;
        app.anon()
            .project(&pid)
            .access("admin")
            .header(
                "x-stack-admin-access-token",
                customer["access_token"].as_str().unwrap(),
            )
            .get("/internal/projects/current")
            .send()
            .await
            .expect_error(401, "ADMIN_ACCESS_TOKEN_IS_NOT_ADMIN");
        app.anon()
            .project(&pid)
            .access("admin")
            .header("x-stack-admin-access-token", "garbage")
            .get("/internal/projects/current")
            .send()
            .await
            .expect_error(401, "UNPARSABLE_ADMIN_ACCESS_TOKEN");
        // internal/projects needs a user, on the internal project.
        app.client()
            .project("internal")
            .without("x-stack-publishable-client-key")
            .get("/internal/projects")
            .send()
            .await
            .expect_error(401, "USER_AUTHENTICATION_REQUIRED");
        app.client()
            .user(&customer)
            .get("/internal/projects")
            .send()
            .await
            .expect_error(401, "EXPECTED_INTERNAL_PROJECT");
        internal()
            .post("/internal/projects")
            .json(json!({ "display_name": "No team" }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");

        // Deleting the project removes it (and its users) for good.
        as_admin()
            .delete("/internal/projects/current")
            .send()
            .await
            .expect(200);
        as_admin()
            .get("/internal/projects/current")
            .send()
            .await
            .expect_error(400, "CURRENT_PROJECT_NOT_FOUND");
        assert_eq!(
            internal()
                .get("/internal/projects")
                .send()
                .await
                .expect(200)["items"],
            json!([])
        );
    }
);

both_backends!(
    admin_update_of_current_project,
    |app: TestServer| async move {
        let p = app
        .admin()
        .patch("/internal/projects/current")
        .json(json!({
            "display_name": "Renamed",
            "description": "Our app",
            "logo_url": "https://example.com/logo.png",
            "config": {
                "allow_user_api_keys": true,
                "domains": [{ "domain": "https://b.example.com", "handler_path": "/handler" }, { "domain": "https://a.example.com", "handler_path": "/auth" }],
                "oauth_providers": [{ "id": "github", "type": "standard", "client_id": "id", "client_secret": "secret" }, { "id": "google", "type": "shared" }],
                "email_config": { "type": "standard", "host": "smtp.example.com", "port": 587, "username": "u", "password": "p", "sender_name": "Acme", "sender_email": "no-reply@example.com" }
            }
        }))
        .send()
        .await
        .expect(200);
        assert_eq!(p["display_name"], "Renamed");
        assert_eq!(p["description"], "Our app");
        assert_eq!(p["logo_url"], "https://example.com/logo.png");
        assert_eq!(
            p["config"]["domains"][0]["domain"], "https://a.example.com",
            "domains are sorted"
        );
        assert_eq!(
            p["config"]["oauth_providers"][0]["provider_config_id"],
            "github"
        );
        assert_eq!(p["config"]["email_config"]["type"], "standard");
        // Credentials in the config are encrypted at rest, and read back as given.
        let stored = db_query_text(
            &app.database_url,
            &format!(
                "SELECT config FROM projects WHERE id = '{}'",
                app.project_id
            ),
        );
        assert!(
            stored.contains("client_secret") && !stored.contains("\"secret\""),
            "{stored}"
        );
        assert_eq!(p["config"]["oauth_providers"][0]["client_secret"], "secret");
        let client_view = app
            .client()
            .get("/projects/current")
            .send()
            .await
            .expect(200);
        assert_eq!(client_view["display_name"], "Renamed");
        assert_eq!(
            client_view["config"]["enabled_oauth_providers"],
            json!([{ "id": "github" }, { "id": "google" }])
        );
        assert_eq!(client_view["config"]["allow_user_api_keys"], true);

        // Invalid updates change nothing.
        for bad in [
            json!({ "config": { "domains": [{ "domain": "ftp://x.example.com", "handler_path": "/h" }] }, "display_name": "Nope" }),
            json!({ "config": { "oauth_providers": [{ "id": "myspace", "type": "shared" }] } }),
            json!({ "config": { "oauth_providers": [{ "id": "github", "type": "standard" }] } }),
            json!({ "config": { "oauth_providers": [{ "id": "discord", "type": "shared" }] } }),
            json!({ "config": { "email_config": { "type": "standard", "host": "", "port": 1, "username": "u", "password": "p", "sender_name": "n", "sender_email": "e@x.co" } } }),
            json!({ "config": { "unknown_switch": true } }),
            json!({ "display_name": 12 }),
            json!({ "onboarding_status": "halfway" }),
            json!({ "owner_team_id": "00000000-0000-4000-8000-000000000000" }),
        ] {
            app.admin()
                .patch("/internal/projects/current")
                .json(bad)
                .send()
                .await
                .expect_error(400, "SCHEMA_ERROR");
        }
        app.admin()
            .patch("/internal/projects/current")
            .json(json!({ "config": { "email_theme": "00000000-0000-4000-8000-000000000000" } }))
            .send()
            .await
            .expect_text(400, "Invalid email theme");
        let after = app
            .admin()
            .get("/internal/projects/current")
            .send()
            .await
            .expect(200);
        assert_eq!(after, p);
        // Clients and servers cannot administer.
        app.server()
            .patch("/internal/projects/current")
            .json(json!({ "display_name": "x" }))
            .send()
            .await
            .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    }
);

both_backends!(required_publishable_key, |app: TestServer| async move {
    // Not settable through the legacy config view; flip it the way an operator would, in the database.
    let pool_url = app.database_url.clone();
    let pid = app.project_id.clone();
    set_require_publishable_key(&pool_url, &pid).await;
    app.client()
        .without("x-stack-publishable-client-key")
        .get("/projects/current")
        .send()
        .await
        .expect_error(401, "PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT");
    app.client()
        .header("x-stack-publishable-client-key", "__stack_public_client__")
        .get("/projects/current")
        .send()
        .await
        .expect_error(401, "PUBLISHABLE_CLIENT_KEY_REQUIRED_FOR_PROJECT");
    app.client()
        .get("/projects/current")
        .send()
        .await
        .expect(200);
});

async fn set_require_publishable_key(database_url: &str, project_id: &str) {
    let sql = format!(
        "UPDATE projects SET config = REPLACE(config, '\"require_publishable_client_key\":false', '\"require_publishable_client_key\":true') WHERE id = '{project_id}'"
    );
    db_query_text(database_url, &sql);
}

both_backends!(
    projects_transfer_between_teams,
    |app: TestServer| async move {
        let (owner, owner_user) = internal_admin(&app, "owner@example.com").await;
        let (other, _) = internal_admin(&app, "other@example.com").await;
        let as_user = |s: &Value| {
            app.client()
                .project("internal")
                .without("x-stack-publishable-client-key")
                .user(s)
        };
        let team_of = |s: &Value| {
            let req = as_user(s).get("/users/me");
            async move {
                req.send().await.expect(200)["selected_team_id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            }
        };
        let (owner_team, other_team) = (team_of(&owner).await, team_of(&other).await);
        let pid = as_user(&owner)
            .post("/internal/projects")
            .json(json!({ "display_name": "Moving", "owner_team_id": owner_team }))
            .send()
            .await
            .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_string();
        // A second team of the owner's, made with the internal server key.
        let shared = app
            .anon()
            .header("x-stack-project-id", "internal")
            .header("x-stack-access-type", "server")
            .header("x-stack-secret-server-key", INTERNAL_SSK)
            .post("/teams")
            .json(json!({ "display_name": "Shared", "creator_user_id": owner_user["id"] }))
            .send()
            .await
            .expect(201)["id"]
            .as_str()
            .unwrap()
            .to_string();
        let transfer = |s: &Value, project: &str, team: &str| {
            let req = as_user(s)
                .post("/internal/projects/transfer")
                .json(json!({ "project_id": project, "new_team_id": team }));
            async move { req.send().await }
        };
        transfer(&other, &pid, &other_team)
            .await
            .expect_error(401, "TEAM_PERMISSION_REQUIRED");
        transfer(&owner, &pid, &other_team)
            .await
            .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
        let e = transfer(&owner, "no-such-project", &shared)
            .await
            .expect_error(404, "PROJECT_NOT_FOUND");
        assert_eq!(
            e["error"],
            "Project no-such-project not found or is not accessible with the current user."
        );
        // Nothing moved so far.
        let owned = as_user(&owner)
            .get("/internal/projects")
            .send()
            .await
            .expect(200);
        assert_eq!(owned["items"][0]["owner_team_id"], owner_team.as_str());
        assert_eq!(
            transfer(&owner, &pid, &shared).await.expect(200),
            json!({ "success": "true" })
        );
        let owned = as_user(&owner)
            .get("/internal/projects")
            .send()
            .await
            .expect(200);
        assert_eq!(owned["items"][0]["id"], pid.as_str());
        assert_eq!(owned["items"][0]["owner_team_id"], shared.as_str());
    }
);
