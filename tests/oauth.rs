//! OAuth sign-in through a real OpenID Connect provider (`tests/sdk/oidc-provider.mjs`, the npm
//! `oidc-provider`) as the SDK drives it: authorize → the provider's login and consent pages →
//! callback → the app's redirect URI with a one-time code → the token endpoint with the PKCE
//! verifier. The browser is a cookie-keeping HTTP client that submits the provider's forms.

mod common;
use common::*;
use portcullis::http::url::percent_encode;
use serde_json::{json, Value};
use std::time::Duration;

const APP: &str = "http://localhost:3000/handler/oauth-callback";

/// Runs a provider (a script in `tests/sdk`) until `ready` answers; its output goes to a log
/// file named after `port`.
async fn start_provider(script: &str, port: u16, args: &[String], ready: &str) -> NodeProcess {
    let log = std::env::temp_dir().join(format!("portcullis-{script}-{port}.log"));
    start_node(script, args, &[], ready, log).await
}

/// The OpenID Connect provider (`oidc-provider` from npm), its clients calling back to `api`.
async fn start_oidc(port: u16, api: &str) -> NodeProcess {
    let ready = format!("http://localhost:{port}/.well-known/openid-configuration");
    let args = [port.to_string(), api.to_string()];
    start_provider("oidc-provider.mjs", port, &args, &ready).await
}

/// The fakes of the providers signed in through their REST APIs (GitHub, Spotify, …).
async fn start_rest(port: u16) -> NodeProcess {
    let ready = format!("http://localhost:{port}/");
    start_provider("rest-providers.mjs", port, &[port.to_string()], &ready).await
}

/// A project server whose shared OAuth providers sign in at a local OpenID Connect issuer.
async fn with_provider(backend: Backend) -> (TestServer, NodeProcess, String) {
    let oidc_port = free_port();
    let opts = Options {
        env: vec![(
            "PORTCULLIS_OAUTH_MOCK_ISSUER".into(),
            format!("http://localhost:{oidc_port}"),
        )],
    };
    let app = TestServer::start_with(backend, opts).await;
    // The public URL (the callback's host) is localhost: the browser must use the same host.
    let base = app.base.replace("127.0.0.1", "localhost");
    let oidc = start_oidc(oidc_port, &base).await;
    app.configure(json!({ "oauth_providers": [
            { "id": "github", "type": "shared" },
            { "id": "google", "type": "shared" },
            { "id": "microsoft", "type": "shared" }
        ] }))
    .await;
    (app, oidc, base)
}

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The PKCE pair the SDK makes (RFC 7636 S256).
fn pkce(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn authorize_url(
    app: &TestServer,
    base: &str,
    provider: &str,
    redirect: &str,
    challenge: &str,
) -> String {
    let q = [
        ("client_id", app.project_id.as_str()),
        ("client_secret", app.publishable_client_key.as_str()),
        ("redirect_uri", redirect),
        ("scope", "legacy"),
        ("state", "app-state-1"),
        ("grant_type", "authorization_code"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
        ("response_type", "code"),
        ("type", "authenticate"),
        ("error_redirect_url", "http://localhost:3000/handler/error"),
    ];
    let query: Vec<String> = q
        .iter()
        .map(|(k, v)| format!("{k}={}", percent_encode(v)))
        .collect();
    format!(
        "{base}/api/v1/auth/oauth/authorize/{provider}?{}",
        query.join("&")
    )
}

fn absolute(current: &str, location: &str) -> String {
    if location.starts_with("http") {
        return location.to_string();
    }
    let origin: String = current.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    format!("{origin}{location}")
}

/// Walks a browser from `url`: follows redirects and submits each provider page's form (login
/// as `login`, then consent), until `stop` says the next URL is where it should stop (returned
/// with status 0), a page's form posts to such a URL (the page is returned, with status 1), or a
/// page without a form answers (returned with its status).
async fn walk(
    browser: &reqwest::Client,
    mut url: String,
    login: &str,
    stop: impl Fn(&str) -> bool,
) -> (String, u16) {
    for _ in 0..20 {
        if stop(&url) {
            return (url, 0);
        }
        let res = browser.get(&url).send().await.unwrap();
        let status = res.status().as_u16();
        if (300..400).contains(&status) {
            url = absolute(&url, res.headers()["location"].to_str().unwrap());
            continue;
        }
        let page = res.text().await.unwrap();
        let Some(action) = page
            .split("action=\"")
            .nth(1)
            .and_then(|a| a.split('"').next())
        else {
            return (url, status);
        };
        let target = absolute(&url, &action.replace("&amp;", "&"));
        if stop(&target) {
            // A provider answering with a form POST (`response_mode=form_post`): the page.
            return (page, 1);
        }
        let prompt = if page.contains("value=\"consent\"") {
            "consent"
        } else {
            "login"
        };
        let res = browser
            .post(target)
            .form(&[("prompt", prompt), ("login", login), ("password", "any")])
            .send()
            .await
            .unwrap();
        url = absolute(&url, res.headers()["location"].to_str().unwrap());
    }
    panic!("lost at {url}")
}

/// Signs in at the provider as `login` until the browser is sent back to the app
/// (`http://localhost:3000/…`); returns that URL.
async fn sign_in_at_provider(browser: &reqwest::Client, url: String, login: &str) -> String {
    let (url, status) = walk(browser, url, login, |u| {
        u.starts_with("http://localhost:3000/")
    })
    .await;
    assert_eq!(status, 0, "stopped at {url} before getting back to the app");
    url
}

fn query_param(url: &str, name: &str) -> Option<String> {
    url.split_once('?')?
        .1
        .split('&')
        .find_map(|p| p.strip_prefix(&format!("{name}=")))
        .map(str::to_string)
}

async fn exchange(app: &TestServer, code: &str, verifier: &str, redirect: &str) -> Resp {
    let body = format!(
        "grant_type=authorization_code&code={code}&code_verifier={verifier}&redirect_uri={}&client_id={}&client_secret={}",
        percent_encode(redirect),
        app.project_id,
        app.publishable_client_key
    );
    app.anon()
        .post("/auth/oauth/token")
        .raw("application/x-www-form-urlencoded", &body)
        .send()
        .await
}

/// One whole sign-in as `login` through `provider`; returns the token endpoint's answer.
async fn sign_in(app: &TestServer, base: &str, provider: &str, login: &str) -> Value {
    sign_in_answer(app, base, provider, login).await.expect(200)
}

/// One whole sign-in as `login` through `provider`, up to the token endpoint's answer.
async fn sign_in_answer(app: &TestServer, base: &str, provider: &str, login: &str) -> Resp {
    let verifier = format!(
        "verifier-{}-0123456789012345678901234567890123",
        login.len()
    );
    let browser = browser();
    let back = sign_in_at_provider(
        &browser,
        authorize_url(app, base, provider, APP, &pkce(&verifier)),
        login,
    )
    .await;
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some("app-state-1"),
        "{back}"
    );
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("a code in {back}"));
    exchange(app, &code, &verifier, APP).await
}

