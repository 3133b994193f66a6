//! `cli-auth-confirm`: the page a command-line tool sends its user to (with `login_code`). The
//! signed-in user confirms, and the tool's next poll collects a session of its own
//! (`auth::cli`). Signed out, the page sends the user to sign in and come back; opening it
//! completes nothing.

use super::{page, text, SignedIn};
use crate::auth::cli::confirm_login_code;
use crate::auth::context::ApiState;
use crate::http::extract::RawBody;
use crate::ui::dashboard::message_of;
use crate::ui::{error, html};
use axum::extract::{FromRef, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use maud::html;
use serde::Deserialize;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new().route(
        "/handler/{project_id}/cli-auth-confirm",
        get(confirm_page).post(confirm),
    )
}

#[derive(Deserialize)]
struct LoginQuery {
    login_code: Option<String>,
}

async fn confirm_page(SignedIn { project, me }: SignedIn, Query(q): Query<LoginQuery>) -> Response {
    let who = me
        .user
        .primary_email
        .clone()
        .unwrap_or_else(|| me.user.id.clone());
    html(page(
        &project,
        "Sign in to the command line",
        html! {
            h1 { "Sign in to the command line" }
            p { "A command-line tool asks to sign in to " (project.display_name) " as " strong { (who) } "." }
            p.muted { "Confirm only if you started it yourself, just now." }
            form method="post" {
                input type="hidden" name="csrf" value=(me.csrf_token());
                input type="hidden" name="login_code" value=(q.login_code.unwrap_or_default());
                button type="submit" { "Confirm" }
            }
        },
    ))
}

async fn confirm(
    axum::extract::State(state): axum::extract::State<ApiState>,
    SignedIn { project, me }: SignedIn,
    RawBody(form): RawBody,
) -> Response {
    let done = async {
        me.check_csrf(text(&form, "csrf"))?;
        confirm_login_code(
            &state,
            &project,
            text(&form, "login_code"),
            me.refresh_token(),
        )
        .await
    }
    .await;
    match done {
        Ok(()) => html(page(
            &project,
            "Signed in",
            html! {
                h1 { "You are signed in" }
                p.notice role="status" { "Go back to your terminal; the command-line tool is signed in." }
            },
        )),
        Err(e) => {
            let body = page(
                &project,
                "Sign in to the command line",
                html! { h1 { "Sign in to the command line" } (error(Some(&message_of(&e)))) },
            );
            (StatusCode::BAD_REQUEST, html(body)).into_response()
        }
    }
}
