//! Sign-up rules: `auth.signUpRules` in the config document, CEL conditions over who is signing
//! up, checked in priority order on every sign-up path except creating an anonymous user (the
//! original's `apps/backend/src/lib/sign-up-rules.ts` and `cel-evaluator.ts`).
//!
//! The first matching `allow` or `reject` rule decides; `restrict` marks the new user restricted
//! by an administrator and `log` only counts, both going on to the next rule; with no decision
//! the project's `auth.signUpRulesDefaultAction` does. A condition that does not evaluate to a
//! boolean (bad syntax, an invalid regex) does not match. Every match is recorded for
//! `internal/sign-up-rules-stats`.

pub mod routes;

use crate::crypto::secret::new_uuid;
use crate::http::{self, known, ApiResult};
use crate::kernel::Kernel;
use crate::projects::document::load_merged;
use crate::store::now_ms;
use cel_interpreter::extractors::This;
use cel_interpreter::{Context, ExecutionError, FunctionContext, Program, Value as Cel};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// What a matching rule does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Allow,
    Reject,
    Restrict,
    Log,
}

impl Action {
    pub const ALL: [Action; 4] = [Action::Allow, Action::Reject, Action::Restrict, Action::Log];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Reject => "reject",
            Action::Restrict => "restrict",
            Action::Log => "log",
        }
    }

    fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// One rule as configured, with the schema's defaults filled in (`enabled: false`,
/// `priority: 0`, action `allow`).
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub enabled: bool,
    pub display_name: Option<String>,
    /// Higher first; equal priorities in id order.
    pub priority: i64,
    pub condition: Option<String>,
    pub action: Action,
    /// For administrators only: never shown to the person signing up.
    pub message: Option<String>,
}

/// A project's rules in evaluation order, and what happens when none decides.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    pub rules: Vec<Rule>,
    pub default_reject: bool,
}

/// The sign-up methods rules can tell apart (the original's `signUpAuthMethodValues`).
pub const AUTH_METHODS: [&str; 4] = ["password", "otp", "oauth", "passkey"];

/// Who is signing up, as conditions see them (the original's `SignUpRuleContext`): `email`
/// (trimmed, lower case; `""` when there is none), `emailDomain`, `countryCode` (ISO 3166-1
/// alpha-2, `""` when unknown), `authMethod`, `oauthProvider` (`""` unless OAuth) and
/// `riskScores.bot` / `riskScores.free_trial_abuse` (0–100).
#[derive(Clone, Debug, Default)]
pub struct Applicant {
    pub email: String,
    pub email_domain: String,
    pub country_code: String,
    pub auth_method: &'static str,
    pub oauth_provider: String,
    pub bot: i64,
    pub free_trial_abuse: i64,
}

impl Applicant {
    /// `auth_method` is one of [`AUTH_METHODS`]; a country code that is not two letters is
    /// unknown. No risk is scored here: both scores are 0 unless set.
    pub fn new(
        email: Option<&str>,
        auth_method: &'static str,
        oauth_provider: Option<&str>,
        country_code: Option<&str>,
    ) -> Applicant {
        let email = email.map(|e| e.trim().to_lowercase()).unwrap_or_default();
        let email_domain = match email.rsplit_once('@') {
            Some((_, domain)) => domain.to_string(),
            None => String::new(),
        };
        Applicant {
            email,
            email_domain,
            country_code: country_code
                .and_then(http::country_code)
                .unwrap_or_default(),
            auth_method,
            oauth_provider: oauth_provider.unwrap_or_default().to_string(),
            bot: 0,
            free_trial_abuse: 0,
        }
    }
}

/// How one rule fared (the trace `internal/sign-up-rules-test` shows).
#[derive(Clone, Debug, PartialEq)]
pub enum Status {
    Matched,
    NotMatched,
    Disabled,
    MissingCondition,
    Error(String),
}

impl Status {
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Matched => "matched",
            Status::NotMatched => "not_matched",
            Status::Disabled => "disabled",
            Status::MissingCondition => "missing_condition",
            Status::Error(_) => "error",
        }
    }
}

/// The result: whether the sign-up may go on, what decided (`allow`, `reject`,
/// `default-allow`, `default-reject`) and by which rule, and the first `restrict` rule that
/// matched before the decision.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub should_allow: bool,
    pub decision: &'static str,
    pub decision_rule: Option<String>,
    pub restricted_by: Option<String>,
}

