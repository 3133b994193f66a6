//! Teams and memberships. For now: what project ownership needs (personal teams of dashboard
//! users and the membership check behind admin access tokens).

use crate::http::ApiResult;
use crate::store::now_ms;
use sqlx::AnyConnection;

pub async fn create_with_member(
    conn: &mut AnyConnection,
    project_id: &str,
    team_id: &str,
    display_name: &str,
    user_id: &str,
) -> ApiResult<()> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO teams (id, project_id, display_name, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(team_id)
    .bind(project_id)
    .bind(display_name)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    sqlx::query("INSERT INTO team_members (project_id, team_id, user_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(project_id)
        .bind(team_id)
        .bind(user_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

pub async fn is_member(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
    user_id: &str,
) -> ApiResult<bool> {
    let row = sqlx::query(
        "SELECT 1 FROM team_members WHERE project_id = $1 AND team_id = $2 AND user_id = $3",
    )
    .bind(project_id)
    .bind(team_id)
    .bind(user_id)
    .fetch_optional(db)
    .await?;
    Ok(row.is_some())
}
