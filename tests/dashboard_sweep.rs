//! A sweep over every dashboard page in headless Chromium (`tests/sdk/dashboard-sweep.mjs`): from
//! the projects list and a project with data in every section, every same-origin `/dashboard/…`
//! link of the project navigation and the list pages is followed; each page, at 1440 and 390 px,
//! must not scroll sideways and must have an `h1`, and is screenshotted. On the way, the settings,
//! webhooks, permissions and launch pages' main actions answer with a success notice, and a fresh
//! project shows their tables' empty-state sentences.

mod common;
use common::*;
use serde_json::{json, Value};

/// The section paths of the project navigation (`SECTIONS` in `src/ui/dashboard/pages.rs`), read
/// from the source so a new section is swept too.
fn nav_sections() -> Vec<String> {
    let src = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ui/dashboard/pages.rs"),
    )
    .unwrap();
    let at = src.find("const SECTIONS").expect("SECTIONS in pages.rs");
    let block = &src[at..at + src[at..].find("];").unwrap()];
    let sections: Vec<String> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("(\""))
        .map(|l| l.split('"').next().unwrap().to_string())
        .collect();
    assert!(sections.len() >= 8, "{sections:?}");
    sections
}

async fn sweep(backend: Backend) {
    let artifacts = browser_artifacts("dashboard-sweep", backend);
    // The instance's mail, for the admin invitation whose join page is swept too.
    let mail = SmtpSink::start(None);
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![
                ("PORTCULLIS_WEBHOOKS_ALLOW_LOOPBACK".into(), "true".into()),
                ("PORTCULLIS_SMTP_URL".into(), mail.url()),
            ],
        },
    )
    .await;
    // The harness's project (adopted by the first admin) with data in every section: a catalog
    // with an item and a product, a user with a session who owns the product, a team with that
    // user as a member. The script adds the rest through the pages (a permission, an
    // invitation, a webhook endpoint with an attempt, a test email in the outbox).
    app.override_config(json!({
        "payments.items.credits": { "displayName": "Credits", "customerType": "user" },
        "payments.items.seats": { "displayName": "Seats", "customerType": "team" },
        "payments.items.api-calls": { "displayName": "API calls", "customerType": "custom" },
        "payments.productLines.packs": { "displayName": "Packs", "customerType": "user" },
        "payments.products.credit-pack": {
            "displayName": "Credit pack", "customerType": "user", "stackable": true,
            "productLineId": "packs",
            "prices": { "once": { "USD": "5" } },
            "includedItems": { "credits": { "quantity": 50, "expires": "never" } }
        }
    }))
    .await;
    // A webhook endpoint (nothing listens on port 9), created first so the user's sign-up below
    // is an event with a (failed) delivery attempt.
    let endpoint = app
        .admin()
        .post("/internal/webhooks/endpoints")
        .json(json!({ "url": "http://127.0.0.1:9/hooks/sweep", "description": "Sweep" }))
        .send()
        .await
        .expect(201);
    let endpoint_id = endpoint["id"].as_str().unwrap().to_string();
    let email = "sweep.user.with.a.rather.long.address@example.com";
    let session = app.sign_up(email, "sweep-pass-1234").await;
    let uid = session["user_id"].as_str().unwrap().to_string();
    app.server()
        .patch(&format!("/users/{uid}"))
        .json(json!({ "display_name": "Sweep User" }))
        .send()
        .await
        .expect(200);
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Sweep Team" }))
        .send()
        .await
        .expect(201);
    let team_id = team["id"].as_str().unwrap().to_string();
    app.server()
        .post(&format!("/team-memberships/{team_id}/{uid}"))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    app.server()
        .post(&format!("/payments/products/user/{uid}"))
        .json(json!({ "product_id": "credit-pack" }))
        .send()
        .await
        .expect(200);

    let attempts = format!("/internal/webhooks/endpoints/{endpoint_id}/attempts");
    for _ in 0..100 {
        let listed = app.admin().get(&attempts).send().await.expect(200);
        if !listed["items"].as_array().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // A custom customer (an id of the app's own, long), with a balance.
    app.server()
        .post("/payments/items/custom/org-with-a-rather-long-custom-customer-identifier-42/api-calls/update-quantity?allow_negative=false")
        .json(json!({ "delta": 100 }))
        .send()
        .await
        .expect(200);
    let summary = run_browser_script(
        "dashboard-sweep.mjs",
        &[
            ("SETUP_LINK", app.setup_link()),
            ("PROJECT_ID", app.project_id.clone()),
            ("USER_ID", uid.clone()),
            ("TEAM_ID", team_id.clone()),
            ("MAIL_DIR", mail.dir.0.display().to_string()),
        ],
        &artifacts,
        &[
            "1440-dashboard",
            "390-dashboard",
            "390-projects_project_settings",
            "390-projects_project_users_id",
            "390-sign-in",
        ],
        || app.log(),
    )
    .await;
    let visited: Vec<&str> = summary["visited"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    println!("visited {} pages:\n{}", visited.len(), visited.join("\n"));
    let project = format!("/dashboard/projects/{}", app.project_id);
    for section in nav_sections() {
        let path = if section.is_empty() {
            project.clone()
        } else {
            format!("{project}/{section}")
        };
        assert!(visited.contains(&path.as_str()), "{path} not visited");
    }
    // At least one detail page of each kind, and the pages outside a project.
    for kind in [
        format!("{project}/users/{uid}"),
        format!("{project}/teams/{team_id}"),
        format!("{project}/payments/customers/user/{uid}"),
        format!("{project}/payments/customers/team/{team_id}"),
        format!("{project}/payments/customers/custom/org-with-a-rather-long-custom-customer-identifier-42"),
        format!("{project}/payments/customers"),
        format!("{project}/payments/transactions"),
        format!("{project}/payments/stripe"),
        format!("{project}/payments?edit="),
        format!("{project}/payments?edit_item="),
        format!("{project}/payments?edit_line="),
        format!("{project}/webhooks/{endpoint_id}"),
        "/dashboard".into(),
        "/dashboard/sign-in".into(),
        "/dashboard/setup".into(),
        "/dashboard/join".into(),
        "/dashboard/join?code=no-such-code".into(),
    ] {
        assert!(
            visited.iter().any(|v| v.starts_with(&kind)),
            "no page like {kind} visited: {visited:?}"
        );
    }
    // Every page was measured at both widths and none scrolls sideways (the script asserts it
    // too; this says which).
    let measured = summary["widths"].as_object().unwrap();
    assert_eq!(measured.len(), visited.len() * 2, "{summary}");
    let over: Vec<(&String, &Value)> = measured
        .iter()
        .filter(|(_, m)| m["scroll"].as_i64() > m["inner"].as_i64())
        .collect();
    assert!(over.is_empty(), "sideways scroll: {over:?}");
}

on_both_backends!(dashboard_sweep, sweep);
