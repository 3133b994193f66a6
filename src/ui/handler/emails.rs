//! The account page's emails: each of the user's addresses with what it is (primary, verified,
//! used for sign-in) and what can be done with it — send its verification email, make it
//! primary, use it (or stop using it) for sign-in, remove it — and a form to add one, which is
//! sent its verification email at once; and which notification emails the user wants. Each action goes through `contact_channels::write`, as
//! the API's do, so the page refuses what the API refuses, in its words.

use super::account::after_change;
use super::{page_url, text, SignedIn};
use crate::auth::context::ApiState;
use crate::contact_channels::write::{self, ChannelChange, NewEmail};
use crate::contact_channels::{self, ContactChannel};
use crate::emails::routes::change_preference;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult, ClientIp};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::users::{is_valid_email, normalize_email};
use axum::extract::{FromRef, State};
use axum::response::Response;
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
            "/handler/{project_id}/account-settings/emails",
            post(change_email),
        )
        .route(
            "/handler/{project_id}/account-settings/notifications",
            post(change_notifications),
        )
}

/// The emails card of the account page, with the user's notification preferences.
pub(super) async fn card(
    state: &Kernel,
    project: &Project,
    user_id: &str,
    csrf: &str,
) -> ApiResult<Markup> {
    let emails = contact_channels::list(state.db(), &project.id, Some(user_id), None).await?;
    let preferences = crate::emails::routes::preferences(state, user_id).await?;
    let action = format!("/handler/{}/account-settings/emails", project.id);
    let sign_in_by_email = project.config.credential_enabled || project.config.magic_link_enabled;
    let button = |c: &ContactChannel, what: &str, label: &str, danger: bool| {
        html! {
            form.inline method="post" action=(action) {
                input type="hidden" name="csrf" value=(csrf);
                input type="hidden" name="id" value=(c.id);
                input type="hidden" name="action" value=(what);
                @if danger { button.danger type="submit" { (label) } } @else { button.small type="submit" { (label) } }
            }
        }
    };
    Ok(html! {
        h2.section #emails { "Emails" }
        ul.rows {
            @for c in &emails {
                li {
                    span.value { (c.value) }
                    span.tags {
                        @if c.is_primary { span.tag { "Primary" } }
                        @if c.is_verified { span.tag.ok { "Verified" } } @else { span.tag.warn { "Unverified" } }
                        @if c.used_for_auth { span.tag { "Sign-in" } }
                    }
                    span.actions {
                        @if !c.is_verified { (button(c, "verify", "Send verification email", false)) }
                        @if !c.is_primary { (button(c, "primary", "Make primary", false)) }
                        @if sign_in_by_email {
                            @if c.used_for_auth { (button(c, "no-sign-in", "Stop using for sign-in", false)) }
                            @else { (button(c, "sign-in", "Use for sign-in", false)) }
                        }
                        @if !c.is_primary { (button(c, "remove", "Remove", true)) }
                    }
                }
            }
        }
        @if emails.is_empty() { p.muted { "No email address yet." } }
        form method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value="add";
            label for="new-email" { "Add an email" }
            input #new-email type="email" name="email" autocomplete="email" required;
            button type="submit" { "Add email" }
        }
        h2.section #notifications { "Email notifications" }
        form method="post" action={ "/handler/" (project.id) "/account-settings/notifications" } {
            input type="hidden" name="csrf" value=(csrf);
            @for p in &preferences {
                label {
                    input type="checkbox" name=(p["notification_category_id"].as_str().unwrap_or_default()) value="on"
                        checked[p["enabled"] == true] disabled[p["can_disable"] == false];
                    " " (p["notification_category_name"].as_str().unwrap_or_default())
                    @if p["can_disable"] == false { span.muted { " (always sent: sign-in, security and billing emails)" } }
                }
            }
            button type="submit" { "Save notifications" }
        }
    })
}

/// One of the card's actions; answers which notice the account page shows after it.
async fn apply(
    state: &Kernel,
    project: &Project,
    user_id: &str,
    ip: &ClientIp,
    form: &serde_json::Value,
) -> ApiResult<&'static str> {
    let callback = page_url(state, project, "email-verification");
    let id = text(form, "id");
    let change = |f: fn(&mut ChannelChange)| {
        let mut c = ChannelChange::default();
        f(&mut c);
        c
    };
    let change = match text(form, "action") {
        "add" => {
            let value = text(form, "email").trim();
            if !is_valid_email(value) {
                return Err(ApiError::bad_request("Enter a valid email address."));
            }
            let new = NewEmail {
                value: normalize_email(value),
                used_for_auth: false,
                is_primary: false,
                is_verified: false,
            };
            let channel = write::add(state, &project.id, user_id, new).await?;
            write::send_verification(state, Some(ip), project, &channel, &callback).await?;
            return Ok("email-added");
        }
        "verify" => {
            let channel = contact_channels::find(state.db(), &project.id, user_id, id)
                .await?
                .ok_or_else(|| ApiError::bad_request("Contact channel not found"))?;
            write::send_verification(state, Some(ip), project, &channel, &callback).await?;
            return Ok("verification-sent");
        }
        "remove" => {
            write::remove(state, &project.id, user_id, id).await?;
            return Ok("email-removed");
        }
        "primary" => change(|c| c.is_primary = Some(true)),
        "sign-in" => change(|c| c.used_for_auth = Some(true)),
        "no-sign-in" => change(|c| c.used_for_auth = Some(false)),
        _ => return Err(ApiError::bad_request("Unknown action.")),
    };
    write::change(state, &project.id, user_id, id, change).await?;
    Ok("email")
}

async fn change_email(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let applied = async {
        me.check_csrf(text(&form, "csrf"))?;
        apply(&state, &project, &me.user.id, &ip, &form).await
    }
    .await;
    after_change(&state, &project, &me, applied).await
}

/// Saves the notification preferences: each category that can be turned off is on when ticked.
async fn change_notifications(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let saved = async {
        me.check_csrf(text(&form, "csrf"))?;
        for p in crate::emails::routes::preferences(&state, &me.user.id).await? {
            if p["can_disable"] == true {
                let id = p["notification_category_id"].as_str().unwrap_or_default();
                let on = text(&form, id) == "on";
                change_preference(&state, &project.id, &me.user.id, id, on).await?;
            }
        }
        Ok::<_, ApiError>(())
    }
    .await;
    after_change(&state, &project, &me, saved.map(|_| "notifications")).await
}
