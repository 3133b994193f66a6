//! `GET /users`: cursor pagination over (signed_up_at, id), search and filters, one query.

use super::User;
use crate::http::extract::{query_bool, schema_problem};
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use crate::projects::Project;
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub order_by: Option<String>,
    pub desc: Option<String>,
    pub query: Option<String>,
    pub team_id: Option<String>,
    pub include_restricted: Option<String>,
    pub include_anonymous: Option<String>,
    pub only_anonymous: Option<String>,
}

pub async fn list(state: &Kernel, project: &Project, q: ListQuery) -> ApiResult<Value> {
    let limit = match &q.limit {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
            _ => return Err(schema_problem("query.limit must be a positive integer")),
        },
    };
    if q.order_by.as_deref().is_some_and(|o| o != "signed_up_at") {
        return Err(schema_problem(
            "query.order_by must be one of the following values: signed_up_at",
        ));
    }
    for (name, value) in [("cursor", &q.cursor), ("team_id", &q.team_id)] {
        if value
            .as_deref()
            .is_some_and(|v| uuid::Uuid::parse_str(v).is_err())
        {
            return Err(schema_problem(format!("query.{name} must be a valid UUID")));
        }
    }
    let desc = query_bool(&q.desc, "desc")?;
    let include_anonymous = query_bool(&q.include_anonymous, "include_anonymous")?;
    let include_restricted =
        include_anonymous || query_bool(&q.include_restricted, "include_restricted")?;
    let only_anonymous = query_bool(&q.only_anonymous, "only_anonymous")?;
    if only_anonymous && !include_anonymous {
        return Err(ApiError::bad_request(
            "only_anonymous=true requires include_anonymous=true",
        ));
    }

    // The page is chosen from `users` alone (its index gives the order), and only then joined
    // with emails and teams: planners then never join the whole table to sort it.
    let mut sql = String::from("SELECT * FROM users u WHERE u.project_id = $1");
    let mut binds: Vec<String> = vec![project.id.clone()];
    let mut bind = |value: String| {
        binds.push(value);
        format!("${}", binds.len())
    };
    if only_anonymous {
        sql.push_str(" AND u.is_anonymous = 1");
    } else if !include_anonymous {
        sql.push_str(" AND u.is_anonymous = 0");
    }
    if !include_restricted {
        sql.push_str(" AND u.restricted_by_admin = 0");
        if project.config.require_email_verification {
            sql.push_str(" AND EXISTS (SELECT 1 FROM contact_channels v WHERE v.user_id = u.id AND v.is_primary = 1 AND v.is_verified = 1)");
        }
    }
    if let Some(team) = &q.team_id {
        let p = bind(team.clone());
        sql.push_str(&format!(
            " AND u.id IN (SELECT user_id FROM team_members WHERE team_id = {p})"
        ));
    }
    // Matching ids first (each part can use an index: trigram on PostgreSQL), then the page.
    if let Some(text) = q.query.as_deref().filter(|t| !t.is_empty()) {
        let p = bind(crate::store::like_pattern(text));
        let exact = bind(text.to_string());
        sql.push_str(&format!(
            " AND u.id IN (SELECT id FROM users WHERE project_id = $1 AND LOWER(display_name) LIKE {p} ESCAPE '\\'
               UNION SELECT user_id FROM contact_channels WHERE project_id = $1 AND value LIKE {p} ESCAPE '\\'
               UNION SELECT id FROM users WHERE project_id = $1 AND id = {exact})"
        ));
    }
    let (cmp, order) = if desc { ("<=", "DESC") } else { (">=", "ASC") };
    if let Some(cursor) = &q.cursor {
        let p = bind(cursor.clone());
        sql.push_str(&format!(
            " AND (u.signed_up_at, u.id) {cmp} (SELECT c.signed_up_at, c.id FROM users c WHERE c.id = {p})"
        ));
    }
    sql.push_str(&format!(" ORDER BY u.signed_up_at {order}, u.id {order}"));
    if let Some(limit) = limit {
        sql.push_str(&format!(" LIMIT {}", limit + 1));
    }
    let sql = format!(
        "SELECT {} FROM ({sql}) u {} ORDER BY u.signed_up_at {order}, u.id {order}",
        crate::user_columns!(),
        crate::user_joins!()
    );

    let mut query = sqlx::query(&sql);
    for b in &binds {
        query = query.bind(b);
    }
    let rows = query.fetch_all(state.db()).await?;
    let mut users = rows
        .iter()
        .map(User::from_row)
        .collect::<Result<Vec<_>, _>>()?;
    let next_cursor = match limit {
        Some(l) if users.len() as i64 > l => users.pop().map(|u| u.id),
        _ => None,
    };
    let rev = project.config.require_email_verification;
    let items: Vec<Value> = users.iter().map(|u| u.server_json(rev)).collect();
    Ok(
        json!({ "items": items, "is_paginated": true, "pagination": { "next_cursor": next_cursor } }),
    )
}

/// Users who would become restricted if the project began to require a verified email (the
/// original's `internal/onboarding/preview-affected-users`): not anonymous, no verified primary
/// email. Newest first, at most `limit`, with how many there are in all.
pub async fn without_verified_email(
    state: &Kernel,
    project_id: &str,
    limit: i64,
) -> ApiResult<(Vec<Value>, i64)> {
    use sqlx::Row;
    let filter = "FROM users u WHERE u.project_id = $1 AND u.is_anonymous = 0
        AND NOT EXISTS (SELECT 1 FROM contact_channels v WHERE v.user_id = u.id AND v.type = 'email' AND v.is_primary = 1 AND v.is_verified = 1)";
    let total: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {filter}"))
        .bind(project_id)
        .fetch_one(state.db())
        .await?;
    let rows = sqlx::query(&format!(
        "SELECT u.id, u.display_name,
           (SELECT e.value FROM contact_channels e WHERE e.user_id = u.id AND e.type = 'email' AND e.is_primary = 1) AS primary_email
         {filter} ORDER BY u.signed_up_at DESC, u.id DESC LIMIT {limit}"
    ))
    .bind(project_id)
    .fetch_all(state.db())
    .await?;
    let users = rows
        .iter()
        .map(|r| {
            Ok(json!({
                "id": r.try_get::<String, _>("id")?,
                "display_name": r.try_get::<Option<String>, _>("display_name")?,
                "primary_email": r.try_get::<Option<String>, _>("primary_email")?,
                "restricted_reason": { "type": "email_not_verified" },
            }))
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((users, total))
}
