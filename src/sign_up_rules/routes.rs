//! `POST /internal/sign-up-rules-test` (how the rules would treat a sign-up, rule by rule) and
//! `GET /internal/sign-up-rules-stats` (how often each rule matched), in the shapes of the
//! original's `apps/backend/src/app/api/latest/internal/sign-up-rules-{test,stats}/route.tsx`.

use super::{Applicant, Rules, AUTH_METHODS};
use crate::auth::context::{ApiState, RequestCtx, ADMIN};
use crate::http::extract::{schema_problem, Body};
use crate::http::{json_ok, ApiResult, ClientCountry};
use crate::store::{iso, now_ms};
use aide::axum::routing::{get, post};
use aide::axum::ApiRouter;
use axum::extract::{FromRef, State};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;

pub fn routes<S>() -> ApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
    ApiState: FromRef<S>,
{
    ApiRouter::new()
        .api_route("/internal/sign-up-rules-test", post(test))
        .api_route("/internal/sign-up-rules-stats", get(stats))
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct TestSignUp {
    email: Option<String>,
    /// `password`, `otp`, `oauth` or `passkey`.
    auth_method: String,
    oauth_provider: Option<String>,
    /// Two letters; `null`: the country this request comes from, when known.
    country_code: Option<String>,
    /// `ok`, `invalid` or `error`; default `invalid`.
    turnstile_result: Option<String>,
    /// 0–100 each; default 0 (no risk is scored here).
    risk_scores: Option<RiskScores>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct RiskScores {
    bot: i64,
    free_trial_abuse: i64,
}

const HOUR_MS: i64 = 3_600_000;
/// The stats' window, as the original's.
const ANALYTICS_HOURS: i64 = 48;

async fn test(
    State(state): State<ApiState>,
    ctx: RequestCtx,
    country: ClientCountry,
    Body(body): Body<TestSignUp>,
) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let Some(&auth_method) = AUTH_METHODS.iter().find(|m| **m == body.auth_method) else {
        return Err(schema_problem(format!(
            "body.auth_method must be one of the following values: {}",
            AUTH_METHODS.join(", ")
        )));
    };
    let country_code =
        match &body.country_code {
            Some(c) => Some(crate::http::country_code(c).ok_or_else(|| {
                schema_problem("body.country_code must be a 2-letter country code")
            })?),
            None => country.0,
        };
    let turnstile = body.turnstile_result.as_deref().unwrap_or("invalid");
    if !["ok", "invalid", "error"].contains(&turnstile) {
        return Err(schema_problem(
            "body.turnstile_result must be one of the following values: ok, invalid, error",
        ));
    }
    let mut who = Applicant::new(
        body.email.as_deref(),
        auth_method,
        body.oauth_provider.as_deref(),
        country_code.as_deref(),
    );
    if let Some(scores) = &body.risk_scores {
        for (name, v) in [
            ("bot", scores.bot),
            ("free_trial_abuse", scores.free_trial_abuse),
        ] {
            if v < 0 {
                return Err(schema_problem(format!(
                    "body.risk_scores.{name} must be greater than or equal to 0"
                )));
            }
            if v > 100 {
                return Err(schema_problem(format!(
                    "body.risk_scores.{name} must be less than or equal to 100"
                )));
            }
        }
        who.bot = scores.bot;
        who.free_trial_abuse = scores.free_trial_abuse;
    }
    let rules = Rules::load(&state, auth.pid()).await?;
    let (trace, outcome) = rules.evaluate(&who);
    let evaluations: Vec<Value> = trace
        .iter()
        .map(|(rule, status)| {
            let mut action = json!({ "type": rule.action.as_str() });
            if let Some(message) = &rule.message {
                action["message"] = json!(message);
            }
            let mut v = json!({
                "rule_id": rule.id,
                "display_name": rule.display_name.as_deref().unwrap_or(""),
                "enabled": rule.enabled,
                "condition": rule.condition.as_deref().unwrap_or(""),
                "status": status.as_str(),
                "action": action,
            });
            if let super::Status::Error(e) = status {
                v["error"] = json!(e);
            }
            v
        })
        .collect();
    Ok(json_ok(json!({
        "context": {
            "email": who.email,
            "email_domain": who.email_domain,
            "country_code": who.country_code,
            "auth_method": who.auth_method,
            "oauth_provider": who.oauth_provider,
            "turnstile_result": turnstile,
            "risk_scores": { "bot": who.bot, "free_trial_abuse": who.free_trial_abuse },
        },
        "evaluations": evaluations,
        "outcome": {
            "should_allow": outcome.should_allow,
            "decision": outcome.decision,
            "decision_rule_id": outcome.decision_rule,
            "restricted_because_of_rule_id": outcome.restricted_by,
        },
    })))
}

async fn stats(State(state): State<ApiState>, ctx: RequestCtx) -> ApiResult<Response> {
    let auth = ctx.require(ADMIN)?;
    let this_hour = now_ms() / HOUR_MS * HOUR_MS;
    let since = this_hour - (ANALYTICS_HOURS - 1) * HOUR_MS;
    let (recent, all_time) = super::triggers(&state, auth.pid(), since).await?;
    let mut by_action: BTreeMap<&str, i64> =
        super::Action::ALL.iter().map(|a| (a.as_str(), 0)).collect();
    // Per rule: the count in each hour of the window.
    let mut hourly: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (rule_id, action, at) in &recent {
        if let Some(n) = by_action.get_mut(action.as_str()) {
            *n += 1;
        }
        let slot = ((at - since) / HOUR_MS).clamp(0, ANALYTICS_HOURS - 1) as usize;
        hourly
            .entry(rule_id)
            .or_insert_with(|| vec![0; ANALYTICS_HOURS as usize])[slot] += 1;
    }
    let all_time: BTreeMap<&str, i64> = all_time.iter().map(|(id, n)| (id.as_str(), *n)).collect();
    let mut rule_ids: Vec<&str> = hourly.keys().chain(all_time.keys()).copied().collect();
    rule_ids.sort_unstable();
    rule_ids.dedup();
    let rule_triggers: Vec<Value> = rule_ids
        .iter()
        .map(|id| {
            let counts = hourly.get(id);
            let total: i64 = counts.map(|c| c.iter().sum()).unwrap_or(0);
            let hourly_counts: Vec<Value> = (0..ANALYTICS_HOURS)
                .map(|i| {
                    json!({
                        "hour": iso(since + i * HOUR_MS),
                        "count": counts.map(|c| c[i as usize]).unwrap_or(0),
                    })
                })
                .collect();
            json!({
                "rule_id": id,
                "total_count": total,
                "all_time_count": all_time.get(id).copied().unwrap_or(total),
                "hourly_counts": hourly_counts,
            })
        })
        .collect();
    Ok(json_ok(json!({
        "rule_triggers": rule_triggers,
        "analytics_hours": ANALYTICS_HOURS,
        "total_triggers": recent.len(),
        "triggers_by_action": by_action,
    })))
}
