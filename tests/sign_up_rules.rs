//! Sign-up rules (`auth.signUpRules`): CEL conditions over who signs up, decided in priority
//! order on every sign-up path, with `internal/sign-up-rules-test` and `-stats`. The cases are
//! those of the original's `apps/e2e/tests/backend/endpoints/api/v1/auth/sign-up-rules.test.ts`
//! and `internal/sign-up-rules-{test,stats}.test.ts`.

mod common;

use common::*;
use serde_json::{json, Value};

const REJECTED: &str = "Your sign up was rejected by an administrator's sign-up rule.";

/// Replaces the branch level's rules with `rules` (dotted keys, as the admin SDK writes them).
async fn set_rules(app: &TestServer, rules: Value) {
    let mut doc = json!({ "auth.signUpRules": null, "auth.signUpRulesDefaultAction": null });
    for (k, v) in rules.as_object().unwrap() {
        doc[k] = v.clone();
    }
    app.override_config(doc).await;
}

fn rule(priority: i64, condition: &str, action: &str) -> Value {
    json!({
        "enabled": true, "displayName": format!("{action} {condition}"), "priority": priority,
        "condition": condition, "action": { "type": action, "message": "for admins only" }
    })
}

async fn password_sign_up(app: &TestServer, email: &str) -> Resp {
    app.client()
        .post("/auth/password/sign-up")
        .json(json!({ "email": email, "password": "password123" }))
        .send()
        .await
}

async fn user_count(app: &TestServer) -> usize {
    let all = app
        .server()
        .get("/users?include_anonymous=true")
        .send()
        .await;
    all.expect(200)["items"].as_array().unwrap().len()
}

#[track_caller]
fn assert_rejected(r: Resp) {
    let e = r.expect_error(403, "SIGN_UP_REJECTED");
    assert_eq!(e["error"], REJECTED);
    assert_eq!(e["details"], json!({ "message": REJECTED }));
}