impl Rules {
    /// The rules of a merged config document (`auth.signUpRules`,
    /// `auth.signUpRulesDefaultAction`). Errors: every problem found, each naming its path in
    /// the words of the original's yup schema (`packages/stack-shared/src/config/schema.ts`).
    pub fn parse(doc: &Value) -> Result<Rules, Vec<String>> {
        let mut problems = Vec::new();
        let auth = doc.get("auth");
        let default_reject = match auth.and_then(|a| a.get("signUpRulesDefaultAction")) {
            None | Some(Value::Null) => false,
            Some(Value::String(s)) if s == "allow" => false,
            Some(Value::String(s)) if s == "reject" => true,
            Some(_) => {
                problems.push(
                    "auth.signUpRulesDefaultAction must be one of the following values: allow, reject"
                        .to_string(),
                );
                false
            }
        };
        let mut rules = Vec::new();
        match auth.and_then(|a| a.get("signUpRules")) {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (id, v) in map {
                    if v.is_null() {
                        continue;
                    }
                    if let Some(rule) = parse_rule(id, v, &mut problems) {
                        rules.push(rule);
                    }
                }
            }
            Some(_) => problems.push("auth.signUpRules must be an object".to_string()),
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        rules.sort_by(|a, b| b.priority.cmp(&a.priority).then_with(|| a.id.cmp(&b.id)));
        Ok(Rules {
            rules,
            default_reject,
        })
    }

    /// A project's rules from its stored config. A document stored before rules were checked
    /// and no longer valid counts as no rules (and is logged), so sign-ups are not all refused.
    pub async fn load(k: &Kernel, project_id: &str) -> ApiResult<Rules> {
        let doc = load_merged(k.db(), project_id).await?;
        Ok(Rules::parse(&doc).unwrap_or_else(|problems| {
            tracing::warn!(
                project_id,
                ?problems,
                "sign-up rules ignored: invalid config"
            );
            Rules::default()
        }))
    }

    /// `{"signUpRules": {...}, "signUpRulesDefaultAction": ...}` as the rendered config shows
    /// them: in evaluation order, defaults filled in.
    pub fn to_json(&self) -> Value {
        let mut rules = Map::new();
        for r in &self.rules {
            let mut rule = Map::new();
            rule.insert("enabled".into(), json!(r.enabled));
            if let Some(name) = &r.display_name {
                rule.insert("displayName".into(), json!(name));
            }
            rule.insert("priority".into(), json!(r.priority));
            if let Some(condition) = &r.condition {
                rule.insert("condition".into(), json!(condition));
            }
            let mut action = json!({ "type": r.action.as_str() });
            if let Some(message) = &r.message {
                action["message"] = json!(message);
            }
            rule.insert("action".into(), action);
            rules.insert(r.id.clone(), Value::Object(rule));
        }
        json!({
            "signUpRules": rules,
            "signUpRulesDefaultAction": if self.default_reject { "reject" } else { "allow" },
        })
    }

    /// Every rule's status in order (stopping at the decision) and the outcome.
    pub fn evaluate(&self, who: &Applicant) -> (Vec<(&Rule, Status)>, Outcome) {
        let mut trace = Vec::new();
        let mut restricted_by = None;
        let context = context(who);
        for rule in &self.rules {
            let status = match &rule.condition {
                _ if !rule.enabled => Status::Disabled,
                None => Status::MissingCondition,
                Some(c) if c.is_empty() => Status::MissingCondition,
                Some(c) => match matches(c, &context) {
                    Ok(true) => Status::Matched,
                    Ok(false) => Status::NotMatched,
                    Err(e) => Status::Error(e),
                },
            };
            let matched = status == Status::Matched;
            trace.push((rule, status));
            if !matched {
                continue;
            }
            match rule.action {
                Action::Restrict => {
                    restricted_by.get_or_insert_with(|| rule.id.clone());
                }
                Action::Log => {}
                Action::Allow | Action::Reject => {
                    let allow = rule.action == Action::Allow;
                    let outcome = Outcome {
                        should_allow: allow,
                        decision: rule.action.as_str(),
                        decision_rule: Some(rule.id.clone()),
                        restricted_by,
                    };
                    return (trace, outcome);
                }
            }
        }
        let outcome = Outcome {
            should_allow: !self.default_reject,
            decision: if self.default_reject {
                "default-reject"
            } else {
                "default-allow"
            },
            decision_rule: None,
            restricted_by,
        };
        (trace, outcome)
    }
}

/// Conditions are CEL; this bounds them so that no stored rule can exhaust the parser's stack.
const MAX_CONDITION_LEN: usize = 4096;
const MAX_CONDITION_NESTING: usize = 32;

