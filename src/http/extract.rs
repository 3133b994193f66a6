//! Strict request parsing: bodies by content type (bad JSON → BODY_PARSING_ERROR) and typed
//! bodies and queries whose unknown or mistyped fields are a SCHEMA_ERROR, as in the original.

use super::error::ApiError;
use super::known;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Builds a SCHEMA_ERROR whose message names the request and each problem, one per line.
pub fn schema_error(problems: &[String]) -> ApiError {
    let line = super::REQUEST_LINE
        .try_with(|l| l.clone())
        .unwrap_or_default();
    let mut message = format!("Request validation failed on {line}:");
    for p in problems {
        message.push_str("\n  - ");
        message.push_str(p);
    }
    known::schema(message).into()
}

pub fn schema_problem(problem: impl Into<String>) -> ApiError {
    schema_error(&[problem.into()])
}

/// A typed request body.
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let value = RawBody::from_request(req, state).await?.0;
        parse_value(value, "body").map(Body)
    }
}

/// Decodes `value` (named `what`, e.g. `body`) into `T`. A refusal is a SCHEMA_ERROR worded as
/// the original's yup schemas word it (`packages/stack-shared/src/schema-fields.ts` and yup's
/// default locale), with the path of the offending field: `body contains unknown properties: x`,
/// `body.x must be defined`, ``body.x must be a `string` type, but the final value was: `1`.``,
/// `body.x cannot be null`, `body.x must be one of the following values: a, b`.
pub fn parse_value<T: DeserializeOwned>(value: Value, what: &str) -> Result<T, ApiError> {
    if value.is_null() {
        return Err(schema_problem(format!("{what} must be defined")));
    }
    serde_path_to_error::deserialize(&value)
        .map_err(|e| schema_problem(yup_message(what, &value, e.path(), &e.inner().to_string())))
}

/// The original's wording of a serde refusal at `path` inside `root` (named `what`).
fn yup_message(what: &str, root: &Value, path: &serde_path_to_error::Path, error: &str) -> String {
    use serde_path_to_error::Segment;
    let mut at = what.to_string();
    let mut value = Some(root);
    let mut parent = at.clone();
    for segment in path {
        parent = at.clone();
        match segment {
            Segment::Map { key } => {
                at.push('.');
                at.push_str(key);
                value = value.and_then(|v| v.get(key));
            }
            Segment::Seq { index } => {
                at.push_str(&format!("[{index}]"));
                value = value.and_then(|v| v.get(*index));
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let quoted = |text: &str| -> Vec<String> {
        text.split('`')
            .skip(1)
            .step_by(2)
            .map(String::from)
            .collect()
    };
    if let Some(rest) = error.strip_prefix("unknown field ") {
        // The path may end at the unknown key itself; the original names the object holding it.
        let field = quoted(rest).into_iter().next().unwrap_or_default();
        let object = if value.is_none() || at.ends_with(&format!(".{field}")) {
            parent
        } else {
            at
        };
        return format!("{object} contains unknown properties: {field}");
    }
    if let Some(rest) = error.strip_prefix("missing field ") {
        let field = quoted(rest).into_iter().next().unwrap_or_default();
        return format!("{at}.{field} must be defined");
    }
    if error.starts_with("invalid type: null") {
        return format!("{at} cannot be null");
    }
    if let Some((_, expected)) = error
        .strip_prefix("invalid type: ")
        .and_then(|r| r.rsplit_once(", expected "))
    {
        let kind = match expected {
            e if e.contains("string") || e.contains("char") => "string",
            e if e.contains("bool") => "boolean",
            e if e.contains("sequence") || e.contains("tuple") || e.contains("array") => "array",
            e if e.contains("map") || e.starts_with("struct") || e.contains("object") => "object",
            e if [
                "integer", "number", "float", "u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64",
                "f32", "f64",
            ]
            .iter()
            .any(|n| e.contains(n)) =>
            {
                "number"
            }
            _ => "mixed",
        };
        let shown = match value {
            Some(v @ (Value::Object(_) | Value::Array(_))) => {
                serde_json::to_string_pretty(v).unwrap_or_default()
            }
            Some(v) => v.to_string(),
            None => "undefined".into(),
        };
        return format!("{at} must be a `{kind}` type, but the final value was: `{shown}`.");
    }
    if let Some(rest) = error.strip_prefix("unknown variant ") {
        let names = quoted(rest);
        return format!(
            "{at} must be one of the following values: {}",
            names.get(1..).unwrap_or_default().join(", ")
        );
    }
    format!("{at}: {error}")
}

/// The body decoded by content type: JSON, a flat form map, or `Null` when absent.
pub struct RawBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            })
            .unwrap_or_default();
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|_| ApiError::from(known::body_parsing("Could not read the request body")))?;
        if content_type.is_empty() && bytes.is_empty() {
            return Ok(RawBody(Value::Null));
        }
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| known::body_parsing("Request body is not valid UTF-8"))?;
        let value = match content_type.as_str() {
            "application/json" => {
                if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(text)
                        .map_err(|_| known::body_parsing("Invalid JSON in request body"))?
                }
            }
            "application/x-www-form-urlencoded" => Value::Object(
                form_pairs(text)
                    .into_iter()
                    .map(|(k, v)| (k, Value::String(v)))
                    .collect(),
            ),
            "text/plain" => Value::String(text.to_string()),
            "" => Value::Null,
            other => {
                return Err(known::body_parsing(format!(
                    "Unknown content type in request body: {other}"
                ))
                .into())
            }
        };
        if let Some(field) = nul_in(&value, "body") {
            return Err(schema_problem(format!(
                "{field} must not contain NUL characters"
            )));
        }
        Ok(RawBody(value))
    }
}

