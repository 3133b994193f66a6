//! The layered config document (`project` < `branch` < `environment` overrides) as stored: reading
//! a level, merging the levels, and the dotted-path edits the override API applies. Payments read
//! their catalog from the merged document.

use crate::http::ApiResult;
use serde_json::{json, Value};
use sqlx::Row;

pub const LEVELS: [&str; 3] = ["project", "branch", "environment"];

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

pub fn deep_merge(into: &mut Value, from: Value) {
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
pub fn set_path(doc: &mut Value, path: &str, value: Value) {
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
