//! A project's configuration: auth methods, trusted domains, OAuth providers, email server,
//! default permissions. Stored as one JSON document per project; defaults are the original's.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The built-in email templates a project may override in `email_templates`, in the order of
/// `emails::templates::Template`.
pub const EMAIL_TEMPLATE_KEYS: [&str; 8] = [
    "email_verification",
    "password_reset",
    "magic_link",
    "team_invitation",
    "sign_in_invitation",
    "payment_receipt",
    "payment_failed",
    "subscription_canceled",
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct ProjectConfig {
    pub allow_localhost: bool,
    pub sign_up_enabled: bool,
    pub credential_enabled: bool,
    pub magic_link_enabled: bool,
    pub passkey_enabled: bool,
    pub anonymous_enabled: bool,
    pub client_team_creation_enabled: bool,
    pub client_user_deletion_enabled: bool,
    pub allow_user_api_keys: bool,
    pub allow_team_api_keys: bool,
    pub create_team_on_sign_up: bool,
    pub require_email_verification: bool,
    pub require_publishable_client_key: bool,
    pub oauth_account_merge_strategy: String,
    pub oauth_providers: Vec<OAuthProvider>,
    pub domains: Vec<Domain>,
    pub email_config: EmailConfig,
    pub email_theme: String,
    pub team_creator_default_permissions: Vec<PermissionRef>,
    pub team_member_default_permissions: Vec<PermissionRef>,
    pub user_default_permissions: Vec<PermissionRef>,
    /// Per-template overrides of the built-in emails, by template key (`magic_link`, …).
    pub email_templates: std::collections::BTreeMap<String, TemplateOverride>,
    /// How the hosted end-user pages look (ours: the original themes its components in the app).
    pub pages_theme: PagesTheme,
    /// Launch checklist items an admin left open on purpose (ours; `launch::ACKNOWLEDGEABLE`).
    pub launch_acknowledged: Vec<String>,
}

/// The hosted pages' look: buttons and links in `primary_color` (`#rrggbb`), and `color_scheme`
/// `light`, `dark`, or `system` (the visitor's preference, by `prefers-color-scheme`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PagesTheme {
    pub primary_color: String,
    pub color_scheme: String,
}

impl Default for PagesTheme {
    fn default() -> Self {
        PagesTheme {
            primary_color: "#2b59ff".into(),
            color_scheme: "system".into(),
        }
    }
}

impl PagesTheme {
    pub const SCHEMES: [&'static str; 3] = ["system", "light", "dark"];

    /// What is wrong with this theme, if anything (messages name the config's path).
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let hex = self.primary_color.strip_prefix('#').unwrap_or_default();
        if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            problems
                .push("body.config.pages_theme.primary_color must be a colour like #2b59ff".into());
        }
        if !Self::SCHEMES.contains(&self.color_scheme.as_str()) {
            problems.push(
                "body.config.pages_theme.color_scheme must be one of the following values: system, light, dark".into(),
            );
        }
        problems
    }
}

/// Replaces parts of a built-in email. `{{ name }}` is replaced by the template's variable
/// (escaped in HTML); `{{ projectDisplayName }}` is always available.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct TemplateOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl Default for ProjectConfig {
    fn default() -> Self {
        ProjectConfig {
            allow_localhost: false,
            sign_up_enabled: true,
            credential_enabled: false,
            magic_link_enabled: false,
            passkey_enabled: false,
            anonymous_enabled: true,
            client_team_creation_enabled: false,
            client_user_deletion_enabled: false,
            allow_user_api_keys: false,
            allow_team_api_keys: false,
            create_team_on_sign_up: false,
            require_email_verification: false,
            require_publishable_client_key: false,
            oauth_account_merge_strategy: "link_method".into(),
            oauth_providers: vec![],
            domains: vec![],
            email_config: EmailConfig::default(),
            email_theme: DEFAULT_EMAIL_THEME.into(),
            team_creator_default_permissions: vec![],
            team_member_default_permissions: vec![],
            user_default_permissions: vec![],
            email_templates: Default::default(),
            pages_theme: PagesTheme::default(),
            launch_acknowledged: vec![],
        }
    }
}

pub const DEFAULT_EMAIL_THEME: &str = "1df07ae6-abf3-4a40-83a5-a1a2cbe336ac";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub domain: String,
    #[serde(default = "default_handler_path")]
    pub handler_path: String,
}

