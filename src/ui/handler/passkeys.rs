//! Passkeys on a project's pages (when the project enables them): "Sign in with a passkey" on the
//! sign-in page, and the account page's list of passkeys with add and remove. The browser's part
//! needs WebAuthn, so the buttons stay hidden until `passkeys.js` finds it; the ceremonies are
//! the API's own (`auth::passkey`), with this server's origin as the relying party.

use super::account::after_change;
use super::mfa::finish_sign_in;
use super::session::check_form_token;
use super::{json_answer, refused_sign_in, script_answer, text, ProjectPage, ReturnTo, SignedIn};
use crate::auth::context::ApiState;
use crate::auth::passkey::{
    authentication_options, passkeys_of, register_passkey, registration_options, remove_passkey,
    sign_in_with_passkey,
};
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult, ClientIp};
use crate::kernel::Kernel;
use crate::projects::Project;
use crate::store::iso;
use axum::extract::{FromRef, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use maud::{html, Markup};
use serde_json::Value;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route("/js/passkeys.js", get(script))
        .route(
            "/handler/{project_id}/sign-in/passkey/options",
            post(sign_in_options),
        )
        .route("/handler/{project_id}/sign-in/passkey", post(sign_in))
        .route(
            "/handler/{project_id}/account-settings/passkeys/options",
            post(register_options),
        )
        .route(
            "/handler/{project_id}/account-settings/passkeys",
            post(change_passkeys),
        )
}

async fn script() -> Response {
    script_answer(include_str!("../assets/passkeys.js"))
}

/// The sign-in page's passkey button (hidden until the script finds WebAuthn).
pub(super) fn sign_in_button(project: &Project, token: &str, back: &ReturnTo) -> Markup {
    let base = format!("/handler/{}/sign-in/passkey", project.id);
    html! {
        @if project.config.passkey_enabled {
            form #passkey-sign-in data-passkey="sign-in" hidden method="post" action={ (base) (back.query()) } data-options={ (base) "/options" } {
                input type="hidden" name="form_token" value=(token);
                input type="hidden" name="code";
                input type="hidden" name="response";
                button.secondary type="submit" { "Sign in with a passkey" }
            }
            script src="/js/passkeys.js" defer {}
        }
    }
}

async fn sign_in_options(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    headers: HeaderMap,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let options = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        authentication_options(&state, &project, Some(&ip)).await
    };
    json_answer(options.await)
}

/// Reads the script's JSON answer from the form. Errors: 400 when it is not JSON.
fn response_of(form: &Value) -> ApiResult<Value> {
    serde_json::from_str(text(form, "response"))
        .map_err(|_| ApiError::bad_request("The passkey's answer could not be read. Try again."))
}

async fn sign_in(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let signed_in = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        back.check(&state, &project)?;
        let response = response_of(&form)?;
        let code = text(&form, "code");
        let result = sign_in_with_passkey(&state, &project, Some(&ip), &response, code).await;
        finish_sign_in(&state, &project, &back, &headers, result).await
    }
    .await;
    signed_in.unwrap_or_else(|e| refused_sign_in(&project, &e))
}

/// The account page's passkeys: each with when it was added and last used, and a way to remove
/// it; and the button that adds one.
pub(super) async fn card(
    state: &Kernel,
    project: &Project,
    user_id: &str,
    csrf: &str,
) -> ApiResult<Markup> {
    if !project.config.passkey_enabled {
        return Ok(html! {});
    }
    let passkeys = passkeys_of(state, &project.id, user_id).await?;
    let base = format!("/handler/{}/account-settings/passkeys", project.id);
    let when = |v: &Value| {
        v.as_i64()
            .map(|ms| iso(ms)[..10].to_owned())
            .unwrap_or_else(|| "never".into())
    };
    Ok(html! {
        h2.section #passkeys { "Passkeys" }
        ul.rows {
            @for (i, p) in passkeys.iter().enumerate() {
                li {
                    span.value { "Passkey " (i + 1) }
                    span.muted { "added " (when(&p["created_at_millis"])) ", last used " (when(&p["last_used_at_millis"])) }
                    span.actions {
                        form.inline method="post" action=(base) {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="action" value="remove";
                            input type="hidden" name="id" value=(p["id"].as_str().unwrap_or_default());
                            button.danger type="submit" { "Remove" }
                        }
                    }
                }
            }
        }
        @if passkeys.is_empty() { p.muted { "No passkeys yet. A passkey signs you in with your device's lock instead of a password." } }
        form #passkey-add data-passkey="register" hidden method="post" action=(base) data-options={ (base) "/options" } {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value="add";
            input type="hidden" name="code";
            input type="hidden" name="response";
            button type="submit" { "Add a passkey" }
        }
        script src="/js/passkeys.js" defer {}
    })
}

async fn register_options(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let options = async {
        me.check_csrf(text(&form, "csrf"))?;
        registration_options(&state, &project, Some(&ip), &me.user).await
    };
    json_answer(options.await)
}

async fn change_passkeys(
    State(state): State<ApiState>,
    SignedIn { project, me }: SignedIn,
    ip: ClientIp,
    RawBody(form): RawBody,
) -> Response {
    let result = async {
        me.check_csrf(text(&form, "csrf"))?;
        match text(&form, "action") {
            "add" => {
                let credential = response_of(&form)?;
                let code = text(&form, "code");
                let user = me.user.clone();
                register_passkey(&state, &project, Some(&ip), user, &credential, code).await?;
                Ok("passkey-added")
            }
            "remove" => {
                remove_passkey(&state, &project.id, &me.user.id, text(&form, "id")).await?;
                Ok("passkey-removed")
            }
            _ => Err(ApiError::bad_request("Unknown action.")),
        }
    }
    .await;
    after_change(&state, &project, &me, result).await
}
