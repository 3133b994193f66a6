//! The users, teams and project-keys pages of the dashboard: a browser run in headless Chromium
//! (`tests/sdk/dashboard-users.mjs`: every action with its notice, refusals that keep the input,
//! the quick-start panel's copy buttons and script, no sideways scroll at 390 and 1440 px), then
//! each action's effect read back through the REST API and the emails at the SMTP sink; and the
//! refusals over plain HTTP (bad input is a 400 with a message, never a 500).

mod common;
use common::*;
use serde_json::{json, Value};

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

async fn users_teams_keys(backend: Backend) {
    let artifacts = browser_artifacts("dashboard-users", backend);
    let sink = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_SMTP_URL".into(), sink.url())],
        },
    )
    .await;
    let summary = run_browser_script(
        "dashboard-users.mjs",
        &[("SETUP_LINK", app.setup_link())],
        &artifacts,
        &[
            "01-quick-start",
            "01-quick-start-390",
            "02-project-keys-390",
            "03-users-empty-390",
            "04-users-refused",
            "05-user-refused",
            "06-user-restricted",
            "06-user-390",
            "07-users-390",
            "08-teams-empty-390",
            "09-team",
            "09-team-390",
            "10-teams-390",
            "11-permissions-390",
        ],
        || app.log(),
    )
    .await;
    let s = |k: &str| {
        summary[k]
            .as_str()
            .unwrap_or_else(|| panic!("{k}: {summary}"))
    };
    let (pid, pck, ssk) = (
        s("project_id"),
        s("publishable_client_key"),
        s("secret_server_key"),
    );
    // The keys the quick-start panel copied are this project's: they work against the API.
    let server = || {
        app.server()
            .project(pid)
            .header("x-stack-secret-server-key", ssk)
    };
    let client = || {
        app.client()
            .project(pid)
            .header("x-stack-publishable-client-key", pck)
    };
    // The key set revoked on the keys page no longer opens the project.
    let r = server()
        .header("x-stack-secret-server-key", s("revoked_secret"))
        .get("/users")
        .send()
        .await;
    assert!(r.status.is_client_error(), "revoked key: {}", r.text);

    // Alice: name, verified email, password, restriction — as the pages set them.
    let alice = server()
        .get(&format!("/users/{}", s("alice_id")))
        .send()
        .await
        .expect(200);
    assert_eq!(alice["display_name"], "Alice Liddell");
    assert_eq!(alice["primary_email_verified"], true);
    assert_eq!(alice["has_password"], true);
    assert_eq!(alice["restricted_by_admin"], true);
    assert_eq!(alice["restricted_by_admin_reason"], "Chargebacks");
    assert_eq!(alice["restricted_by_admin_private_details"], "ticket 42");
    assert_eq!(alice["is_restricted"], true);
    assert_eq!(
        alice["restricted_reason"],
        json!({ "type": "restricted_by_administrator" })
    );
    // As in the original, the password signs in but the tokens are restricted ones: the API
    // refuses them with RESTRICTED_USER_NOT_ALLOWED, after a refresh too.
    let session = client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "alice@example.com", "password": "alice-pass-1234" }))
        .send()
        .await
        .expect(200);
    let refused = client()
        .user(&session)
        .get("/users/me")
        .send()
        .await
        .expect_error(403, "RESTRICTED_USER_NOT_ALLOWED");
    assert_eq!(
        refused["details"]["restricted_reason"]["type"], "restricted_by_administrator",
        "{refused}"
    );
    // The app may still ask as a restricted user, as in the original, and sees why.
    let me = client()
        .user(&session)
        .header("x-stack-allow-restricted-user", "true")
        .get("/users/me")
        .send()
        .await
        .expect(200);
    assert_eq!(
        me["restricted_reason"]["type"],
        "restricted_by_administrator"
    );
    // A refresh with the restricted access token is refused the same way; with the refresh
    // token alone it answers a token that is still restricted.
    client()
        .user(&session)
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect_error(403, "RESTRICTED_USER_NOT_ALLOWED");
    let refreshed = client()
        .header(
            "x-stack-refresh-token",
            session["refresh_token"].as_str().unwrap(),
        )
        .post("/auth/sessions/current/refresh")
        .send()
        .await
        .expect(200);
    client()
        .token(refreshed["access_token"].as_str().unwrap())
        .get("/users/me")
        .send()
        .await
        .expect_error(403, "RESTRICTED_USER_NOT_ALLOWED");
    // Bob's restriction was lifted; Carol was deleted.
    let bob = server()
        .get(&format!("/users/{}", s("bob_id")))
        .send()
        .await
        .expect(200);
    assert_eq!(bob["restricted_by_admin"], false);
    assert_eq!(bob["is_restricted"], false);
    assert_eq!(bob["server_metadata"], json!({ "tier": "gold" }));
    let sessions = server()
        .get(&format!("/auth/sessions?user_id={}", s("bob_id")))
        .send()
        .await
        .expect(200);
    assert_eq!(sessions["items"], json!([]), "bob's session was revoked");
    server()
        .get(&format!("/users/{}", s("carol_id")))
        .send()
        .await
        .expect_error(404, "USER_NOT_FOUND");

    // The reset and verification emails went to Alice, with links to this project's pages;
    // the reset link's code sets a new password.
    let mails = sink.wait_for("alice@example.com", 2).await;
    let text_of = |m: &Value| m["text"].as_str().unwrap_or_default().to_string();
    let reset = mails
        .iter()
        .map(text_of)
        .find(|t| t.contains(&format!("/handler/{pid}/password-reset")))
        .unwrap_or_else(|| panic!("a reset email: {mails:?}"));
    assert!(
        mails
            .iter()
            .map(text_of)
            .any(|t| t.contains(&format!("/handler/{pid}/email-verification"))),
        "a verification email: {mails:?}"
    );
    client()
        .post("/auth/password/reset")
        .json(json!({ "code": code_from_link(&reset), "password": "alice-new-pass-1" }))
        .send()
        .await
        .expect(200);

    // The team: renamed, alice a member, one pending invitation (the other revoked), the
    // second team gone.
    let team_id = s("team_id");
    let team = server()
        .get(&format!("/teams/{team_id}"))
        .send()
        .await
        .expect(200);
    assert_eq!(team["display_name"], "Blue Team");
    let members = server()
        .get(&format!("/users?team_id={team_id}&include_restricted=true"))
        .send()
        .await
        .expect(200);
    let emails: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["primary_email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["alice@example.com"]);
    let pending = server()
        .get(&format!("/team-invitations?team_id={team_id}"))
        .send()
        .await
        .expect(200);
    let invited: Vec<&str> = pending["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["recipient_email"].as_str().unwrap())
        .collect();
    assert_eq!(invited, ["invitee@example.com"]);
    server()
        .get(&format!("/teams/{}", s("deleted_team_id")))
        .send()
        .await
        .expect_error(404, "TEAM_NOT_FOUND");
    // Both invitations were emailed; the revoked one's code no longer works.
    sink.wait_for("invitee@example.com", 1).await;
    let revoked = &sink.wait_for("second@example.com", 1).await[0];
    let code = code_from_link(revoked["text"].as_str().unwrap());
    let r = client()
        .post("/team-invitations/accept/check-code")
        .json(json!({ "code": code }))
        .send()
        .await;
    assert!(r.status.is_client_error(), "revoked invitation: {}", r.text);

    // ---- Over plain HTTP: refusals are 400s with a message, never a 500 -------------------
    let (http, cookie) = app
        .dashboard_sign_in("admin@example.com", "admin-password-1")
        .await;
    let site = app.base.clone();
    let get = |path: String| {
        let (http, cookie, site) = (http.clone(), cookie.clone(), site.clone());
        async move {
            let r = http
                .get(format!("{site}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    let user_page = format!("/dashboard/projects/{pid}/users/{}", s("bob_id"));
    let team_page = format!("/dashboard/projects/{pid}/teams/{team_id}");
    let (status, html) = get(user_page.clone()).await;
    assert_eq!(status, 200);
    let csrf = csrf_of(&html);
    let post = |path: String, form: Vec<(&'static str, String)>| {
        let (http, cookie, site) = (http.clone(), cookie.clone(), site.clone());
        async move {
            let r = http
                .post(format!("{site}{path}"))
                .header("cookie", cookie)
                .form(&form)
                .send()
                .await
                .unwrap();
            let location = r
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (r.status().as_u16(), location, r.text().await.unwrap())
        }
    };
    let c = || ("csrf", csrf.clone());
    for (path, form, says) in [
        (
            format!("{user_page}/email"),
            vec![c(), ("op", "explode".into())],
            "Unknown email action.",
        ),
        (
            format!("{user_page}/password"),
            vec![c(), ("op", "set".into()), ("password", "".into())],
            "Enter the new password.",
        ),
        (
            format!("{user_page}/restriction"),
            vec![c(), ("op", "restrict".into()), ("reason", "x".repeat(1001))],
            "Keep the reason to 1000 characters",
        ),
        (
            format!("{team_page}/invitations"),
            vec![c(), ("op", "send".into()), ("email", "not-an-email".into())],
            "Enter a valid email address.",
        ),
        (
            format!("{team_page}/invitations"),
            vec![c(), ("op", "revoke".into()), ("id", "nope".into())],
            "No such pending invitation",
        ),
        (
            format!("{team_page}/rename"),
            vec![c(), ("display_name", "   ".into())],
            "Give the team a name.",
        ),
    ] {
        let (status, _, html) = post(path.clone(), form).await;
        assert_eq!(status, 400, "{path}: {html}");
        assert!(
            html.contains("role=\"alert\"") && html.contains(says),
            "{path}: {says}"
        );
    }
    // The refused invitation keeps the address typed; the refused restriction its reason.
    let (_, _, html) = post(
        format!("{team_page}/invitations"),
        vec![
            c(),
            ("op", "send".into()),
            ("email", "typo@@example".into()),
        ],
    )
    .await;
    assert!(html.contains("value=\"typo@@example\""), "{html}");
    let (_, _, html) = post(
        format!("{user_page}/restriction"),
        vec![
            c(),
            ("op", "restrict".into()),
            ("reason", "r".repeat(1001)),
            ("private_details", "kept details".into()),
        ],
    )
    .await;
    assert!(
        html.contains(&format!("value=\"{}\"", "r".repeat(1001)))
            && html.contains("value=\"kept details\""),
        "the refused restriction keeps its fields"
    );
    // Nothing a refused form carried was written.
    let bob = server()
        .get(&format!("/users/{}", s("bob_id")))
        .send()
        .await
        .expect(200);
    assert_eq!(bob["restricted_by_admin"], false);
    assert_eq!(bob["has_password"], true);
    // Without the CSRF token nothing happens; an unknown team or user is a 404 page.
    let (status, _, _) = post(
        format!("{team_page}/delete"),
        vec![("confirm", "Blue Team".into())],
    )
    .await;
    assert!(status == 403 || status == 400, "{status}");
    server()
        .get(&format!("/teams/{team_id}"))
        .send()
        .await
        .expect(200);
    let (status, _, _) = post(
        format!("/dashboard/projects/{pid}/teams/not-a-team/rename"),
        vec![c(), ("display_name", "X".into())],
    )
    .await;
    assert_eq!(status, 404);
    let (status, _, _) = post(
        format!("/dashboard/projects/{pid}/users/00000000-0000-4000-8000-000000000000/profile"),
        vec![c(), ("display_name", "X".into())],
    )
    .await;
    assert_eq!(status, 404);
    // A notice is only one of the page's own texts, never what the address says.
    let (_, html) = get(format!("{user_page}?done=<b>pwned</b>")).await;
    assert!(!html.contains("pwned") && !html.contains("role=\"status\""));
    // The copy script is served from this server, and the pages' CSP lets only it run.
    let r = http
        .get(format!("{}/dashboard/assets/copy.js", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-eval"));
}
on_both_backends!(users_teams_keys_in_the_browser, users_teams_keys);