async fn decisions(backend: Backend) {
    let app = TestServer::start(backend).await;
    password_sign_up(&app, "first@example.com")
        .await
        .expect(200);

    // A matching reject rule refuses, in the original's words (never the rule's own message),
    // and creates nothing.
    set_rules(
        &app,
        json!({ "auth.signUpRules.block": rule(0, r#"email.contains("blocked")"#, "reject") }),
    )
    .await;
    assert_rejected(password_sign_up(&app, "Blocked-1@Example.com").await);
    assert_eq!(user_count(&app).await, 1);
    password_sign_up(&app, "fine@example.com").await.expect(200);

    // Higher priority first; equal priorities by id; the first allow or reject decides.
    set_rules(
        &app,
        json!({
            "auth.signUpRules.b-reject": rule(5, r#"emailDomain == "corp.example""#, "reject"),
            "auth.signUpRules.a-allow": rule(5, r#"email.startsWith("boss@")"#, "allow"),
            "auth.signUpRules.low-reject": rule(1, "true", "reject"),
            "auth.signUpRules.top-allow": rule(9, r#"email.endsWith("@vip.example")"#, "allow"),
        }),
    )
    .await;
    password_sign_up(&app, "boss@corp.example")
        .await
        .expect(200);
    assert_rejected(password_sign_up(&app, "worker@corp.example").await);
    password_sign_up(&app, "guest@vip.example")
        .await
        .expect(200);
    assert_rejected(password_sign_up(&app, "anyone@else.example").await);

    // The default action decides when no rule does; disabled rules are skipped.
    let mut disabled = rule(3, "true", "allow");
    disabled["enabled"] = json!(false);
    set_rules(
        &app,
        json!({
            "auth.signUpRulesDefaultAction": "reject",
            "auth.signUpRules.off": disabled,
            "auth.signUpRules.partners": rule(0, r#"emailDomain in ["partner.example", "ally.example"]"#, "allow"),
        }),
    )
    .await;
    assert_rejected(password_sign_up(&app, "x@nowhere.example").await);
    password_sign_up(&app, "x@ally.example").await.expect(200);

    // log and restrict go on to the next rule: restrict then reject creates nobody; restrict
    // then the default allow creates a restricted user, the rule named in the private details.
    set_rules(
        &app,
        json!({
            "auth.signUpRules.watch": rule(9, "true", "log"),
            "auth.signUpRules.flag": rule(8, r#"emailDomain == "flagged.example""#, "restrict"),
            "auth.signUpRules.flag-too": rule(7, r#"emailDomain == "flagged.example""#, "restrict"),
            "auth.signUpRules.spam": rule(1, r#"email.contains("spam")"#, "reject"),
        }),
    )
    .await;
    let before = user_count(&app).await;
    assert_rejected(password_sign_up(&app, "spam@flagged.example").await);
    assert_eq!(user_count(&app).await, before);
    let s = password_sign_up(&app, "ok@flagged.example")
        .await
        .expect(200);
    let user = app
        .server()
        .get(&format!("/users/{}", s["user_id"].as_str().unwrap()))
        .send()
        .await
        .expect(200);
    assert_eq!(user["restricted_by_admin"], true);
    assert_eq!(user["restricted_by_admin_reason"], Value::Null);
    assert_eq!(
        user["restricted_by_admin_private_details"],
        format!("Restricted by sign-up rule: flag (restrict emailDomain == \"flagged.example\")")
    );
    assert_eq!(user["is_restricted"], true);
    assert_eq!(
        user["restricted_reason"],
        json!({ "type": "restricted_by_administrator" })
    );
    let fine = password_sign_up(&app, "ok@plain.example").await.expect(200);
    let fine = app
        .server()
        .get(&format!("/users/{}", fine["user_id"].as_str().unwrap()))
        .send()
        .await
        .expect(200);
    assert_eq!(fine["restricted_by_admin"], false);
    assert_eq!(fine["restricted_by_admin_private_details"], Value::Null);
}
on_both_backends!(rules_decide_password_sign_ups, decisions);

async fn conditions(backend: Backend) {
    let app = TestServer::start(backend).await;
    // JavaScript regular expressions, backreferences included.
    set_rules(
        &app,
        json!({ "auth.signUpRules.double": rule(0, r#"email.matches("^(a)\\1")"#, "reject") }),
    )
    .await;
    assert_rejected(password_sign_up(&app, "aa-1@example.com").await);
    password_sign_up(&app, "ab-1@example.com").await.expect(200);
    // A malformed regex, a syntax error or a non-boolean value does not match: nobody is
    // refused because of a broken rule.
    for broken in [
        r#"email.matches("test(unclosed")"#,
        "email ==",
        r#"email + "x""#,
        r#"unknownVariable == "x""#,
    ] {
        set_rules(
            &app,
            json!({ "auth.signUpRules.broken": rule(0, broken, "reject") }),
        )
        .await;
        let email = format!("test-{}@example.com", broken.len());
        password_sign_up(&app, &email).await.expect(200);
    }
    // Quotes and backslashes are literal inside CEL strings; a regex character in contains()
    // is literal too.
    set_rules(
        &app,
        json!({
            "auth.signUpRules.quote": rule(0, r#"email.contains("test\"value")"#, "reject"),
            "auth.signUpRules.slash": rule(0, r#"email.contains("test\\value")"#, "reject"),
            "auth.signUpRules.plus": rule(0, r#"email.contains("+tag")"#, "reject"),
            "auth.signUpRules.and-or": rule(0, r#"(emailDomain == "a.example" || emailDomain == "b.example") && authMethod == "password" && !email.startsWith("ok")"#, "reject"),
        }),
    )
    .await;
    password_sign_up(&app, "normal@example.com")
        .await
        .expect(200);
    password_sign_up(&app, "xtag@example.com").await.expect(200);
    assert_rejected(password_sign_up(&app, "x+tag@example.com").await);
    assert_rejected(password_sign_up(&app, "no@b.example").await);
    password_sign_up(&app, "ok@b.example").await.expect(200);
}
on_both_backends!(rule_conditions_are_cel, conditions);

async fn other_paths(backend: Backend) {
    let sink = SmtpSink::start(None);
    let env = vec![
        ("PORTCULLIS_SMTP_URL".into(), sink.url()),
        ("PORTCULLIS_COUNTRY_HEADER".into(), "cf-ipcountry".into()),
    ];
    let app = TestServer::start_with(backend, Options { env }).await;
    app.configure(json!({ "magic_link_enabled": true })).await;
    // Creating an anonymous user is not a sign-up: the rules do not apply to it.
    set_rules(&app, json!({ "auth.signUpRulesDefaultAction": "reject" })).await;
    let anon = app
        .client()
        .post("/auth/anonymous/sign-up")
        .json(json!({}))
        .send()
        .await
        .expect(200);
    // Making it a real user is: refused, it stays anonymous.
    set_rules(
        &app,
        json!({
            "auth.signUpRules.block": rule(1, r#"email.contains("blocked")"#, "reject"),
            "auth.signUpRules.us": rule(1, r#"countryCode == "US""#, "reject"),
            "auth.signUpRules.otp": rule(0, r#"authMethod == "otp" && emailDomain == "otp.example""#, "restrict"),
        }),
    )
    .await;
    let upgrade = |email: &str| {
        app.client()
            .user(&anon)
            .header("x-stack-allow-anonymous-user", "true")
            .post("/auth/password/sign-up")
            .json(json!({ "email": email, "password": "password123" }))
            .send()
    };
    assert_rejected(upgrade("blocked@example.com").await);
    let me = app
        .client()
        .user(&anon)
        .header("x-stack-allow-anonymous-user", "true")
        .get("/users/me")
        .send()
        .await;
    assert_eq!(me.expect(200)["is_anonymous"], true);
    let upgraded = upgrade("kept@example.com").await.expect(200);
    assert_eq!(upgraded["user_id"], anon["user_id"]);

    // The country comes from the trusted proxy's header.
    let from = |country: &str, email: &str| {
        app.client()
            .header("cf-ipcountry", country)
            .post("/auth/password/sign-up")
            .json(json!({ "email": email, "password": "password123" }))
            .send()
    };
    assert_rejected(from("us", "yankee@example.com").await);
    from("CA", "canuck@example.com").await.expect(200);

    // OTP: a new user passes the rules (restricted here); an existing one just signs in.
    let otp_sign_in = |email: &'static str, count: usize, country: &'static str| {
        let app = &app;
        let sink = &sink;
        async move {
            let sent = app
                .client()
                .post("/auth/otp/send-sign-in-code")
                .json(json!({ "email": email, "callback_url": "http://localhost:3000/cb" }))
                .send()
                .await
                .expect(200);
            let mail = sink.wait_for(email, count).await.pop().unwrap();
            let otp = mail["subject"]
                .as_str()
                .unwrap()
                .rsplit(' ')
                .next()
                .unwrap();
            let code = format!("{otp}{}", sent["nonce"].as_str().unwrap());
            app.client()
                .header("cf-ipcountry", country)
                .post("/auth/otp/sign-in")
                .json(json!({ "code": code }))
                .send()
                .await
        }
    };
    assert_rejected(otp_sign_in("new@example.com", 1, "US").await);
    let s = otp_sign_in("new@otp.example", 1, "FR").await.expect(200);
    assert_eq!(s["is_new_user"], true);
    let user = app
        .server()
        .get(&format!("/users/{}", s["user_id"].as_str().unwrap()))
        .send()
        .await
        .expect(200);
    assert_eq!(user["restricted_by_admin"], true);
    assert_eq!(
        user["restricted_reason"]["type"],
        "restricted_by_administrator"
    );
    // Rejecting everyone from the US later does not lock out a user who already exists.
    let again = otp_sign_in("new@otp.example", 2, "US").await.expect(200);
    assert_eq!(again["is_new_user"], false);
}
on_both_backends!(rules_apply_on_every_sign_up_path, other_paths);

async fn test_endpoint(backend: Backend) {
    let app = TestServer::start_with(
        backend,
        Options {
            env: vec![("PORTCULLIS_COUNTRY_HEADER".into(), "cf-ipcountry".into())],
        },
    )
    .await;
    let test = |body: Value| {
        app.admin()
            .post("/internal/sign-up-rules-test")
            .json(body)
            .send()
    };
    let base = json!({
        "email": " User@Example.com ", "auth_method": "password", "oauth_provider": null,
        "country_code": null,
    });
    let r = test(base.clone()).await.expect(200);
    assert_eq!(
        r,
        json!({
            "context": {
                "email": "user@example.com", "email_domain": "example.com", "country_code": "",
                "auth_method": "password", "oauth_provider": "", "turnstile_result": "invalid",
                "risk_scores": { "bot": 0, "free_trial_abuse": 0 },
            },
            "evaluations": [],
            "outcome": {
                "should_allow": true, "decision": "default-allow", "decision_rule_id": null,
                "restricted_because_of_rule_id": null,
            },
        })
    );
    let mut disabled = rule(0, "true", "reject");
    disabled["enabled"] = json!(false);
    set_rules(
        &app,
        json!({
            "auth.signUpRules.log-first": rule(4, r#"emailDomain == "example.com""#, "log"),
            "auth.signUpRules.restrict": rule(3, "riskScores.bot >= 50", "restrict"),
            "auth.signUpRules.broken": rule(2, r#"email.matches("(")"#, "allow"),
            "auth.signUpRules.empty": { "enabled": true, "priority": 2 },
            "auth.signUpRules.block-oauth": rule(1, r#"authMethod == "oauth" && oauthProvider == "google""#, "reject"),
            "auth.signUpRules.off": disabled,
        }),
    )
    .await;
    let mut oauth = base.clone();
    oauth["auth_method"] = json!("oauth");
    oauth["oauth_provider"] = json!("google");
    oauth["risk_scores"] = json!({ "bot": 80, "free_trial_abuse": 5 });
    let r = test(oauth).await.expect(200);
    let statuses: Vec<(&str, &str)> = r["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["rule_id"].as_str().unwrap(),
                e["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        statuses,
        [
            ("log-first", "matched"),
            ("restrict", "matched"),
            ("broken", "error"),
            ("empty", "missing_condition"),
            ("block-oauth", "matched"),
        ]
    );
    let broken = &r["evaluations"][2];
    assert_eq!(broken["error"], "Invalid regex pattern in matches(): \"(\"");
    assert_eq!(
        broken["action"],
        json!({ "type": "allow", "message": "for admins only" })
    );
    assert_eq!(broken["display_name"], "allow email.matches(\"(\")");
    assert_eq!(r["evaluations"][3]["condition"], "");
    assert_eq!(r["evaluations"][3]["display_name"], "");
    assert_eq!(
        r["outcome"],
        json!({
            "should_allow": false, "decision": "reject", "decision_rule_id": "block-oauth",
            "restricted_because_of_rule_id": "restrict",
        })
    );
    // The country: the body's, else the request's.
    let mut c = base.clone();
    c["country_code"] = json!(" us ");
    assert_eq!(test(c).await.expect(200)["context"]["country_code"], "US");
    let r = app
        .admin()
        .header("cf-ipcountry", "de")
        .post("/internal/sign-up-rules-test")
        .json(base.clone())
        .send()
        .await
        .expect(200);
    assert_eq!(r["context"]["country_code"], "DE");

    // Bad input: the original's schema messages; nothing but admins may ask.
    for (change, message) in [
        (
            json!({ "auth_method": "carrier-pigeon" }),
            "body.auth_method must be one of the following values: password, otp, oauth, passkey",
        ),
        (
            json!({ "country_code": "usa" }),
            "body.country_code must be a 2-letter country code",
        ),
        (
            json!({ "turnstile_result": "great" }),
            "body.turnstile_result must be one of the following values: ok, invalid, error",
        ),
        (
            json!({ "risk_scores": { "bot": 101, "free_trial_abuse": 0 } }),
            "body.risk_scores.bot must be less than or equal to 100",
        ),
        (
            json!({ "risk_scores": { "bot": 0, "free_trial_abuse": -1 } }),
            "body.risk_scores.free_trial_abuse must be greater than or equal to 0",
        ),
    ] {
        let mut body = base.clone();
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let e = test(body).await.expect_error(400, "SCHEMA_ERROR");
        let text = e["error"].as_str().unwrap();
        assert!(text.ends_with(&format!("\n  - {message}")), "{text}");
    }
    app.server()
        .post("/internal/sign-up-rules-test")
        .json(base.clone())
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
}
on_both_backends!(rules_test_endpoint_traces_each_rule, test_endpoint);

async fn stats(backend: Backend) {
    let app = TestServer::start(backend).await;
    let empty = app
        .admin()
        .get("/internal/sign-up-rules-stats")
        .send()
        .await
        .expect(200);
    assert_eq!(
        empty,
        json!({
            "rule_triggers": [], "analytics_hours": 48, "total_triggers": 0,
            "triggers_by_action": { "allow": 0, "log": 0, "reject": 0, "restrict": 0 },
        })
    );
    set_rules(
        &app,
        json!({
            "auth.signUpRules.watch": rule(9, "true", "log"),
            "auth.signUpRules.block": rule(1, r#"email.contains("bad")"#, "reject"),
            "auth.signUpRules.never": rule(0, "false", "reject"),
        }),
    )
    .await;
    password_sign_up(&app, "good@example.com").await.expect(200);
    assert_rejected(password_sign_up(&app, "bad@example.com").await);
    // Creating an anonymous user triggers nothing.
    app.client()
        .post("/auth/anonymous/sign-up")
        .send()
        .await
        .expect(200);
    let s = app
        .admin()
        .get("/internal/sign-up-rules-stats")
        .send()
        .await
        .expect(200);
    assert_eq!(s["total_triggers"], 3);
    assert_eq!(
        s["triggers_by_action"],
        json!({ "allow": 0, "log": 2, "reject": 1, "restrict": 0 })
    );
    let rules = s["rule_triggers"].as_array().unwrap();
    let ids: Vec<&str> = rules
        .iter()
        .map(|r| r["rule_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["block", "watch"]);
    let watch = &rules[1];
    assert_eq!(watch["total_count"], 2);
    assert_eq!(watch["all_time_count"], 2);
    let hours = watch["hourly_counts"].as_array().unwrap();
    assert_eq!(hours.len(), 48);
    // Oldest hour first; this hour last, holding both matches.
    assert_eq!(hours[47]["count"], 2);
    assert_eq!(
        hours
            .iter()
            .map(|h| h["count"].as_i64().unwrap())
            .sum::<i64>(),
        2
    );
    let last = hours[47]["hour"].as_str().unwrap();
    assert!(last.ends_with(":00:00.000Z"), "{last}");
    app.client()
        .get("/internal/sign-up-rules-stats")
        .send()
        .await
        .expect_error(401, "INSUFFICIENT_ACCESS_TYPE");
}
on_both_backends!(rules_stats_count_matches_per_hour, stats);

async fn config(backend: Backend) {
    let app = TestServer::start(backend).await;
    set_rules(
        &app,
        json!({
            "auth.signUpRules.second": { "enabled": true, "condition": "true", "action": { "type": "log" } },
            "auth.signUpRules.first": rule(7, "false", "restrict"),
            "auth.signUpRules.minimal": {},
        }),
    )
    .await;
    // Rendered in evaluation order with the schema's defaults.
    let rendered = app.admin().get("/internal/config").send().await.expect(200);
    let config: Value = serde_json::from_str(rendered["config_string"].as_str().unwrap()).unwrap();
    let rules = &config["auth"]["signUpRules"];
    let ids: Vec<&String> = rules.as_object().unwrap().keys().collect();
    assert_eq!(ids, ["first", "minimal", "second"]);
    assert_eq!(
        rules["minimal"],
        json!({ "enabled": false, "priority": 0, "action": { "type": "allow" } })
    );
    assert_eq!(config["auth"]["signUpRulesDefaultAction"], "allow");

    // Invalid rules are refused whole, each problem named, nothing stored.
    let stored = app
        .admin()
        .get("/internal/config/override/branch")
        .send()
        .await
        .expect(200);
    for (doc, problem) in [
        (
            json!({ "auth.signUpRules.x": { "action": { "type": "explode" } } }),
            "auth.signUpRules.x.action.type must be one of the following values: allow, reject, restrict, log",
        ),
        (
            json!({ "auth.signUpRules.x": { "priority": -1 } }),
            "auth.signUpRules.x.priority must be greater than or equal to 0",
        ),
        (
            json!({ "auth.signUpRules.x": { "priority": 1.5 } }),
            "auth.signUpRules.x.priority must be an integer",
        ),
        (
            json!({ "auth.signUpRules.x": { "enabled": "yes" } }),
            "auth.signUpRules.x.enabled must be a `boolean` type",
        ),
        (
            json!({ "auth.signUpRules.x": { "condition": "true", "when": "now" } }),
            "auth.signUpRules.x contains unknown properties: when",
        ),
        (
            json!({ "auth.signUpRules.-x": {} }),
            "auth.signUpRules.-x: signUpRuleId must contain only letters, numbers, underscores, and hyphens, and not start with a hyphen",
        ),
        (
            json!({ "auth.signUpRulesDefaultAction": "maybe" }),
            "auth.signUpRulesDefaultAction must be one of the following values: allow, reject",
        ),
        (
            json!({ "auth.signUpRules.deep": { "condition": format!("{}true{}", "(".repeat(40), ")".repeat(40)) } }),
            "auth.signUpRules.deep.condition must not nest brackets more than 32 deep",
        ),
    ] {
        let r = app
            .admin()
            .patch("/internal/config/override/branch")
            .json(json!({ "config_override_string": doc.to_string() }))
            .send()
            .await;
        assert_eq!(r.status.as_u16(), 400, "{}", r.text);
        assert!(r.text.starts_with("Invalid config:\n"), "{}", r.text);
        assert!(r.text.contains(&format!("\n  - {problem}")), "{}", r.text);
    }
    let after = app
        .admin()
        .get("/internal/config/override/branch")
        .send()
        .await
        .expect(200);
    assert_eq!(after, stored);
}
on_both_backends!(rules_in_config_are_checked_and_rendered, config);