fn parse_rule(id: &str, v: &Value, problems: &mut Vec<String>) -> Option<Rule> {
    let at = format!("auth.signUpRules.{id}");
    let id_ok = id.len() <= 63
        && !id.starts_with('-')
        && !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if !id_ok {
        problems.push(format!(
            "{at}: signUpRuleId must contain only letters, numbers, underscores, and hyphens, and not start with a hyphen"
        ));
    }
    let Value::Object(map) = v else {
        problems.push(format!("{at} must be an object"));
        return None;
    };
    let unknown: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|k| !["enabled", "displayName", "priority", "condition", "action"].contains(k))
        .collect();
    if !unknown.is_empty() {
        problems.push(format!(
            "{at} contains unknown properties: {}",
            unknown.join(", ")
        ));
    }
    let string = |key: &str, problems: &mut Vec<String>| match map.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            problems.push(format!("{at}.{key} must be a `string` type"));
            None
        }
    };
    let display_name = string("displayName", problems);
    let condition = string("condition", problems);
    if let Some(c) = &condition {
        let depth = c
            .chars()
            .scan(0usize, |d, ch| {
                match ch {
                    '(' | '[' | '{' => *d += 1,
                    ')' | ']' | '}' => *d = d.saturating_sub(1),
                    _ => {}
                }
                Some(*d)
            })
            .max()
            .unwrap_or(0);
        if c.len() > MAX_CONDITION_LEN {
            problems.push(format!(
                "{at}.condition must be at most {MAX_CONDITION_LEN} characters"
            ));
        } else if depth > MAX_CONDITION_NESTING {
            problems.push(format!(
                "{at}.condition must not nest brackets more than {MAX_CONDITION_NESTING} deep"
            ));
        }
    }
    let enabled = match map.get("enabled") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            problems.push(format!("{at}.enabled must be a `boolean` type"));
            false
        }
    };
    let priority = match map.get("priority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => match n.as_i64() {
            Some(p) if p >= 0 => p,
            Some(_) => {
                problems.push(format!("{at}.priority must be greater than or equal to 0"));
                0
            }
            None => {
                problems.push(format!("{at}.priority must be an integer"));
                0
            }
        },
        Some(_) => {
            problems.push(format!("{at}.priority must be a `number` type"));
            0
        }
    };
    let (action, message) = match map.get("action") {
        None | Some(Value::Null) => (Action::Allow, None),
        Some(Value::Object(a)) => {
            if let Some(k) = a.keys().find(|k| *k != "type" && *k != "message") {
                problems.push(format!("{at}.action contains unknown properties: {k}"));
            }
            let action = match a.get("type") {
                Some(Value::String(s)) => Action::parse(s),
                _ => None,
            };
            if action.is_none() {
                problems.push(format!(
                    "{at}.action.type must be one of the following values: allow, reject, restrict, log"
                ));
            }
            let message = match a.get("message") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    problems.push(format!("{at}.action.message must be a `string` type"));
                    None
                }
            };
            (action.unwrap_or(Action::Allow), message)
        }
        Some(_) => {
            problems.push(format!("{at}.action must be an object"));
            (Action::Allow, None)
        }
    };
    Some(Rule {
        id: id.to_string(),
        enabled,
        display_name,
        priority,
        condition,
        action,
        message,
    })
}

/// Results by their text, kept for the process (rules change rarely; parsing a condition costs
/// far more than evaluating it). Bounded: emptied when full.
struct Memo<T>(OnceLock<Mutex<HashMap<String, Option<Arc<T>>>>>);

impl<T> Memo<T> {
    const CAPACITY: usize = 1024;

    const fn new() -> Self {
        Memo(OnceLock::new())
    }

    /// `make(key)`'s result, made once per key (`None` too: a failure is remembered).
    fn get(&self, key: &str, make: impl FnOnce() -> Option<T>) -> Option<Arc<T>> {
        let map = self.0.get_or_init(Default::default);
        if let Some(found) = map.lock().unwrap_or_else(|e| e.into_inner()).get(key) {
            return found.clone();
        }
        let made = make().map(Arc::new);
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= Self::CAPACITY {
            map.clear();
        }
        map.insert(key.to_string(), made.clone());
        made
    }
}

static PROGRAMS: Memo<Program> = Memo::new();
static REGEXES: Memo<fancy_regex::Regex> = Memo::new();

/// The variables conditions see (see [`Applicant`]) and the functions they may call.
fn context(who: &Applicant) -> Context<'static> {
    let mut context = Context::default();
    // JavaScript's regular expressions (backreferences included), as the original's `matches`.
    context.add_function("matches", regex_matches);
    let risk: HashMap<String, i64> = [
        ("bot".to_string(), who.bot),
        ("free_trial_abuse".to_string(), who.free_trial_abuse),
    ]
    .into();
    context.add_variable_from_value("email", who.email.clone());
    context.add_variable_from_value("emailDomain", who.email_domain.clone());
    context.add_variable_from_value("countryCode", who.country_code.clone());
    context.add_variable_from_value("authMethod", who.auth_method);
    context.add_variable_from_value("oauthProvider", who.oauth_provider.clone());
    context.add_variable_from_value("riskScores", risk);
    context
}

