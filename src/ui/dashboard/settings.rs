//! Dashboard page for a project's auth and email settings: sign-in methods, sign-up, trusted
//! domains, the project's SMTP server (with a test send), and the outbox log.

use super::pages::{error, project_layout};
use super::project::{copyable, notice, scroll, styles};
use super::session::Admin;
use super::{field, html, message_of};
use crate::auth::context::ApiState;
use crate::emails::outbox::{self, NewEmail};
use crate::emails::templates;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::Payments;
use crate::projects::config::EmailConfig;
use crate::projects::update::{self, ProjectUpdate};
use crate::projects::Project;
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new()
        .route(
            "/dashboard/projects/{project_id}/settings",
            get(show).post(save),
        )
        .route(
            "/dashboard/projects/{project_id}/settings/test-email",
            post(test_email),
        )
        .route(
            "/dashboard/projects/{project_id}/settings/oauth",
            post(save_oauth),
        )
}

fn checkbox(name: &str, label: &str, on: bool) -> Markup {
    html! { label { input type="checkbox" name=(name) value="on" checked[on]; " " (label) } }
}

/// What the form shows: the saved settings, or what was just submitted when it was refused.
struct Values {
    checks: [(&'static str, &'static str, bool); 4],
    domains: String,
    smtp: [String; 5],
    /// The hosted pages' primary colour, colour scheme, logo URL and dark-mode logo URL.
    pages: [String; 4],
}

const CHECKS: [(&str, &str); 4] = [
    ("sign_up_enabled", "New users may sign up"),
    ("credential_enabled", "Email and password"),
    ("magic_link_enabled", "Magic link / one-time code"),
    ("allow_localhost", "Allow localhost callback URLs"),
];
const SMTP_FIELDS: [(&str, &str); 5] = [
    ("smtp_host", "SMTP host"),
    ("smtp_port", "Port"),
    ("smtp_username", "Username"),
    ("sender_name", "Sender name"),
    ("sender_email", "Sender email"),
];

const PAGES_FIELDS: [&str; 4] = [
    "primary_color",
    "color_scheme",
    "logo_url",
    "logo_dark_mode_url",
];

