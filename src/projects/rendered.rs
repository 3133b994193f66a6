//! The rendered config the original's `GET /internal/config` answers: its schema defaults
//! (`organizationConfigDefaults` in `packages/stack-shared/src/config/schema.ts`), then the
//! stored override levels, then what the project's settings say (the settings behind
//! `PATCH /internal/projects/current` are the source of truth for the keys they cover, as the
//! original maps its legacy project fields onto config keys).

use super::config::{EmailConfig, PermissionRef, ProjectConfig};
use super::document::deep_merge;
use serde_json::{json, Map, Value};

/// The apps the original's `apps.installed` knows, each shown installed when this server
/// provides it.
const APPS: [(&str, bool); 12] = [
    ("authentication", true),
    ("teams", true),
    ("rbac", true),
    ("api-keys", true),
    ("payments", true),
    ("emails", true),
    ("webhooks", true),
    ("data-vault", true),
    ("launch-checklist", true),
    ("analytics", false),
    ("catalyst", false),
    ("neon", false),
];

/// The schema defaults: what an absent key means.
pub fn defaults() -> Value {
    let installed: Map<String, Value> = APPS
        .iter()
        .map(|(id, _)| (id.to_string(), json!({ "enabled": false })))
        .collect();
    json!({
        "sourceOfTruth": { "type": "hosted" },
        "project": { "requirePublishableClientKey": false },
        "rbac": {
            "permissions": {},
            "defaultPermissions": { "teamCreator": {}, "teamMember": {}, "signUp": {} },
        },
        "apiKeys": { "enabled": { "team": false, "user": false } },
        "apps": { "installed": installed },
        "teams": { "createPersonalTeamOnSignUp": false, "allowClientTeamCreation": false },
        "users": { "allowClientUserDeletion": false },
        "onboarding": { "requireEmailVerification": false },
        "domains": { "allowLocalhost": false, "trustedDomains": {} },
        "auth": {
            "allowSignUp": true,
            "password": { "allowSignIn": false },
            "otp": { "allowSignIn": false },
            "passkey": { "allowSignIn": false },
            "oauth": { "accountMergeStrategy": "link_method", "providers": {} },
            "signUpRules": {},
            "signUpRulesDefaultAction": "allow",
        },
        "emails": {
            "server": { "isShared": true, "provider": "smtp" },
            "selectedThemeId": super::config::DEFAULT_EMAIL_THEME,
            "themes": {},
            "templates": {},
        },
        "payments": {
            "blockNewPurchases": false,
            "testMode": true,
            "productLines": {},
            "products": {},
            "items": {},
        },
        "dbSync": { "externalDatabases": {} },
        "dataVault": { "stores": {} },
        "analytics": { "queryFolders": {} },
        "customDashboards": {},
    })
}

