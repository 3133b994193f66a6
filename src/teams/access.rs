//! Who may act on a team: the client-side membership and permission check every team endpoint
//! starts with (server and admin callers are trusted).

use super::is_member;
use crate::auth::context::Auth;
use crate::http::{known, ApiResult};
use crate::permissions;

/// For client callers: the signed-in user must be a member of the team and hold `permission`
/// (if given). Server and admin callers pass. Returns the caller's user id for clients.
pub async fn require_client_permission(
    db: &sqlx::AnyPool,
    auth: &Auth,
    team_id: &str,
    permission: Option<&str>,
) -> ApiResult<()> {
    if auth.access_type.is_trusted() {
        return Ok(());
    }
    let user_id = auth
        .user_id()
        .ok_or_else(known::user_authentication_required)?;
    require_member_permission(db, auth.pid(), team_id, user_id, permission).await
}

/// `user_id` must be a member of the team and hold `permission` (if given).
/// Errors: TEAM_MEMBERSHIP_NOT_FOUND, TEAM_PERMISSION_REQUIRED.
pub async fn require_member_permission(
    db: &sqlx::AnyPool,
    project_id: &str,
    team_id: &str,
    user_id: &str,
    permission: Option<&str>,
) -> ApiResult<()> {
    if !is_member(db, project_id, team_id, user_id).await? {
        return Err(known::team_membership_not_found(team_id, user_id).into());
    }
    if let Some(p) = permission {
        if !permissions::has_team_permission(db, project_id, team_id, user_id, p).await? {
            return Err(permissions::team_permission_required(team_id, user_id, p).into());
        }
    }
    Ok(())
}
