//! Writing the layered config document through the original's `internal/config` API (and the
//! dashboard). Dotted keys in a PATCH (`"payments.items.credits": {...}`) set that path; `null`
//! removes it. A write is checked against the schema of every section before it is stored, so
//! this module sits above the sections' owners (payments); reading is `projects::document`.

use super::document::{deep_merge, load_level, load_merged, set_path, LEVELS};
use crate::auth::context::{AccessType, ApiState, RequestCtx, ADMIN, TRUSTED};
use crate::http::extract::Body;
use crate::http::{json_ok, success, ApiError, ApiResult, JsonBody};
use crate::kernel::Kernel;
use crate::payments::config::Catalog;
use crate::payments::Payments;
use crate::sign_up_rules::Rules;
use aide::axum::routing::{get, post};
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
        .api_route(
            "/internal/config/override/{level}/reset-keys",
            post(reset_keys),
        )
        .api_route(
            "/internal/config/source",
            get(get_source).delete(unlink_source),
        )
}

/// Replaces one level's document with what `change` makes of it, refused (nothing stored) if
/// the catalog or the sign-up rules would not parse. The level's row is locked first, so concurrent changes of one
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
    let mut problems = Catalog::parse(&merged).err().unwrap_or_default();
    problems.extend(Rules::parse(&merged).err().unwrap_or_default());
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

