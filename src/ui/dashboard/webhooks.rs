//! A project's webhooks in the dashboard (`…/webhooks`): its endpoints with their state, a form
//! to add one (the signing secret shown once), and per endpoint a test event, a new secret
//! (shown once), removal, and its latest attempts (`…/webhooks/{id}`). Everything goes through
//! `webhooks::routes`, as the admin API does.

use super::pages::{error, project_layout, when};
use super::project::{copyable, scroll, styles};
use super::session::Admin;
use super::{answer, field, form_context, message_of};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::projects::Project;
use crate::webhooks::routes::{
    attempts_of, create_endpoint, delete_endpoint, endpoints_of, rotate, send_test_event, Create,
};
use crate::webhooks::EVENT_TYPES;
use axum::extract::{FromRef, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/dashboard/projects/{project_id}/webhooks",
            get(show).post(change),
        )
        .route(
            "/dashboard/projects/{project_id}/webhooks/{endpoint_id}",
            get(show_attempts),
        )
}

fn page(
    admin: &Admin,
    project: &Project,
    endpoints: &[Value],
    message: Option<&str>,
    notice: Option<Markup>,
) -> Markup {
    let base = format!("/dashboard/projects/{}", project.id);
    let csrf = admin.csrf_token();
    project_layout(
        "Webhooks",
        admin,
        project,
        "webhooks",
        html! {
            (styles())
            div.card {
                h1 { a href=(base) { (project.display_name) } " · Webhooks" }
                (error(message))
                @if let Some(n) = notice { div.notice #notice role="status" { (n) } }
                @if endpoints.is_empty() { p.muted.empty #endpoints-empty { "No endpoint yet. Add one below; events are signed by the Standard Webhooks scheme." } }
                ul.rows #endpoints {
                    @for e in endpoints {
                        @let id = e["id"].as_str().unwrap_or_default();
                        li {
                            a.value href={ (base) "/webhooks/" (id) } { (e["url"].as_str().unwrap_or_default()) }
                            span.tags {
                                @if e["enabled"] == true { span.tag.ok { "On" } } @else { span.tag.warn { "Off" } }
                                @if e["ordered"] == true { span.tag { "Ordered" } }
                            }
                            span.muted style="width:100%" {
                                @match e["event_types"].as_array().filter(|t| !t.is_empty()) {
                                    Some(types) => { (types.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) }
                                    None => { "All events" }
                                }
                                @if let Some(reason) = e["disabled_reason"].as_str() { " · " (reason) }
                            }
                            span.actions {
                                @for (action, label) in [("test", "Send test event"), ("rotate", "New secret")] {
                                    form.inline method="post" {
                                        input type="hidden" name="csrf" value=(csrf);
                                        input type="hidden" name="action" value=(action);
                                        input type="hidden" name="endpoint_id" value=(id);
                                        button.small type="submit" { (label) }
                                    }
                                }
                                form.inline method="post" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    input type="hidden" name="action" value="delete";
                                    input type="hidden" name="endpoint_id" value=(id);
                                    label { input type="checkbox" name="confirm" value="yes" required; " sure" }
                                    button.danger type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }
            }
            div.card {
                h2 { "Add an endpoint" }
                form method="post" {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="action" value="create";
                    label for="webhook-url" { "URL (https://…)" }
                    input #webhook-url type="url" name="url" required;
                    label for="webhook-description" { "Description" }
                    input #webhook-description type="text" name="description" maxlength="512";
                    fieldset style="border:0;padding:0;margin:12px 0 0" {
                        legend.muted { "Events (none ticked: all)" }
                        @for t in EVENT_TYPES {
                            label style="display:inline-block;margin-right:12px" { input type="checkbox" name={ "type:" (t) } value="on"; " " code { (t) } }
                        }
                    }
                    label { input type="checkbox" name="ordered" value="on"; " Deliver in order (one at a time)" }
                    button type="submit" { "Add endpoint" }
                }
            }
        },
    )
}

async fn answer_page(
    state: &ApiState,
    admin: &Admin,
    project: &Project,
    message: Option<&str>,
    notice: Option<Markup>,
) -> Response {
    match endpoints_of(state, &project.id).await {
        Ok(list) => answer(page(admin, project, &list, message, notice), message),
        Err(e) => e.into_response(),
    }
}

async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
) -> Response {
    let (admin, project) = or_answer!(super::project_context(&state, &headers, &project_id).await);
    answer_page(&state, &admin, &project, None, None).await
}

/// A secret shown once, with a reminder that it will not be again.
fn secret_notice(what: &str, secret: &str) -> Markup {
    html! { (what) " Copy its signing secret now; it is not shown again:" (copyable("webhook-secret", "signing secret", secret)) }
}

async fn change(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let endpoint_id = field(&form, "endpoint_id");
    let done = match field(&form, "action") {
        "create" => {
            let body = Create {
                url: field(&form, "url").trim().to_owned(),
                description: field(&form, "description").trim().to_owned(),
                event_types: EVENT_TYPES
                    .iter()
                    .filter(|t| field(&form, &format!("type:{t}")) == "on")
                    .map(|t| t.to_string())
                    .collect(),
                ordered: field(&form, "ordered") == "on",
            };
            create_endpoint(&state, &project.id, body)
                .await
                .map(|e| secret_notice("Endpoint added.", e["secret"].as_str().unwrap_or_default()))
        }
        "rotate" => rotate(&state, &project.id, endpoint_id)
            .await
            .map(|s| secret_notice("New secret made; the old one no longer signs.", &s)),
        "test" => send_test_event(&state, &project.id, endpoint_id)
            .await
            .map(|r| match r {
                Ok(()) => html! { "The test event was delivered." },
                Err(why) => html! { "The test event was not delivered: " (why) },
            }),
        "delete" if field(&form, "confirm") == "yes" => {
            delete_endpoint(&state, &project.id, endpoint_id)
                .await
                .map(|()| html! { "Endpoint removed." })
        }
        "delete" => Err(crate::http::ApiError::bad_request(
            "Tick “sure” to remove it.",
        )),
        _ => Err(crate::http::ApiError::bad_request("Unknown action.")),
    };
    match done {
        Ok(notice) => answer_page(&state, &admin, &project, None, Some(notice)).await,
        Err(e) => answer_page(&state, &admin, &project, Some(&message_of(&e)), None).await,
    }
}

async fn show_attempts(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path((project_id, endpoint_id)): Path<(String, String)>,
) -> Response {
    let (admin, project) = or_answer!(super::project_context(&state, &headers, &project_id).await);
    let attempts = match attempts_of(&state, &project.id, &endpoint_id).await {
        Ok(a) => a,
        Err(e) => return e.into_response(),
    };
    let base = format!("/dashboard/projects/{}", project.id);
    let body = project_layout(
        "Webhook attempts",
        &admin,
        &project,
        "webhooks",
        html! {
            (styles())
            div.card {
                h1 { a href={ (base) "/webhooks" } { "Webhooks" } " · Attempts" }
                @if attempts.is_empty() { p.muted.empty #attempts-empty { "No attempt yet: each delivery of an event to this endpoint is listed here (test events are not)." } }
                (scroll(html! {
                table.wide #attempts {
                    tr { th { "When" } th { "Event" } th { "Answer" } th { "Time" } }
                    @for a in &attempts {
                        tr {
                            td { (when(a["attempted_at_millis"].as_i64())) }
                            td { code { (a["event_id"].as_str().unwrap_or_default()) } }
                            td {
                                @match a["status_code"].as_i64() {
                                    Some(s) => { (s) " " span.muted { (a["response_excerpt"].as_str().unwrap_or_default().chars().take(120).collect::<String>()) } }
                                    None => { span.muted { (a["error"].as_str().unwrap_or_default()) } }
                                }
                            }
                            td { (a["latency_ms"].as_i64().unwrap_or_default()) " ms" }
                        }
                    }
                }
                }))
            }
        },
    );
    answer(body, None)
}
