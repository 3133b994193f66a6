//! Prometheus metrics at `/metrics` (text exposition format 0.0.4), recorded through the
//! `metrics` facade and rendered by `metrics-exporter-prometheus`. Capabilities record their own
//! counters with `metrics::counter!`; this module records every HTTP request and renders the
//! page, with gauges the caller measured just before (queue depths, pool use).
//!
//! Series:
//! - `portcullis_http_requests_total{method, route, status}` and
//!   `portcullis_http_request_duration_seconds{method, route}` (a histogram, seconds). `route` is
//!   the matched template (`/api/v1/users/{user_id}`), `unmatched` for none, so ids never become
//!   series.
//! - `portcullis_sign_ins_total{method}` and `portcullis_sign_ups_total{method}` (`auth`).
//! - `portcullis_queue_depth{queue}`, `portcullis_queue_oldest_age_seconds{queue}` and
//!   `portcullis_db_pool_connections{state}`, measured at each scrape.

use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;
use subtle::ConstantTimeEq;
use tracing::Instrument;

const DURATION: &str = "portcullis_http_request_duration_seconds";
/// Request latency buckets (seconds): 1 ms to 10 s.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process's recorder, installed on first use; `None` if another recorder was installed
/// first (an embedding program's own).
fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(DURATION.into()), &BUCKETS)
                .ok()?
                .install_recorder()
                .ok()
        })
        .as_ref()
}

/// Installs the recorder (call once at start, so counters recorded before the first scrape
/// count).
pub fn install() {
    if handle().is_none() {
        return;
    }
    metrics::describe_counter!(
        "portcullis_http_requests_total",
        "HTTP requests answered, by method, route template and status."
    );
    metrics::describe_histogram!(
        DURATION,
        metrics::Unit::Seconds,
        "Time to answer an HTTP request, by method and route template."
    );
    metrics::describe_counter!(
        "portcullis_sign_ins_total",
        "First factors accepted, by method (password, otp, oauth, passkey)."
    );
    metrics::describe_counter!(
        "portcullis_sign_ups_total",
        "Users created by signing up, by method (password, otp, oauth, anonymous)."
    );
    metrics::describe_gauge!(
        "portcullis_queue_depth",
        "Items waiting or in flight in a work queue (emails, webhooks)."
    );
    metrics::describe_gauge!(
        "portcullis_queue_oldest_age_seconds",
        metrics::Unit::Seconds,
        "Age of the oldest item waiting or in flight in a work queue."
    );
    metrics::describe_gauge!(
        "portcullis_db_pool_connections",
        "Database pool connections, by state (idle, in_use)."
    );
}

/// The route template that answered, left on the response by [`mark_route`].
#[derive(Clone)]
struct Route(String);

/// Route layer: marks the response with the template of the route that matched. The innermost
/// router's mark wins (an outer router sees only its nest's pattern).
pub async fn mark_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if let Some(m) = matched {
        if res.extensions().get::<Route>().is_none() {
            res.extensions_mut().insert(Route(m.as_str().to_string()));
        }
    }
    res
}

/// The request's id: in its log span and answered as `x-stack-request-id`.
#[derive(Clone)]
pub struct RequestId(pub String);

/// Outer layer: gives the request its id and log span, then counts and times it by method,
/// route and status.
pub async fn track(mut req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let id = crate::crypto::secret::random_base32(16);
    let span = tracing::info_span!("request", id = %id, method = %method, path = %req.uri().path());
    req.extensions_mut().insert(RequestId(id));
    let started = Instant::now();
    let res = next.run(req).instrument(span.clone()).await;
    span.in_scope(|| {
        tracing::debug!(
            status = res.status().as_u16(),
            ms = started.elapsed().as_millis() as u64,
            "answered"
        )
    });
    let route = res
        .extensions()
        .get::<Route>()
        .map_or("unmatched".to_string(), |r| r.0.clone());
    let status = res.status().as_u16().to_string();
    metrics::counter!("portcullis_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!(DURATION, "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    res
}

/// A work queue's state at a scrape: items waiting or in flight, and the oldest one's age (ms).
pub struct QueueStat {
    pub queue: &'static str,
    pub depth: i64,
    pub oldest_age_ms: i64,
}

/// Measures a queue with `sql`, which answers `(COUNT(*), MIN(created_at))` of its open items.
pub async fn measure_queue(
    db: &sqlx::AnyPool,
    queue: &'static str,
    sql: &str,
) -> sqlx::Result<QueueStat> {
    let (depth, oldest): (i64, Option<i64>) = sqlx::query_as(sql).fetch_one(db).await?;
    Ok(QueueStat {
        queue,
        depth,
        oldest_age_ms: oldest.map_or(0, |t| (crate::store::now_ms() - t).max(0)),
    })
}

/// The `/metrics` page. With `token` set (`--metrics-token`), only requests bearing it are
/// answered; others get 401.
pub fn render(
    headers: &HeaderMap,
    token: Option<&str>,
    queues: &[QueueStat],
    pool: (u32, usize),
) -> Response {
    if let Some(token) = token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let matches = given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(token.as_bytes())));
        if !matches {
            return (StatusCode::UNAUTHORIZED, "a bearer token is required").into_response();
        }
    }
    let Some(handle) = handle() else {
        return (StatusCode::NOT_FOUND, "metrics are recorded elsewhere").into_response();
    };
    for q in queues {
        metrics::gauge!("portcullis_queue_depth", "queue" => q.queue).set(q.depth as f64);
        metrics::gauge!("portcullis_queue_oldest_age_seconds", "queue" => q.queue)
            .set(q.oldest_age_ms as f64 / 1000.0);
    }
    let (size, idle) = pool;
    metrics::gauge!("portcullis_db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("portcullis_db_pool_connections", "state" => "in_use")
        .set(size.saturating_sub(idle as u32) as f64);
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response()
}