async fn sign_up_and_sign_in(backend: Backend) {
    let (app, _oidc, base) = with_provider(backend).await;
    let verifier = "the-sdk-s-verifier-0123456789012345678901234567890";
    let browser = browser();
    let start = authorize_url(&app, &base, "github", APP, &pkce(verifier));
    let first = browser.get(&start).send().await.unwrap();
    assert_eq!(first.status().as_u16(), 307);
    let cookie = first.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.starts_with("stack-oauth-inner-") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let location = first.headers()["location"].to_str().unwrap().to_string();
    for part in [
        "client_id=github",
        "code_challenge_method=S256",
        "nonce=",
        "callback%2Fgithub",
    ] {
        assert!(location.contains(part), "{part} in {location}");
    }
    let back = sign_in_at_provider(&browser, location, "alice@example.com").await;
    let code = query_param(&back, "code").unwrap();
    assert_eq!(query_param(&back, "state").as_deref(), Some("app-state-1"));

    // The code needs the right verifier, and works once.
    exchange(
        &app,
        &code,
        "not-the-verifier-0123456789012345678901234567890",
        APP,
    )
    .await
    .expect_error(400, "INVALID_AUTHORIZATION_CODE");
    let tokens = exchange(&app, &code, verifier, APP).await.expect(200);
    assert_eq!(tokens["is_new_user"], true);
    exchange(&app, &code, verifier, APP)
        .await
        .expect_error(400, "INVALID_AUTHORIZATION_CODE");
    let me = app.me(&tokens).await;
    assert_eq!(me["primary_email"], "alice@example.com");
    assert_eq!(me["primary_email_verified"], true);
    assert_eq!(me["oauth_providers"][0]["id"], "github");
    assert_eq!(me["oauth_providers"][0]["account_id"], "alice@example.com");
    // With a TOTP secret, the code exchange asks for the second factor instead.
    let alice = tokens["user_id"].as_str().unwrap();
    app.server()
        .patch(&format!("/users/{alice}"))
        .json(json!({ "totp_secret_base64": "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=" }))
        .send()
        .await
        .expect(200);
    let mfa = sign_in_answer(&app, &base, "github", "alice@example.com")
        .await
        .expect_error(400, "MULTI_FACTOR_AUTHENTICATION_REQUIRED");
    assert!(mfa["details"]["attempt_code"].is_string());
    app.server()
        .patch(&format!("/users/{alice}"))
        .json(json!({ "totp_secret_base64": null }))
        .send()
        .await
        .expect(200);
    // Tokens of the instance's shared keys are not handed out (the original's rule).
    provider_token(&app, &tokens, "github", None)
        .await
        .expect_error(
            400,
            "OAUTH_ACCESS_TOKEN_NOT_AVAILABLE_WITH_SHARED_OAUTH_KEYS",
        );

    // The same provider account signs in as the same user.
    let again = sign_in(&app, &base, "github", "alice@example.com").await;
    assert_eq!(again["is_new_user"], false);
    assert_eq!(again["user_id"], tokens["user_id"]);

    // Merge strategies (the original's `handleOAuthEmailMergeStrategy`), default `link_method`:
    // a verified address that already signs in links when the provider verified it too.
    let bob = verified_user(&app, "bob@example.com").await;
    let via_google = sign_in(&app, &base, "google", "bob@example.com").await;
    assert_eq!(via_google["user_id"], bob["id"]);
    assert_eq!(via_google["is_new_user"], false);
    // Not when the existing address is unverified, nor when the provider's is: the app is sent
    // the original's error instead.
    app.sign_up("dan@example.com", "password123").await;
    let back = refused_sign_in(&app, &base, "dan@example.com").await;
    assert!(
        back.contains("would_work_if_email_was_verified%22%3Atrue"),
        "{back}"
    );
    verified_user(&app, "unverified-erin@example.com").await;
    refused_sign_in(&app, &base, "unverified-erin@example.com").await;
    // `raise_error` refuses any address that signs in already.
    set_strategy(&app, "raise_error").await;
    refused_sign_in(&app, &base, "bob@example.com").await;
    // `allow_duplicates` makes a new user whose copy of the address does not sign in.
    set_strategy(&app, "allow_duplicates").await;
    let twin = sign_in(&app, &base, "microsoft", "bob@example.com").await;
    assert_eq!(twin["is_new_user"], true);
    assert_ne!(twin["user_id"], bob["id"]);
    let uid = twin["user_id"].as_str().unwrap();
    let user = app
        .server()
        .get(&format!("/users/{uid}"))
        .send()
        .await
        .expect(200);
    assert_eq!(user["primary_email"], "bob@example.com");
    assert_eq!(user["primary_email_auth_enabled"], false);
}

/// A user whose verified email signs in (created by the server).
async fn verified_user(app: &TestServer, email: &str) -> Value {
    app.server()
        .post("/users")
        .json(json!({ "primary_email": email, "primary_email_verified": true, "primary_email_auth_enabled": true }))
        .send()
        .await
        .expect(201)
}

async fn set_strategy(app: &TestServer, strategy: &str) {
    app.configure(json!({ "oauth_account_merge_strategy": strategy }))
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // the project cache's second
}

