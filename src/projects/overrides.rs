//! Writing the layered config document through the original's `internal/config` API (and the
//! dashboard). Dotted keys in a PATCH (`"payments.items.credits": {...}`) set that path; `null`
//! removes it. A write is checked against the schema of every section before it is stored, so
//! this module sits above the sections' owners (payments); reading is `projects::document`.

use super::document::{deep_merge, load_level, load_merged, set_path, LEVELS};
use crate::auth::context::{AccessType, ApiState, RequestCtx, ADMIN, TRUSTED};
use crate::http::{json_ok, success, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::payments::config::Catalog;
use crate::payments::Payments;
use aide::axum::routing::get;
use aide::axum::ApiRouter;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::sync::Arc;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
    Arc<Payments>: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/internal/config", get(get_rendered))
        .api_route(
            "/internal/config/override/{level}",
            get(get_override).put(put_override).patch(patch_override),
        )
}

/// Replaces one level's document with what `change` makes of it, refused (nothing stored) if
/// the catalog would not render. The level's row is locked first, so concurrent changes of one
/// level apply one after another instead of overwriting each other.
async fn change_level(
    state: &Kernel,
    payments: &Payments,
    project_id: &str,
    level: &str,
    change: impl FnOnce(Value) -> Value,
) -> ApiResult<()> {
    let _turn = state.store.write_turn().await;
    let mut tx = state.db().begin().await?;
    sqlx::query(
        "INSERT INTO config_overrides (project_id, level, config) VALUES ($1, $2, '{}')
         ON CONFLICT (project_id, level) DO UPDATE SET config = config_overrides.config",
    )
    .bind(project_id)
    .bind(level)
    .execute(&mut *tx)
    .await?;
    let config = change(load_level(&mut tx, project_id, level).await?);
    let mut merged = json!({});
    for l in LEVELS {
        let v = if l == level {
            config.clone()
        } else {
            load_level(&mut tx, project_id, l).await?
        };
        deep_merge(&mut merged, v);
    }
    if let Err(problems) = Catalog::parse(&merged) {
        return Err(ApiError::bad_request(format!(
            "Invalid config:\n  - {}",
            problems.join("\n  - ")
        )));
    }
    sqlx::query("UPDATE config_overrides SET config = $3 WHERE project_id = $1 AND level = $2")
        .bind(project_id)
        .bind(level)
        .bind(config.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    payments.forget_catalog(project_id);
    Ok(())
}

fn check_level(access: AccessType, level: &str) -> ApiResult<&str> {
    if !LEVELS.contains(&level) {
        return Err(crate::http::extract::schema_problem(
            "params.level must be one of the following values: project, branch, environment",
        ));
    }
    if access == AccessType::Server && level != "branch" {
        return Err(ApiError::text(
            StatusCode::FORBIDDEN,
            "Server access can only manage branch config overrides.",
        ));
    }
    Ok(level)
}

fn parse_document(text: &str) -> ApiResult<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(v @ Value::Object(_)) => match crate::http::extract::nul_in(&v, "config") {
            // The document's ids become ledger and catalog keys: no NUL, as for any body.
            Some(field) => Err(crate::http::extract::schema_problem(format!(
                "body.config_override_string: {field} must not contain NUL characters"
            ))),
            None => Ok(v),
        },
        _ => Err(ApiError::bad_request(
            "Invalid config JSON: must be a JSON object",
        )),
    }
}

async fn get_rendered(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let mut config = load_merged(state.db(), auth.pid()).await?;
    config["payments"] = match Catalog::parse(&config) {
        Ok(catalog) => catalog.to_json(),
        // A document stored before writes were checked: shown as stored, to be corrected.
        Err(_) => config.get("payments").cloned().unwrap_or(json!({})),
    };
    Ok(json_ok(json!({ "config_string": config.to_string() })))
}

async fn get_override(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    Path(level): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let level = check_level(auth.access_type, &level)?;
    let mut conn = state.db().acquire().await?;
    let config = load_level(&mut conn, auth.pid(), level).await?;
    Ok(json_ok(json!({ "config_string": config.to_string() })))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PutBody {
    config_string: String,
    #[allow(dead_code)]
    source: Option<Value>,
}

async fn put_override(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path(level): Path<String>,
    JsonBody(body): JsonBody<PutBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let level = check_level(auth.access_type, &level)?;
    let doc = parse_document(&body.config_string)?;
    // Dotted keys at the top level are paths, as in PATCH.
    let mut config = json!({});
    for (k, v) in doc.as_object().cloned().unwrap_or_default() {
        set_path(&mut config, &k, v);
    }
    change_level(&state, &payments, auth.pid(), level, |_| config).await?;
    Ok(success())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    config_override_string: String,
}

async fn patch_override(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path(level): Path<String>,
    JsonBody(body): JsonBody<PatchBody>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let level = check_level(auth.access_type, &level)?;
    let patch: Map<String, Value> = parse_document(&body.config_override_string)?
        .as_object()
        .cloned()
        .unwrap_or_default();
    patch_level(&state, &payments, auth.pid(), level, patch).await?;
    Ok(success())
}

/// Sets each dotted path of `patch` in one override level (`null` removes it); refused, with
/// nothing stored, if the resulting catalog would not render.
pub async fn patch_level(
    state: &Kernel,
    payments: &Payments,
    project_id: &str,
    level: &str,
    patch: Map<String, Value>,
) -> ApiResult<()> {
    change_level(state, payments, project_id, level, |mut config| {
        for (k, v) in patch {
            set_path(&mut config, &k, v);
        }
        config
    })
    .await
}
