//! Signing in with an OAuth provider on a project's pages. The sign-in page's button starts the
//! same flow an app's SDK starts (`oauth::authorize::start`), with this page as the app: its
//! callback is `oauth-callback`, and its PKCE verifier, state and the app's return stay in an
//! HttpOnly cookie of the project's pages until the provider sends the browser back. There the
//! authorization code is redeemed as the token endpoint would, and the sign-in ends like every
//! other (the TOTP step included).

use super::mfa::finish_sign_in;
use super::session::check_form_token;
use super::{page_url, refused_sign_in, text, ProjectPage, ReturnTo};
use crate::auth::context::ApiState;
use crate::crypto::secret::random_base32;
use crate::http::extract::RawBody;
use crate::http::{ApiError, ApiResult};
use crate::oauth::authorize::{self, Flow};
use crate::oauth::token::redeem_code;
use crate::projects::Project;
use crate::ui::cookie;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

const FLOW: &str = "portcullis_oauth";
/// As long as the API's own flow may take at the provider.
const FLOW_SECS: i64 = authorize::OUTER_FLOW_MS / 1000;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new()
        .route(
            "/handler/{project_id}/sign-in/oauth/{provider_id}",
            post(begin),
        )
        .route("/handler/{project_id}/oauth-callback", get(callback))
}

/// A provider's name as its button says it.
fn provider_name(id: &str) -> String {
    match id {
        "github" => "GitHub".into(),
        "gitlab" => "GitLab".into(),
        "linkedin" => "LinkedIn".into(),
        "x" => "X".into(),
        other => {
            let mut chars = other.chars();
            chars
                .next()
                .map(|c| c.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// The sign-in and sign-up pages' buttons: one per provider the project enables, each a form
/// (so no other site can start a sign-in in this browser), keeping where the app asked to return.
pub(super) fn buttons(project: &Project, token: &str, back: &ReturnTo) -> Markup {
    html! {
        @if !project.config.oauth_providers.is_empty() {
            div.oauth {
                @for p in project.config.sorted_providers() {
                    form method="post" action={ "/handler/" (project.id) "/sign-in/oauth/" (p.id) (back.query()) } {
                        input type="hidden" name="form_token" value=(token);
                        button.secondary type="submit" { "Continue with " (provider_name(&p.id)) }
                    }
                }
            }
        }
    }
}

/// What the callback needs from the start, kept in the browser (HttpOnly) until it comes back.
#[derive(Serialize, Deserialize)]
struct Pending {
    state: String,
    verifier: String,
    back: ReturnTo,
}

fn flow_cookie(
    state: &crate::kernel::Kernel,
    project: &Project,
    value: &str,
    max_age: i64,
) -> String {
    let attributes = super::session::attributes(state, project, "Lax", max_age);
    format!("{FLOW}={value}; {attributes}")
}

async fn begin(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Path((_, provider_id)): Path<(String, String)>,
    Query(back): Query<ReturnTo>,
    headers: HeaderMap,
    RawBody(form): RawBody,
) -> Response {
    let started = async {
        check_form_token(&headers, text(&form, "form_token"))?;
        back.check(&state, &project)?;
        // RFC 7636 §4.1: 43 to 128 characters; 52 base32 characters carry 260 bits.
        let verifier = random_base32(52);
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let pending = Pending {
            state: random_base32(32),
            verifier,
            back,
        };
        let flow = Flow {
            redirect_uri: page_url(&state, &project, "oauth-callback"),
            state: pending.state.clone(),
            code_challenge: challenge,
            link: false,
            token: None,
            provider_scope: None,
            error_redirect_url: Some(page_url(&state, &project, "error")),
            after_callback_redirect_url: None,
            json_mode: false,
        };
        let mut res = authorize::start(&state, &project, &provider_id, flow).await?;
        // A form was posted: the browser goes on to the provider with a GET.
        *res.status_mut() = StatusCode::SEE_OTHER;
        let value = URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(&pending).map_err(|e| ApiError::Internal(e.into()))?);
        let set = flow_cookie(&state, &project, &value, FLOW_SECS);
        res.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&set).map_err(|e| ApiError::Internal(e.into()))?,
        );
        Ok::<_, ApiError>(res)
    }
    .await;
    started.unwrap_or_else(|e| refused_sign_in(&project, &e))
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
}

/// Errors: a 400 when the browser holds no flow for this state (started elsewhere, expired, or
/// already finished), and those of the code's redemption and of the sign-in's end.
async fn finish(
    state: &ApiState,
    project: &Project,
    headers: &HeaderMap,
    q: CallbackQuery,
) -> ApiResult<Response> {
    let lost = || {
        ApiError::bad_request(
            "This sign-in was started in another browser or has expired. Start it again.",
        )
    };
    let pending: Pending = cookie(headers, FLOW)
        .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
        .and_then(|v| serde_json::from_slice(&v).ok())
        .ok_or_else(lost)?;
    if q.state.as_deref() != Some(pending.state.as_str()) {
        return Err(lost());
    }
    let code = q.code.unwrap_or_default();
    let callback = page_url(state, project, "oauth-callback");
    let result = redeem_code(state, project, &code, &pending.verifier, &callback)
        .await
        .map(|r| (r.session, r.user_id));
    let mut res = finish_sign_in(state, project, &pending.back, headers, result).await?;
    res.headers_mut().append(
        header::SET_COOKIE,
        HeaderValue::from_str(&flow_cookie(state, project, "", 0))
            .map_err(|e| ApiError::Internal(e.into()))?,
    );
    Ok(res)
}

async fn callback(
    State(state): State<ApiState>,
    ProjectPage(project): ProjectPage,
    Query(q): Query<CallbackQuery>,
    headers: HeaderMap,
) -> Response {
    finish(&state, &project, &headers, q)
        .await
        .unwrap_or_else(|e| refused_sign_in(&project, &e))
}