/// A sign-in the callback refuses: the browser lands on the app's error URL with the original's
/// `CONTACT_CHANNEL_ALREADY_USED_FOR_AUTH_BY_SOMEONE_ELSE`; returns that URL.
async fn refused_sign_in(app: &TestServer, base: &str, login: &str) -> String {
    let code = "CONTACT_CHANNEL_ALREADY_USED_FOR_AUTH_BY_SOMEONE_ELSE";
    refused_with(app, base, "github", login, code).await
}

/// A sign-in through `provider` the callback refuses with the known error `code`: the browser
/// lands on the app's error URL; returns that URL.
async fn refused_with(
    app: &TestServer,
    base: &str,
    provider: &str,
    login: &str,
    code: &str,
) -> String {
    let back = sign_in_at_provider(
        &browser(),
        authorize_url(
            app,
            base,
            provider,
            APP,
            &pkce("v-0123456789012345678901234567890123456789"),
        ),
        login,
    )
    .await;
    assert!(
        back.starts_with("http://localhost:3000/handler/error?"),
        "{back}"
    );
    assert_eq!(
        query_param(&back, "errorCode").as_deref(),
        Some(code),
        "{back}"
    );
    back
}
on_both_backends!(oauth_sign_up_sign_in_and_link, sign_up_and_sign_in);

/// Sign-up rules on OAuth sign-ups (`auth.signUpRules`, seeing `authMethod == "oauth"` and the
/// provider): a rejected sign-up goes back to the app's error URL with SIGN_UP_REJECTED and
/// creates nobody, a `restrict` rule marks the new user, and an existing user is not checked.
async fn sign_up_rules(backend: Backend) {
    let (app, _oidc, base) = with_provider(backend).await;
    let before_rules = sign_in(&app, &base, "github", "early@example.com").await;
    let rules = json!({
        "auth.signUpRules.no-github": {
            "enabled": true, "priority": 2, "action": { "type": "reject" },
            "condition": "authMethod == \"oauth\" && oauthProvider == \"github\"",
        },
        "auth.signUpRules.watch-google": {
            "enabled": true, "priority": 1, "displayName": "Watch Google",
            "condition": "oauthProvider == \"google\" && emailDomain == \"example.com\"",
            "action": { "type": "restrict" },
        },
    });
    app.override_config(rules).await;
    let users = || async {
        let list = app.server().get("/users").send().await.expect(200);
        list["items"].as_array().unwrap().len()
    };
    let count = users().await;
    let back = refused_with(
        &app,
        &base,
        "github",
        "late@example.com",
        "SIGN_UP_REJECTED",
    )
    .await;
    let message = "Your sign up was rejected by an administrator's sign-up rule.";
    assert_eq!(query_param(&back, "message"), Some(percent_encode(message)));
    assert_eq!(users().await, count);
    let again = sign_in(&app, &base, "github", "early@example.com").await;
    assert_eq!(again["user_id"], before_rules["user_id"]);
    let watched = sign_in(&app, &base, "google", "watched@example.com").await;
    let user = app
        .server()
        .get(&format!("/users/{}", watched["user_id"].as_str().unwrap()))
        .send()
        .await
        .expect(200);
    assert_eq!(user["restricted_by_admin"], true);
    assert_eq!(
        user["restricted_by_admin_private_details"],
        "Restricted by sign-up rule: watch-google (Watch Google)"
    );
}
on_both_backends!(oauth_sign_up_rules, sign_up_rules);

/// Asserts `authorize` answers `url` with the known error `code` (status 400).
async fn assert_refused(browser: &reqwest::Client, url: &str, code: &str) {
    let r = browser.get(url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400, "{url}");
    assert_eq!(r.headers()["x-stack-known-error"], code, "{url}");
}

async fn refusals(backend: Backend) {
    let (app, _oidc, base) = with_provider(backend).await;
    let challenge = pkce("v-0123456789012345678901234567890123456789");
    let browser = browser();
    for redirect in [
        "https://evil.example/cb",
        "http://localhost.evil.example:3000/cb",
        "https://example.com.evil.example/cb",
        // A browser reads the host as evil.example (the backslash ends it).
        "http://evil.example\\.localhost/cb",
        "stack-auth-mobile-oauth-url://cb",
    ] {
        let url = authorize_url(&app, &base, "github", redirect, &challenge);
        assert_refused(&browser, &url, "REDIRECT_URL_NOT_WHITELISTED").await;
    }
    let url = authorize_url(&app, &base, "discord", APP, &challenge);
    assert_refused(&browser, &url, "OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED").await;
    let url = authorize_url(&app, &base, "github", APP, &challenge)
        .replace(&app.publishable_client_key, "pck_wrong");
    assert_refused(&browser, &url, "INVALID_OAUTH_CLIENT_ID_OR_SECRET").await;

    // The provider's answer must come back to the browser that started the flow (its cookie),
    // with the state the flow was started with, once.
    let start = browser
        .get(authorize_url(&app, &base, "github", APP, &challenge))
        .send()
        .await
        .unwrap();
    let location = start.headers()["location"].to_str().unwrap().to_string();
    let (callback, _) = walk(&browser, location, "carol@example.com", |u| {
        u.contains("/auth/oauth/callback/")
    })
    .await;
    let elsewhere = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = elsewhere.get(&callback).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("Inner OAuth cookie not found"));
    // That attempt spent the flow: the real browser cannot use it either.
    let r = browser.get(&callback).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r.text().await.unwrap().contains("Invalid OAuth state"));
    let tampered = callback.replace("state=", "state=x");
    let r = browser.get(&tampered).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
}
on_both_backends!(oauth_refusals, refusals);

