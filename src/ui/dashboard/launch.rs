//! The launch checklist page (`/dashboard/projects/{id}/launch`): each check of
//! `projects::launch`, done or open, with what was found and a link to the page that fixes it;
//! email verification can be left off on purpose; and production mode, whose switch lists what
//! is still open when it is turned on.

use super::pages::{error, project_layout};
use super::{answer, field, form_context, message_of};
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::projects::launch::{checks, Check};
use crate::projects::update::{self, ProjectUpdate};
use crate::projects::Project;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::json;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new().route(
        "/dashboard/projects/{project_id}/launch",
        get(show).post(change),
    )
}

fn page(
    admin: &super::session::Admin,
    project: &Project,
    list: &[Check],
    message: Option<&str>,
    notice: Option<&str>,
) -> Markup {
    let base = format!("/dashboard/projects/{}", project.id);
    let done = list.iter().filter(|c| c.done).count();
    let open: Vec<&str> = list.iter().filter(|c| !c.done).map(|c| c.title).collect();
    project_layout(
        "Launch checklist",
        admin,
        project,
        "launch",
        html! {
            div.card {
                h1 { a href=(base) { (project.display_name) } " · Launch checklist" }
                (error(message))
                @if let Some(n) = notice { p.notice #notice role="status" { (n) } }
                p #progress { strong { (done) " of " (list.len()) } " done." }
                ul.rows #checks {
                    @for c in list {
                        li data-check=(c.id) data-done=(c.done) {
                            span.tags { @if c.done { span.tag.ok { "Done" } } @else { span.tag.warn { "Open" } } }
                            span.value { (c.title) }
                            span.muted style="width:100%" { (c.detail) }
                            @if !c.done && !c.fix.is_empty() {
                                @let href = match c.fix.chars().next() {
                                    Some('/') => c.fix.to_owned(),
                                    Some('#') => format!("{base}{}", c.fix),
                                    _ => format!("{base}/{}", c.fix),
                                };
                                a href=(href) { "Fix this →" }
                            }
                            @if c.id == "email_verification" && !c.done {
                                form.inline method="post" {
                                    input type="hidden" name="csrf" value=(admin.csrf_token());
                                    input type="hidden" name="action" value="require-verification";
                                    button.small type="submit" { "Require email verification" }
                                }
                                " "
                                form.inline method="post" {
                                    input type="hidden" name="csrf" value=(admin.csrf_token());
                                    input type="hidden" name="action" value="acknowledge";
                                    input type="hidden" name="check" value=(c.id);
                                    button.small type="submit" { "Keep it off on purpose" }
                                }
                            }
                        }
                    }
                }
            }
            div.card {
                h2 { "Production mode" }
                p { "Production mode is " strong #production { (if project.is_production_mode { "on" } else { "off" }) } "." }
                @if !open.is_empty() && !project.is_production_mode {
                    p.muted { "Still open: " (open.join("; ")) "." }
                }
                form method="post" {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    input type="hidden" name="action" value=(if project.is_production_mode { "production-off" } else { "production-on" });
                    button type="submit" { (if project.is_production_mode { "Turn production mode off" } else { "Turn production mode on" }) }
                }
            }
        },
    )
}

#[derive(Deserialize)]
struct Notice {
    production: Option<String>,
    done: Option<String>,
}

/// The notices a redirect here may name (`?done=<key>`): only these texts are shown.
const DONE: [(&str, &str); 2] = [
    (
        "acknowledged",
        "Email verification stays off, on purpose: that check counts as done.",
    ),
    (
        "verification-required",
        "Email verification is now required.",
    ),
];

async fn show(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    Query(n): Query<Notice>,
) -> Response {
    let (admin, project) = or_answer!(super::project_context(&state, &headers, &project_id).await);
    let list = match checks(&state, &project).await {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let open = list.iter().filter(|c| !c.done).count();
    let notice = match n.production.as_deref() {
        Some("on") if open > 0 => Some(format!(
            "Production mode is on, with {open} check(s) still open: see below."
        )),
        Some("on") => Some("Production mode is on, and every check is done.".to_owned()),
        Some("off") => Some("Production mode is off.".to_owned()),
        _ => DONE
            .iter()
            .find(|(k, _)| Some(*k) == n.done.as_deref())
            .map(|(_, t)| t.to_string()),
    };
    answer(page(&admin, &project, &list, None, notice.as_deref()), None)
}

async fn change(
    State(state): State<ApiState>,
    headers: HeaderMap,
    Path(project_id): Path<String>,
    RawBody(form): RawBody,
) -> Response {
    let (admin, mut project) = or_answer!(form_context(&state, &headers, &project_id, &form).await);
    let (body, next) = match field(&form, "action") {
        "acknowledge" => {
            let mut acknowledged = project.config.launch_acknowledged.clone();
            acknowledged.push(field(&form, "check").to_owned());
            (
                json!({ "config": { "launch_acknowledged": acknowledged } }),
                "?done=acknowledged",
            )
        }
        "require-verification" => (
            json!({ "config": { "require_email_verification": true } }),
            "?done=verification-required",
        ),
        "production-on" => (json!({ "is_production_mode": true }), "?production=on"),
        "production-off" => (json!({ "is_production_mode": false }), "?production=off"),
        _ => (json!({}), ""),
    };
    let result = match serde_json::from_value::<ProjectUpdate>(body) {
        Ok(u) => update::apply_and_save(&state, &state.projects, &mut project, u).await,
        Err(e) => Err(crate::http::ApiError::bad_request(e.to_string())),
    };
    match result {
        Ok(_) => Redirect::to(&format!("/dashboard/projects/{}/launch{next}", project.id))
            .into_response(),
        Err(e) => match checks(&state, &project).await {
            Ok(list) => {
                let message = message_of(&e);
                answer(
                    page(&admin, &project, &list, Some(&message), None),
                    Some(&message),
                )
            }
            Err(e) => e.into_response(),
        },
    }
}