/// The first string (or key) holding a NUL character, named by its path (`body.a[0].b`): text
/// columns cannot store NUL on PostgreSQL, so it is refused for every field on both databases.
/// Walks every body, so the path is only built once a NUL is found.
pub fn nul_in(value: &Value, path: &str) -> Option<String> {
    /// The path's segments, innermost first.
    fn find(value: &Value) -> Option<Vec<String>> {
        match value {
            Value::String(s) => s.contains('\0').then(Vec::new),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, v)| {
                let mut segments = find(v)?;
                segments.push(format!("[{i}]"));
                Some(segments)
            }),
            Value::Object(map) => map.iter().find_map(|(k, v)| {
                if k.contains('\0') {
                    return Some(Vec::new()); // the object holding the key
                }
                let mut segments = find(v)?;
                segments.push(format!(".{k}"));
                Some(segments)
            }),
            _ => None,
        }
    }
    let segments = find(value)?;
    Some(segments.iter().rev().fold(path.to_string(), |p, s| p + s))
}

/// Where a request's URL holds a percent-encoded NUL (the only way a URL can carry one):
/// `query.<name>`, or `path`.
pub fn nul_in_uri(uri: &axum::http::Uri) -> Option<String> {
    let has_nul = |s: &str| s.contains("%00");
    if has_nul(uri.path()) {
        return Some("path".into());
    }
    let query = uri.query().filter(|q| has_nul(q))?;
    form_pairs(query)
        .into_iter()
        .find(|(k, v)| k.contains('\0') || v.contains('\0'))
        .map(|(k, _)| format!("query.{}", k.replace('\0', "\\0")))
}

/// Typed query parameters (every value arrives as a string; the last repeat wins).
pub struct Query<T>(pub T);

/// Whether a typed [`Query`] took a request's query string. Routes without one refuse any query
/// parameter, as the original's schemas do; the request context checks this once every
/// extractor has run, whatever their order.
#[derive(Clone)]
pub struct QueryUse {
    /// The matched route (`/api/v1/users/{user_id}`), to find its resource's CRUD query.
    route: String,
    names: Vec<String>,
    taken: Arc<AtomicBool>,
}

impl QueryUse {
    /// The request's shared record (made by whichever extractor asks first).
    pub fn of(parts: &mut Parts) -> QueryUse {
        if let Some(q) = parts.extensions.get::<QueryUse>() {
            return q.clone();
        }
        let q = QueryUse {
            route: parts
                .extensions
                .get::<axum::extract::MatchedPath>()
                .map(|m| m.as_str().to_string())
                .unwrap_or_default(),
            names: form_pairs(parts.uri.query().unwrap_or(""))
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
            taken: Arc::default(),
        };
        parts.extensions.insert(q.clone());
        q
    }