/// The keys the project's settings decide, each with its value in config form.
pub fn from_settings(c: &ProjectConfig, permissions: &[(String, Value)]) -> Value {
    let flags = |perms: &[PermissionRef]| -> Value {
        perms
            .iter()
            .map(|p| (p.id.clone(), json!(true)))
            .collect::<Map<_, _>>()
            .into()
    };
    let providers: Map<String, Value> = c
        .oauth_providers
        .iter()
        .map(|p| {
            let mut v = json!({
                "type": p.id,
                "isShared": p.kind == "shared",
                "allowSignIn": true,
                "allowConnectedAccounts": true,
            });
            for (key, value) in [
                ("clientId", p.client_id.clone()),
                ("clientSecret", p.client_secret.clone()),
                ("facebookConfigId", p.facebook_config_id.clone()),
                ("microsoftTenantId", p.microsoft_tenant_id.clone()),
            ] {
                if let Some(value) = value {
                    v[key] = json!(value);
                }
            }
            if let Some(bundles) = &p.apple_bundle_ids {
                v["appleBundles"] = bundles
                    .iter()
                    .map(|b| (b.clone(), json!({ "bundleId": b })))
                    .collect::<Map<_, _>>()
                    .into();
            }
            (p.id.clone(), v)
        })
        .collect();
    let domains: Map<String, Value> = c
        .domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                i.to_string(),
                json!({ "baseUrl": d.domain, "handlerPath": d.handler_path }),
            )
        })
        .collect();
    let server = match &c.email_config {
        EmailConfig::Shared => json!({ "isShared": true, "provider": "smtp" }),
        EmailConfig::Standard {
            host,
            port,
            username,
            password,
            sender_name,
            sender_email,
        } => json!({
            "isShared": false, "provider": "smtp", "host": host, "port": port, "username": username,
            "password": password, "senderName": sender_name, "senderEmail": sender_email,
        }),
    };
    let installed: Map<String, Value> = APPS
        .iter()
        .map(|(id, provided)| (id.to_string(), json!({ "enabled": provided })))
        .collect();
    json!({
        "project": { "requirePublishableClientKey": c.require_publishable_client_key },
        "rbac": {
            "permissions": permissions.iter().cloned().collect::<Map<_, _>>(),
            "defaultPermissions": {
                "teamCreator": flags(&c.team_creator_default_permissions),
                "teamMember": flags(&c.team_member_default_permissions),
                "signUp": flags(&c.user_default_permissions),
            },
        },
        "apiKeys": { "enabled": { "team": c.allow_team_api_keys, "user": c.allow_user_api_keys } },
        "apps": { "installed": installed },
        "teams": {
            "createPersonalTeamOnSignUp": c.create_team_on_sign_up,
            "allowClientTeamCreation": c.client_team_creation_enabled,
        },
        "users": { "allowClientUserDeletion": c.client_user_deletion_enabled },
        "onboarding": { "requireEmailVerification": c.require_email_verification },
        "domains": { "allowLocalhost": c.allow_localhost, "trustedDomains": domains },
        "auth": {
            "allowSignUp": c.sign_up_enabled,
            "password": { "allowSignIn": c.credential_enabled },
            "otp": { "allowSignIn": c.magic_link_enabled },
            "passkey": { "allowSignIn": c.passkey_enabled },
            "oauth": { "accountMergeStrategy": c.oauth_account_merge_strategy, "providers": providers },
        },
        "emails": { "server": server, "selectedThemeId": c.email_theme },
    })
}

/// Defaults, then the stored levels (`overrides`, already merged), then the settings.
pub fn render(overrides: Value, settings: Value) -> Value {
    let mut config = defaults();
    deep_merge(&mut config, overrides);
    // The settings' maps replace, not merge: a removed provider or domain is gone.
    for path in [
        "auth.oauth.providers",
        "domains.trustedDomains",
        "emails.server",
        "rbac.defaultPermissions.teamCreator",
        "rbac.defaultPermissions.teamMember",
        "rbac.defaultPermissions.signUp",
    ] {
        super::document::set_path(&mut config, path, Value::Null);
    }
    deep_merge(&mut config, settings);
    config
}

/// The config keys (dotted) that are the project settings' booleans and strings, with the
/// setting each writes through `PATCH /internal/projects/current`'s `config`.
pub const SETTING_KEYS: [(&str, &str); 14] = [
    ("auth.allowSignUp", "sign_up_enabled"),
    ("auth.password.allowSignIn", "credential_enabled"),
    ("auth.otp.allowSignIn", "magic_link_enabled"),
    ("auth.passkey.allowSignIn", "passkey_enabled"),
    (
        "auth.oauth.accountMergeStrategy",
        "oauth_account_merge_strategy",
    ),
    ("teams.createPersonalTeamOnSignUp", "create_team_on_sign_up"),
    (
        "teams.allowClientTeamCreation",
        "client_team_creation_enabled",
    ),
    (
        "users.allowClientUserDeletion",
        "client_user_deletion_enabled",
    ),
    ("apiKeys.enabled.user", "allow_user_api_keys"),
    ("apiKeys.enabled.team", "allow_team_api_keys"),
    ("domains.allowLocalhost", "allow_localhost"),
    (
        "onboarding.requireEmailVerification",
        "require_email_verification",
    ),
    ("emails.selectedThemeId", "email_theme"),
    (
        "project.requirePublishableClientKey",
        "require_publishable_client_key",
    ),
];
