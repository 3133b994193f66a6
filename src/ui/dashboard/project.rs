//! A project's overview page: counts, the API key sets (create — keys shown once — and revoke),
//! links to the other pages, and deleting the project (the name must be typed to confirm).

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
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use std::sync::Arc;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    Router::new()
        .route("/dashboard/projects/{project_id}", get(show))
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
    match overview(state, project).await {
        Ok(o) => super::answer(page(admin, project, &o, created, message), message),
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
    created: Option<&NewKeySet>,
    message: Option<&str>,
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
            div.card {
                h1 { (project.display_name) }
                table {
                    tr { th { "Project ID" } td { code { (project.id) } } }
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
                div.card.keys {
                    h2 { "New API keys" }
                    p { "Copy these keys now — they are shown only once." }
                    table {
                        tr { th { "Publishable client key" } td { code id="new-publishable-key" { (keys.publishable_client_key) } } }
                        tr { th { "Secret server key" } td { code id="new-secret-key" { (keys.secret_server_key) } } }
                        tr { th { "Super secret admin key" } td { code { (keys.super_secret_admin_key) } } }
                    }
                }
            }
            div.card {
                h2 { "API keys" }
                (error(message))
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

async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Response {
    let (admin, project) = or_answer!(project_context(&state, &headers, &project_id).await);
    render(&state, &admin, &project, None, None).await
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
        Ok(created) => render(&state, &admin, &project, Some(&created), None).await,
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
        Ok(true) => Redirect::to(&format!("/dashboard/projects/{}", project.id)).into_response(),
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
            Redirect::to("/dashboard").into_response()
        }
        Err(e) => e.into_response(),
    }
}
