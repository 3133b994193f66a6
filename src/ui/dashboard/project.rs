//! A project's overview page: counts, the API key sets (create — keys shown once, in the
//! quick-start panel — and revoke), links to the other pages, and deleting the project (the name
//! must be typed to confirm). Also the pieces the users, teams and project pages share: the
//! quick-start panel with its copy buttons (`assets/copy.js`), notices, and tables that scroll
//! inside their card on a narrow screen.

use super::pages::{error, project_layout};
use super::session::Admin;
use super::{field, form_context, message_of, project_context};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::payments::Payments;
use crate::projects::keys::{self, KeySetInfo, NewKeySet};
use crate::projects::{self, Project};
use crate::store::iso;
use crate::store::now_ms;
use axum::extract::FromRef;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new()
        .route("/dashboard/projects/{project_id}", get(show))
        .route("/dashboard/assets/copy.js", get(copy_script))
        .route("/dashboard/projects/{project_id}/keys", post(create_keys))
        .route(
            "/dashboard/projects/{project_id}/keys/{key_set_id}/revoke",
            post(revoke_keys),
        )
        .route("/dashboard/projects/{project_id}/delete", post(delete))
}

const DAY_MS: i64 = 86_400_000;

struct Overview {
    users: i64,
    sign_ups_7d: i64,
    sign_ups_30d: i64,
    key_sets: Vec<KeySetInfo>,
}

async fn overview(state: &Kernel, project: &Project) -> ApiResult<Overview> {
    let since = |days: i64| now_ms() - days * DAY_MS;
    let (users, [week, month]) =
        crate::users::sign_up_counts(state.db(), &project.id, [since(7), since(30)]).await?;
    Ok(Overview {
        users,
        sign_ups_7d: week,
        sign_ups_30d: month,
        key_sets: keys::list_key_sets(state.db(), &project.id).await?,
    })
}

async fn render(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    created: Option<&NewKeySet>,
    message: Option<&str>,
) -> Response {
    render_with(state, admin, project, created, message, None).await
}

async fn render_with(
    state: &Kernel,
    admin: &Admin,
    project: &Project,
    created: Option<&NewKeySet>,
    message: Option<&str>,
    done: Option<&str>,
) -> Response {
    let base_url = state.public_url.trim_end_matches('/');
    match overview(state, project).await {
        Ok(o) => super::answer(
            page(admin, project, &o, (created, base_url), message, done),
            message,
        ),
        Err(e) => e.into_response(),
    }
}

fn day(ms: i64) -> String {
    iso(ms)[..10].to_string()
}

fn page(
    admin: &Admin,
    project: &Project,
    o: &Overview,
    (created, base_url): (Option<&NewKeySet>, &str),
    message: Option<&str>,
    done: Option<&str>,
) -> Markup {
    let here = format!("/dashboard/projects/{}", project.id);
    let csrf = admin.csrf_token();
    let now = now_ms();
    project_layout(
        &project.display_name,
        admin,
        project,
        "",
        html! {
            (styles())
            (notice(done))
            div.card {
                h1 { (project.display_name) }
                table {
                    tr { th { "Project ID" } td { (copyable("overview-project-id", "Project ID", &project.id)) } }
                    tr { th { "Users" } td id="user-count" { (o.users) } }
                    tr { th { "Sign-ups, last 7 / 30 days" } td id="sign-ups" { (o.sign_ups_7d) " / " (o.sign_ups_30d) } }
                    tr { th { "Password sign-in" } td { (if project.config.credential_enabled { "on" } else { "off" }) } }
                    tr { th { "Sign-up" } td { (if project.config.sign_up_enabled { "open" } else { "closed" }) } }
                }
                p {
                    @for (path, label) in [("users", "Users"), ("teams", "Teams"), ("permissions", "Permissions"), ("settings", "Settings"), ("payments", "Payments"), ("webhooks", "Webhooks"), ("launch", "Launch checklist")] {
                        a href={ (here) "/" (path) } { (label) " →" } " "
                    }
                }
            }
            @if let Some(keys) = created {
                (quick_start(&project.id, keys, base_url, "new-"))
            }
            div.card {
                h2 { "API keys" }
                (error(message))
                @if o.key_sets.is_empty() { p.muted.empty { "No API keys. Create a set below to connect an app." } }
                div.scroll {
                table id="key-sets" {
                    tr { th { "Description" } th { "Created" } th { "Status" } th {} }
                    @for k in &o.key_sets {
                        tr {
                            td { (k.description) }
                            td.muted { (day(k.created_at)) }
                            td {
                                @if let Some(at) = k.revoked_at { "revoked " (day(at)) }
                                @else if k.expires_at <= now { "expired" }
                                @else if k.expires_at < keys::NEVER { "expires " (day(k.expires_at)) }
                                @else { "active" }
                            }
                            td {
                                @if k.revoked_at.is_none() && k.expires_at > now {
                                    form.inline method="post" action={ (here) "/keys/" (k.id) "/revoke" } {
                                        input type="hidden" name="csrf" value=(csrf);
                                        label { input type="checkbox" name="confirm" value="yes"; " sure" }
                                        button.danger type="submit" { "Revoke" }
                                    }
                                }
                            }
                        }
                    }
                }
                }
                form method="post" action={ (here) "/keys" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="key-description" { "Description" }
                    input id="key-description" type="text" name="description" required maxlength="256";
                    label for="key-days" { "Expires after (days; empty for never)" }
                    input id="key-days" type="text" name="expires_in_days" inputmode="numeric";
                    button type="submit" { "Create API keys" }
                }
            }
            div.card {
                h2 { "Delete project" }
                p.muted { "Deletes its users, teams, payments and keys for good. Type the project's name to confirm." }
                form method="post" action={ (here) "/delete" } {
                    input type="hidden" name="csrf" value=(csrf);
                    input id="delete-confirm" type="text" name="confirm" placeholder=(project.display_name);
                    button.danger type="submit" style="margin-top:10px;padding:9px 16px" { "Delete project" }
                }
            }
        },
    )
}

