//! The launch checklist: what a project should have done before real users arrive, each check
//! computed from the project's real state (its config, the outbox, Stripe's webhook marks, its
//! key sets, its admins), with the dashboard page that fixes it.

use super::config::EmailConfig;
use super::Project;
use crate::http::ApiResult;
use crate::kernel::Kernel;
use crate::store::now_ms;

/// Stripe counts as live when one of its webhooks arrived this recently (ms): a week.
const STRIPE_RECENT_MS: i64 = 7 * 24 * 3_600_000;

/// The checks an admin may mark as consciously left open (`config.launch_acknowledged`).
pub const ACKNOWLEDGEABLE: [&str; 1] = ["email_verification"];

/// One item of the checklist.
pub struct Check {
    /// Stable id (`trusted_domains`, `email_server`, …).
    pub id: &'static str,
    pub title: &'static str,
    pub done: bool,
    /// What was found, in a sentence.
    pub detail: String,
    /// Where it is fixed: a page below `/dashboard/projects/{id}/`, a path from `/`, a `#part` of
    /// the project's page, or nothing (fixed on the checklist itself).
    pub fix: &'static str,
}

/// `COUNT(*)` of `sql` over `$1` (an id) and, when given, `$2` (a time in ms).
async fn count(state: &Kernel, sql: &str, id: &str, ms: Option<i64>) -> ApiResult<i64> {
    let mut q = sqlx::query_scalar::<_, i64>(sql).bind(id);
    if let Some(ms) = ms {
        q = q.bind(ms);
    }
    Ok(q.fetch_one(state.db()).await?)
}

/// The project's checklist, in the order to work through it.
pub async fn checks(state: &Kernel, project: &Project) -> ApiResult<Vec<Check>> {
    let c = &project.config;
    let pid = project.id.as_str();
    let mut checks = Vec::new();

    let domains = !c.domains.is_empty() && !c.allow_localhost;
    checks.push(Check {
        id: "trusted_domains",
        title: "Trusted domains set, localhost callbacks off",
        done: domains,
        detail: format!(
            "{} trusted domain(s); localhost callbacks {}.",
            c.domains.len(),
            if c.allow_localhost {
                "allowed"
            } else {
                "refused"
            }
        ),
        fix: "settings",
    });

    let own_smtp = matches!(c.email_config, EmailConfig::Standard { .. });
    let sent = count(
        state,
        "SELECT COUNT(*) FROM emails WHERE project_id = $1 AND smtp = 'project' AND status = 'sent'",
        pid,
        None,
    )
    .await?;
    checks.push(Check {
        id: "email_server",
        title: "Your own SMTP server, with a successful send",
        done: own_smtp && sent > 0,
        detail: match (own_smtp, sent) {
            (false, _) => "Emails go through this server's default sender.".into(),
            (true, 0) => {
                "Your server is set; no email has gone through it yet: send a test.".into()
            }
            (true, n) => format!("{n} email(s) sent through your server."),
        },
        fix: "settings",
    });

    let shared: Vec<&str> = c
        .sorted_providers()
        .into_iter()
        .filter(|p| p.kind == "shared")
        .map(|p| p.id.as_str())
        .collect();
    checks.push(Check {
        id: "oauth_keys",
        title: "Your own OAuth keys for every provider",
        done: shared.is_empty(),
        detail: if shared.is_empty() {
            format!(
                "{} provider(s), all with your own keys.",
                c.oauth_providers.len()
            )
        } else {
            format!("Shared development keys: {}.", shared.join(", "))
        },
        fix: "settings",
    });

    let connected = count(
        state,
        "SELECT COUNT(*) FROM stripe_accounts WHERE project_id = $1",
        pid,
        None,
    )
    .await?
        > 0;
    let recent = count(
        state,
        "SELECT COUNT(*) FROM stripe_events WHERE project_id = $1 AND applied_at > $2",
        pid,
        Some(now_ms() - STRIPE_RECENT_MS),
    )
    .await?;
    checks.push(Check {
        id: "stripe",
        title: "Stripe connected, its webhooks arriving",
        done: connected && recent > 0,
        detail: match (connected, recent) {
            (false, _) => "Stripe is not connected.".into(),
            (true, 0) => "Connected; no webhook from Stripe in the last 7 days.".into(),
            (true, n) => format!("Connected; {n} webhook(s) in the last 7 days."),
        },
        fix: "payments/stripe",
    });

    let acknowledged = c
        .launch_acknowledged
        .iter()
        .any(|a| a == "email_verification");
    checks.push(Check {
        id: "email_verification",
        title: "Email verification required, or consciously off",
        done: c.require_email_verification || acknowledged,
        detail: if c.require_email_verification {
            "Users must verify their email.".into()
        } else if acknowledged {
            "Off, on purpose.".into()
        } else {
            "Off: unverified emails can use the app.".into()
        },
        fix: "",
    });

    // The first set is the one made with the project: the project's oldest.
    let first: Option<(String, Option<i64>)> = sqlx::query_as(
        "SELECT id, revoked_at FROM api_key_sets WHERE project_id = $1 ORDER BY created_at, id LIMIT 1",
    )
    .bind(pid)
    .fetch_optional(state.db())
    .await?;
    let (first_id, first_live) = match &first {
        Some((id, revoked)) => (id.as_str(), revoked.is_none()),
        None => ("", false),
    };
    let live_first = i64::from(first_live);
    let live_later: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM api_key_sets WHERE project_id = $1 AND revoked_at IS NULL AND id <> $2",
    )
    .bind(pid)
    .bind(first_id)
    .fetch_one(state.db())
    .await?;
    checks.push(Check {
        id: "fresh_keys",
        title: "Keys created after the project, the first set revoked",
        done: live_first == 0 && live_later > 0,
        detail: format!(
            "The first key set is {}; {live_later} live set(s) made since.",
            if live_first == 1 {
                "still live"
            } else {
                "revoked"
            }
        ),
        fix: "#key-sets",
    });

    let admins = match &project.owner_team_id {
        Some(team) => {
            count(
                state,
                "SELECT COUNT(*) FROM team_members WHERE team_id = $1",
                team,
                None,
            )
            .await?
        }
        None => 0,
    };
    checks.push(Check {
        id: "admins",
        title: "At least two admins",
        done: admins >= 2,
        detail: format!("{admins} admin(s)."),
        fix: "/dashboard#admins",
    });
    Ok(checks)
}
