//! The admin write shape of a project (`PATCH /internal/projects/current`, `POST /internal/projects`)
//! and its validation. Arrays in `config` replace the whole set.

use super::config::{self, Domain, EmailConfig, OAuthProvider, PermissionRef, ProjectConfig};
use super::Project;
use crate::http::extract::{nullable, schema_error};
use crate::http::{ApiError, ApiResult};
use crate::kernel::Kernel;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProjectUpdate {
    pub display_name: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub logo_full_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub logo_dark_mode_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    pub logo_full_dark_mode_url: Option<Option<String>>,
    pub is_production_mode: Option<bool>,
    pub onboarding_status: Option<String>,
    pub config: Option<ConfigUpdate>,
    /// Only on create.
    pub owner_team_id: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigUpdate {
    sign_up_enabled: Option<bool>,
    credential_enabled: Option<bool>,
    magic_link_enabled: Option<bool>,
    passkey_enabled: Option<bool>,
    client_team_creation_enabled: Option<bool>,
    client_user_deletion_enabled: Option<bool>,
    allow_localhost: Option<bool>,
    allow_user_api_keys: Option<bool>,
    allow_team_api_keys: Option<bool>,
    create_team_on_sign_up: Option<bool>,
    require_email_verification: Option<bool>,
    oauth_account_merge_strategy: Option<String>,
    email_config: Option<EmailConfigWrite>,
    email_theme: Option<String>,
    domains: Option<Vec<Domain>>,
    oauth_providers: Option<Vec<OAuthProvider>>,
    team_creator_default_permissions: Option<Vec<PermissionRef>>,
    team_member_default_permissions: Option<Vec<PermissionRef>>,
    user_default_permissions: Option<Vec<PermissionRef>>,
    email_templates: Option<std::collections::BTreeMap<String, config::TemplateOverride>>,
    pages_theme: Option<config::PagesTheme>,
    launch_acknowledged: Option<Vec<String>>,
}

/// The email server as written: the original's `emailConfigSchema`
/// (`packages/stack-shared/src/interface/crud/projects.ts`): every field may be sent, and for a
/// `standard` server each must be defined and (but the port) non-empty.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfigWrite {
    #[serde(rename = "type")]
    kind: EmailServerKind,
    host: Option<String>,
    port: Option<u16>,
    username: Option<String>,
    password: Option<String>,
    sender_name: Option<String>,
    sender_email: Option<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum EmailServerKind {
    Shared,
    Standard,
}

impl EmailConfigWrite {
    fn problems(&self) -> Vec<String> {
        if self.kind == EmailServerKind::Shared {
            return Vec::new();
        }
        let mut problems = Vec::new();
        for (name, value) in [
            ("host", &self.host),
            ("username", &self.username),
            ("password", &self.password),
            ("sender_name", &self.sender_name),
            ("sender_email", &self.sender_email),
        ] {
            match value.as_deref() {
                None => problems.push(format!("body.config.email_config.{name} must be defined")),
                Some("") => {
                    problems.push(format!("body.config.email_config.{name} must not be empty"))
                }
                Some(_) => {}
            }
        }
        if self.port.is_none() {
            problems.push("body.config.email_config.port must be defined".into());
        }
        problems
    }

    /// The stored form; call after [`Self::problems`] found none.
    fn into_config(self) -> EmailConfig {
        match self.kind {
            EmailServerKind::Shared => EmailConfig::Shared,
            EmailServerKind::Standard => EmailConfig::Standard {
                host: self.host.unwrap_or_default(),
                port: self.port.unwrap_or_default(),
                username: self.username.unwrap_or_default(),
                password: self.password.unwrap_or_default(),
                sender_name: self.sender_name.unwrap_or_default(),
                sender_email: self.sender_email.unwrap_or_default(),
            },
        }
    }
}

const ONBOARDING: &[&str] = &[
    "config_choice",
    "apps_selection",
    "auth_setup",
    "domain_setup",
    "email_theme_setup",
    "payments_setup",
    "welcome",
    "completed",
];

fn validate(u: &ProjectUpdate) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(name) = &u.display_name {
        if name.trim().is_empty() || name.chars().count() > 256 {
            problems.push("body.display_name must be between 1 and 256 characters".into());
        }
    }
    if let Some(s) = &u.onboarding_status {
        if !ONBOARDING.contains(&s.as_str()) {
            problems.push(format!(
                "body.onboarding_status must be one of the following values: {}",
                ONBOARDING.join(", ")
            ));
        }
    }
    let Some(c) = &u.config else { return problems };
    if let Some(s) = &c.oauth_account_merge_strategy {
        if !["link_method", "raise_error", "allow_duplicates"].contains(&s.as_str()) {
            problems.push("body.config.oauth_account_merge_strategy must be one of the following values: link_method, raise_error, allow_duplicates".into());
        }
    }
    // The original's domainSchema and handlerPathSchema messages.
    for (i, d) in c.domains.iter().flatten().enumerate() {
        if d.domain.contains(' ') {
            problems.push(format!("body.config.domains[{i}].domain contains spaces"));
        } else if !(d.domain.starts_with("http://") || d.domain.starts_with("https://")) {
            problems.push("URL must start with http:// or https://".into());
        } else if config::url_origin(&d.domain).is_none() {
            problems.push(format!(
                "body.config.domains[{i}].domain is not a valid URL"
            ));
        }
        if !d.handler_path.starts_with('/') {
            problems.push("Handler path must start with /".into());
        }
    }
    for (i, p) in c.oauth_providers.iter().flatten().enumerate() {
        if let Some(issuer) = &p.issuer_url {
            // A generic OpenID Connect provider: a name of the project's own, its own keys.
            let id_ok = p.id.len() <= 32
                && p.id.starts_with(|c: char| c.is_ascii_lowercase())
                && p.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !config::OAUTH_PROVIDERS.contains(&p.id.as_str());
            if !id_ok {
                problems.push(format!("body.config.oauth_providers: {:?} must be a new lowercase name (letters, digits, -) for an OpenID Connect provider", p.id));
            }
            let local = ["http://localhost", "http://127.0.0.1"]
                .iter()
                .any(|l| issuer.starts_with(l));
            if !(issuer.starts_with("https://") || local) {
                problems.push(format!(
                    "body.config.oauth_providers: {}'s issuer_url must be an https:// URL",
                    p.id
                ));
            }
            if p.kind != "standard"
                || p.client_id.as_deref().unwrap_or("").is_empty()
                || p.client_secret.as_deref().unwrap_or("").is_empty()
            {
                problems.push(format!("body.config.oauth_providers: {} needs type standard, client_id and client_secret", p.id));
            }
            continue;
        }
        if !config::OAUTH_PROVIDERS.contains(&p.id.as_str()) {
            problems.push(format!(
                "body.config.oauth_providers[{i}].id must be one of the following values: {}",
                config::OAUTH_PROVIDERS.join(", ")
            ));
        }
        match p.kind.as_str() {
            "shared" if !["google", "github", "microsoft", "spotify"].contains(&p.id.as_str()) => {
                problems.push(format!(
                    "body.config.oauth_providers: shared keys are not available for {}",
                    p.id
                ));
            }
            "shared" => {}
            "standard" => {
                // yupDefinedAndNonEmptyWhen({type: 'standard'}) on both keys.
                for (name, value) in [("client_id", &p.client_id), ("client_secret", &p.client_secret)] {
                    match value.as_deref() {
                        None => problems.push(format!("body.config.oauth_providers[{i}].{name} must be defined")),
                        Some("") => problems.push(format!("body.config.oauth_providers[{i}].{name} must not be empty")),
                        Some(_) => {}
                    }
                }
            }
            _ => {
                problems.push(format!("body.config.oauth_providers[{i}].type must be one of the following values: shared, standard"))
            }
        }
    }
    if let Some(theme) = &c.pages_theme {
        problems.extend(theme.problems());
    }
    for a in c.launch_acknowledged.iter().flatten() {
        if !super::launch::ACKNOWLEDGEABLE.contains(&a.as_str()) {
            problems.push(format!(
                "body.config.launch_acknowledged: {a:?} is not a check that can be left open"
            ));
        }
    }
    for key in c.email_templates.iter().flat_map(|t| t.keys()) {
        if !config::EMAIL_TEMPLATE_KEYS.contains(&key.as_str()) {
            problems.push(format!(
                "body.config.email_templates: unknown template {key:?}"
            ));
        }
    }
    if let Some(e) = &c.email_config {
        problems.extend(e.problems());
    }
    problems
}