/// Evaluates one condition in `context`. Errors: the reason it has no boolean value.
fn matches(condition: &str, context: &Context) -> Result<bool, String> {
    let failed = || format!("Failed to evaluate CEL expression: {condition}");
    // The parser (antlr4rust) panics on some malformed input, e.g. `email ==`: caught, that is
    // a condition that does not parse.
    let program = PROGRAMS
        .get(condition, || {
            std::panic::catch_unwind(|| Program::compile(condition))
                .ok()?
                .ok()
        })
        .ok_or_else(failed)?;
    match program.execute(context) {
        Ok(Cel::Bool(b)) => Ok(b),
        Ok(other) => Err(format!(
            "CEL expression must evaluate to a boolean, got {other:?}"
        )),
        Err(ExecutionError::FunctionError { function, message }) if function == "matches" => {
            Err(message)
        }
        Err(_) => Err(failed()),
    }
}

fn regex_matches(
    ftx: &FunctionContext,
    This(this): This<Arc<String>>,
    pattern: Arc<String>,
) -> Result<bool, ExecutionError> {
    let invalid = || ftx.error(format!("Invalid regex pattern in matches(): \"{pattern}\""));
    let re = REGEXES
        .get(&pattern, || fancy_regex::Regex::new(&pattern).ok())
        .ok_or_else(invalid)?;
    // A pattern that backtracks past fancy-regex's limit is an error, not a hang.
    re.is_match(this.as_str()).map_err(|_| invalid())
}

/// What the rules let through: the private details to restrict the new user with, when a
/// `restrict` rule matched (`Restricted by sign-up rule: <id> (<display name>)`).
#[derive(Clone, Debug, Default)]
pub struct Admission {
    pub restriction: Option<String>,
}

/// Checks a sign-up against the project's rules and records each rule that matched. Errors:
/// SIGN_UP_REJECTED (403) when a rule or the default action rejects it.
pub async fn admit(k: &Kernel, project_id: &str, who: &Applicant) -> ApiResult<Admission> {
    let rules = Rules::load(k, project_id).await?;
    if rules.rules.is_empty() && !rules.default_reject {
        return Ok(Admission::default());
    }
    let (trace, outcome) = rules.evaluate(who);
    let matched: Vec<&Rule> = trace
        .iter()
        .filter(|(_, s)| *s == Status::Matched)
        .map(|(r, _)| *r)
        .collect();
    if !matched.is_empty() {
        record_triggers(k, project_id, &matched).await?;
    }
    if !outcome.should_allow {
        return Err(known::sign_up_rejected().into());
    }
    let restriction = outcome.restricted_by.and_then(|id| {
        let rule = rules.rules.iter().find(|r| r.id == id)?;
        Some(match rule.display_name.as_deref() {
            Some(name) if !name.is_empty() => {
                format!("Restricted by sign-up rule: {id} ({name})")
            }
            _ => format!("Restricted by sign-up rule: {id}"),
        })
    });
    Ok(Admission { restriction })
}

async fn record_triggers(k: &Kernel, project_id: &str, matched: &[&Rule]) -> ApiResult<()> {
    let now = now_ms();
    let mut tx = k.db().begin().await?;
    for rule in matched {
        sqlx::query(
            "INSERT INTO sign_up_rule_triggers (id, project_id, rule_id, action, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(new_uuid())
        .bind(project_id)
        .bind(&rule.id)
        .bind(rule.action.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The recorded matches of a project since `since_ms` (ms since the epoch), oldest first:
/// `(rule_id, action, created_at_ms)`; and every rule's count of all time.
pub async fn triggers(
    k: &Kernel,
    project_id: &str,
    since_ms: i64,
) -> ApiResult<(Vec<(String, String, i64)>, Vec<(String, i64)>)> {
    use sqlx::Row;
    let recent = sqlx::query(
        "SELECT rule_id, action, created_at FROM sign_up_rule_triggers
         WHERE project_id = $1 AND created_at >= $2 ORDER BY created_at, id",
    )
    .bind(project_id)
    .bind(since_ms)
    .fetch_all(k.db())
    .await?
    .iter()
    .map(|r| {
        Ok((
            r.try_get("rule_id")?,
            r.try_get("action")?,
            r.try_get("created_at")?,
        ))
    })
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let all_time = sqlx::query(
        "SELECT rule_id, COUNT(*) AS n FROM sign_up_rule_triggers WHERE project_id = $1
         GROUP BY rule_id",
    )
    .bind(project_id)
    .fetch_all(k.db())
    .await?
    .iter()
    .map(|r| Ok((r.try_get("rule_id")?, r.try_get("n")?)))
    .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok((recent, all_time))
}