#[derive(serde::Deserialize)]
struct DoneParams {
    done: Option<String>,
}

async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(q): Query<DoneParams>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    let done = match q.done.as_deref() {
        Some("revoked") => Some("API keys revoked: apps using them are refused from now on."),
        _ => None,
    };
    render_with(&state, &admin, &project, None, None, done).await
}

async fn create_keys(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let result: ApiResult<NewKeySet> = async {
        let description = field(&form, "description").trim();
        if description.is_empty() || description.chars().count() > 256 {
            return Err(ApiError::bad_request(
                "Describe the keys in 1 to 256 characters.",
            ));
        }
        let expires_at = match field(&form, "expires_in_days").trim() {
            "" => keys::NEVER,
            days => match days.parse::<i64>() {
                Ok(d) if (1..=3650).contains(&d) => now_ms() + d * DAY_MS,
                _ => {
                    return Err(ApiError::bad_request(
                        "Expiry must be 1 to 3650 days, or empty.",
                    ))
                }
            },
        };
        let mut conn = state.db().acquire().await?;
        Ok(keys::insert_key_set(
            &mut conn,
            &project.id,
            description,
            keys::generate_keys(),
            expires_at,
        )
        .await?)
    }
    .await;
    match result {
        Ok(created) => {
            let done = Some("API keys created. Copy them now: they are shown only once.");
            render_with(&state, &admin, &project, Some(&created), None, done).await
        }
        Err(e) => render(&state, &admin, &project, None, Some(&message_of(&e))).await,
    }
}

async fn revoke_keys(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((project_id, key_set_id)): Path<(String, String)>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    if field(&form, "confirm") != "yes" {
        let message = "Tick “sure” to revoke the keys.";
        return render(&state, &admin, &project, None, Some(message)).await;
    }
    match keys::revoke_key_set(state.db(), &project.id, &key_set_id).await {
        Ok(true) => {
            state.projects.forget_verified_keys(&project.id);
            Redirect::to(&format!("/dashboard/projects/{}?done=revoked", project.id))
                .into_response()
        }
        Ok(false) => render(&state, &admin, &project, None, Some("No such active keys.")).await,
        Err(e) => ApiError::from(e).into_response(),
    }
}

async fn delete(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    if field(&form, "confirm").trim() != project.display_name {
        let message = "Type the project's name exactly to delete it.";
        return render(&state, &admin, &project, None, Some(message)).await;
    }
    match projects::delete(state.db(), &project.id).await {
        Ok(()) => {
            state.projects.forget(&project.id);
            Redirect::to("/dashboard?done=project-deleted").into_response()
        }
        Err(e) => e.into_response(),
    }
}

// ---- Shared by the users, teams and project pages -------------------------------------------

/// The copy buttons' script (their style, and that of the pieces below, is in the shared
/// stylesheet, `crate::ui::STYLE`); once per page.
pub(crate) fn styles() -> Markup {
    html! {
        script src="/dashboard/assets/copy.js" defer {}
    }
}

/// A long value (an id, a key) on one line, cut with an ellipsis when narrow, and its copy
/// button. `id`: the value element's id (its last attribute, so `id="…">value` reads it),
/// or empty for a bare `<code>value</code>`.
pub(crate) fn copyable(id: &str, label: &str, value: &str) -> Markup {
    html! {
        div.qs-row {
            @if id.is_empty() { code { (value) } } @else { code title=(value) id=(id) { (value) } }
            button.copy type="button" data-copy=(value) aria-label={ "Copy " (label) } { "Copy" }
        }
    }
}

/// An action's success notice, announced to screen readers.
pub(crate) fn notice(done: Option<&str>) -> Markup {
    html! { @if let Some(d) = done { p.notice role="status" { (d) } } }
}

/// A table (or anything wide) that scrolls inside its card rather than the page sideways.
pub(crate) fn scroll(inner: Markup) -> Markup {
    html! { div.scroll { (inner) } }
}

/// `copy.js`: the copy buttons of the quick-start panel.
async fn copy_script() -> Response {
    (
        [
            ("content-type", "text/javascript; charset=utf-8"),
            ("cache-control", "public, max-age=300"),
        ],
        include_str!("../assets/copy.js"),
    )
        .into_response()
}

