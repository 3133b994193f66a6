//! The one error type handlers return. A `KnownError` is the original's JSON envelope with a stable
//! code; `Text` is a plain-text status error (the original has a few); `Internal` is logged, never echoed.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

#[derive(Debug, Clone)]
pub struct KnownError {
    pub code: super::known::KnownCode,
    pub message: String,
    pub details: Option<Value>,
}

impl KnownError {
    pub fn status(&self) -> StatusCode {
        self.code.status()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{}: {}", .0.code.as_str(), .0.message)]
    Known(KnownError),
    #[error("{1}")]
    Text(StatusCode, String),
    /// Too much at once (429 rate limit, 503 at capacity): `{"message"}` JSON with `Retry-After`,
    /// the shape the SDK retries on.
    #[error("{message}")]
    Throttled {
        status: StatusCode,
        retry_after_secs: u64,
        message: String,
    },
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<KnownError> for ApiError {
    fn from(e: KnownError) -> Self {
        ApiError::Known(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        ApiError::Internal(e.into())
    }
}

impl From<crate::crypto::password::Busy> for ApiError {
    fn from(_: crate::crypto::password::Busy) -> Self {
        ApiError::Throttled {
            status: StatusCode::SERVICE_UNAVAILABLE,
            retry_after_secs: 1,
            message: "The server is busy checking passwords; retry shortly.".into(),
        }
    }
}

impl From<crate::limits::LimitError> for ApiError {
    fn from(e: crate::limits::LimitError) -> Self {
        match e {
            crate::limits::LimitError::Limited { retry_after_secs } => ApiError::Throttled {
                status: StatusCode::TOO_MANY_REQUESTS,
                retry_after_secs,
                message: format!("Too many requests. Try again in {retry_after_secs} seconds."),
            },
            crate::limits::LimitError::Db(e) => e.into(),
        }
    }
}

impl ApiError {
    pub fn text(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError::Text(status, message.into())
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::text(StatusCode::BAD_REQUEST, message)
    }
    /// A fault of ours (500, logged, never echoed).
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError::Internal(anyhow::anyhow!(message.into()))
    }
}

/// Lets an insert map a unique-constraint violation to the API's conflict error at the call,
/// so uniqueness is enforced by the database instead of a racy read-then-insert.
/// Unique indexes are named `uq_<table>_<column>` so both dialects can be recognised.
pub trait OnConstraint<T> {
    fn on_unique(self, table: &str, column: &str, f: impl FnOnce() -> ApiError) -> ApiResult<T>;
}

impl<T> OnConstraint<T> for Result<T, sqlx::Error> {
    fn on_unique(self, table: &str, column: &str, f: impl FnOnce() -> ApiError) -> ApiResult<T> {
        self.map_err(|e| {
            if is_unique_violation(&e, table, column) {
                f()
            } else {
                e.into()
            }
        })
    }
}

pub fn is_unique_violation(e: &sqlx::Error, table: &str, column: &str) -> bool {
    let sqlx::Error::Database(db) = e else {
        return false;
    };
    if db.kind() != sqlx::error::ErrorKind::UniqueViolation {
        return false;
    }
    match db.constraint() {
        // PostgreSQL names the index.
        Some(name) => name == format!("uq_{table}_{column}"),
        // SQLite lists the columns: "UNIQUE constraint failed: users.project_id, users.auth_email".
        None => db.message().contains(&format!("{table}.{column}")),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self {
            ApiError::Known(k) => k.into_response(),
            ApiError::Text(status, msg) => text_response(status, msg),
            ApiError::Throttled {
                status,
                retry_after_secs,
                message,
            } => {
                let mut res = (status, axum::Json(json!({ "message": message }))).into_response();
                res.headers_mut()
                    .insert("retry-after", HeaderValue::from(retry_after_secs));
                res
            }
            ApiError::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "internal error");
                text_response(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Something went wrong. Please make sure the data you entered is correct."
                        .into(),
                )
            }
        }
    }
}

fn text_response(status: StatusCode, msg: String) -> Response {
    (status, [("content-type", "text/plain; charset=utf-8")], msg).into_response()
}

impl IntoResponse for KnownError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("code".into(), json!(self.code.as_str()));
        if let Some(d) = self.details {
            body.insert("details".into(), d);
        }
        body.insert("error".into(), json!(self.message));
        let text = serde_json::to_string_pretty(&Value::Object(body)).unwrap_or_default();
        let mut res = (
            self.code.status(),
            [("content-type", "application/json; charset=utf-8")],
            text,
        )
            .into_response();
        res.headers_mut().insert(
            "x-stack-known-error",
            HeaderValue::from_static(self.code.as_str()),
        );
        res
    }
}