/// `type=link` with the signed-in user's access token connects the provider account to them;
/// one provider account belongs to one user.
async fn linking(backend: Backend) {
    let (app, _oidc, base) = with_provider(backend).await;
    let frank = app.sign_up("frank@example.com", "password123").await;
    let verifier = "link-verifier-0123456789012345678901234567890123";
    let start = |token: &str| {
        authorize_url(&app, &base, "github", APP, &pkce(verifier))
            .replace("type=authenticate", &format!("type=link&token={token}"))
    };
    let r = browser().get(start("")).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("?token= query parameter is required"));
    let token = frank["access_token"].as_str().unwrap();
    // A link started by someone else (with their own token and PKCE pair) in a victim's
    // browser: the code reaches the victim's app, which cannot exchange it, so nothing is
    // linked — the attacker never gets the victim's provider account.
    let back = sign_in_at_provider(&browser(), start(token), "victim-at-github").await;
    let stolen = query_param(&back, "code").unwrap();
    exchange(
        &app,
        &stolen,
        "the-victim-app-s-own-verifier-01234567890123456789",
        APP,
    )
    .await
    .expect_error(400, "INVALID_AUTHORIZATION_CODE");
    let me = app.me(&frank).await;
    assert_eq!(me["oauth_providers"], json!([]));
    // The app that started the link exchanges its code: now the account is connected.
    let back = sign_in_at_provider(&browser(), start(token), "frank-at-github").await;
    let code = query_param(&back, "code").unwrap();
    let tokens = exchange(&app, &code, verifier, APP).await.expect(200);
    assert_eq!(tokens["user_id"], frank["user_id"]);
    assert_eq!(tokens["is_new_user"], false);
    let me = app.me(&frank).await;
    assert_eq!(me["oauth_providers"][0]["id"], "github");
    assert_eq!(me["oauth_providers"][0]["account_id"], "frank-at-github");
    // Signing in with that provider account is now signing in as frank.
    let again = sign_in(&app, &base, "github", "frank-at-github").await;
    assert_eq!(again["user_id"], frank["user_id"]);
    // Someone else cannot take it over by linking it too.
    let gina = app.sign_up("gina@example.com", "password123").await;
    let back = sign_in_at_provider(
        &browser(),
        start(gina["access_token"].as_str().unwrap()),
        "frank-at-github",
    )
    .await;
    assert_eq!(
        query_param(&back, "errorCode").as_deref(),
        Some("OAUTH_CONNECTION_ALREADY_CONNECTED_TO_ANOTHER_USER"),
        "{back}"
    );

    // `/oauth-providers`: frank sees and switches his own linked account; gina cannot.
    let list = app
        .client()
        .user(&frank)
        .get("/oauth-providers?user_id=me")
        .send()
        .await
        .expect(200);
    let account = &list["items"][0];
    assert_eq!(account["provider_config_id"], "github");
    assert_eq!(account["allow_sign_in"], true);
    assert!(
        account.get("account_id").is_none(),
        "clients do not see account ids"
    );
    let id = account["id"].as_str().unwrap().to_string();
    let frank_id = frank["user_id"].as_str().unwrap();
    let path = format!("/oauth-providers/{frank_id}/{id}");
    app.client()
        .user(&gina)
        .get(&path)
        .send()
        .await
        .expect_text(403, "own user");
    let patched = app
        .client()
        .user(&frank)
        .patch(&path)
        .json(json!({ "allow_sign_in": false }))
        .send()
        .await
        .expect(200);
    assert_eq!(patched["allow_sign_in"], false);
    app.client()
        .user(&frank)
        .patch(&path)
        .json(json!({ "account_id": "someone-else" }))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    let on_server = app.server().get(&path).send().await.expect(200);
    assert_eq!(on_server["account_id"], "frank-at-github");
    app.client()
        .user(&frank)
        .delete(&path)
        .send()
        .await
        .expect(200);
    let me = app.me(&frank).await;
    assert_eq!(me["oauth_providers"], json!([]));
    // The server connects the freed account to gina, once.
    let create = || {
        app.server().post("/oauth-providers").json(json!({
            "user_id": gina["user_id"], "provider_config_id": "github", "account_id": "frank-at-github",
            "email": "frank@example.com", "allow_sign_in": true, "allow_connected_accounts": false
        }))
    };
    let created = create().send().await.expect(201);
    assert_eq!(created["allow_connected_accounts"], false);
    create()
        .send()
        .await
        .expect_error(409, "OAUTH_CONNECTION_ALREADY_CONNECTED_TO_ANOTHER_USER");
    let as_gina = sign_in(&app, &base, "github", "frank-at-github").await;
    assert_eq!(as_gina["user_id"], gina["user_id"]);
}
on_both_backends!(oauth_link_to_signed_in_user, linking);

