//! Teams, memberships, member profiles, invitations (through a real SMTP server), RBAC and API
//! keys — with the refusals the original gives.

mod common;
use common::*;
use serde_json::{json, Value};

const CALLBACK: &str = "http://localhost:3000/handler/team-invitation";

async fn enable(app: &TestServer, config: Value) {
    app.admin()
        .patch("/internal/projects/current")
        .json(json!({ "config": config }))
        .send()
        .await
        .expect(200);
}

both_backends!(teams_crud_and_client_rules, |app: TestServer| async move {
    let alice = app.sign_up("alice@example.com", "password123").await;
    let bob = app.sign_up("bob@example.com", "password123").await;
    app.client()
        .user(&alice)
        .post("/teams")
        .json(json!({ "display_name": "Nope" }))
        .send()
        .await
        .expect_text(403, "Client team creation is disabled");
    enable(&app, json!({ "client_team_creation_enabled": true })).await;
    app.client()
        .post("/teams")
        .json(json!({ "display_name": "No user" }))
        .send()
        .await
        .expect_error(401, "USER_AUTHENTICATION_REQUIRED");
    app.client()
        .user(&alice)
        .post("/teams")
        .json(json!({ "display_name": "Other", "creator_user_id": bob["user_id"] }))
        .send()
        .await
        .expect_text(403, "");
    let team = app
        .client()
        .user(&alice)
        .post("/teams")
        .json(json!({ "display_name": "Alpha", "client_metadata": { "a": 1 } }))
        .send()
        .await
        .expect(201);
    let tid = team["id"].as_str().unwrap().to_string();
    assert!(team.get("server_metadata").is_none(), "client read shape");
    app.client()
        .user(&alice)
        .post("/teams")
        .json(json!({ "display_name": "X", "server_metadata": {} }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    app.client()
        .user(&alice)
        .post("/teams")
        .json(json!({ "display_name": "" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    // The creator is a member with the creator defaults (team_admin ⊇ $update_team).
    let mine = app
        .client()
        .user(&alice)
        .get("/teams?user_id=me")
        .send()
        .await
        .expect(200);
    assert_eq!(mine["items"][0]["id"], tid.as_str());
    let perms = app
        .client()
        .user(&alice)
        .get(&format!(
            "/team-permissions?team_id={tid}&user_id=me&recursive=true"
        ))
        .send()
        .await
        .expect(200);
    let ids: Vec<&str> = perms["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"team_admin")
            && ids.contains(&"$update_team")
            && ids.contains(&"$manage_api_keys"),
        "{ids:?}"
    );
    let upd = app
        .client()
        .user(&alice)
        .patch(&format!("/teams/{tid}"))
        .json(json!({ "display_name": "Alpha 2" }))
        .send()
        .await
        .expect(200);
    assert_eq!(upd["display_name"], "Alpha 2");
    // Bob is not a member: reading, updating, deleting are refused; listing others' teams too.
    let e = app
        .client()
        .user(&bob)
        .get(&format!("/teams/{tid}"))
        .send()
        .await
        .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
    assert_eq!(e["details"]["team_id"], tid.as_str());
    app.client()
        .user(&bob)
        .patch(&format!("/teams/{tid}"))
        .json(json!({ "display_name": "Hijack" }))
        .send()
        .await
        .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
    app.client()
        .user(&bob)
        .delete(&format!("/teams/{tid}"))
        .send()
        .await
        .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
    app.client()
        .user(&bob)
        .get(&format!(
            "/teams?user_id={}",
            alice["user_id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect_text(403, "");
    // Added as a plain member, Bob reads the team but may not update or delete it.
    app.server()
        .post(&format!(
            "/team-memberships/{tid}/{}",
            bob["user_id"].as_str().unwrap()
        ))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    app.server()
        .post(&format!(
            "/team-memberships/{tid}/{}",
            bob["user_id"].as_str().unwrap()
        ))
        .json(json!({}))
        .send()
        .await
        .expect_error(409, "TEAM_MEMBERSHIP_ALREADY_EXISTS");
    app.client()
        .user(&bob)
        .get(&format!("/teams/{tid}"))
        .send()
        .await
        .expect(200);
    let e = app
        .client()
        .user(&bob)
        .patch(&format!("/teams/{tid}"))
        .json(json!({ "display_name": "Hijack" }))
        .send()
        .await
        .expect_error(401, "TEAM_PERMISSION_REQUIRED");
    assert_eq!(e["details"]["permission_id"], "$update_team");
    app.client()
        .user(&bob)
        .delete(&format!("/teams/{tid}"))
        .send()
        .await
        .expect_error(401, "TEAM_PERMISSION_REQUIRED");
    // Selecting a team needs membership.
    let other = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Other" }))
        .send()
        .await
        .expect(201);
    app.client()
        .user(&bob)
        .patch("/users/me")
        .json(json!({ "selected_team_id": other["id"] }))
        .send()
        .await
        .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
    let me = app
        .client()
        .user(&bob)
        .patch("/users/me")
        .json(json!({ "selected_team_id": tid }))
        .send()
        .await
        .expect(200);
    assert_eq!(me["selected_team"]["display_name"], "Alpha 2");
    // Server: full shape, not-found errors, filter by user, delete cascades.
    let srv = app
        .server()
        .get(&format!("/teams/{tid}"))
        .send()
        .await
        .expect(200);
    assert!(srv["created_at_millis"].as_i64().is_some());
    app.server()
        .get("/teams/00000000-0000-4000-8000-000000000000")
        .send()
        .await
        .expect_error(404, "TEAM_NOT_FOUND");
    app.server().post("/teams").json(json!({ "display_name": "X", "creator_user_id": "00000000-0000-4000-8000-000000000000" })).send().await.expect_error(404, "USER_NOT_FOUND");
    let bobs = app
        .server()
        .get(&format!(
            "/teams?user_id={}",
            bob["user_id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    assert_eq!(bobs["items"].as_array().unwrap().len(), 1);
    app.client()
        .user(&alice)
        .delete(&format!("/teams/{tid}"))
        .send()
        .await
        .expect(200);
    app.server()
        .get(&format!("/teams/{tid}"))
        .send()
        .await
        .expect_error(404, "TEAM_NOT_FOUND");
    let me = app.me(&bob).await;
    assert_eq!(me["selected_team_id"], Value::Null);
    // Another project cannot read this project's team.
    let other_project =
        create_project_cli(&app.database_url, std::path::Path::new("/tmp"), "Other");
    app.server()
        .project(other_project["project_id"].as_str().unwrap())
        .header(
            "x-stack-secret-server-key",
            other_project["secret_server_key"].as_str().unwrap(),
        )
        .get(&format!("/teams/{}", other["id"].as_str().unwrap()))
        .send()
        .await
        .expect_error(404, "TEAM_NOT_FOUND");
});

both_backends!(memberships_and_profiles, |app: TestServer| async move {
    let alice = app.sign_up("alice@example.com", "password123").await;
    let bob = app.sign_up("bob@example.com", "password123").await;
    let carol = app.sign_up("carol@example.com", "password123").await;
    let (a, b, c) = (
        alice["user_id"].as_str().unwrap(),
        bob["user_id"].as_str().unwrap(),
        carol["user_id"].as_str().unwrap(),
    );
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Crew", "creator_user_id": a }))
        .send()
        .await
        .expect(201);
    let tid = team["id"].as_str().unwrap();
    for u in [b, c] {
        app.server()
            .post(&format!("/team-memberships/{tid}/{u}"))
            .json(json!({}))
            .send()
            .await
            .expect(201);
    }
    // Profiles fall back to the user's own name; members with $read_members (team_member has it) see all.
    app.client()
        .user(&bob)
        .patch("/users/me")
        .json(json!({ "display_name": "Bobby" }))
        .send()
        .await
        .expect(200);
    let list = app
        .client()
        .user(&carol)
        .get(&format!("/team-member-profiles?team_id={tid}"))
        .send()
        .await
        .expect(200);
    assert_eq!(list["items"].as_array().unwrap().len(), 3);
    let bob_profile = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["user_id"] == b)
        .unwrap();
    assert_eq!(bob_profile["display_name"], "Bobby");
    assert!(bob_profile.get("user").is_none());
    let p = app
        .client()
        .user(&bob)
        .patch(&format!("/team-member-profiles/{tid}/me"))
        .json(json!({ "display_name": "Captain" }))
        .send()
        .await
        .expect(200);
    assert_eq!(p["display_name"], "Captain");
    app.client()
        .user(&carol)
        .patch(&format!("/team-member-profiles/{tid}/{b}"))
        .json(json!({ "display_name": "X" }))
        .send()
        .await
        .expect_text(403, "Cannot update another user's profile");
    app.client()
        .user(&carol)
        .get("/team-member-profiles")
        .send()
        .await
        .expect_text(400, "team_id is required");
    let srv = app
        .server()
        .get(&format!("/team-member-profiles/{tid}/{b}"))
        .send()
        .await
        .expect(200);
    assert_eq!(srv["user"]["primary_email"], "bob@example.com");
    // Without $read_members Carol sees only herself.
    app.server()
        .delete(&format!("/team-permissions/{tid}/{c}/team_member"))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&carol)
        .get(&format!("/team-member-profiles?team_id={tid}"))
        .send()
        .await
        .expect_error(401, "TEAM_PERMISSION_REQUIRED");
    app.client()
        .user(&carol)
        .get(&format!("/team-member-profiles/{tid}/me"))
        .send()
        .await
        .expect(200);
    // Removing others needs $remove_members; leaving is always allowed.
    app.client()
        .user(&bob)
        .delete(&format!("/team-memberships/{tid}/{c}"))
        .send()
        .await
        .expect_error(401, "TEAM_PERMISSION_REQUIRED");
    app.client()
        .user(&alice)
        .delete(&format!("/team-memberships/{tid}/{c}"))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&alice)
        .delete(&format!("/team-memberships/{tid}/{c}"))
        .send()
        .await
        .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
    app.client()
        .user(&bob)
        .delete(&format!("/team-memberships/{tid}/me"))
        .send()
        .await
        .expect(200);
    let left = app
        .server()
        .get(&format!("/team-permissions?team_id={tid}&user_id={b}"))
        .send()
        .await
        .expect(200);
    assert_eq!(
        left["items"],
        json!([]),
        "leaving drops the member's permissions"
    );
    app.client()
        .user(&carol)
        .post(&format!("/team-memberships/{tid}/{c}"))
        .json(json!({}))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    app.server()
        .post(&format!(
            "/team-memberships/{tid}/00000000-0000-4000-8000-000000000000"
        ))
        .json(json!({}))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");
    app.server()
        .post(&format!(
            "/team-memberships/00000000-0000-4000-8000-000000000000/{c}"
        ))
        .json(json!({}))
        .send()
        .await
        .expect_error(404, "TEAM_NOT_FOUND");
});

async fn invitation_round_trip(backend: Backend) {
    let sink = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_SMTP_URL".into(), sink.url())],
        },
    )
    .await;
    let owner = app.sign_up("owner@example.com", "password123").await;
    let member = app.sign_up("member@example.com", "password123").await;
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Launch", "creator_user_id": owner["user_id"] }))
        .send()
        .await
        .expect(201);
    let tid = team["id"].as_str().unwrap();
    app.server()
        .post(&format!(
            "/team-memberships/{tid}/{}",
            member["user_id"].as_str().unwrap()
        ))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    // A member without $invite_members cannot invite.
    app.server()
        .delete(&format!(
            "/team-permissions/{tid}/{}/team_member",
            member["user_id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    let e = app
        .client()
        .user(&member)
        .post("/team-invitations/send-code")
        .json(json!({ "team_id": tid, "email": "new@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect_error(401, "TEAM_PERMISSION_REQUIRED");
    assert_eq!(e["details"]["permission_id"], "$invite_members");
    app.client().user(&owner).post("/team-invitations/send-code").json(json!({ "team_id": tid, "email": "new@example.com", "callback_url": "https://evil.example/x" })).send().await.expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    let sent = app
        .client()
        .user(&owner)
        .post("/team-invitations/send-code")
        .json(json!({ "team_id": tid, "email": "New@Example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    assert_eq!(sent["success"], true);
    let listed = app
        .client()
        .user(&owner)
        .get(&format!("/team-invitations?team_id={tid}"))
        .send()
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["recipient_email"], "new@example.com");
    assert_eq!(listed["items"][0]["id"], sent["id"]);
    app.client()
        .user(&owner)
        .get("/team-invitations")
        .send()
        .await
        .expect_text(400, "Must specify either team_id or user_id");
    let mail = &sink.wait_for("new@example.com", 1).await[0];
    assert_eq!(mail["subject"], "You have been invited to join Launch");
    let code = code_from_link(mail["text"].as_str().unwrap());
    // Anyone may check it; accepting needs a user, who then becomes a member with the defaults.
    app.client()
        .post("/team-invitations/accept/check-code")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    app.client()
        .post("/team-invitations/accept")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect_error(401, "USER_AUTHENTICATION_REQUIRED");
    let newbie = app.sign_up("new@example.com", "password123").await;
    let details = app
        .client()
        .user(&newbie)
        .post("/team-invitations/accept/details")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    assert_eq!(details["team_display_name"], "Launch");
    app.client()
        .user(&newbie)
        .post("/team-invitations/accept")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect(200);
    app.client()
        .user(&newbie)
        .post("/team-invitations/accept")
        .json(json!({ "code": code }))
        .send()
        .await
        .expect_error(409, "VERIFICATION_CODE_ALREADY_USED");
    let teams = app
        .client()
        .user(&newbie)
        .get("/teams?user_id=me")
        .send()
        .await
        .expect(200);
    assert_eq!(teams["items"][0]["id"], tid);
    let perms = app
        .client()
        .user(&newbie)
        .get(&format!("/team-permissions?team_id={tid}&user_id=me"))
        .send()
        .await
        .expect(200);
    assert_eq!(
        perms["items"],
        json!([{ "id": "team_member", "user_id": newbie["user_id"], "team_id": tid }])
    );
    // Anonymous users may not accept.
    let sent2 = app
        .client()
        .user(&owner)
        .post("/team-invitations/send-code")
        .json(json!({ "team_id": tid, "email": "later@example.com", "callback_url": CALLBACK }))
        .send()
        .await
        .expect(200);
    let code2 = code_from_link(
        sink.wait_for("later@example.com", 1).await[0]["text"]
            .as_str()
            .unwrap(),
    );
    let anon = app
        .client()
        .post("/auth/anonymous/sign-up")
        .send()
        .await
        .expect(200);
    let e = app
        .client()
        .user(&anon)
        .header("x-stack-allow-anonymous-user", "true")
        .post("/team-invitations/accept")
        .json(json!({ "code": code2 }))
        .send()
        .await
        .expect_error(403, "TEAM_INVITATION_RESTRICTED_USER_NOT_ALLOWED");
    assert_eq!(e["details"]["restricted_reason"]["type"], "anonymous");
    // Revoking needs $remove_members; the revoked invitation is gone.
    app.client()
        .user(&member)
        .delete(&format!(
            "/team-invitations/{}?team_id={tid}",
            sent2["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect_error(401, "TEAM_PERMISSION_REQUIRED");
    app.client()
        .user(&owner)
        .delete(&format!(
            "/team-invitations/{}?team_id={tid}",
            sent2["id"].as_str().unwrap()
        ))
        .send()
        .await
        .expect(200);
    app.client()
        .post("/team-invitations/accept/check-code")
        .json(json!({ "code": code2 }))
        .send()
        .await
        .expect_error(404, "VERIFICATION_CODE_NOT_FOUND");
}

on_both_backends!(invitation_round_trip, invitation_round_trip);

both_backends!(
    permission_definitions_and_grants,
    |app: TestServer| async move {
        let defs = app
            .admin()
            .get("/team-permission-definitions")
            .send()
            .await
            .expect(200);
        let ids: Vec<&str> = defs["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap())
            .collect();
        assert!(
            ids.contains(&"$update_team")
                && ids.contains(&"team_admin")
                && ids.contains(&"team_member"),
            "{ids:?}"
        );
        app.server()
            .get("/team-permission-definitions")
            .send()
            .await
            .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
        let d = app.admin().post("/team-permission-definitions").json(json!({ "id": "editor", "description": "Edits", "contained_permission_ids": ["$update_team"] })).send().await.expect(201);
        assert_eq!(d["contained_permission_ids"], json!(["$update_team"]));
        app.admin()
            .post("/team-permission-definitions")
            .json(json!({ "id": "chief", "contained_permission_ids": ["editor", "team_member"] }))
            .send()
            .await
            .expect(201);
        app.admin()
            .post("/team-permission-definitions")
            .json(json!({ "id": "editor" }))
            .send()
            .await
            .expect_error(400, "PERMISSION_ID_ALREADY_EXISTS");
        app.admin()
            .post("/project-permission-definitions")
            .json(json!({ "id": "editor" }))
            .send()
            .await
            .expect_error(400, "PERMISSION_ID_ALREADY_EXISTS");
        app.admin()
            .post("/team-permission-definitions")
            .json(json!({ "id": "x", "contained_permission_ids": ["nope"] }))
            .send()
            .await
            .expect_error(400, "CONTAINED_PERMISSION_NOT_FOUND");
        app.admin()
            .post("/team-permission-definitions")
            .json(json!({ "id": "Bad-Id" }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        app.admin()
            .post("/team-permission-definitions")
            .json(json!({ "id": "y", "contained_permission_ids": ["$fly"] }))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
        // Cycles are refused: editor ⊂ chief, so editor may not contain chief.
        app.admin()
            .patch("/team-permission-definitions/editor")
            .json(json!({ "contained_permission_ids": ["chief"] }))
            .send()
            .await
            .expect_text(400, "cycle");
        app.admin()
            .patch("/team-permission-definitions/editor")
            .json(json!({ "contained_permission_ids": ["editor"] }))
            .send()
            .await
            .expect_text(400, "cycle");
        app.admin()
            .patch("/team-permission-definitions/$update_team")
            .json(json!({}))
            .send()
            .await
            .expect_error(404, "PERMISSION_NOT_FOUND");
        // Project scope.
        app.admin()
            .post("/project-permission-definitions")
            .json(json!({ "id": "billing" }))
            .send()
            .await
            .expect(201);
        app.admin()
            .post("/project-permission-definitions")
            .json(json!({ "id": "p2", "contained_permission_ids": ["editor"] }))
            .send()
            .await
            .expect_error(400, "CONTAINED_PERMISSION_NOT_FOUND");

        let u = app.create_user("g@example.com").await;
        let uid = u["id"].as_str().unwrap();
        let team = app
            .server()
            .post("/teams")
            .json(json!({ "display_name": "T" }))
            .send()
            .await
            .expect(201);
        let tid = team["id"].as_str().unwrap();
        app.server()
            .post(&format!("/team-permissions/{tid}/{uid}/chief"))
            .json(json!({}))
            .send()
            .await
            .expect_error(404, "TEAM_MEMBERSHIP_NOT_FOUND");
        app.server()
            .post(&format!("/team-memberships/{tid}/{uid}"))
            .json(json!({}))
            .send()
            .await
            .expect(201);
        app.server()
            .post(&format!("/team-permissions/{tid}/{uid}/undefined_perm"))
            .json(json!({}))
            .send()
            .await
            .expect_error(404, "PERMISSION_NOT_FOUND");
        let e = app
            .server()
            .post(&format!("/team-permissions/{tid}/{uid}/billing"))
            .json(json!({}))
            .send()
            .await
            .expect_error(404, "WRONG_PERMISSION_SCOPE");
        assert_eq!(
            e["details"],
            json!({ "permission_id": "billing", "expected_scope": "team", "actual_scope": "project" })
        );
        app.server()
            .post(&format!("/team-permissions/{tid}/{uid}/chief"))
            .json(json!({}))
            .send()
            .await
            .expect(201);
        app.server()
            .post(&format!("/team-permissions/{tid}/{uid}/chief"))
            .json(json!({}))
            .send()
            .await
            .expect(201);
        let rec = app
            .server()
            .get(&format!(
                "/team-permissions?team_id={tid}&user_id={uid}&recursive=true"
            ))
            .send()
            .await
            .expect(200);
        let held: Vec<&str> = rec["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            held,
            vec![
                "$invite_members",
                "$read_members",
                "$update_team",
                "chief",
                "editor",
                "team_member"
            ]
        );
        let one = app
            .server()
            .get(&format!(
                "/team-permissions?team_id={tid}&user_id={uid}&recursive=true&permission_id=editor"
            ))
            .send()
            .await
            .expect(200);
        assert_eq!(one["items"].as_array().unwrap().len(), 1);
        // Renaming rewrites grants and references; deleting removes them.
        app.admin()
            .patch("/team-permission-definitions/editor")
            .json(json!({ "id": "writer", "contained_permission_ids": ["$update_team"] }))
            .send()
            .await
            .expect(200);
        let rec = app
            .server()
            .get(&format!(
                "/team-permissions?team_id={tid}&user_id={uid}&recursive=true&permission_id=writer"
            ))
            .send()
            .await
            .expect(200);
        assert_eq!(rec["items"].as_array().unwrap().len(), 1);
        app.admin()
            .delete("/team-permission-definitions/chief")
            .send()
            .await
            .expect(200);
        let direct = app
            .server()
            .get(&format!("/team-permissions?team_id={tid}&user_id={uid}"))
            .send()
            .await
            .expect(200);
        assert_eq!(
            direct["items"],
            json!([{ "id": "team_member", "user_id": uid, "team_id": tid }])
        );
        app.server()
            .delete(&format!("/team-permissions/{tid}/{uid}/chief"))
            .send()
            .await
            .expect_error(401, "TEAM_PERMISSION_NOT_FOUND");
        // Project grants.
        app.server()
            .post(&format!("/project-permissions/{uid}/billing"))
            .json(json!({}))
            .send()
            .await
            .expect(201);
        app.server()
            .post(&format!("/project-permissions/{uid}/team_member"))
            .json(json!({}))
            .send()
            .await
            .expect_error(404, "WRONG_PERMISSION_SCOPE");
        app.server()
            .post("/project-permissions/00000000-0000-4000-8000-000000000000/billing")
            .json(json!({}))
            .send()
            .await
            .expect_error(404, "USER_NOT_FOUND");
        let pp = app
            .server()
            .get(&format!("/project-permissions?user_id={uid}"))
            .send()
            .await
            .expect(200);
        assert_eq!(pp["items"], json!([{ "id": "billing", "user_id": uid }]));
        app.server()
            .delete(&format!("/project-permissions/{uid}/billing"))
            .send()
            .await
            .expect(200);
        app.server()
            .delete(&format!("/project-permissions/{uid}/billing"))
            .send()
            .await
            .expect_error(404, "PERMISSION_NOT_FOUND");
        // Clients list only their own.
        let s = app
            .client()
            .post("/auth/password/sign-in")
            .json(json!({ "email": "g@example.com", "password": "password123" }))
            .send()
            .await
            .expect(200);
        app.client()
            .user(&s)
            .get(&format!("/team-permissions?user_id=me&team_id={tid}"))
            .send()
            .await
            .expect(200);
        let other = app.create_user("h@example.com").await;
        app.client()
            .user(&s)
            .get(&format!(
                "/team-permissions?user_id={}",
                other["id"].as_str().unwrap()
            ))
            .send()
            .await
            .expect_text(403, "");
        app.client()
            .user(&s)
            .post(&format!("/team-permissions/{tid}/{uid}/writer"))
            .json(json!({}))
            .send()
            .await
            .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    }
);

both_backends!(api_keys_lifecycle, |app: TestServer| async move {
    let s = app.sign_up("keys@example.com", "password123").await;
    let uid = s["user_id"].as_str().unwrap().to_string();
    app.client()
        .user(&s)
        .post("/user-api-keys")
        .json(json!({ "user_id": "me", "description": "ci", "expires_at_millis": null }))
        .send()
        .await
        .expect_text(400, "User API keys are not enabled");
    enable(
        &app,
        json!({ "allow_user_api_keys": true, "allow_team_api_keys": true }),
    )
    .await;
    let k = app
        .client()
        .user(&s)
        .post("/user-api-keys")
        .json(json!({ "user_id": "me", "description": "ci", "expires_at_millis": null }))
        .send()
        .await
        .expect(200);
    let value = k["value"].as_str().unwrap().to_string();
    assert!(
        value.starts_with("sk_") && value.contains("574ck4u7h"),
        "{value}"
    );
    assert_eq!(k["user_id"], uid.as_str());
    app.client()
        .user(&s)
        .post("/user-api-keys")
        .json(json!({ "user_id": "me", "description": "missing expiry" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let other = app.create_user("other@example.com").await;
    app.client()
        .user(&s)
        .post("/user-api-keys")
        .json(json!({ "user_id": other["id"], "description": "x", "expires_at_millis": null }))
        .send()
        .await
        .expect_text(403, "Client can only manage their own api keys");
    // Stored hashed: the database never holds the value.
    let stored = db_query_text(
        &app.database_url,
        "SELECT secret_hash, last_four FROM api_keys",
    );
    assert!(!stored.contains(&value[3..40]));
    let listed = app
        .client()
        .user(&s)
        .get("/user-api-keys?user_id=me")
        .send()
        .await
        .expect(200);
    assert_eq!(
        listed["items"][0]["value"],
        json!({ "last_four": &value[value.len() - 4..] })
    );
    let checked = app
        .server()
        .post("/user-api-keys/check")
        .json(json!({ "api_key": value }))
        .send()
        .await
        .expect(200);
    assert_eq!(checked["id"], k["id"]);
    app.client()
        .post("/user-api-keys/check")
        .json(json!({ "api_key": value }))
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
    app.server()
        .post("/team-api-keys/check")
        .json(json!({ "api_key": value }))
        .send()
        .await
        .expect_error(400, "WRONG_API_KEY_TYPE");
    app.server()
        .post("/user-api-keys/check")
        .json(json!({ "api_key": "sk_nope" }))
        .send()
        .await
        .expect_error(404, "API_KEY_NOT_FOUND");
    // Revoke, then it no longer checks.
    let kid = k["id"].as_str().unwrap();
    let r = app
        .client()
        .user(&s)
        .patch(&format!("/user-api-keys/{kid}"))
        .json(json!({ "revoked": true }))
        .send()
        .await
        .expect(200);
    assert!(r["manually_revoked_at_millis"].as_i64().is_some());
    app.server()
        .post("/user-api-keys/check")
        .json(json!({ "api_key": value }))
        .send()
        .await
        .expect_error(401, "API_KEY_REVOKED");
    // Expired.
    let past = app
        .client()
        .user(&s)
        .post("/user-api-keys")
        .json(json!({ "user_id": "me", "description": "old", "expires_at_millis": 1000 }))
        .send()
        .await
        .expect(200);
    app.server()
        .post("/user-api-keys/check")
        .json(json!({ "api_key": past["value"] }))
        .send()
        .await
        .expect_error(401, "API_KEY_EXPIRED");
    // Team keys need $manage_api_keys; a team you cannot manage looks like a missing key.
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Keys", "creator_user_id": uid }))
        .send()
        .await
        .expect(201);
    let tid = team["id"].as_str().unwrap();
    let tk = app.client().user(&s).post("/team-api-keys").json(json!({ "team_id": tid, "description": "deploy", "expires_at_millis": null, "is_public": true })).send().await.expect(200);
    assert!(tk["value"].as_str().unwrap().starts_with("pk_"));
    let outsider = app.sign_up("outsider@example.com", "password123").await;
    app.client()
        .user(&outsider)
        .post("/team-api-keys")
        .json(json!({ "team_id": tid, "description": "x", "expires_at_millis": null }))
        .send()
        .await
        .expect_error(404, "API_KEY_NOT_FOUND");
    app.client()
        .user(&outsider)
        .get(&format!("/team-api-keys/{}", tk["id"].as_str().unwrap()))
        .send()
        .await
        .expect_error(404, "API_KEY_NOT_FOUND");
    app.server()
        .post("/team-api-keys/check")
        .json(json!({ "api_key": tk["value"] }))
        .send()
        .await
        .expect(200);
    // Credential scanning: public keys cannot be revoked this way; secret ones are, and the owner is told.
    app.anon()
        .post("/integrations/credential-scanning/revoke")
        .json(json!({ "api_key": tk["value"] }))
        .send()
        .await
        .expect_error(400, "PUBLIC_API_KEY_CANNOT_BE_REVOKED");
    let leaked = app
        .client()
        .user(&s)
        .post("/user-api-keys")
        .json(json!({ "user_id": "me", "description": "leaked", "expires_at_millis": null }))
        .send()
        .await
        .expect(200);
    app.anon()
        .post("/integrations/credential-scanning/revoke")
        .json(json!({ "api_key": leaked["value"] }))
        .send()
        .await
        .expect(200);
    app.server()
        .post("/user-api-keys/check")
        .json(json!({ "api_key": leaked["value"] }))
        .send()
        .await
        .expect_error(401, "API_KEY_REVOKED");
    let outbox = app.server().get("/emails/outbox").send().await.expect(200);
    assert!(outbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["subject"]
            .as_str()
            .unwrap()
            .starts_with("API key revoked")));
    app.anon()
        .post("/integrations/credential-scanning/revoke")
        .json(json!({ "api_key": "sk_unknown" }))
        .send()
        .await
        .expect_error(404, "API_KEY_NOT_FOUND");
});
