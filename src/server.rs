//! Assembles the whole: the kernel, each capability's state, and the router from every
//! capability's routes. The one place that names every capability.

use crate::auth::context::ApiState;
use crate::config::Config;
use crate::http;
use crate::kernel::Kernel;
use crate::payments::Payments;
use crate::store::Store;
use axum::extract::{FromRef, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

/// The assembled state; handlers take the substate they need (`ApiState`, `Arc<Payments>`, `Kernel`).
#[derive(Clone)]
pub struct AppState {
    api: ApiState,
    payments: Arc<Payments>,
}

impl AppState {
    /// Starts the capabilities' background writers; `server_secret` is the instance secret.
    pub fn new(config: Config, store: Store, server_secret: &[u8]) -> AppState {
        let kernel = Kernel::new(config, store, server_secret);
        AppState {
            payments: Arc::new(Payments::start(&kernel.store)),
            api: ApiState {
                kernel,
                projects: Default::default(),
            },
        }
    }

    pub fn kernel(&self) -> &Kernel {
        &self.api.kernel
    }
}

impl FromRef<AppState> for ApiState {
    fn from_ref(state: &AppState) -> ApiState {
        state.api.clone()
    }
}

impl FromRef<AppState> for Kernel {
    fn from_ref(state: &AppState) -> Kernel {
        state.api.kernel.clone()
    }
}

impl FromRef<AppState> for Arc<Payments> {
    fn from_ref(state: &AppState) -> Arc<Payments> {
        state.payments.clone()
    }
}

/// Starts the background workers (email delivery, the expired-code sweeper) and answers with
/// the router.
pub fn start(state: AppState) -> Router {
    http::metrics::install();
    crate::emails::sender::spawn(state.kernel().clone());
    crate::webhooks::deliver::spawn(state.kernel().clone());
    crate::codes::spawn_sweeper(state.kernel().clone());
    router(state)
}

pub fn router(state: AppState) -> Router {
    let header = |name: &Option<String>| {
        name.as_deref()
            .and_then(|h| axum::http::HeaderName::from_bytes(h.as_bytes()).ok())
    };
    let config = &state.kernel().config;
    let proxy_headers = http::ProxyHeaders {
        ip: header(&config.client_ip_header),
        country: header(&config.country_header),
    };
    let api = aide::axum::ApiRouter::new()
        .merge(crate::projects::routes())
        .merge(crate::projects::overrides::routes())
        .merge(crate::users::routes())
        .merge(crate::auth::routes())
        .merge(crate::oauth::routes())
        .merge(crate::emails::routes())
        .merge(crate::contact_channels::routes::routes())
        .merge(crate::teams::routes::routes())
        .merge(crate::teams::members::routes())
        .merge(crate::teams::invitations::routes())
        .merge(crate::permissions::routes::routes())
        .merge(crate::api_keys::routes::routes())
        .merge(crate::payments::routes())
        .merge(crate::webhooks::routes::routes())
        .merge(crate::data_vault::routes())
        .merge(crate::sign_up_rules::routes::routes())
        .api_route("/", aide::axum::routing::get(crate::projects::api_root))
        .api_route("/openapi.json", aide::axum::routing::get(openapi_document));
    aide::generate::infer_responses(true);
    let mut document = aide::openapi::OpenApi::default();
    let api = api.finish_api(&mut document);
    let document = Arc::new(http::openapi::finish(document, "/api/v1"));
    let api = api
        .layer(axum::Extension(OpenApiText(document)))
        .route_layer(axum::middleware::from_fn(http::metrics::mark_route))
        .fallback(http::api_not_found)
        .layer(axum::middleware::from_fn(http::api_layer));
    Router::new()
        .nest("/api/v1", api.clone())
        .nest("/api/latest", api)
        .route("/health", get(http::health))
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn(http::metrics::mark_route))
        .fallback(http::not_found)
        .merge(
            Router::new()
                .merge(crate::ui::dashboard::routes())
                .merge(crate::ui::checkout::routes())
                .merge(crate::ui::handler::routes())
                .route_layer(axum::middleware::from_fn(http::metrics::mark_route))
                .layer(axum::middleware::from_fn(crate::ui::page_headers)),
        )
        .layer(axum::middleware::from_fn(http::site_headers))
        .layer(axum::middleware::from_fn_with_state(
            proxy_headers,
            http::client_ip_layer,
        ))
        .layer(axum::middleware::from_fn(http::metrics::track))
        .with_state(state)
}

/// The generated OpenAPI document's JSON text.
#[derive(Clone)]
struct OpenApiText(Arc<String>);

/// `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of this API.
async fn openapi_document(
    axum::Extension(OpenApiText(text)): axum::Extension<OpenApiText>,
) -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        text.as_str().to_owned(),
    )
        .into_response()
}

/// `/metrics`: the recorded series, with the work queues and the pool measured now.
async fn metrics(State(k): State<Kernel>, headers: axum::http::HeaderMap) -> Response {
    let mut queues = Vec::new();
    for stat in [
        crate::emails::sender::queue_stat(&k).await,
        crate::webhooks::deliver::queue_stat(&k).await,
    ] {
        match stat {
            Ok(s) => queues.push(s),
            Err(e) => tracing::warn!(error = %e, "measuring a queue for /metrics failed"),
        }
    }
    let pool = (k.store.pool.size(), k.store.pool.num_idle());
    http::metrics::render(&headers, k.config.metrics_token.as_deref(), &queues, pool)
}
