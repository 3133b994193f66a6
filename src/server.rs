//! Assembles the router from every capability's routes and holds the shared state.

use crate::config::Config;
use crate::crypto::jwt::JwtKeys;
use crate::http;
use crate::store::Store;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// Everything a handler needs, cheap to clone: configuration, the database, signing keys.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub store: Store,
    pub jwt: JwtKeys,
    /// Base URL (no trailing slash) used in token issuers.
    pub public_url: String,
    pub projects: crate::projects::ProjectCache,
    /// Recently rendered payments catalogs, by project.
    pub catalogs: crate::store::recent::Recent<crate::payments::config::Catalog>,
    /// Recently verified API keys (hash of kind, project and key), so keyed requests skip a read.
    pub valid_keys: crate::store::recent::Recent<()>,
    /// Wakes the email sender when new mail is queued, instead of waiting for its next poll.
    pub email_wakeup: tokio::sync::Notify,
    /// The group-committing writers of plain item balance changes.
    pub fast_changes: crate::payments::batch::FastChanges,
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn new(config: Config, store: Store, server_secret: Vec<u8>) -> Self {
        let public_url = config.public_url();
        crate::crypto::secret_box::init(&server_secret);
        AppState(Arc::new(Inner {
            fast_changes: crate::payments::batch::FastChanges::start(&store),
            config,
            store,
            jwt: JwtKeys::new(server_secret),
            public_url,
            projects: Default::default(),
            catalogs: Default::default(),
            valid_keys: Default::default(),
            email_wakeup: Default::default(),
        }))
    }

    pub fn db(&self) -> &sqlx::AnyPool {
        &self.store.pool
    }
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(crate::projects::routes())
        .merge(crate::users::routes())
        .merge(crate::auth::routes())
        .merge(crate::emails::routes())
        .merge(crate::contact_channels::routes::routes())
        .merge(crate::teams::routes::routes())
        .merge(crate::teams::members::routes())
        .merge(crate::teams::invitations::routes())
        .merge(crate::permissions::routes::routes())
        .merge(crate::api_keys::routes::routes())
        .merge(crate::projects::overrides::routes())
        .merge(crate::payments::routes())
        .route("/", get(crate::projects::api_root))
        .fallback(http::api_not_found)
        .layer(axum::middleware::from_fn(http::api_layer));
    Router::new()
        .nest("/api/v1", api.clone())
        .nest("/api/latest", api)
        .route("/health", get(health))
        .merge(crate::ui::dashboard::routes())
        .merge(crate::ui::checkout::routes())
        .layer(axum::middleware::from_fn(http::site_headers))
        .with_state(state)
}

async fn health(
    axum::extract::State(state): axum::extract::State<AppState>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let wants_db = query.is_some_and(|q| q.split('&').any(|p| p.starts_with("db=") && p.len() > 3));
    if wants_db && sqlx::query("SELECT 1").execute(state.db()).await.is_err() {
        return (
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "database unavailable",
        )
            .into_response();
    }
    let mut res = axum::Json(serde_json::json!({ "status": "ok" })).into_response();
    for h in [
        "access-control-allow-origin",
        "access-control-allow-methods",
        "access-control-allow-headers",
        "access-control-expose-headers",
    ] {
        res.headers_mut()
            .insert(h, axum::http::HeaderValue::from_static("*"));
    }
    res
}
