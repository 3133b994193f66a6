//! The data vault (the original's `data-vault/stores/{id}/get` and `set`, server access only):
//! per project, stores declared in the config (`dataVault.stores.<id>`) hold values the SDK
//! encrypted with its caller's secret, under the hash of their key the SDK computed. Here each
//! value is sealed again with the instance's key before it is stored, so neither the database
//! nor a copy of it reads them; the plain key and the caller's secret never reach the server.

use crate::auth::context::{ApiState, RequestCtx, TRUSTED};
use crate::http::extract::schema_problem;
use crate::http::{json_ok, known, success, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::store::now_ms;
use aide::axum::routing::post;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/data-vault/stores/{id}/get", post(get))
        .api_route("/data-vault/stores/{id}/set", post(set))
}

/// Errors: DATA_VAULT_STORE_DOES_NOT_EXIST unless the project's config declares the store.
async fn require_store(state: &Kernel, project_id: &str, store_id: &str) -> ApiResult<()> {
    let config = crate::projects::document::load_merged(state.db(), project_id).await?;
    if config["dataVault"]["stores"][store_id].is_object() {
        Ok(())
    } else {
        Err(known::data_vault_store_does_not_exist(store_id).into())
    }
}

fn required<'a>(value: &'a Option<String>, name: &str, non_empty: bool) -> ApiResult<&'a str> {
    match value.as_deref() {
        None => Err(schema_problem(format!("body.{name} must be defined"))),
        Some("") if non_empty => Err(schema_problem(format!("body.{name} must not be empty"))),
        Some(v) => Ok(v),
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct GetBody {
    hashed_key: Option<String>,
}

/// `{encrypted_value}`: the value as the SDK encrypted it. Errors: SCHEMA_ERROR,
/// DATA_VAULT_STORE_DOES_NOT_EXIST, DATA_VAULT_STORE_HASHED_KEY_DOES_NOT_EXIST.
async fn get(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(store_id): Path<String>,
    JsonBody(body): JsonBody<GetBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let hashed_key = required(&body.hashed_key, "hashed_key", true)?;
    require_store(&state, auth.pid(), &store_id).await?;
    let sealed: Option<String> = sqlx::query_scalar(
        "SELECT sealed_value FROM data_vault_entries WHERE project_id = $1 AND store_id = $2 AND hashed_key = $3",
    )
    .bind(auth.pid())
    .bind(&store_id)
    .bind(hashed_key)
    .fetch_optional(state.db())
    .await?;
    let sealed = sealed
        .ok_or_else(|| known::data_vault_store_hashed_key_does_not_exist(&store_id, hashed_key))?;
    Ok(json_ok(
        json!({ "encrypted_value": state.secret_box.open(&sealed)? }),
    ))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct SetBody {
    hashed_key: Option<String>,
    encrypted_value: Option<String>,
}

/// Stores (or replaces) the value under its hashed key. `{success: true}`.
/// Errors: SCHEMA_ERROR, DATA_VAULT_STORE_DOES_NOT_EXIST.
async fn set(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(store_id): Path<String>,
    JsonBody(body): JsonBody<SetBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let hashed_key = required(&body.hashed_key, "hashed_key", true)?;
    let value = required(&body.encrypted_value, "encrypted_value", false)?;
    require_store(&state, auth.pid(), &store_id).await?;
    let now = now_ms();
    sqlx::query(
        "INSERT INTO data_vault_entries (project_id, store_id, hashed_key, sealed_value, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (project_id, store_id, hashed_key) DO UPDATE SET sealed_value = $4, updated_at = $5",
    )
    .bind(auth.pid())
    .bind(&store_id)
    .bind(hashed_key)
    .bind(state.secret_box.seal(value)?)
    .bind(now)
    .execute(state.db())
    .await?;
    Ok(success())
}