    /// Errors: SCHEMA_ERROR naming the parameters when no typed query took them.
    pub fn check_taken(&self) -> Result<(), ApiError> {
        if self.taken.load(Ordering::Relaxed) {
            return Ok(());
        }
        let allowed = crud_query(&self.route);
        let unknown: Vec<&str> = self
            .names
            .iter()
            .map(String::as_str)
            .filter(|n| !allowed.contains(n))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(schema_problem(format!(
            "query contains unknown properties: {}",
            unknown.join(", ")
        )))
    }
}

/// The original declares one query schema per CRUD resource and accepts it on every operation
/// of that resource (`createCrudHandlers`' `querySchema`, e.g. the SDK sends `?user_id=` when it
/// updates an API key); operations other than the list ignore the values.
fn crud_query(route: &str) -> &'static [&'static str] {
    let route = route
        .strip_prefix("/api/v1")
        .or_else(|| route.strip_prefix("/api/latest"))
        .unwrap_or(route);
    let resource = route
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or("");
    match resource {
        "users" => &["team_id"],
        "teams" => &["user_id", "add_current_user"],
        "team-member-profiles" => &["user_id", "team_id"],
        "project-permissions" => &["user_id", "permission_id", "recursive"],
        "team-permissions" => &["team_id", "user_id", "permission_id", "recursive"],
        "contact-channels" => &["user_id", "contact_channel_id"],
        "user-api-keys" | "team-api-keys" => &["user_id", "team_id"],
        "team-invitations" => &["team_id"],
        "oauth-providers" => &["user_id"],
        "auth" if route.starts_with("/auth/sessions") => &["user_id"],
        _ => &[],
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        QueryUse::of(parts).taken.store(true, Ordering::Relaxed);
        let map: Map<String, Value> = form_pairs(parts.uri.query().unwrap_or(""))
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        parse_value(Value::Object(map), "query").map(Query)
    }
}

fn form_pairs(text: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k), percent_decode(v));
        out.retain(|(existing, _)| existing != &k);
        out.push((k, v));
    }
    out
}

fn percent_decode(s: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1])
                .zip(hex(bytes[i + 2]))
                .map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match (decoded, bytes[i]) {
            (Some(b), _) => {
                out.push(b);
                i += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                i += 1;
            }
            (None, b) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query booleans are the strings "true"/"false".
pub fn query_bool(value: &Option<String>, name: &str) -> Result<bool, ApiError> {
    match value.as_deref() {
        None => Ok(false),
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(schema_problem(format!(
            "query.{name} must be one of the following values: true, false"
        ))),
    }
}

/// For optional nullable fields: absent → None, `null` → Some(None), value → Some(Some(v)).
pub fn nullable<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    Ok(Some(Option::deserialize(d)?))
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_the_nul() {
        use serde_json::json;
        let body = json!({ "a": [1, { "b": "x\u{0}" }], "c": "ok" });
        assert_eq!(super::nul_in(&body, "body").as_deref(), Some("body.a[1].b"));
        assert_eq!(
            super::nul_in(&json!({ "k\u{0}": 1 }), "body").as_deref(),
            Some("body")
        );
        assert_eq!(super::nul_in(&json!({ "a": ["fine"] }), "body"), None);
        let uri: axum::http::Uri = "/x?ok=1&bad%00=2".parse().unwrap();
        assert_eq!(super::nul_in_uri(&uri).as_deref(), Some("query.bad\\0"));
    }

    #[test]
    fn decodes_forms() {
        let pairs = super::form_pairs("a=1&b=x%20y+z&a=2&c=%zz&d=%4");
        assert_eq!(
            pairs,
            vec![
                ("b".into(), "x y z".into()),
                ("a".into(), "2".into()),
                ("c".into(), "%zz".into()),
                ("d".into(), "%4".into()),
            ]
        );
    }
}
