//! `POST /auth/oauth/token`: the OAuth 2 token endpoint. The published SDK refreshes its access
//! token here with the `refresh_token` grant; the authorization-code grant comes with OAuth sign-in.

use super::sessions;
use crate::auth::context::{self, ApiState};
use crate::http::extract::RawBody;
use crate::http::ApiResult;
use axum::extract::FromRef;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    Router::new().route("/auth/oauth/token", post(token))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({ "error": error, "error_description": description })),
    )
        .into_response()
}

async fn token(State(state): State<ApiState>, RawBody(body): RawBody) -> ApiResult<Response> {
    let field = |name: &str| {
        body.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let grant_type = field("grant_type");
    if grant_type != Some("refresh_token") {
        return Ok(match grant_type {
            None => oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Missing parameter: `grant_type`",
            ),
            Some("authorization_code") => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "The authorization code grant is not enabled on this server",
            ),
            Some(_) => oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "Unsupported grant type: `grant_type` is invalid",
            ),
        });
    }
    let Some(client_id) = field("client_id") else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing parameter: `client_id`",
        ));
    };
    let project = context::client_project(&state, client_id, field("client_secret")).await?;
    let Some(refresh_token) = field("refresh_token") else {
        return Ok(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Missing parameter: `refresh_token`",
        ));
    };
    let access_token = sessions::refresh(&state, &project, refresh_token).await?;
    Ok(Json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 3600,
        "scope": "legacy",
        "after_callback_redirect_url": null,
        "afterCallbackRedirectUrl": null,
    }))
    .into_response())
}