fn set<T>(target: &mut T, value: Option<T>) {
    if let Some(v) = value {
        *target = v;
    }
}

/// Applies `u` (as `apply`), stores the project and drops its cached copy.
pub async fn apply_and_save(
    state: &Kernel,
    cache: &super::ProjectCache,
    project: &mut Project,
    u: ProjectUpdate,
) -> ApiResult<()> {
    apply(project, u)?;
    super::save(state, project).await?;
    cache.forget(&project.id);
    Ok(())
}

/// Validates `u` and applies it to `project`; nothing is changed when anything is invalid.
pub fn apply(project: &mut Project, u: ProjectUpdate) -> ApiResult<()> {
    let problems = validate(&u);
    if !problems.is_empty() {
        return Err(schema_error(&problems));
    }
    if let Some(theme) = u.config.as_ref().and_then(|c| c.email_theme.as_ref()) {
        if theme != config::DEFAULT_EMAIL_THEME {
            return Err(ApiError::bad_request("Invalid email theme"));
        }
    }
    set(&mut project.display_name, u.display_name);
    if let Some(d) = u.description {
        project.description = d.unwrap_or_default();
    }
    for (slot, value) in project.logos.iter_mut().zip([
        u.logo_url,
        u.logo_full_url,
        u.logo_dark_mode_url,
        u.logo_full_dark_mode_url,
    ]) {
        set(slot, value);
    }
    set(&mut project.is_production_mode, u.is_production_mode);
    set(&mut project.onboarding_status, u.onboarding_status);
    if let Some(c) = u.config {
        apply_config(&mut project.config, c);
    }
    Ok(())
}