/// The original's first checks of an override (`getConfigOverrideErrors`): dotted keys only at
/// the top level, and each key inside a section the schema has (the sections of
/// `rendered::defaults`). Plain-text 400s in its words.
fn check_override_keys(doc: &Map<String, Value>) -> ApiResult<()> {
    fn nested_dot(value: &Value) -> Option<&str> {
        let Value::Object(map) = value else {
            return None;
        };
        map.iter().find_map(|(k, v)| {
            if k.contains('.') {
                Some(k.as_str())
            } else {
                nested_dot(v)
            }
        })
    }
    for (key, value) in doc {
        if let Some(k) = nested_dot(value) {
            return Err(ApiError::bad_request(format!(
                "Key {k} contains a dot, which is not allowed in config override."
            )));
        }
        let section = key.split('.').next().unwrap_or_default();
        if super::rendered::defaults().get(section).is_none() {
            return Err(ApiError::bad_request(format!(
                "The key {} is not valid (nested object not found in schema: {}).",
                serde_json::to_string(key).unwrap_or_default(),
                serde_json::to_string(section).unwrap_or_default(),
            )));
        }
    }
    Ok(())
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

/// `GET /internal/config`: the whole rendered config (see `projects::rendered`).
async fn get_rendered(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let mut stored = load_merged(state.db(), auth.pid()).await?;
    let permissions: Vec<(String, Value)> =
        crate::permissions::Catalog::load(state.db(), auth.pid())
            .await?
            .0
            .into_values()
            .filter(|d| !d.id.starts_with('$'))
            .map(|d| {
                let contained: Map<String, Value> = d
                    .contained
                    .iter()
                    .map(|c| (c.clone(), json!(true)))
                    .collect();
                let mut v =
                    json!({ "scope": d.scope.as_str(), "containedPermissionIds": contained });
                if let Some(description) = d.description {
                    v["description"] = json!(description);
                }
                (d.id, v)
            })
            .collect();
    let settings = super::rendered::from_settings(&auth.project.config, &permissions);
    // The catalog in its normalized form; a document stored before writes were checked is
    // shown as stored, to be corrected.
    if let Ok(catalog) = Catalog::parse(&stored) {
        stored["payments"] = catalog.to_json();
    }
    // The rules in evaluation order, defaults filled in.
    if let Ok(rules) = Rules::parse(&stored) {
        let Value::Object(auth) = rules.to_json() else {
            unreachable!("Rules::to_json is an object")
        };
        for (key, value) in auth {
            set_path(&mut stored, &format!("auth.{key}"), value);
        }
    }
    let config = super::rendered::render(stored, settings);
    Ok(json_ok(json!({ "config_string": config.to_string() })))
}

/// Takes out of `patch` the keys the project's settings decide (`rendered::SETTING_KEYS`),
/// whether written dotted (`"auth.allowSignUp"`) or nested (`{"auth": {"allowSignUp": …}}`),
/// and applies them to the project in memory (validated as `PATCH /internal/projects/current`
/// validates). Returns the changed project, to be saved with the level.
fn take_settings(
    project: &super::Project,
    patch: &mut Map<String, Value>,
) -> ApiResult<Option<super::Project>> {
    let mut update = Map::new();
    let mut require_key = None;
    for (path, setting) in super::rendered::SETTING_KEYS {
        let Some(value) = take_path(patch, path) else {
            continue;
        };
        let string = matches!(setting, "oauth_account_merge_strategy" | "email_theme");
        if (string && !value.is_string()) || (!string && !value.is_boolean()) {
            let kind = if string { "string" } else { "boolean" };
            return Err(crate::http::extract::schema_problem(format!(
                "{path} must be a `{kind}` type, but the final value was: `{value}`."
            )));
        }
        if setting == "require_publishable_client_key" {
            require_key = value.as_bool();
        } else {
            update.insert(setting.to_string(), value);
        }
    }
    if update.is_empty() && require_key.is_none() {
        return Ok(None);
    }
    let mut changed = project.clone();
    let update: super::update::ProjectUpdate =
        crate::http::extract::parse_value(json!({ "config": update }), "body")?;
    super::update::apply(&mut changed, update)?;
    if let Some(required) = require_key {
        changed.config.require_publishable_client_key = required;
    }
    Ok(Some(changed))
}

/// Removes `path` (dotted) from `doc`, however it was written: as one dotted key or nested
/// under any of its prefixes.
fn take_path(doc: &mut Map<String, Value>, path: &str) -> Option<Value> {
    if let Some(v) = doc.remove(path) {
        return Some(v);
    }
    let segments: Vec<&str> = path.split('.').collect();
    for split in (1..segments.len()).rev() {
        let (head, rest) = (segments[..split].join("."), segments[split..].join("."));
        if let Some(Value::Object(inner)) = doc.get_mut(&head) {
            if let Some(v) = take_path(inner, &rest) {
                if inner.is_empty() {
                    doc.remove(&head);
                }
                return Some(v);
            }
        }
    }
    None
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
    /// Where the document was pushed from (branch level): the original's `branchConfigSourceSchema`.
    source: Option<ConfigSource>,
}

/// The original's `branchConfigSourceSchema` (`packages/stack-shared/src/schema-fields.ts`).
#[derive(Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
enum ConfigSource {
    PushedFromGithub {
        owner: String,
        repo: String,
        branch: String,
        commit_hash: String,
        config_file_path: String,
    },
    PushedFromUnknown,
    Unlinked,
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
    let mut doc = parse_document(&body.config_string)?
        .as_object()
        .cloned()
        .unwrap_or_default();
    check_override_keys(&doc)?;
    let settings = take_settings(&auth.project, &mut doc)?;
    // Dotted keys at the top level are paths, as in PATCH.
    let mut config = json!({});
    for (k, v) in doc {
        set_path(&mut config, &k, v);
    }
    change_level(&state, &payments, auth.pid(), level, |_| config).await?;
    save_settings(&state, settings).await?;
    if let (Some(source), "branch") = (&body.source, level) {
        set_source(&state, auth.pid(), source).await?;
    }
    Ok(success())
}

async fn set_source(state: &Kernel, project_id: &str, source: &ConfigSource) -> ApiResult<()> {
    let text = serde_json::to_string(source).map_err(anyhow::Error::from)?;
    sqlx::query(
        "INSERT INTO config_overrides (project_id, level, config, source) VALUES ($1, 'branch', '{}', $2)
         ON CONFLICT (project_id, level) DO UPDATE SET source = $2",
    )
    .bind(project_id)
    .bind(text)
    .execute(state.db())
    .await?;
    Ok(())
}

/// `GET /internal/config/source`: where the branch config was pushed from; `unlinked` when
/// never pushed (or unlinked since).
async fn get_source(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let stored: Option<Option<String>> = sqlx::query_scalar(
        "SELECT source FROM config_overrides WHERE project_id = $1 AND level = 'branch'",
    )
    .bind(auth.pid())
    .fetch_optional(state.db())
    .await?;
    let source = stored
        .flatten()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
        .unwrap_or_else(|| json!({ "type": "unlinked" }));
    Ok(json_ok(json!({ "source": source })))
}

/// `DELETE /internal/config/source`: unlinks, so the dashboard may edit the config directly.
async fn unlink_source(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    set_source(&state, auth.pid(), &ConfigSource::Unlinked).await?;
    Ok(success())
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ResetKeys {
    /// Dotted paths; each is removed with everything nested under it.
    keys: Vec<String>,
}

/// `POST /internal/config/override/{level}/reset-keys`: removes keys from one level (branch or
/// environment, as in the original), so lower levels or the defaults show through again.
async fn reset_keys(
    State(state): State<ApiState>,
    State(payments): State<Arc<Payments>>,
    ctx: RequestCtx,
    Path(level): Path<String>,
    Body(body): Body<ResetKeys>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    if !["branch", "environment"].contains(&level.as_str()) {
        return Err(crate::http::extract::schema_problem(
            "params.level must be one of the following values: branch, environment",
        ));
    }
    let patch = body.keys.into_iter().map(|k| (k, Value::Null)).collect();
    patch_level(&state, &payments, auth.pid(), &level, patch).await?;
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
    let mut patch: Map<String, Value> = parse_document(&body.config_override_string)?
        .as_object()
        .cloned()
        .unwrap_or_default();
    check_override_keys(&patch)?;
    let settings = take_settings(&auth.project, &mut patch)?;
    patch_level(&state, &payments, auth.pid(), level, patch).await?;
    save_settings(&state, settings).await?;
    Ok(success())
}

async fn save_settings(state: &ApiState, changed: Option<super::Project>) -> ApiResult<()> {
    if let Some(project) = changed {
        super::save(state, &project).await?;
        state.projects.forget(&project.id);
    }
    Ok(())
}

/// Sets each dotted path of `patch` in one override level (`null` removes it); refused, with
/// nothing stored, if the resulting catalog or sign-up rules would not parse.
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