/// A project's own provider secret is stored sealed (the row never holds it) and never logged.
async fn secrets_at_rest(backend: Backend) {
    let app = TestServer::start(backend).await;
    app.configure(json!({ "oauth_providers": [
            { "id": "google", "type": "standard", "client_id": "g-client", "client_secret": "g-secret-value-123" },
            { "id": "github", "type": "shared" }
        ] })).await;
    let row = db_query_text(
        &app.database_url,
        &format!(
            "SELECT config FROM projects WHERE id = '{}'",
            app.project_id
        ),
    );
    assert!(
        row.contains("g-client") && !row.contains("g-secret-value-123"),
        "{row}"
    );
    // (The admin API shows it to the holder of the admin key, as the original does.)
    assert!(!app.log().contains("g-secret-value-123"));
    // Shared keys with no mock issuer and no instance keys: a clear refusal, not a server error.
    let base = app.base.clone();
    let r = browser()
        .get(authorize_url(
            &app,
            &base,
            "github",
            APP,
            &pkce("v-0123456789012345678901234567890123456789"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(r
        .text()
        .await
        .unwrap()
        .contains("this server has none for it"));
}
on_both_backends!(oauth_provider_secrets_are_sealed, secrets_at_rest);

const REST_PROVIDERS: [&str; 9] = [
    "github",
    "spotify",
    "facebook",
    "discord",
    "gitlab",
    "bitbucket",
    "microsoft",
    "x",
    "twitch",
];

/// A server whose REST-API providers (GitHub, Spotify, …) are the fakes in
/// `tests/sdk/rest-providers.mjs`, configured with the project's own keys.
async fn with_rest_providers(backend: Backend) -> (TestServer, NodeProcess, String, String) {
    let port = free_port();
    let fakes = format!("http://localhost:{port}");
    let opts = Options {
        env: vec![("PORTCULLIS_OAUTH_REROUTE".into(), fakes.clone())],
    };
    let app = TestServer::start_with(backend, opts).await;
    let base = app.base.replace("127.0.0.1", "localhost");
    let fake = start_rest(port).await;
    let providers: Vec<Value> = REST_PROVIDERS
        .iter()
        .map(|p| json!({ "id": p, "type": "standard", "client_id": format!("{p}-client"), "client_secret": format!("{p}-secret") }))
        .collect();
    app.configure(json!({ "oauth_providers": providers })).await;
    (app, fake, base, fakes)
}

/// Providers without OpenID Connect: their OAuth 2 code flow, then their user (and emails)
/// APIs, each read for the fields it documents.
async fn rest_providers(backend: Backend) {
    let (app, _fakes, base, _) = with_rest_providers(backend).await;
    for provider in REST_PROVIDERS {
        let login = format!("hank-{provider}");
        let tokens = sign_in(&app, &base, provider, &login).await;
        assert_eq!(tokens["is_new_user"], true, "{provider}");
        let me = app.me(&tokens).await;
        let (email, verified) = match provider {
            "x" => (Value::Null, false),
            // Providers that do not vouch for the address (the original's choices).
            "spotify" | "facebook" | "microsoft" => (json!(format!("{login}@example.com")), false),
            _ => (json!(format!("{login}@example.com")), true),
        };
        assert_eq!(me["primary_email"], email, "{provider}");
        assert_eq!(me["primary_email_verified"], verified, "{provider}");
        let name = me["display_name"].as_str().unwrap_or_default();
        assert!(
            name.starts_with(&login) && name.ends_with(')'),
            "{provider}: {name}"
        );
        assert_eq!(me["oauth_providers"][0]["id"], provider);
        let again = sign_in(&app, &base, provider, &login).await;
        assert_eq!(again["user_id"], tokens["user_id"], "{provider}");
    }
    // An address the provider did not verify stays unverified, and does not sign in: whoever
    // claims an address at a lax provider must not hold it against its owner.
    let unverified = sign_in(&app, &base, "discord", "unverified-ola").await;
    let me = app.me(&unverified).await;
    assert_eq!(me["primary_email_verified"], false);
    // (So its owner can still sign up with it.)
    app.sign_up("unverified-ola@example.com", "password123")
        .await;

    // A provider that refuses our client secret fails the sign-in, without the secret in logs.
    app.configure(json!({ "oauth_providers": [
            { "id": "github", "type": "standard", "client_id": "github-client", "client_secret": "not-the-secret" }
        ] })).await;
    tokio::time::sleep(Duration::from_millis(1100)).await; // the project cache's second
    let browser = browser();
    let verifier = "v-0123456789012345678901234567890123456789";
    let start = authorize_url(&app, &base, "github", APP, &pkce(verifier));
    let (url, status) = walk(&browser, start, "hank", |u| {
        u.starts_with("http://localhost:3000/")
    })
    .await;
    assert_eq!(status, 502, "{url}");
    assert!(!app.log().contains("not-the-secret"));
}
on_both_backends!(oauth_rest_api_providers, rest_providers);

async fn provider_token(
    app: &TestServer,
    session: &Value,
    path: &str,
    scope: Option<&str>,
) -> Resp {
    let body = match scope {
        Some(s) => json!({ "scope": s }),
        None => json!({}),
    };
    app.client()
        .user(session)
        .post(&format!("/connected-accounts/me/{path}/access-token"))
        .json(body)
        .send()
        .await
}

/// Connected accounts through the REST providers: GitHub's tokens never expire and have no
/// refresh token; Spotify's do. Revoked at the provider, both end in the original's error.
async fn connected_rest(backend: Backend) {
    let (app, _fakes, base, fakes) = with_rest_providers(backend).await;
    let jo = sign_in(&app, &base, "github", "jo").await;
    let listed = app
        .client()
        .user(&jo)
        .get("/connected-accounts/me")
        .send()
        .await
        .expect(200);
    assert_eq!(listed["items"][0]["provider"], "github");
    let account = listed["items"][0]["provider_account_id"]
        .as_str()
        .unwrap()
        .to_string();
    let token = provider_token(&app, &jo, "github", Some("user:email"))
        .await
        .expect(201);
    let token = token["access_token"].as_str().unwrap().to_string();
    // The provider accepts it; it is kept sealed, never in the clear.
    let user = reqwest::Client::new()
        .get(format!("{fakes}/api.github.com/user"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(user.status().as_u16(), 200);
    let rows = db_query_text(&app.database_url, "SELECT * FROM oauth_tokens");
    assert!(
        rows.contains("user:email") && !rows.contains(&token),
        "{rows}"
    );
    // Asked again: the same token, by provider or by provider account.
    let by_account = provider_token(&app, &jo, &format!("github/{account}"), None)
        .await
        .expect(201);
    assert_eq!(by_account["access_token"], token.as_str());
    // A scope never granted, an account or provider not connected.
    provider_token(&app, &jo, "github", Some("repo"))
        .await
        .expect_error(400, "OAUTH_CONNECTION_DOES_NOT_HAVE_REQUIRED_SCOPE");
    provider_token(&app, &jo, "github/123", None)
        .await
        .expect_error(400, "OAUTH_CONNECTION_NOT_CONNECTED_TO_USER");
    provider_token(&app, &jo, "spotify", None)
        .await
        .expect_error(400, "OAUTH_CONNECTION_NOT_CONNECTED_TO_USER");
    provider_token(&app, &jo, "google", None)
        .await
        .expect_error(400, "OAUTH_PROVIDER_NOT_FOUND_OR_NOT_ENABLED");
    // Another user's connected accounts: not with a client key; the server may.
    let kim = app.sign_up("kim@example.com", "password123").await;
    let jo_id = jo["user_id"].as_str().unwrap();
    app.client()
        .user(&kim)
        .post(&format!("/connected-accounts/{jo_id}/github/access-token"))
        .json(json!({}))
        .send()
        .await
        .expect_text(403, "own connected accounts");
    let via_server = app
        .server()
        .post(&format!("/connected-accounts/{jo_id}/github/access-token"))
        .json(json!({}))
        .send()
        .await
        .expect(201);
    assert_eq!(via_server["access_token"], token.as_str());

    // Spotify: its access token expires, a refresh token gets a new one.
    let lu = sign_in(&app, &base, "spotify", "lu").await;
    let first = provider_token(&app, &lu, "spotify", None).await.expect(201);
    let forget_access = reqwest::Client::new();
    // The user revokes the app at both providers: no token is handed out any more.
    for login in ["jo", "lu"] {
        forget_access
            .post(format!("{fakes}/_revoke?login={login}"))
            .send()
            .await
            .unwrap();
    }
    for (who, provider) in [(&jo, "github"), (&lu, "spotify")] {
        provider_token(&app, who, provider, None)
            .await
            .expect_error(400, "OAUTH_CONNECTION_DOES_NOT_HAVE_REQUIRED_SCOPE");
    }
    // Signing in again grants new tokens.
    sign_in(&app, &base, "spotify", "lu").await;
    let renewed = provider_token(&app, &lu, "spotify", None).await.expect(201);
    assert_ne!(renewed["access_token"], first["access_token"]);
    // Turning connected-account access off for the account hides it.
    let accounts = app
        .client()
        .user(&lu)
        .get("/oauth-providers?user_id=me")
        .send()
        .await
        .expect(200);
    let id = accounts["items"][0]["id"].as_str().unwrap();
    app.client()
        .user(&lu)
        .patch(&format!("/oauth-providers/me/{id}"))
        .json(json!({ "allow_connected_accounts": false }))
        .send()
        .await
        .expect(200);
    provider_token(&app, &lu, "spotify", None)
        .await
        .expect_error(400, "OAUTH_CONNECTION_NOT_CONNECTED_TO_USER");
    let listed = app
        .client()
        .user(&lu)
        .get("/connected-accounts/me")
        .send()
        .await
        .expect(200);
    assert_eq!(listed["items"], json!([]));
    assert!(!app.log().contains(token.as_str()));
}
on_both_backends!(oauth_connected_accounts_rest, connected_rest);

/// A generic OpenID Connect provider configured by its issuer URL (Keycloak, Authentik, Okta…)
/// under a name of the project's own.
async fn generic_oidc(backend: Backend) {
    let oidc_port = free_port();
    let app = TestServer::start(backend).await;
    let base = app.base.replace("127.0.0.1", "localhost");
    let _oidc = start_oidc(oidc_port, &base).await;
    let provider = |id: &str, issuer: &str| {
        json!({ "config": { "oauth_providers": [{
            "id": id, "type": "standard", "client_id": "keycloak",
            "client_secret": "MOCK-SERVER-SECRET", "issuer_url": issuer
        }] } })
    };
    let issuer = format!("http://localhost:{oidc_port}");
    for (id, url) in [
        ("github", issuer.as_str()),
        ("Key Cloak", issuer.as_str()),
        ("keycloak", "ftp://idp.example"),
    ] {
        app.admin()
            .patch("/internal/projects/current")
            .json(provider(id, url))
            .send()
            .await
            .expect_error(400, "SCHEMA_ERROR");
    }
    app.admin()
        .patch("/internal/projects/current")
        .json(provider("keycloak", &issuer))
        .send()
        .await
        .expect(200);
    let tokens = sign_in(&app, &base, "keycloak", "ivy@example.com").await;
    assert_eq!(tokens["is_new_user"], true);
    let me = app.me(&tokens).await;
    assert_eq!(me["primary_email"], "ivy@example.com");
    assert_eq!(me["oauth_providers"][0]["id"], "keycloak");

    // Connected account: the provider's access tokens last 4 minutes, inside the 5-minute
    // margin, so each request gets a new one with the (rotating) refresh token.
    let http = reqwest::Client::new();
    let accepted = |token: &Value| {
        http.get(format!("{issuer}/me"))
            .bearer_auth(token.as_str().unwrap())
            .send()
    };
    let first = provider_token(&app, &tokens, "keycloak", Some("email"))
        .await
        .expect(201);
    let second = provider_token(&app, &tokens, "keycloak", None)
        .await
        .expect(201);
    assert_ne!(second["access_token"], first["access_token"]);
    for token in [&first["access_token"], &second["access_token"]] {
        assert_eq!(accepted(token).await.unwrap().status().as_u16(), 200);
    }
    provider_token(&app, &tokens, "keycloak", Some("email calendar"))
        .await
        .expect_error(400, "OAUTH_CONNECTION_DOES_NOT_HAVE_REQUIRED_SCOPE");
    // Revoked at the provider (which revokes the grant's refresh tokens with it): the
    // original's error.
    http.post(format!("{issuer}/token/revocation"))
        .basic_auth("keycloak", Some("MOCK-SERVER-SECRET"))
        .form(&[("token", second["access_token"].as_str().unwrap())])
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap();
    provider_token(&app, &tokens, "keycloak", None)
        .await
        .expect_error(400, "OAUTH_CONNECTION_DOES_NOT_HAVE_REQUIRED_SCOPE");
}
on_both_backends!(oauth_generic_openid_connect_provider, generic_oidc);

/// Cross-domain handoff: a signed-in session (access and refresh token) gets a one-time code for
/// another trusted domain, which exchanges it with its PKCE verifier for a session of its own.
async fn cross_domain(backend: Backend) {
    let app = TestServer::start(backend).await;
    let session = app.sign_up("pat@example.com", "password123").await;
    let verifier = "other-domain-verifier-0123456789012345678901234567";
    let handoff = |redirect: &str, challenge: &str| json!({ "redirect_uri": redirect, "state": "other-state", "code_challenge": challenge });
    let answer = app
        .client()
        .user(&session)
        .post("/auth/oauth/cross-domain/authorize")
        .json(handoff(APP, &pkce(verifier)))
        .send()
        .await
        .expect(200);
    let url = answer["redirect_url"].as_str().unwrap();
    assert!(url.starts_with(APP), "{url}");
    assert_eq!(query_param(url, "state").as_deref(), Some("other-state"));
    let code = query_param(url, "code").unwrap();
    exchange(
        &app,
        &code,
        "a-wrong-verifier-012345678901234567890123456789",
        APP,
    )
    .await
    .expect_error(400, "INVALID_AUTHORIZATION_CODE");
    let tokens = exchange(&app, &code, verifier, APP).await.expect(200);
    assert_eq!(tokens["user_id"], session["user_id"]);
    assert_eq!(tokens["is_new_user"], false);
    assert_ne!(tokens["refresh_token"], session["refresh_token"]);
    exchange(&app, &code, verifier, APP)
        .await
        .expect_error(400, "INVALID_AUTHORIZATION_CODE");
    // Untrusted and look-alike targets, a bad challenge.
    for target in [
        "https://evil.example/cb",
        "http://localhost.evil.example:3000/cb",
        "javascript:alert(1)",
        "http://evil.example\\.localhost/cb",
        // The original's shared native-app scheme: any installed app could catch the code.
        "stack-auth-mobile-oauth-url://done",
    ] {
        app.client()
            .user(&session)
            .post("/auth/oauth/cross-domain/authorize")
            .json(handoff(target, &pkce(verifier)))
            .send()
            .await
            .expect_error(400, "REDIRECT_URL_NOT_WHITELISTED");
    }
    app.client()
        .user(&session)
        .post("/auth/oauth/cross-domain/authorize")
        .json(handoff(APP, "short"))
        .send()
        .await
        .expect_error(400, "SCHEMA_ERROR");
    // The session must be proven with its own refresh token.
    let token_only = json!({ "access_token": session["access_token"] });
    app.client()
        .user(&token_only)
        .post("/auth/oauth/cross-domain/authorize")
        .json(handoff(APP, &pkce(verifier)))
        .send()
        .await
        .expect_text(400, "requires passing the current refresh token");
    let other = app
        .client()
        .post("/auth/password/sign-in")
        .json(json!({ "email": "pat@example.com", "password": "password123" }))
        .send()
        .await
        .expect(200);
    let mixed =
        json!({ "access_token": session["access_token"], "refresh_token": other["refresh_token"] });
    app.client()
        .user(&mixed)
        .post("/auth/oauth/cross-domain/authorize")
        .json(handoff(APP, &pkce(verifier)))
        .send()
        .await
        .expect_text(401, "does not match");
    app.client()
        .post("/auth/oauth/cross-domain/authorize")
        .json(handoff(APP, &pkce(verifier)))
        .send()
        .await
        .expect_error(401, "USER_AUTHENTICATION_REQUIRED");
}
on_both_backends!(oauth_cross_domain_handoff, cross_domain);

/// Sign in with Apple, on the web (Apple answers with a form POST) and from a native app (the
/// app's ID token, checked against the issuer's keys and the project's bundle ids). The local
/// issuer stands in for Apple through `PORTCULLIS_OAUTH_APPLE_ISSUER`, its client `apple` being
/// both the web client and the app's bundle id.
async fn apple(backend: Backend) {
    let oidc_port = free_port();
    let issuer = format!("http://localhost:{oidc_port}");
    let opts = Options {
        env: vec![("PORTCULLIS_OAUTH_APPLE_ISSUER".into(), issuer.clone())],
    };
    let app = TestServer::start_with(backend, opts).await;
    let base = app.base.replace("127.0.0.1", "localhost");
    let _oidc = start_oidc(oidc_port, &base).await;
    let set_bundles = |ids: Value| {
        app.admin().patch("/internal/projects/current").json(
            json!({ "config": { "oauth_providers": [{
                "id": "apple", "type": "standard", "client_id": "apple",
                "client_secret": "MOCK-SERVER-SECRET", "apple_bundle_ids": ids
            }] } }),
        )
    };
    let native = |token: &str| {
        app.client()
            .post("/auth/oauth/callback/apple/native")
            .json(json!({ "id_token": token }))
    };
    set_bundles(json!([])).send().await.expect(200);
    native("x")
        .send()
        .await
        .expect_error(400, "APPLE_BUNDLE_ID_NOT_CONFIGURED");
    set_bundles(json!(["com.example.other", "apple"]))
        .send()
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(1100)).await; // the project cache's second

    // The web flow: `response_mode=form_post`, the callback taking the provider's POST.
    let browser = browser();
    let verifier = "apple-web-verifier-0123456789012345678901234567890";
    let start = authorize_url(&app, &base, "apple", APP, &pkce(verifier));
    let location = browser.get(&start).send().await.unwrap().headers()["location"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(location.contains("response_mode=form_post"), "{location}");
    let (page, status) = walk(&browser, location, "rae@example.com", |u| {
        u.starts_with(&format!("{base}/api/v1/auth/oauth/callback/apple"))
    })
    .await;
    assert_eq!(status, 1, "{page}");
    let field = |name: &str| {
        page.split(&format!("name=\"{name}\" value=\""))
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or_else(|| panic!("{name} in {page}"))
            .to_string()
    };
    let posted = browser
        .post(format!("{base}/api/v1/auth/oauth/callback/apple"))
        .form(&[("code", field("code")), ("state", field("state"))])
        .send()
        .await
        .unwrap();
    let back = posted.headers()["location"].to_str().unwrap().to_string();
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
    let web_user = exchange(&app, &code, verifier, APP).await.expect(200);
    assert_eq!(web_user["is_new_user"], true);

    // The native flow.
    let id_token = native_id_token(&issuer, &base, "quinn@example.com").await;
    let first = native(&id_token).send().await.expect(200);
    assert_eq!(first["is_new_user"], true);
    let me = app.me(&first).await;
    assert_eq!(me["primary_email"], "quinn@example.com");
    assert_eq!(me["oauth_providers"][0]["id"], "apple");
    let again = native(&id_token).send().await.expect(200);
    assert_eq!(again["user_id"], first["user_id"]);
    assert_eq!(again["is_new_user"], false);
    // A forged signature, garbage, and a token for an app that is not the project's.
    let (head, sig) = id_token.rsplit_once('.').unwrap();
    let flipped = if sig.starts_with('A') { "B" } else { "A" };
    for bad in [format!("{head}.{flipped}{}", &sig[1..]), "not-a-jwt".into()] {
        native(&bad)
            .send()
            .await
            .expect_error(400, "INVALID_APPLE_CREDENTIALS");
    }
    // Apple may say `"email_verified": "true"` (a string).
    let stringly = native_id_token(&issuer, &base, "stringly-sam@example.com").await;
    let sam = native(&stringly).send().await.expect(200);
    let me = app.me(&sam).await;
    assert_eq!(me["primary_email_verified"], true);
    set_bundles(json!(["com.example.other"]))
        .send()
        .await
        .expect(200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    native(&id_token)
        .send()
        .await
        .expect_error(400, "INVALID_APPLE_CREDENTIALS");
}
on_both_backends!(oauth_sign_in_with_apple, apple);

/// An ID token the issuer gives its client `apple` for `login`, as a native app gets one: the
/// authorization code flow with PKCE, the code taken from the redirect and exchanged directly.
async fn native_id_token(issuer: &str, base: &str, login: &str) -> String {
    let verifier = "native-app-verifier-0123456789012345678901234567890";
    let redirect = format!("{base}/api/v1/auth/oauth/callback/apple");
    let start = format!(
        "{issuer}/auth?client_id=apple&response_type=code&scope=openid%20email&state=s&nonce=n&code_challenge={}&code_challenge_method=S256&redirect_uri={}",
        pkce(verifier),
        percent_encode(&redirect)
    );
    let (back, status) = walk(&browser(), start, login, |u| u.starts_with(&redirect)).await;
    assert_eq!(status, 0, "{back}");
    let code = query_param(&back, "code").unwrap();
    let answer: Value = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("apple", Some("MOCK-SERVER-SECRET"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["id_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{answer}"))
        .to_string()
}

/// An anonymous user signing in with OAuth for the first time becomes that provider's user,
/// keeping their id and data — only for the app that started the flow (its PKCE verifier).
async fn anonymous_upgrade(backend: Backend) {
    let (app, _oidc, base) = with_provider(backend).await;
    let anon = app
        .client()
        .post("/auth/anonymous/sign-up")
        .send()
        .await
        .expect(200);
    let anon_id = anon["user_id"].as_str().unwrap().to_string();
    app.client()
        .user(&anon)
        .header("x-stack-allow-anonymous-user", "true")
        .patch("/users/me")
        .json(json!({ "client_metadata": { "cart": ["book"] } }))
        .send()
        .await
        .expect(200);
    let token = anon["access_token"].as_str().unwrap();
    let verifier = "anonymous-upgrade-verifier-012345678901234567890123";
    let start = format!(
        "{}&token={token}",
        authorize_url(&app, &base, "google", APP, &pkce(verifier))
    );
    // Started with someone else's anonymous token in a victim's browser: the victim's app
    // cannot exchange the code, and the anonymous user stays anonymous.
    let back = sign_in_at_provider(&browser(), start.clone(), "victim@example.com").await;
    let code = query_param(&back, "code").unwrap();
    exchange(
        &app,
        &code,
        "the-victim-app-s-verifier-0123456789012345678901",
        APP,
    )
    .await
    .expect_error(400, "INVALID_AUTHORIZATION_CODE");
    let still = app
        .server()
        .get(&format!("/users/{anon_id}"))
        .send()
        .await
        .expect(200);
    assert_eq!(still["is_anonymous"], true);
    // The anonymous user's own app: upgraded in place.
    let back = sign_in_at_provider(&browser(), start, "uma@example.com").await;
    let code = query_param(&back, "code").unwrap();
    let tokens = exchange(&app, &code, verifier, APP).await.expect(200);
    assert_eq!(tokens["user_id"], anon_id.as_str());
    assert_eq!(tokens["is_new_user"], true);
    let me = app.me(&tokens).await;
    assert_eq!(me["is_anonymous"], false);
    assert_eq!(me["primary_email"], "uma@example.com");
    assert_eq!(me["client_metadata"], json!({ "cart": ["book"] }));
    assert_eq!(me["oauth_providers"][0]["id"], "google");
    // Signing in again with that provider account is that same user.
    let again = sign_in(&app, &base, "google", "uma@example.com").await;
    assert_eq!(again["user_id"], anon_id.as_str());
}
on_both_backends!(oauth_upgrades_anonymous_user, anonymous_upgrade);

/// Two first sign-ins of one new provider account at the same moment: both land in the app,
/// as the same single user.
async fn racing_first_sign_ins(backend: Backend) {
    let (app, _oidc, base) = with_provider(backend).await;
    let verifier = "racing-verifier-0123456789012345678901234567890123";
    let mut flows = Vec::new();
    for _ in 0..4 {
        let browser = browser();
        let start = authorize_url(&app, &base, "github", APP, &pkce(verifier));
        let (at_callback, status) = walk(&browser, start, "vic@example.com", |u| {
            u.contains("/auth/oauth/callback/")
        })
        .await;
        assert_eq!(status, 0, "{at_callback}");
        flows.push((browser, at_callback));
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (browser, url) in flows {
        tasks.spawn(async move { browser.get(url.as_str()).send().await });
    }
    let answers = tasks.join_all().await;
    let mut users = std::collections::BTreeSet::new();
    for answer in answers {
        let answer = answer.unwrap();
        assert_eq!(answer.status().as_u16(), 303);
        let back = answer.headers()["location"].to_str().unwrap().to_string();
        let code = query_param(&back, "code").unwrap_or_else(|| panic!("{back}"));
        let tokens = exchange(&app, &code, verifier, APP).await.expect(200);
        users.insert(tokens["user_id"].as_str().unwrap().to_string());
    }
    assert_eq!(users.len(), 1, "{users:?}");
}
on_both_backends!(oauth_racing_first_sign_ins, racing_first_sign_ins);