impl Values {
    fn saved(project: &Project) -> Values {
        let c = &project.config;
        let on = [
            c.sign_up_enabled,
            c.credential_enabled,
            c.magic_link_enabled,
            c.allow_localhost,
        ];
        let smtp = match &c.email_config {
            EmailConfig::Standard {
                host,
                port,
                username,
                sender_name,
                sender_email,
                ..
            } => [
                host.clone(),
                port.to_string(),
                username.clone(),
                sender_name.clone(),
                sender_email.clone(),
            ],
            EmailConfig::Shared => Default::default(),
        };
        Values {
            checks: std::array::from_fn(|i| (CHECKS[i].0, CHECKS[i].1, on[i])),
            domains: c
                .domains
                .iter()
                .map(|d| d.domain.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            smtp,
            pages: [
                c.pages_theme.primary_color.clone(),
                c.pages_theme.color_scheme.clone(),
                project.logos[0].clone().unwrap_or_default(),
                project.logos[2].clone().unwrap_or_default(),
            ],
        }
    }

    fn submitted(form: &Value) -> Values {
        Values {
            checks: std::array::from_fn(|i| {
                (CHECKS[i].0, CHECKS[i].1, field(form, CHECKS[i].0) == "on")
            }),
            domains: field(form, "domains").to_string(),
            smtp: std::array::from_fn(|i| field(form, SMTP_FIELDS[i].0).to_string()),
            pages: PAGES_FIELDS.map(|name| field(form, name).to_string()),
        }
    }
}

fn page(
    admin: &Admin,
    project: &Project,
    values: &Values,
    outbox: &[outbox::OutboxRow],
    message: Option<&str>,
    done: Option<&str>,
    k: &crate::kernel::Kernel,
) -> Markup {
    let base = format!("/dashboard/projects/{}/settings", project.id);
    let callback_prefix = crate::oauth::provider::callback_url(k, "");
    project_layout(
        "Settings",
        admin,
        project,
        "settings",
        html! {
            (styles())
            div #notice { (notice(done)) }
            div.card {
                h1 { a href={ "/dashboard/projects/" (project.id) } { (project.display_name) } " · Settings" }
                (error(message))
                form method="post" action=(base) {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    h2 { "Sign-in" }
                    @for (name, label, on) in values.checks {
                        (checkbox(name, label, on))
                    }
                    label for="domains" { "Trusted domains (one per line, e.g. https://app.example.com)" }
                    textarea id="domains" name="domains" rows="3" style="width:100%" { (values.domains) }
                    h2 style="margin-top:20px" { "Email server" }
                    p.muted { "Leave the host empty to use the server's default email settings." }
                    @for ((name, label), value) in SMTP_FIELDS.iter().zip(&values.smtp) {
                        label for=(name) { (label) }
                        input id=(name) type="text" name=(name) value=(value);
                    }
                    label for="smtp_password" { "Password (leave empty to keep the current one)" }
                    input id="smtp_password" type="password" name="smtp_password";
                    h2 style="margin-top:20px" { "Hosted pages" }
                    p.muted { "How your users' sign-in and account pages look (" a href={ "/handler/" (project.id) "/sign-in" } { "open them" } ")." }
                    label for="primary_color" { "Primary colour" }
                    input id="primary_color" type="color" name="primary_color" value=(values.pages[0]);
                    label for="color_scheme" { "Appearance" }
                    select id="color_scheme" name="color_scheme" {
                        @for scheme in crate::projects::config::PagesTheme::SCHEMES {
                            option value=(scheme) selected[values.pages[1] == scheme] {
                                (match scheme { "system" => "Follow the visitor's setting", "light" => "Light", _ => "Dark" })
                            }
                        }
                    }
                    label for="logo_url" { "Logo URL (https:, shown in the pages' header)" }
                    input id="logo_url" type="url" name="logo_url" value=(values.pages[2]);
                    label for="logo_dark_mode_url" { "Logo URL for dark mode (optional)" }
                    input id="logo_dark_mode_url" type="url" name="logo_dark_mode_url" value=(values.pages[3]);
                    button type="submit" { "Save settings" }
                }
            }
            div.card {
                h2 { "OAuth providers" }
                p.muted { "With your own keys, register this callback URL (redirect URI) in the provider's console: " code { (callback_prefix) "<provider>" } ". Shared keys are this server's operator's (set as " code { "PORTCULLIS_OAUTH_<PROVIDER>_CLIENT_ID" } " and " code { "_CLIENT_SECRET" } "): sign-in works with them, but apps get no provider access tokens and cannot ask for extra scopes." }
                @if project.config.oauth_providers.is_empty() {
                    p.muted.empty #oauth-providers-empty { "No OAuth provider yet: add one below." }
                }
                (scroll(html! {
                table.wide id="oauth-providers" {
                    tr { th { "Provider" } th { "Keys" } th { "Client ID" } th { "Callback URL" } th {} }
                    @for p in &project.config.oauth_providers {
                        tr {
                            td {
                                (p.id)
                                @if let Some(issuer) = &p.issuer_url { br; small.muted { "OpenID Connect: " (issuer) } }
                            }
                            td {
                                @if p.kind == "shared" {
                                    "shared (the operator's)"
                                    @if !crate::oauth::provider::shared_keys_available(k, &p.id) { br; strong { "none set on this server" } }
                                } @else { "your own" }
                            }
                            td { @if let Some(id) = &p.client_id { (copyable("", "client ID", id)) } }
                            td { (copyable("", "callback URL", &format!("{callback_prefix}{}", p.id))) }
                            td {
                                form.inline method="post" action={ (base) "/oauth" } {
                                    input type="hidden" name="csrf" value=(admin.csrf_token());
                                    input type="hidden" name="op" value="remove";
                                    input type="hidden" name="provider" value=(p.id);
                                    button.danger type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
                }))
                form method="post" action={ (base) "/oauth" } {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    input type="hidden" name="op" value="save";
                    label for="oauth-provider" { "Provider" }
                    select id="oauth-provider" name="provider" {
                        @for id in crate::projects::config::OAUTH_PROVIDERS { option value=(id) { (id) } }
                        option value="oidc" { "Other: any OpenID Connect issuer" }
                    }
                    label for="oauth-oidc-id" { "Name, for another OpenID Connect issuer (lowercase letters, digits, dashes; the SDK signs in with it)" }
                    input id="oauth-oidc-id" type="text" name="oidc_id" placeholder="keycloak";
                    label for="oauth-issuer" { "Issuer URL, for another OpenID Connect issuer" }
                    input id="oauth-issuer" type="url" name="issuer_url" placeholder="https://sso.example.com/realms/main";
                    label for="oauth-type" { "Keys" }
                    select id="oauth-type" name="type" {
                        option value="standard" { "Your own client ID and secret" }
                        option value="shared" { "Shared development keys" }
                    }
                    label for="oauth-client-id" { "Client ID" }
                    input id="oauth-client-id" type="text" name="client_id";
                    label for="oauth-client-secret" { "Client secret (stored encrypted; leave empty to keep the current one)" }
                    input id="oauth-client-secret" type="password" name="client_secret";
                    label for="oauth-tenant" { "Microsoft: tenant ID (empty: any work, school or personal account)" }
                    input id="oauth-tenant" type="text" name="microsoft_tenant_id";
                    label for="oauth-bundles" { "Apple: bundle IDs of your apps, comma-separated (for native Sign in with Apple)" }
                    input id="oauth-bundles" type="text" name="apple_bundle_ids";
                    button type="submit" { "Save provider" }
                }
            }
            div.card {
                h2 { "Send a test email" }
                form method="post" action={ (base) "/test-email" } {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="test_to" { "To" }
                    input id="test_to" type="email" name="to" required;
                    button type="submit" { "Send test email" }
                }
            }
            div.card {
                h2 { "Outbox" }
                @if outbox.is_empty() {
                    p.muted.empty #outbox-empty { "No email sent yet. Emails this project sends are listed here with their status." }
                }
                (scroll(html! {
                table.wide id="outbox" {
                    tr { th { "To" } th { "Subject" } th { "Status" } th { "Attempts" } }
                    @for e in outbox {
                        tr {
                            td { (e.recipient) }
                            td { (e.subject) }
                            td { (e.status) @if let Some(err) = &e.error { br; span.muted { (err) } } }
                            td { (e.attempts) }
                        }
                    }
                }
                }))
            }
        },
    )
}

#[derive(Deserialize)]
struct Notice {
    done: Option<String>,
}

/// The notices a redirect here may name (`?done=<key>`): only these texts are shown.
const DONE: [(&str, &str); 4] = [
    ("saved", "Settings saved."),
    ("test-email", "Test email queued."),
    ("provider-saved", "OAuth provider saved."),
    ("provider-removed", "OAuth provider removed."),
];

fn done_text(key: Option<&str>) -> Option<&'static str> {
    DONE.iter().find(|(k, _)| Some(*k) == key).map(|(_, t)| *t)
}

async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(n): Query<Notice>,
) -> Response {
    let (admin, project) = or_answer!(super::project_context(&state, &headers, &project_id).await);
    match outbox::recent(state.db(), &project.id, 20).await {
        Ok(rows) => html(page(
            &admin,
            &project,
            &Values::saved(&project),
            &rows,
            None,
            done_text(n.done.as_deref()),
            &state,
        )),
        Err(e) => e.into_response(),
    }
}

/// The settings form as the admin API's update body, so the same validation applies.
fn update_from_form(form: &Value, current: &Project) -> ApiResult<ProjectUpdate> {
    let on = |name: &str| field(form, name) == "on";
    let domains: Vec<Value> = field(form, "domains")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|d| json!({ "domain": d, "handler_path": "/handler" }))
        .collect();
    let host = field(form, "smtp_host").trim();
    let email_config = if host.is_empty() {
        json!({ "type": "shared" })
    } else {
        let port: u16 = field(form, "smtp_port").trim().parse().map_err(|_| {
            ApiError::bad_request("The SMTP port must be a number from 0 to 65535.")
        })?;
        let kept = match &current.config.email_config {
            EmailConfig::Standard { password, .. } => password.clone(),
            EmailConfig::Shared => String::new(),
        };
        let password = Some(field(form, "smtp_password"))
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .unwrap_or(kept);
        json!({
            "type": "standard", "host": host, "port": port, "username": field(form, "smtp_username").trim(), "password": password,
            "sender_name": field(form, "sender_name").trim(), "sender_email": field(form, "sender_email").trim(),
        })
    };
    // Fields a form (an older page, a script) did not send keep their saved values.
    let or_saved = |name: &str, saved: &str| match field(form, name) {
        "" => saved.to_string(),
        v => v.to_string(),
    };
    let theme = &current.config.pages_theme;
    let mut body = json!({
        "config": {
            "sign_up_enabled": on("sign_up_enabled"), "credential_enabled": on("credential_enabled"),
            "magic_link_enabled": on("magic_link_enabled"), "allow_localhost": on("allow_localhost"),
            "domains": domains, "email_config": email_config,
            "pages_theme": {
                "primary_color": or_saved("primary_color", &theme.primary_color),
                "color_scheme": or_saved("color_scheme", &theme.color_scheme),
            },
        }
    });
    for logo in ["logo_url", "logo_dark_mode_url"] {
        if let Some(v) = form.get(logo).and_then(Value::as_str) {
            body[logo] = json!(Some(v.trim()).filter(|v| !v.is_empty()));
        }
    }
    serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid settings: {e}")))
}

async fn save(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, mut project) =
        or_answer!(super::form_context(&state, &headers, &project_id, &form).await);
    let result = match update_from_form(&form, &project) {
        Ok(u) => update::apply_and_save(&state, &state.projects, &mut project, u).await,
        Err(e) => Err(e),
    };
    let values = Values::submitted(&form);
    answer_save(&state, &admin, &project, &values, result, "saved").await
}

/// Back to the settings page, or the page again with the refusal beside `values`.
async fn answer_save(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    values: &Values,
    result: ApiResult<()>,
    done: &str,
) -> Response {
    match result {
        Ok(()) => Redirect::to(&format!(
            "/dashboard/projects/{}/settings?done={done}",
            project.id
        ))
        .into_response(),
        Err(e) => {
            let rows = outbox::recent(state.db(), &project.id, 20)
                .await
                .unwrap_or_default();
            let page = page(
                admin,
                project,
                values,
                &rows,
                Some(&message_of(&e)),
                None,
                state,
            );
            (StatusCode::BAD_REQUEST, html(page)).into_response()
        }
    }
}

async fn test_email(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) =
        or_answer!(super::form_context(&state, &headers, &project_id, &form).await);
    let to = crate::users::normalize_email(field(&form, "to"));
    let result: ApiResult<()> = async {
        if !crate::users::is_valid_email(&to) {
            return Err(ApiError::bad_request(
                "Enter a valid email address to send the test to.",
            ));
        }
        let text = format!(
            "This is a test email from {}. If you can read it, email delivery works.",
            project.display_name
        );
        let rendered = templates::Rendered {
            subject: format!("Test email from {}", project.display_name),
            html: templates::layout(
                &project.display_name,
                "Email delivery works",
                &[templates::escape(&text)],
                None,
            ),
            text: format!("{text}\n"),
        };
        let mut conn = state.db().acquire().await?;
        let email = NewEmail {
            project: &project,
            user_id: None,
            recipient: &to,
            to: json!({ "type": "custom-emails", "emails": [to] }),
            template: None,
            variables: json!({}),
            rendered,
            category_id: outbox::TRANSACTIONAL,
        };
        outbox::enqueue(&mut conn, email).await?;
        crate::emails::wake_sender(&state);
        Ok(())
    }
    .await;
    match result {
        Ok(()) => Redirect::to(&format!(
            "/dashboard/projects/{}/settings?done=test-email",
            project.id
        ))
        .into_response(),
        Err(e) => {
            let rows = outbox::recent(state.db(), &project.id, 20)
                .await
                .unwrap_or_default();
            (
                StatusCode::BAD_REQUEST,
                html(page(
                    &admin,
                    &project,
                    &Values::saved(&project),
                    &rows,
                    Some(&message_of(&e)),
                    None,
                    &state,
                )),
            )
                .into_response()
        }
    }
}

/// Adds, replaces or removes one OAuth provider, through the admin API's update and validation.
async fn save_oauth(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, mut project) =
        or_answer!(super::form_context(&state, &headers, &project_id, &form).await);
    let given = |name: &str| Some(field(&form, name).trim().to_string()).filter(|v| !v.is_empty());
    // Another OpenID Connect issuer goes by the name the admin gives it.
    let generic = field(&form, "provider") == "oidc";
    let id = if generic {
        given("oidc_id").unwrap_or_default()
    } else {
        field(&form, "provider").to_string()
    };
    let result: ApiResult<()> = async {
        let mut providers = project.config.oauth_providers.clone();
        let kept = providers.iter().find(|p| p.id == id).cloned();
        providers.retain(|p| p.id != id);
        if field(&form, "op") == "save" {
            let standard = field(&form, "type") == "standard";
            let kept_secret = kept.as_ref().and_then(|p| p.client_secret.clone());
            let bundles: Vec<String> = field(&form, "apple_bundle_ids")
                .split(',')
                .map(|b| b.trim().to_string())
                .filter(|b| !b.is_empty())
                .collect();
            providers.push(crate::projects::config::OAuthProvider {
                id: id.clone(),
                kind: field(&form, "type").to_string(),
                client_id: given("client_id").filter(|_| standard),
                client_secret: given("client_secret").or(kept_secret).filter(|_| standard),
                facebook_config_id: kept.as_ref().and_then(|p| p.facebook_config_id.clone()),
                microsoft_tenant_id: given("microsoft_tenant_id").filter(|_| id == "microsoft"),
                apple_bundle_ids: Some(bundles).filter(|b| id == "apple" && !b.is_empty()),
                issuer_url: given("issuer_url").filter(|_| generic),
            });
        }
        let update: ProjectUpdate =
            serde_json::from_value(json!({ "config": { "oauth_providers": providers } }))
                .map_err(|e| ApiError::bad_request(format!("Invalid provider: {e}")))?;
        update::apply_and_save(&state, &state.projects, &mut project, update).await
    }
    .await;
    let values = Values::saved(&project);
    let done = match field(&form, "op") {
        "save" => "provider-saved",
        _ => "provider-removed",
    };
    answer_save(&state, &admin, &project, &values, result, done).await
}