/// The `.env` lines an app needs for this project (Next.js names, as the original's docs).
pub(crate) fn env_block(project_id: &str, keys: &NewKeySet, base_url: &str) -> String {
    format!(
        "NEXT_PUBLIC_STACK_API_URL={base_url}\n\
         NEXT_PUBLIC_STACK_PROJECT_ID={project_id}\n\
         NEXT_PUBLIC_STACK_PUBLISHABLE_CLIENT_KEY={}\n\
         STACK_SECRET_SERVER_KEY={}\n",
        keys.publishable_client_key, keys.secret_server_key
    )
}

/// A Node script (`@stackframe/js`) that talks to this server as the project's backend.
pub(crate) fn snippet(project_id: &str, keys: &NewKeySet, base_url: &str) -> String {
    format!(
        "import {{ StackServerApp }} from \"@stackframe/js\";\n\
         \n\
         const stack = new StackServerApp({{\n\
         \x20 baseUrl: \"{base_url}\",\n\
         \x20 projectId: \"{project_id}\",\n\
         \x20 publishableClientKey: \"{}\",\n\
         \x20 secretServerKey: \"{}\",\n\
         \x20 tokenStore: \"memory\",\n\
         }});\n\
         \n\
         const users = await stack.listUsers();\n\
         console.log(`Connected: ${{users.length}} user(s) in the project`);\n",
        keys.publishable_client_key, keys.secret_server_key
    )
}

/// The keys of a new key set with what to do next: each id and key with a copy button (long
/// values end in an ellipsis instead of wrapping), the `.env` block, and a runnable
/// `@stackframe/js` script using this server (`base_url`). `ids`: a prefix of the elements' ids.
pub(crate) fn quick_start(project_id: &str, keys: &NewKeySet, base_url: &str, ids: &str) -> Markup {
    let fields = [
        ("project-id", "Project ID", project_id),
        (
            "publishable-key",
            "Publishable client key",
            keys.publishable_client_key.as_str(),
        ),
        (
            "secret-key",
            "Secret server key",
            keys.secret_server_key.as_str(),
        ),
        (
            "admin-key",
            "Super secret admin key",
            keys.super_secret_admin_key.as_str(),
        ),
    ];
    let env = env_block(project_id, keys, base_url);
    let code = snippet(project_id, keys, base_url);
    html! {
        section.card.keys.quick-start aria-labelledby={ (ids) "quick-start-title" } {
            h2 id={ (ids) "quick-start-title" } { "Quick start" }
            p { strong { "Copy these keys now — they are shown only once." } " The secret and admin keys are for servers only." }
            @for (id, label, value) in fields {
                div.qs-field {
                    span.qs-label id={ (ids) (id) "-label" } { (label) }
                    // The project id in a bare `<code>` right after its label, as scripts read it.
                    (copyable(&if id == "project-id" { String::new() } else { format!("{ids}{id}") }, label, value))
                }
            }
            div.block-head {
                h3 { ".env.local" }
                button.copy type="button" data-copy=(env) aria-label="Copy the .env block" { "Copy" }
            }
            pre.block id={ (ids) "env-block" } { (env) }
            div.block-head {
                h3 { "Next step: connect from code" }
                button.copy type="button" data-copy=(code) aria-label="Copy the script" { "Copy" }
            }
            ol.steps {
                li { code { "npm install @stackframe/js" } }
                li { "Save this as " code { "try-portcullis.mjs" } " and run " code { "node try-portcullis.mjs" } ":" }
            }
            pre.block id={ (ids) "snippet" } { (code) }
            p.muted { "In a Next.js app, put the .env block in " code { ".env.local" } " and follow the Stack Auth setup; the SDKs read these names." }
            p.muted id={ (ids) "copy-status" } aria-live="polite" {}
        }
    }
}

/// What a page says about the last action: its success notice, or the refusal beside the
/// form (`section`) it came from, with what was typed there (`drafts`).
#[derive(Default, Clone, Copy)]
pub(crate) struct Outcome<'a> {
    pub done: Option<&'a str>,
    failed: Option<(&'static str, &'a str)>,
    drafts: Option<&'a Value>,
}

impl<'a> Outcome<'a> {
    pub fn done(done: Option<&'a str>) -> Self {
        Outcome {
            done,
            ..Default::default()
        }
    }

    pub fn failed(section: &'static str, message: &'a str, drafts: &'a Value) -> Self {
        Outcome {
            done: None,
            failed: Some((section, message)),
            drafts: Some(drafts),
        }
    }

    /// The refusal, wherever it is shown.
    pub fn refusal(&self) -> Option<&'a str> {
        self.failed.map(|(_, m)| m)
    }

    /// The refusal to show in `section`, if it failed there.
    pub fn error_in(&self, section: &str) -> Markup {
        error(self.failed.filter(|(s, _)| *s == section).map(|(_, m)| m))
    }

    /// What was typed in `name` on the refused form, else `current`.
    pub fn draft(&self, name: &str, current: impl FnOnce() -> String) -> String {
        self.drafts
            .and_then(|d| d.get(name))
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(current)
    }
}
