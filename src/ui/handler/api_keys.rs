//! API keys on a project's pages, when the project offers them: the account page's own keys and
//! a team's keys (for members holding `$manage_api_keys`). Each key shows what it is for, its
//! last four characters, its dates and state, and can be revoked; a new key's value is shown
//! once, on the answer to its form (never in a URL), and stored only as a hash.

use super::account::account_answer;
use super::{page, refused, text, SignedIn};
use crate::api_keys::routes::{check_enabled, create_key, keys_of, revoke, NewKey};
use crate::api_keys::{ApiKey, Owner};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::permissions::MANAGE_API_KEYS;
use crate::projects::Project;
use crate::store::{iso, now_ms};
use crate::teams::access::require_member_permission;
use crate::ui::dashboard::message_of;
use crate::ui::html;
use axum::extract::{FromRef, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use maud::{html, Markup};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/handler/{project_id}/account-settings/api-keys",
            post(change_user_keys),
        )
        .route(
            "/handler/{project_id}/teams/{team_id}/api-keys",
            post(change_team_keys),
        )
}

/// Where an owner's keys are managed (the account page, or the team's page).
fn home(project: &Project, owner: Owner, owner_id: &str) -> String {
    match owner {
        Owner::User => format!("/handler/{}/account-settings", project.id),
        Owner::Team => format!("/handler/{}/teams/{owner_id}", project.id),
    }
}

/// The keys card of an owner's page (nothing when the project does not offer such keys).
pub(super) async fn card(
    state: &Kernel,
    project: &Project,
    owner: Owner,
    owner_id: &str,
    csrf: &str,
) -> ApiResult<Markup> {
    if check_enabled(project, owner).is_err() {
        return Ok(html! {});
    }
    let keys = keys_of(state, &project.id, owner, Some(owner_id)).await?;
    let action = format!("{}/api-keys", home(project, owner, owner_id));
    let date = |ms: i64| iso(ms)[..10].to_owned();
    let now = now_ms();
    Ok(html! {
        h2.section #api-keys { "API keys" }
        ul.rows {
            @for k in &keys {
                li {
                    span.value { (k.description) }
                    span.tags {
                        span.tag { "…" (k.last_four) }
                        @if k.revoked_at.is_some() { span.tag.warn { "Revoked" } }
                        @else if k.expires_at.is_some_and(|e| e <= now) { span.tag.warn { "Expired" } }
                        @else { span.tag.ok { "Active" } }
                    }
                    span.muted {
                        "created " (date(k.created_at))
                        @if let Some(e) = k.expires_at { ", expires " (date(e)) }
                    }
                    @if k.revoked_at.is_none() {
                        span.actions {
                            form.inline method="post" action=(action) {
                                input type="hidden" name="csrf" value=(csrf);
                                input type="hidden" name="action" value="revoke";
                                input type="hidden" name="id" value=(k.id);
                                button.danger type="submit" { "Revoke" }
                            }
                        }
                    }
                }
            }
        }
        @if keys.is_empty() { p.muted { "No API keys yet." } }
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value="create";
            label for="api-key-description" { "New key's purpose" }
            input #api-key-description type="text" name="description" maxlength="256" required;
            label for="api-key-expiry" { "Expires" }
            select #api-key-expiry name="expires_in_days" {
                option value="30" { "In 30 days" }
                option value="90" selected { "In 90 days" }
                option value="365" { "In a year" }
                option value="never" { "Never" }
            }
            button type="submit" { "Create API key" }
        }
    })
}

/// Creates or revokes one of the owner's keys; a new key's page shows its value once.
async fn apply(
    state: &Kernel,
    project: &Project,
    owner: Owner,
    owner_id: &str,
    form: &serde_json::Value,
) -> ApiResult<Response> {
    check_enabled(project, owner)?;
    match text(form, "action") {
        "create" => {
            let description = text(form, "description").trim();
            if description.is_empty() || description.chars().count() > 256 {
                return Err(ApiError::bad_request(
                    "Describe the key in 1 to 256 characters.",
                ));
            }
            let expires_at = match text(form, "expires_in_days") {
                "never" => None,
                days => match days.parse::<i64>() {
                    Ok(d @ 1..=3650) => Some(now_ms() + d * 86_400_000),
                    _ => return Err(ApiError::bad_request("Choose when the key expires.")),
                },
            };
            let new = NewKey {
                description: description.to_owned(),
                expires_at,
                is_public: false,
            };
            let (key, value) = create_key(state, &project.id, owner, owner_id, new).await?;
            Ok(html(created_page(
                project,
                &key,
                &value,
                &home(project, owner, owner_id),
            )))
        }
        "revoke" => {
            let id = text(form, "id");
            let mut key = keys_of(state, &project.id, owner, Some(owner_id))
                .await?
                .into_iter()
                .find(|k| k.id == id)
                .ok_or_else(|| ApiError::bad_request("API key not found."))?;
            revoke(state, &mut key).await?;
            Ok(
                Redirect::to(&format!("{}#api-keys", home(project, owner, owner_id)))
                    .into_response(),
            )
        }
        _ => Err(ApiError::bad_request("Unknown action.")),
    }
}

fn created_page(project: &Project, key: &ApiKey, value: &str, back: &str) -> Markup {
    page(
        project,
        "API key created",
        html! {
            h1 { "API key created" }
            p { "Copy the key for " strong { (key.description) } " now: it is not shown again." }
            p { code #new-api-key { (value) } }
            p { a href=(back) { "Done" } }
        },
    )
}

async fn change_user_keys(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let result = async {
        me.check_csrf(text(&form, "csrf"))?;
        apply(&state, &project, Owner::User, &me.user.id, &form).await
    }
    .await;
    match result {
        Ok(answer) => answer,
        Err(e) => account_answer(&state, &project, &me, Some(&message_of(&e))).await,
    }
}

async fn change_team_keys(
    State(state): State<ApiState>,
    Path((_, team_id)): Path<(String, String)>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let result = async {
        me.check_csrf(text(&form, "csrf"))?;
        crate::teams::check_team_id(&team_id)?;
        let permission = Some(MANAGE_API_KEYS);
        require_member_permission(state.db(), &project.id, &team_id, &me.user.id, permission)
            .await?;
        apply(&state, &project, Owner::Team, &team_id, &form).await
    }
    .await;
    result.unwrap_or_else(|e| refused(&project, "Team", &e))
}
