//! The dashboard: a browser run in headless Chromium (setup, projects, sign-in), then the refusals
//! checked over HTTP — CSRF-less posts, another admin's project, bad form input.

mod common;
use common::*;
use serde_json::{json, Value};

/// A dashboard form post as the holder of `cookie`.
fn post_form(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    cookie: &str,
    form: &[(&str, &str)],
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    http.post(url).header("cookie", cookie).form(form).send()
}

/// A dashboard page as the holder of `cookie`.
fn get_page(
    http: &reqwest::Client,
    url: impl reqwest::IntoUrl,
    cookie: &str,
) -> impl std::future::Future<Output = reqwest::Result<reqwest::Response>> {
    http.get(url).header("cookie", cookie).send()
}

fn cookie_of(res: &reqwest::Response) -> String {
    let set = res
        .headers()
        .get("set-cookie")
        .expect("a session cookie")
        .to_str()
        .unwrap();
    set.split(';').next().unwrap().to_string()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a CSRF field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

async fn browser_flow(backend: Backend) {
    let app = TestServer::start(backend).await;
    let sink = SmtpSink::start(Some(("mailer", "s3cret")));
    let artifacts = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/artifacts/dashboard-{backend:?}").to_lowercase());
    let out = tokio::process::Command::new("node")
        .arg("dashboard.mjs")
        .current_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk"))
        .env("PORTCULLIS_URL", &app.base)
        .env("SETUP_LINK", app.setup_link())
        .env("ARTIFACTS", &artifacts)
        .env("SMTP_PORT", sink.port.to_string())
        .output()
        .await
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser run failed\nstdout: {stdout}\nstderr: {}\nserver: {}",
        String::from_utf8_lossy(&out.stderr),
        app.log()
    );
    let result: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    for shot in [
        "01-setup",
        "02-projects-empty",
        "03-project-created",
        "04-project",
        "05-sign-in-error",
        "10-product-error",
        "11-catalog",
        "12-customer",
        "13-transactions",
        "14-project-keys",
        "15-team",
        "16-permissions",
        "17-setup-link-used",
    ] {
        assert!(
            artifacts.join(format!("{shot}.png")).exists(),
            "screenshot {shot}"
        );
    }
    // The keys the page showed work against the API, which sees what the pages wrote.
    let pid = result["project_id"].as_str().unwrap();
    let secret = result["secret_server_key"].as_str().unwrap();
    // The API as the server of the project the pages made.
    let server = || {
        app.server()
            .project(pid)
            .header("x-stack-secret-server-key", secret)
    };
    let users = server().get("/users").send().await.expect(200);
    assert_eq!(
        users["items"][0]["server_metadata"],
        json!({ "plan": "pro" })
    );
    let user_url = result["user_url"].as_str().unwrap().to_string();
    // What the payments pages did, seen through the API: the grant and the adjustment.
    let uid = user_url.rsplit('/').next().unwrap();
    let credits = server()
        .get(&format!("/payments/items/user/{uid}/credits"))
        .send()
        .await
        .expect(200);
    assert_eq!(credits["quantity"], 70);
    let owned = server()
        .get(&format!("/payments/products/user/{uid}"))
        .send()
        .await
        .expect(200);
    assert_eq!(owned["items"][0]["id"], "starter-pack");
    // The team page's member and grant, through the API.
    let team_id = result["team_url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap();
    let granted = server()
        .get(&format!(
            "/team-permissions?team_id={team_id}&user_id={uid}"
        ))
        .send()
        .await
        .expect(200);
    let ids: Vec<&str> = granted["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"read:reports"), "{ids:?}");

    // The test email went through the project's own SMTP server, with its credentials.
    let mail = &sink.wait_for("ops@acme.test", 1).await[0];
    assert_eq!(mail["subject"], "Test email from Acme");
    assert_eq!(mail["from"], "Acme <hello@acme.test>");
    assert_eq!(mail["authenticated_as"], "mailer");

    // Signed in over plain HTTP as the same admin.
    let (http, cookie) = app
        .dashboard_sign_in("admin@example.com", "admin-password-1")
        .await;
    // The projects page, and how many project links it has.
    let listed = || async {
        get_page(&http, format!("{}/dashboard", app.base), &cookie)
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let count = || async { listed().await.matches("/dashboard/projects/").count() };
    let csrf = csrf_of(&listed().await);
    // Projects from the command line belong to the dashboard's admins: the harness's own, made
    // before any admin existed, went to the first admin; one made now goes to them too; an owner
    // who is no admin is refused.
    assert!(listed().await.contains(&app.project_id));
    let cli = |args: &[&str]| {
        std::process::Command::new(bin())
            .args(["project", "create", "--json"])
            .args(args)
            .env("DATABASE_URL", &app.database_url)
            .env("PORTCULLIS_DATA_DIR", std::env::temp_dir())
            .output()
            .unwrap()
    };
    let out = cli(&["--name", "From the CLI"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let made: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(listed()
        .await
        .contains(made["project_id"].as_str().unwrap()));
    let out = cli(&["--name", "Nobody's", "--owner", "nobody@example.com"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("nobody@example.com is not a dashboard admin"));
    // An unknown dashboard address is a page that says so, with a 404.
    let r = get_page(
        &http,
        format!("{}/dashboard/no/such/page", app.base),
        &cookie,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    assert!(r.text().await.unwrap().contains("There is no such page"));
    // A refused sign-in keeps the email typed.
    let r = http
        .post(format!("{}/dashboard/sign-in", app.base))
        .form(&[
            ("email", "admin@example.com"),
            ("password", "wrong-password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("value=\"admin@example.com\""));
    let before = count().await;
    // CSRF-less and forged posts are refused and write nothing.
    for form in [
        vec![("display_name", "Sneaky")],
        vec![("display_name", "Sneaky"), ("csrf", "0000")],
    ] {
        let r = post_form(
            &http,
            format!("{}/dashboard/projects", app.base),
            &cookie,
            &form,
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 403);
    }
    // Bad input: a message, no project.
    let r = post_form(
        &http,
        format!("{}/dashboard/projects", app.base),
        &cookie,
        &[("display_name", "  "), ("csrf", csrf.as_str())],
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Give the project a name"));
    assert_eq!(count().await, before);
    // The form's sign-in methods, none ticked: a message, no project.
    let r = post_form(
        &http,
        format!("{}/dashboard/projects", app.base),
        &cookie,
        &[
            ("display_name", "No way in"),
            ("methods", "chosen"),
            ("csrf", csrf.as_str()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Choose at least one sign-in method"));
    assert_eq!(count().await, before);
    // The methods ticked are the ones the project's pages offer: a magic link and GitHub.
    let page_before = listed().await;
    let page = post_form(
        &http,
        format!("{}/dashboard/projects", app.base),
        &cookie,
        &[
            ("display_name", "Links only"),
            ("methods", "chosen"),
            ("method:magic_link", "on"),
            ("method:github", "on"),
            ("csrf", csrf.as_str()),
        ],
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let links_only = page
        .split("href=\"/dashboard/projects/")
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap())
        .find(|id| !id.contains('/') && !page_before.contains(id))
        .expect("the new project is listed");
    let sign_in = http
        .get(format!("{}/handler/{links_only}/sign-in", app.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(sign_in.contains("Continue with GitHub"), "{sign_in}");
    assert!(!sign_in.contains("type=\"password\""), "{sign_in}");
    assert!(!sign_in.contains("Continue with Google"), "{sign_in}");
    assert_eq!(count().await, before + 1);
    // The payments catalog refuses CSRF-less posts and bad input, and writes nothing.
    let catalog_url = format!("{}/dashboard/projects/{pid}/payments", app.base);
    let item = [("what", "item"), ("id", "gems"), ("customer_type", "user")];
    let r = post_form(&http, &catalog_url, &cookie, &item)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    let bad_id = [
        ("what", "item"),
        ("id", "has.dot"),
        ("customer_type", "user"),
        ("csrf", csrf.as_str()),
    ];
    let r = post_form(&http, &catalog_url, &cookie, &bad_id)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("IDs use letters"));
    let orphan_line = [
        ("what", "product"),
        ("id", "x"),
        ("customer_type", "user"),
        ("product_line_id", "nope"),
        ("prices", "{}"),
        ("included_items", "{}"),
        ("csrf", csrf.as_str()),
    ];
    let r = post_form(&http, &catalog_url, &cookie, &orphan_line)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    // An included item given as a bare number is refused; the form keeps what was typed.
    let bare_quantity = [
        ("what", "product"),
        ("id", "x"),
        ("customer_type", "user"),
        ("prices", "{}"),
        ("included_items", r#"{"credits": 100}"#),
        ("csrf", csrf.as_str()),
    ];
    let r = post_form(&http, &catalog_url, &cookie, &bare_quantity)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let page = r.text().await.unwrap();
    assert!(
        page.contains("payments.products.x.includedItems.credits must be an object"),
        "{page}"
    );
    assert!(
        page.contains("{&quot;credits&quot;: 100}"),
        "the input is kept: {page}"
    );
    let config = server()
        .get("/internal/config/override/branch")
        .send()
        .await
        .expect(200);
    let config = config["config_string"].as_str().unwrap();
    assert!(
        !config.contains("gems") && !config.contains("has.dot") && !config.contains("\"x\""),
        "{config}"
    );
    // The users list sorts newest or oldest first.
    server()
        .post("/users")
        .json(json!({ "primary_email": "later@example.com" }))
        .send()
        .await
        .expect(201);
    for (sort, first) in [("newest", "later@"), ("oldest", "customer@")] {
        let html = get_page(
            &http,
            format!("{}/dashboard/projects/{pid}/users?sort={sort}", app.base),
            &cookie,
        )
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
        let (a, b) = (
            html.find("later@").unwrap(),
            html.find("customer@").unwrap(),
        );
        assert_eq!(a.min(b), html.find(first).unwrap(), "{sort}");
    }
    // A customer page for someone who does not exist is a 404, not an empty page.
    for path in [
        "user/00000000-0000-4000-8000-000000000000",
        "team/nope",
        "robot/x",
    ] {
        let r = get_page(
            &http,
            format!(
                "{}/dashboard/projects/{pid}/payments/customers/{path}",
                app.base
            ),
            &cookie,
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{path}");
    }
    // A user's linked OAuth accounts are listed on their page (the project has github).
    let linked = server()
        .post("/users")
        .json(
            json!({ "primary_email": "linked@example.com", "oauth_providers": [
            { "id": "github", "account_id": "4242", "email": "linked@example.com" }
        ] }),
        )
        .send()
        .await
        .expect(201);
    let page = get_page(
        &http,
        format!(
            "{}/dashboard/projects/{pid}/users/{}",
            app.base,
            linked["id"].as_str().unwrap()
        ),
        &cookie,
    )
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let card = &page[page
        .find("linked-accounts")
        .expect("the linked accounts table")..];
    assert!(card.contains("github") && card.contains("4242"), "{card}");
    // Signed out: pages redirect to sign-in.
    let r = http
        .get(format!("{}/dashboard/projects/{pid}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 303);

    // Deleting needs the confirmation box.
    let delete_url = format!("{}/delete", user_url.replace("localhost", "127.0.0.1"));
    let r = post_form(&http, &delete_url, &cookie, &[("csrf", csrf.as_str())])
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    let r = post_form(
        &http,
        &delete_url,
        &cookie,
        &[("csrf", csrf.as_str()), ("confirm", "yes")],
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 303);
    let gone = get_page(&http, user_url.replace("localhost", "127.0.0.1"), &cookie)
        .await
        .unwrap();
    assert_eq!(gone.status().as_u16(), 404);

    // Another admin cannot open this admin's project by guessing its URL.
    // (Sign-up to `internal` is closed; the internal server key may still create an admin.)
    app.anon()
        .header("x-stack-project-id", "internal")
        .header("x-stack-access-type", "server")
        .header("x-stack-secret-server-key", INTERNAL_SSK)
        .post("/users")
        .json(json!({ "primary_email": "other-admin@example.com", "primary_email_auth_enabled": true, "password": "password123" }))
        .send()
        .await
        .expect(201);
    let res = http
        .post(format!("{}/dashboard/sign-in", app.base))
        .form(&[
            ("email", "other-admin@example.com"),
            ("password", "password123"),
        ])
        .send()
        .await
        .unwrap();
    let other = cookie_of(&res);
    let r = get_page(
        &http,
        format!("{}/dashboard/projects/{pid}", app.base),
        &other,
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    for page in [
        "payments",
        "payments/customers",
        "payments/transactions",
        "teams",
        "permissions",
    ] {
        let r = get_page(
            &http,
            format!("{}/dashboard/projects/{pid}/{page}", app.base),
            &other,
        )
        .await
        .unwrap();
        assert_eq!(r.status().as_u16(), 404, "{page}");
    }
    let test_mode_off = [
        ("what", "test_mode"),
        ("value", "off"),
        ("csrf", csrf.as_str()),
    ];
    let r = post_form(&http, &catalog_url, &other, &test_mode_off)
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let mine = get_page(
        &http,
        format!("{}/dashboard/projects/{pid}", app.base),
        &cookie,
    )
    .await
    .unwrap();
    assert_eq!(mine.status().as_u16(), 200);
}

on_both_backends!(dashboard, browser_flow);

/// The launch checklist in Chromium (`tests/sdk/launch-checklist.mjs`): all open on a fresh
/// project, all done once it is configured for real (its own SMTP server with a sent email,
/// Stripe through localstripe with a webhook received, a second admin who joined from the real
/// invitation email, …). Screenshots go to `tests/artifacts/launch-checklist-<backend>`.
async fn launch_checklist(backend: Backend) {
    let artifacts = browser_artifacts("launch-checklist", backend);
    let stripe = Localstripe::start().await;
    let instance_mail = SmtpSink::start(None);
    let project_mail = SmtpSink::start(Some(("mailer", "s3cret")));
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![
                ("PORTCULLIS_STRIPE_API_BASE".into(), stripe.url.clone()),
                ("PORTCULLIS_SMTP_URL".into(), instance_mail.url()),
                ("PORTCULLIS_WEBHOOKS_ALLOW_LOOPBACK".into(), "true".into()),
            ],
        },
    )
    .await;
    run_browser_script(
        "launch-checklist.mjs",
        &[
            ("SETUP_LINK", app.setup_link()),
            ("SMTP_PORT", project_mail.port.to_string()),
            ("MAIL_DIR", instance_mail.dir.0.display().to_string()),
        ],
        &artifacts,
        &[
            "01-fresh-project",
            "02-configured-project",
            "03-production-on",
        ],
        || format!("localstripe: {}\nserver: {}", stripe.output(), app.log()),
    )
    .await;
    assert_eq!(
        project_mail.messages().len(),
        1,
        "the test email went through the project's server"
    );
}
on_both_backends!(launch_checklist_in_the_browser, launch_checklist);
