//! `GET|POST /auth/oauth/callback/{provider_id}`: the provider sends the browser back here. The
//! outer state is spent (once), the provider's code exchanged and its ID token validated, the
//! user found by their provider account — or, with a verified email an existing user signs in
//! with, linked to that user (the `link_method` merge strategy) — or created; then the browser
//! returns to the app's `redirect_uri` with a one-time authorization code and the app's state.

use super::{provider, OuterInfo};
use crate::auth::context::ApiState;
use crate::contact_channels;
use crate::crypto::secret::sha256_hex;
use crate::http::extract::RawBody;
use crate::http::known::{self, KnownCode};
use crate::http::url::with_query;
use crate::http::{ApiError, ApiResult, ClientCountry, Query};
use crate::projects::Project;
use crate::sign_up_rules::{self, Applicant};
use crate::store::now_ms;
use crate::users;
use crate::users::write::{self, UserWrite};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use sqlx::Row;

#[derive(Deserialize, Default, schemars::JsonSchema)]
pub struct CallbackParams {
    state: Option<String>,
    code: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

fn invalid_state() -> ApiError {
    ApiError::bad_request("Invalid OAuth state. Please try signing in again.")
}

pub async fn callback(
    State(state): State<ApiState>,
    country: ClientCountry,
    Path(provider_id): Path<String>,
    headers: HeaderMap,
    Query(query): Query<CallbackParams>,
    RawBody(body): RawBody,
) -> ApiResult<Response> {
    // Providers answer by query (GET) or by form (`response_mode=form_post`).
    let form: CallbackParams = serde_json::from_value(body).unwrap_or_default();
    let inner_state = query.state.or(form.state).unwrap_or_default();
    // Spent in the statement that reads it, whatever follows: a callback URL works once, and
    // of two racing uses only one gets the row.
    let row = sqlx::query(
        "DELETE FROM oauth_outer_states WHERE state_hash = $1 RETURNING project_id, provider_id, info, expires_at",
    )
    .bind(sha256_hex(&inner_state))
    .fetch_optional(state.db())
    .await?
    .ok_or_else(invalid_state)?;
    let info: OuterInfo = serde_json::from_str(&row.try_get::<String, _>("info")?)
        .map_err(|e| ApiError::Internal(e.into()))?;
    if row.try_get::<String, _>("provider_id")? != provider_id {
        return Err(invalid_state());
    }
    if !info.json_mode && !has_flow_cookie(&headers, &inner_state) {
        return Err(ApiError::bad_request("Inner OAuth cookie not found. This is likely because you refreshed the page during the OAuth sign in process. Please try signing in again"));
    }
    if row.try_get::<i64, _>("expires_at")? < now_ms() {
        return Err(known::outer_oauth_timeout().into());
    }
    let project_id: String = row.try_get("project_id")?;
    let project = state
        .projects
        .get(&state, &project_id)
        .await?
        .ok_or_else(invalid_state)?;
    if let Some(error) = query.error.or(form.error) {
        // The user declined at the provider, or it failed: back to the app, with the reason.
        let description = query
            .error_description
            .or(form.error_description)
            .unwrap_or_default();
        let target = info
            .error_redirect_url
            .as_deref()
            .unwrap_or(&info.redirect_uri);
        return Ok(redirect(
            &with_query(
                target,
                &[("error", &error), ("error_description", &description)],
            ),
            &inner_state,
        ));
    }
    let code = query.code.or(form.code).ok_or_else(invalid_state)?;
    let provider = provider::resolve(&state, &project, &provider_id)?;
    let verifier = state.secret_box.open(&info.pkce_verifier_sealed)?;
    let (who, tokens) = provider.finish(&code, &verifier, &info.nonce).await?;
    let scopes = provider.scopes(info.provider_scope.as_deref());
    let found = match &info.link_to_user {
        Some(user_id) => linkable(&state, &project, &provider_id, &who.account_id, user_id)
            .await
            .map(|_| Found {
                user_id: user_id.clone(),
                oauth_account_id: None,
                is_new_user: false,
                profile: None,
            }),
        None => {
            let upgrade = info.upgrade_anonymous.as_deref();
            let country = country.0.as_deref();
            match sign_in_or_up(&state, &project, &provider_id, &who, upgrade, country).await {
                // Two first sign-ins of one new provider account racing: the one that lost the
                // insert finds the winner's account on a second look.
                Err(_)
                    if users::find_by_oauth_account(
                        state.db(),
                        &project.id,
                        &provider_id,
                        &who.account_id,
                    )
                    .await?
                    .is_some() =>
                {
                    sign_in_or_up(&state, &project, &provider_id, &who, upgrade, country).await
                }
                found => found,
            }
        }
    };
    let Found {
        user_id,
        oauth_account_id,
        is_new_user,
        profile,
    } = match found {
        Ok(found) => found,
        // The errors the original sends back to the app rather than showing.
        Err(ApiError::Known(e))
            if matches!(
                e.code,
                KnownCode::SignUpNotEnabled
                    | KnownCode::SignUpRejected
                    | KnownCode::ContactChannelAlreadyUsedForAuthBySomeoneElse
                    | KnownCode::OauthConnectionAlreadyConnectedToAnotherUser
            ) =>
        {
            let target = info
                .error_redirect_url
                .as_deref()
                .unwrap_or(&info.redirect_uri);
            let details = e
                .details
                .clone()
                .unwrap_or_else(|| serde_json::json!({}))
                .to_string();
            let params = [
                ("error", "server_error"),
                ("error_description", e.message.as_str()),
                ("errorCode", e.code.as_str()),
                ("message", e.message.as_str()),
                ("details", details.as_str()),
            ];
            return Ok(redirect(&with_query(target, &params), &inner_state));
        }
        Err(e) => return Err(e),
    };
    let pending_link = match oauth_account_id {
        Some(id) => {
            super::connected::keep_tokens(&state, &id, &tokens, &scopes).await?;
            None
        }
        // `type=link`, or an anonymous user's upgrade: done when the app exchanges the code
        // with its PKCE verifier, so a flow someone else started in this browser (with their
        // own token) never completes.
        None => {
            let pending = super::PendingLink {
                provider_id: provider_id.clone(),
                account_id: who.account_id.clone(),
                email: who.email.as_deref().map(users::normalize_email),
                tokens,
                scopes,
                profile,
            };
            let json = serde_json::to_string(&pending).map_err(anyhow::Error::from)?;
            Some(state.secret_box.seal(&json)?)
        }
    };
    let authorization_code = super::issue_code(
        &state,
        super::CodeGrant {
            project_id: &project.id,
            user_id: &user_id,
            redirect_uri: &info.redirect_uri,
            code_challenge: &info.code_challenge,
            is_new_user,
            after_callback_redirect_url: info.after_callback_redirect_url.as_deref(),
            pending_link_sealed: pending_link.as_deref(),
        },
    )
    .await?;
    let target = with_query(
        &info.redirect_uri,
        &[("code", &authorization_code), ("state", &info.state)],
    );
    Ok(redirect(&target, &inner_state))
}

/// The user a callback signs in (or connects to), through which of their OAuth accounts (none
/// yet for a link, which completes at the code exchange).
pub(super) struct Found {
    pub user_id: String,
    pub oauth_account_id: Option<String>,
    pub is_new_user: bool,
    /// An anonymous user to upgrade with this profile at the code exchange.
    profile: Option<super::NewProfile>,
}

/// The user fields a new OAuth user gets from the provider's profile.
fn profile_fields(p: &super::NewProfile) -> UserWrite {
    UserWrite {
        primary_email: Some(p.email.clone()),
        primary_email_verified: Some(p.email_verified),
        primary_email_auth_enabled: Some(p.email_auth_enabled),
        display_name: Some(p.display_name.clone()),
        profile_image_url: Some(p.profile_image_url.clone()),
        ..Default::default()
    }
}

/// Whether `provider_id`'s account `account_id` may be connected to `user_id`: the id of its
/// account row when it already is, `None` when it is free.
/// Errors: OAUTH_CONNECTION_ALREADY_CONNECTED_TO_ANOTHER_USER, USER_NOT_FOUND.
async fn linkable(
    state: &ApiState,
    project: &Project,
    provider_id: &str,
    account_id: &str,
    user_id: &str,
) -> ApiResult<Option<String>> {
    match users::find_by_oauth_account(state.db(), &project.id, provider_id, account_id).await? {
        Some(account) if account.user_id == user_id => Ok(Some(account.id)),
        Some(_) => Err(known::oauth_connection_already_connected_to_another_user().into()),
        None => {
            users::find(state.db(), &project.id, user_id)
                .await?
                .ok_or_else(known::user_not_found)?;
            Ok(None)
        }
    }
}

/// Completes a `type=link` flow at the code exchange: connects the provider account to
/// `user_id` (again is fine) and keeps its tokens.
/// Errors: OAUTH_CONNECTION_ALREADY_CONNECTED_TO_ANOTHER_USER (also when another link won a
/// race), USER_NOT_FOUND.
pub(super) async fn complete_link(
    state: &ApiState,
    project: &Project,
    link: &super::PendingLink,
    user_id: &str,
) -> ApiResult<()> {
    let existing = linkable(state, project, &link.provider_id, &link.account_id, user_id).await?;
    if let Some(profile) = &link.profile {
        // The anonymous user becomes a user of their own, keeping id, teams, items, metadata.
        let user = users::find(state.db(), &project.id, user_id)
            .await?
            .filter(|u| u.is_anonymous)
            .ok_or_else(known::user_not_found)?;
        let mut fields = UserWrite {
            is_anonymous: Some(false),
            ..profile_fields(profile)
        };
        write::restrict_by_rule(&mut fields, profile.restriction.clone(), Some(&user));
        write::update(state, project, user, fields, false).await?;
    }
    let id = match existing {
        Some(id) => id,
        None => {
            let mut tx = state.db().begin().await?;
            let id = super::accounts::already_connected(
                users::insert_oauth_account(
                    &mut tx,
                    &project.id,
                    user_id,
                    &link.provider_id,
                    &link.account_id,
                    link.email.as_deref(),
                )
                .await,
            )?;
            users::sync_oauth_mirror(&mut tx, &project.id, user_id).await?;
            tx.commit().await?;
            id
        }
    };
    super::connected::keep_tokens(state, &id, &link.tokens, &link.scopes).await
}

/// The user the provider account signs in as, and whether they were created now (a new user
/// passes the sign-up rules first, seen from `country`). Errors: SIGN_UP_NOT_ENABLED,
/// SIGN_UP_REJECTED, CONTACT_CHANNEL_ALREADY_USED_FOR_AUTH_BY_SOMEONE_ELSE, and 400 for an
/// account not allowed to sign in.
pub(super) async fn sign_in_or_up(
    state: &ApiState,
    project: &Project,
    provider_id: &str,
    who: &provider::ProviderUser,
    upgrade_anonymous: Option<&str>,
    country: Option<&str>,
) -> ApiResult<Found> {
    if let Some(account) =
        users::find_by_oauth_account(state.db(), &project.id, provider_id, &who.account_id).await?
    {
        if !account.allow_sign_in {
            return Err(ApiError::bad_request(
                "This OAuth account is connected to a user but is not allowed to sign in.",
            ));
        }
        return Ok(Found {
            user_id: account.user_id,
            oauth_account_id: Some(account.id),
            is_new_user: false,
            profile: None,
        });
    }
    let email = who.email.as_deref().map(users::normalize_email);
    // Someone already signs in with this address: the project's merge strategy decides
    // (the original's `handleOAuthEmailMergeStrategy`).
    let holder = match &email {
        Some(e) => contact_channels::find_auth(state.db(), &project.id, e).await?,
        None => None,
    };
    if let (Some(holder), Some(email)) = (&holder, &email) {
        match project.config.oauth_account_merge_strategy.as_str() {
            "allow_duplicates" => {}
            "raise_error" => return Err(known::contact_channel_already_used(email, false).into()),
            // `link_method`: the same person only if both sides verified the address.
            _ if !holder.is_verified => {
                return Err(known::contact_channel_already_used(email, true).into())
            }
            _ if !who.email_verified => {
                return Err(known::contact_channel_already_used(email, false).into())
            }
            _ => {
                let mut tx = state.db().begin().await?;
                let oauth_account_id = users::link_oauth_account(
                    &mut tx,
                    &project.id,
                    &holder.user_id,
                    provider_id,
                    &who.account_id,
                    Some(email),
                )
                .await?;
                tx.commit().await?;
                return Ok(Found {
                    user_id: holder.user_id.clone(),
                    oauth_account_id: Some(oauth_account_id),
                    is_new_user: false,
                    profile: None,
                });
            }
        }
    }
    if !project.config.sign_up_enabled {
        return Err(known::sign_up_not_enabled().into());
    }
    let mut profile = super::NewProfile {
        email_verified: email.is_some() && who.email_verified,
        // Signing in with the address needs the provider to vouch for it (else whoever claims
        // an address at a lax provider would hold it against its owner), and nobody else
        // signing in with it.
        email_auth_enabled: email.is_some() && who.email_verified && holder.is_none(),
        email,
        display_name: who.display_name.clone(),
        profile_image_url: who.profile_image_url.clone(),
        restriction: None,
    };
    let applicant = Applicant::new(
        profile.email.as_deref(),
        "oauth",
        Some(provider_id),
        country,
    );
    if let Some(anonymous) = upgrade_anonymous {
        // The profile (and any restriction) is applied when the app exchanges the code.
        profile.restriction = sign_up_rules::admit(state, &project.id, &applicant)
            .await?
            .restriction;
        return Ok(Found {
            user_id: anonymous.to_string(),
            oauth_account_id: None,
            is_new_user: true,
            profile: Some(profile),
        });
    }
    let email = profile.email.clone();
    let mut fields = profile_fields(&profile);
    write::admit(state, project, &applicant, None, &mut fields).await?;
    let new = write::prepare(state, project, fields).await?;
    let mut tx = state.db().begin().await?;
    let user_id = write::create_in(&mut tx, project, new).await?;
    let oauth_account_id = users::link_oauth_account(
        &mut tx,
        &project.id,
        &user_id,
        provider_id,
        &who.account_id,
        email.as_deref(),
    )
    .await?;
    tx.commit().await?;
    Ok(Found {
        user_id,
        oauth_account_id: Some(oauth_account_id),
        is_new_user: true,
        profile: None,
    })
}

fn has_flow_cookie(headers: &HeaderMap, inner_state: &str) -> bool {
    let name = super::cookie_name(inner_state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .any(|pair| pair.trim() == format!("{name}=true"))
}

/// 303 to `target`, clearing the flow's cookie.
fn redirect(target: &str, inner_state: &str) -> Response {
    let mut res = (StatusCode::SEE_OTHER, "").into_response();
    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(target) {
        h.insert(header::LOCATION, v);
    }
    let clear = format!(
        "{}=; Path=/; HttpOnly; Max-Age=0",
        super::cookie_name(inner_state)
    );
    if let Ok(v) = HeaderValue::from_str(&clear) {
        h.insert(header::SET_COOKIE, v);
    }
    res
}

/// Removes expired flows and spent codes (they are refused anyway); called now and then.
pub(super) async fn forget_expired(state: &ApiState) -> ApiResult<()> {
    let now = now_ms();
    sqlx::query("DELETE FROM oauth_outer_states WHERE expires_at < $1")
        .bind(now)
        .execute(state.db())
        .await?;
    sqlx::query("DELETE FROM oauth_authorization_codes WHERE expires_at < $1")
        .bind(now - 86_400_000)
        .execute(state.db())
        .await?;
    Ok(())
}
