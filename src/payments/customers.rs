//! Customers: users, teams, or any custom id. Who may act for which customer, and whether it exists.

use crate::auth::context::{AccessType, Auth};
use crate::http::extract::schema_problem;
use crate::http::{known, ApiError, ApiResult};
use crate::kernel::Kernel;
use axum::http::StatusCode;

/// A `{customer_type}` path value.
pub fn check_type(customer_type: &str) -> ApiResult<()> {
    if super::config::CUSTOMER_TYPES.contains(&customer_type) {
        Ok(())
    } else {
        Err(schema_problem(
            "params.customer_type must be one of: user, team, custom",
        ))
    }
}

/// A client acts only for itself, or for teams where it holds `team_admin`.
pub async fn check_client_access(
    state: &Kernel,
    auth: &Auth,
    customer_type: &str,
    customer_id: &str,
    refusal: &str,
) -> ApiResult<()> {
    if auth.access_type != AccessType::Client {
        return Ok(());
    }
    let me = auth
        .user_id()
        .ok_or_else(known::user_authentication_required)?;
    let forbidden = || ApiError::text(StatusCode::FORBIDDEN, refusal);
    match customer_type {
        "user" if customer_id == me => Ok(()),
        "team" => {
            if !crate::teams::is_member(state.db(), auth.pid(), customer_id, me).await? {
                return Err(known::team_membership_not_found(customer_id, me).into());
            }
            if !crate::permissions::has_team_permission(
                state.db(),
                auth.pid(),
                customer_id,
                me,
                "team_admin",
            )
            .await?
            {
                return Err(crate::permissions::team_permission_required(
                    customer_id,
                    me,
                    "team_admin",
                )
                .into());
            }
            Ok(())
        }
        _ => Err(forbidden()),
    }
}

/// Users and teams must exist; custom customers exist implicitly.
pub async fn ensure_exists(
    state: &Kernel,
    project_id: &str,
    customer_type: &str,
    customer_id: &str,
) -> ApiResult<()> {
    match customer_type {
        "user" => match crate::users::exists(state.db(), project_id, customer_id).await? {
            true => Ok(()),
            false => Err(known::user_not_found().into()),
        },
        "team" => crate::teams::require(state.db(), project_id, customer_id)
            .await
            .map(|_| ()),
        _ => Ok(()),
    }
}

/// Custom customer ids matching `query` (case-insensitive substring), up to `limit`: custom
/// customers exist through what they bought or were given.
pub async fn search_custom(
    db: &sqlx::AnyPool,
    project_id: &str,
    query: &str,
    limit: i64,
) -> ApiResult<Vec<String>> {
    let rows = sqlx::query(
        "SELECT customer_id FROM purchases WHERE project_id = $1 AND customer_type = 'custom' AND LOWER(customer_id) LIKE $2 ESCAPE '\\'
         UNION SELECT customer_id FROM item_changes WHERE project_id = $1 AND customer_type = 'custom' AND LOWER(customer_id) LIKE $2 ESCAPE '\\'
         ORDER BY customer_id LIMIT $3",
    )
    .bind(project_id)
    .bind(crate::store::like_pattern(query))
    .bind(limit)
    .fetch_all(db)
    .await?;
    rows.iter()
        .map(|r| Ok(sqlx::Row::try_get(r, "customer_id")?))
        .collect()
}