fn apply_config(cfg: &mut ProjectConfig, c: ConfigUpdate) {
    set(&mut cfg.sign_up_enabled, c.sign_up_enabled);
    set(&mut cfg.credential_enabled, c.credential_enabled);
    set(&mut cfg.magic_link_enabled, c.magic_link_enabled);
    set(&mut cfg.passkey_enabled, c.passkey_enabled);
    set(
        &mut cfg.client_team_creation_enabled,
        c.client_team_creation_enabled,
    );
    set(
        &mut cfg.client_user_deletion_enabled,
        c.client_user_deletion_enabled,
    );
    set(&mut cfg.allow_localhost, c.allow_localhost);
    set(&mut cfg.allow_user_api_keys, c.allow_user_api_keys);
    set(&mut cfg.allow_team_api_keys, c.allow_team_api_keys);
    set(&mut cfg.create_team_on_sign_up, c.create_team_on_sign_up);
    set(
        &mut cfg.require_email_verification,
        c.require_email_verification,
    );
    set(
        &mut cfg.oauth_account_merge_strategy,
        c.oauth_account_merge_strategy,
    );
    set(
        &mut cfg.email_config,
        c.email_config.map(EmailConfigWrite::into_config),
    );
    set(&mut cfg.email_theme, c.email_theme);
    set(&mut cfg.domains, c.domains);
    set(&mut cfg.oauth_providers, c.oauth_providers);
    set(
        &mut cfg.team_creator_default_permissions,
        c.team_creator_default_permissions,
    );
    set(
        &mut cfg.team_member_default_permissions,
        c.team_member_default_permissions,
    );
    set(
        &mut cfg.user_default_permissions,
        c.user_default_permissions,
    );
    set(&mut cfg.email_templates, c.email_templates);
    set(&mut cfg.pages_theme, c.pages_theme);
    set(&mut cfg.launch_acknowledged, c.launch_acknowledged);
}
