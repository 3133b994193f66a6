//! The layered config document (`project` < `branch` < `environment` overrides), as the original's
//! `internal/config` API exposes it. Payments read their catalog from here. Dotted keys in a
//! PATCH (`"payments.items.credits": {...}`) set that path; `null` removes it.

use crate::http::context::TRUSTED;
use crate::http::{json_ok, success, AccessType, ApiError, ApiResult, JsonBody, RequestCtx};
use crate::payments::config::Catalog;
use crate::server::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sqlx::Row;

pub const LEVELS: [&str; 3] = ["project", "branch", "environment"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/internal/config", get(get_rendered))
        .route(
            "/internal/config/override/{level}",
            get(get_override).put(put_override).patch(patch_override),
        )
}

pub async fn load_level(
    conn: &mut sqlx::AnyConnection,
    project_id: &str,
    level: &str,
) -> ApiResult<Value> {
    let row =
        sqlx::query("SELECT config FROM config_overrides WHERE project_id = $1 AND level = $2")
            .bind(project_id)
            .bind(level)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(match row {
        Some(r) => serde_json::from_str(&r.try_get::<String, _>("config")?).unwrap_or(json!({})),
        None => json!({}),
    })
}

/// Every level merged, later levels winning key by key.
pub async fn load_merged(db: &sqlx::AnyPool, project_id: &str) -> ApiResult<Value> {
    let rows = sqlx::query("SELECT level, config FROM config_overrides WHERE project_id = $1")
        .bind(project_id)
        .fetch_all(db)
        .await?;
    let mut by_level: Vec<(usize, Value)> = rows
        .iter()
        .map(|r| {
            let level: String = r.try_get("level")?;
            let config: String = r.try_get("config")?;
            Ok((
                LEVELS.iter().position(|l| *l == level).unwrap_or(0),
                serde_json::from_str(&config).unwrap_or(json!({})),
            ))
        })
        .collect::<Result<_, sqlx::Error>>()?;
    by_level.sort_by_key(|(i, _)| *i);
    let mut merged = json!({});
    for (_, v) in by_level {
        deep_merge(&mut merged, v);
    }
    Ok(merged)
}

pub async fn catalog(state: &AppState, project_id: &str) -> ApiResult<std::sync::Arc<Catalog>> {
    if let Some(c) = state.catalogs.get(project_id) {
        return Ok(c);
    }
    let rendered = Catalog::render(&load_merged(state.db(), project_id).await?);
    Ok(state.catalogs.put(project_id, rendered))
}

fn deep_merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) if existing.is_object() && v.is_object() => {
                        deep_merge(existing, v)
                    }
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, v) => *slot = v,
    }
}

/// Sets `path` (dot-separated) in `doc`; `null` removes it.
fn set_path(doc: &mut Value, path: &str, value: Value) {
    let mut parts: Vec<&str> = path.split('.').collect();
    let Some(last) = parts.pop() else { return };
    let mut node = doc;
    for p in parts {
        if !node.get(p).is_some_and(Value::is_object) {
            node[p] = json!({});
        }
        node = &mut node[p];
    }
    if let Some(obj) = node.as_object_mut() {
        if value.is_null() {
            obj.remove(last);
        } else {
            obj.insert(last.to_string(), value);
        }
    }
}

/// Replaces one level's document with what `change` makes of it, refused (nothing stored) if
/// the catalog would not render. The level's row is locked first, so concurrent changes of one
/// level apply one after another instead of overwriting each other.
async fn change_level(
    state: &AppState,
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
    let problems = Catalog::render(&merged).problems();
    if !problems.is_empty() {
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
    state.catalogs.forget(project_id);
    Ok(())
}

fn check_level(access: AccessType, level: &str) -> ApiResult<&str> {
    if !LEVELS.contains(&level) {
        return Err(crate::http::extract::schema_problem(
            "params.level must be one of: project, branch, environment",
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
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(ApiError::bad_request(
            "Invalid config JSON: must be a JSON object",
        )),
    }
}

async fn get_rendered(State(state): State<AppState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(crate::http::context::ADMIN)?;
    let mut config = load_merged(state.db(), auth.pid()).await?;
    config["payments"] = Catalog::render(&config).to_json();
    Ok(json_ok(json!({ "config_string": config.to_string() })))
}

async fn get_override(
    State(state): State<AppState>,
    ctx: RequestCtx,
    Path(level): Path<String>,
) -> ApiResult<Response> {
    let auth = ctx.require(TRUSTED)?;
    let level = check_level(auth.access_type, &level)?;
    let mut conn = state.db().acquire().await?;
    let config = load_level(&mut conn, auth.pid(), level).await?;
    Ok(json_ok(json!({ "config_string": config.to_string() })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    config_string: String,
    #[allow(dead_code)]
    source: Option<Value>,
}

async fn put_override(
    State(state): State<AppState>,
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
    change_level(&state, auth.pid(), level, |_| config).await?;
    Ok(success())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PatchBody {
    config_override_string: String,
}

async fn patch_override(
    State(state): State<AppState>,
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
    patch_level(&state, auth.pid(), level, patch).await?;
    Ok(success())
}

/// Sets each dotted path of `patch` in one override level (`null` removes it); refused, with
/// nothing stored, if the resulting catalog would not render.
pub async fn patch_level(
    state: &AppState,
    project_id: &str,
    level: &str,
    patch: Map<String, Value>,
) -> ApiResult<()> {
    change_level(state, project_id, level, |mut config| {
        for (k, v) in patch {
            set_path(&mut config, &k, v);
        }
        config
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_and_merge() {
        let mut doc = json!({ "payments": { "items": { "a": { "displayName": "A" } } } });
        set_path(
            &mut doc,
            "payments.items.b",
            json!({ "customerType": "team" }),
        );
        set_path(&mut doc, "payments.testMode", json!(false));
        set_path(&mut doc, "payments.items.a", Value::Null);
        assert_eq!(
            doc,
            json!({ "payments": { "items": { "b": { "customerType": "team" } }, "testMode": false } })
        );
        let mut merged = json!({ "payments": { "items": { "b": { "customerType": "user", "displayName": "B" } } } });
        deep_merge(&mut merged, doc);
        assert_eq!(
            merged["payments"]["items"]["b"],
            json!({ "customerType": "team", "displayName": "B" })
        );
    }
}