fn default_handler_path() -> String {
    "/handler".into()
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct OAuthProvider {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facebook_config_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub microsoft_tenant_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apple_bundle_ids: Option<Vec<String>>,
    /// A generic OpenID Connect provider (Keycloak, Authentik, Okta, an Entra tenant…): its
    /// issuer URL, discovered at sign-in. Our addition; the id is the project's own name for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer_url: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum EmailConfig {
    #[default]
    Shared,
    Standard {
        host: String,
        port: u16,
        username: String,
        password: String,
        sender_name: String,
        sender_email: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(deny_unknown_fields)]
pub struct PermissionRef {
    pub id: String,
}

pub const OAUTH_PROVIDERS: &[&str] = &[
    "google",
    "github",
    "microsoft",
    "spotify",
    "facebook",
    "discord",
    "gitlab",
    "bitbucket",
    "linkedin",
    "apple",
    "x",
    "twitch",
];

impl ProjectConfig {
    /// Whether `url` may be used as a redirect/callback target for this project.
    pub fn is_trusted_url(&self, url: &str) -> bool {
        let Some(origin) = url_origin(url) else {
            return false;
        };
        if self.allow_localhost && is_localhost_origin(&origin) {
            return true;
        }
        self.domains.iter().any(|d| {
            if d.domain.contains('*') {
                matches_wildcard_domain(&d.domain, url)
            } else {
                url_origin(&d.domain).is_some_and(|o| o == origin)
            }
        })
    }

    /// Turns on exactly `methods` (`credential`, `magic_link`, `passkey`, or an OAuth provider
    /// id, which gets the operator's shared development keys), as the original's onboarding
    /// wizard does for a new project.
    pub fn with_sign_in_methods(&mut self, methods: &[&str]) {
        self.credential_enabled = methods.contains(&"credential");
        self.magic_link_enabled = methods.contains(&"magic_link");
        self.passkey_enabled = methods.contains(&"passkey");
        self.oauth_providers = methods
            .iter()
            .filter(|m| !["credential", "magic_link", "passkey"].contains(m))
            .map(|id| OAuthProvider {
                id: id.to_string(),
                kind: "shared".into(),
                ..Default::default()
            })
            .collect();
    }

    /// The enabled OAuth providers, by id.
    pub fn sorted_providers(&self) -> Vec<&OAuthProvider> {
        let mut providers: Vec<&OAuthProvider> = self.oauth_providers.iter().collect();
        providers.sort_by(|a, b| a.id.cmp(&b.id));
        providers
    }

    fn sorted_domains(&self) -> Vec<Value> {
        let mut domains = self.domains.clone();
        domains.sort_by(|a, b| a.domain.cmp(&b.domain));
        domains
            .iter()
            .map(|d| json!({ "domain": d.domain, "handler_path": d.handler_path }))
            .collect()
    }

    pub fn client_json(&self) -> Value {
        let providers: Vec<Value> = self
            .sorted_providers()
            .iter()
            .map(|p| json!({ "id": p.id }))
            .collect();
        json!({
            "sign_up_enabled": self.sign_up_enabled,
            "credential_enabled": self.credential_enabled,
            "magic_link_enabled": self.magic_link_enabled,
            "passkey_enabled": self.passkey_enabled,
            "client_team_creation_enabled": self.client_team_creation_enabled,
            "client_user_deletion_enabled": self.client_user_deletion_enabled,
            "allow_user_api_keys": self.allow_user_api_keys,
            "allow_team_api_keys": self.allow_team_api_keys,
            "enabled_oauth_providers": providers,
            "domains": self.sorted_domains(),
        })
    }

    pub fn admin_json(&self) -> Value {
        let providers: Vec<Value> = self
            .sorted_providers()
            .iter()
            .map(|p| {
                let mut v = serde_json::to_value(p).unwrap_or(Value::Null);
                v["provider_config_id"] = json!(p.id);
                v
            })
            .collect();
        let sorted = |perms: &[PermissionRef]| {
            let mut p = perms.to_vec();
            p.sort();
            serde_json::to_value(p).unwrap_or(Value::Null)
        };
        json!({
            "allow_localhost": self.allow_localhost,
            "sign_up_enabled": self.sign_up_enabled,
            "credential_enabled": self.credential_enabled,
            "magic_link_enabled": self.magic_link_enabled,
            "passkey_enabled": self.passkey_enabled,
            "client_team_creation_enabled": self.client_team_creation_enabled,
            "client_user_deletion_enabled": self.client_user_deletion_enabled,
            "allow_user_api_keys": self.allow_user_api_keys,
            "allow_team_api_keys": self.allow_team_api_keys,
            "create_team_on_sign_up": self.create_team_on_sign_up,
            "oauth_account_merge_strategy": self.oauth_account_merge_strategy,
            "oauth_providers": providers,
            "enabled_oauth_providers": self.sorted_providers().iter().map(|p| json!({ "id": p.id })).collect::<Vec<_>>(),
            "domains": self.sorted_domains(),
            "email_config": self.email_config,
            "email_theme": self.email_theme,
            "team_creator_default_permissions": sorted(&self.team_creator_default_permissions),
            "team_member_default_permissions": sorted(&self.team_member_default_permissions),
            "user_default_permissions": sorted(&self.user_default_permissions),
        })
    }
}

/// `scheme://host[:port]`, lower-cased, or None when `url` is not an absolute http(s) URL.
pub fn url_origin(url: &str) -> Option<String> {
    // Parsed as browsers do (WHATWG URL): a hand-split string can disagree with the browser
    // about the host ("http://evil.com\.localhost/" is evil.com to a browser).
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return None;
    }
    // Userinfo is never part of a trusted origin ("https://trusted.com@evil.com").
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    Some(parsed.origin().ascii_serialization())
}

/// Whether `url` (already known to be a plain http(s) URL) matches a trusted domain with
/// wildcards, the original's rules (`apps/backend/src/lib/redirect-urls.tsx`): the scheme must be
/// equal; `*` stands for any run of characters but dots and `**` for any run at all; a pattern
/// with a port matches `host:port` (default ports written out), one without a port matches the
/// host on the scheme's default port only.
fn matches_wildcard_domain(pattern: &str, url: &str) -> bool {
    let (Some((scheme, rest)), Ok(parsed)) = (pattern.split_once("://"), url::Url::parse(url))
    else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case(parsed.scheme()) {
        return false;
    }
    let host_pattern = rest
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let host = parsed.host_str().unwrap_or_default();
    if host_pattern.contains(':') {
        let port = parsed.port_or_known_default().unwrap_or_default();
        glob_host(host_pattern.as_bytes(), format!("{host}:{port}").as_bytes())
    } else {
        parsed.port().is_none() && glob_host(host_pattern.as_bytes(), host.as_bytes())
    }
}

/// `*` matches any run of non-dot bytes, `**` any run of bytes; everything else itself.
/// Dynamic programming over (pattern position, text position): linear in each, whatever the
/// pattern (a recursive matcher is exponential in its stars).
fn glob_host(pattern: &[u8], text: &[u8]) -> bool {
    // `matched[j]`: the pattern so far matches `text[..j]`.
    let mut matched = vec![false; text.len() + 1];
    matched[0] = true;
    let mut p = 0;
    while p < pattern.len() {
        let mut next = vec![false; text.len() + 1];
        if pattern[p] == b'*' {
            let any = pattern.get(p + 1) == Some(&b'*');
            for j in 0..=text.len() {
                next[j] = matched[j] || (j > 0 && next[j - 1] && (any || text[j - 1] != b'.'));
            }
            p += if any { 2 } else { 1 };
        } else {
            for j in 1..=text.len() {
                next[j] = matched[j - 1] && text[j - 1] == pattern[p];
            }
            p += 1;
        }
        matched = next;
    }
    matched[text.len()]
}

fn is_localhost_origin(origin: &str) -> bool {
    let host = origin.split_once("://").map(|x| x.1).unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, _)| h).unwrap_or(host);
    host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host.ends_with(".localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trusted_urls() {
        let mut c = ProjectConfig {
            allow_localhost: true,
            ..Default::default()
        };
        c.domains.push(Domain {
            domain: "https://app.example.com".into(),
            handler_path: "/handler".into(),
        });
        assert!(c.is_trusted_url("https://app.example.com/cb?x=1"));
        assert!(c.is_trusted_url("http://localhost:3000/cb"));
        assert!(!c.is_trusted_url("https://app.example.com.evil.com/cb"));
        assert!(!c.is_trusted_url("https://app.example.com@evil.com/cb"));
        assert!(!c.is_trusted_url("javascript:alert(1)"));
        assert!(!c.is_trusted_url("http://evil.com\\.localhost/cb"));
        assert!(c.is_trusted_url("https://APP.example.com:443/cb"));
        c.allow_localhost = false;
        assert!(!c.is_trusted_url("http://localhost:3000/cb"));
    }

    #[test]
    fn wildcard_domains() {
        let with = |domain: &str| ProjectConfig {
            allow_localhost: false,
            domains: vec![Domain {
                domain: domain.into(),
                handler_path: "/handler".into(),
            }],
            ..Default::default()
        };
        let one = with("https://*.example.com");
        assert!(one.is_trusted_url("https://api.example.com/cb"));
        assert!(one.is_trusted_url("https://API.example.com:443/cb"));
        assert!(!one.is_trusted_url("https://example.com/cb"));
        assert!(!one.is_trusted_url("https://a.b.example.com/cb"));
        assert!(!one.is_trusted_url("http://api.example.com/cb"));
        assert!(!one.is_trusted_url("https://api.example.com:8443/cb"));
        assert!(!one.is_trusted_url("https://api.example.com.evil.net/cb"));
        assert!(!one.is_trusted_url("https://evil.net/.example.com"));
        let deep = with("https://**.example.com");
        assert!(deep.is_trusted_url("https://a.b.example.com/cb"));
        assert!(!deep.is_trusted_url("https://example.com.evil.net/cb"));
        let prefix = with("https://*-staging.example.com");
        assert!(prefix.is_trusted_url("https://web-staging.example.com/"));
        assert!(!prefix.is_trusted_url("https://web.example.com/"));
        let port = with("http://*.localhost:8103");
        assert!(port.is_trusted_url("http://a.localhost:8103/"));
        assert!(!port.is_trusted_url("http://a.localhost:8104/"));
    }
}
