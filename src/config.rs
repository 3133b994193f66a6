//! Instance configuration: one typed struct read from the command line and environment once at start.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "portcullis",
    version,
    about = "User management in one binary, speaking the Stack Auth REST API v1"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage projects from the command line.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ProjectCommand {
    /// Create a project with a fresh key set.
    Create {
        #[arg(long)]
        name: String,
        /// Print `{project_id, publishable_client_key, secret_server_key, super_secret_admin_key}`.
        #[arg(long)]
        json: bool,
        /// The dashboard admin (email) whose team owns the project; default: the first admin.
        #[arg(long)]
        owner: Option<String>,
    },
}

#[derive(Args, Debug, Clone)]
pub struct Config {
    /// Port to listen on.
    #[arg(long, env = "PORT", default_value_t = 8102, global = true)]
    pub port: u16,
    /// Address to bind.
    #[arg(
        long,
        env = "PORTCULLIS_BIND",
        default_value = "0.0.0.0",
        global = true
    )]
    pub bind: String,
    /// Where the SQLite database and other local state live.
    #[arg(
        long,
        env = "PORTCULLIS_DATA_DIR",
        default_value = "./portcullis-data",
        global = true
    )]
    pub data_dir: PathBuf,
    /// `sqlite:…` or `postgres://…`; default: a SQLite file in the data directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Public base URL of this server (used in token issuers); default http://localhost:PORT.
    #[arg(long, env = "PORTCULLIS_PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// Secret from which token-signing keys are derived; default: one generated and kept in the database.
    #[arg(
        long,
        env = "PORTCULLIS_SERVER_SECRET",
        hide_env_values = true,
        global = true
    )]
    pub server_secret: Option<String>,
    /// Access-token lifetime in seconds.
    #[arg(
        long,
        env = "PORTCULLIS_ACCESS_TOKEN_TTL_SECS",
        default_value_t = 600,
        global = true
    )]
    pub access_token_ttl_secs: i64,
    /// Instance-wide SMTP server: `smtp://user:pass@host:port` (STARTTLS when offered) or `smtps://…`.
    #[arg(
        long,
        env = "PORTCULLIS_SMTP_URL",
        hide_env_values = true,
        global = true
    )]
    pub smtp_url: Option<String>,
    /// Sender of emails sent through the instance server, e.g. `Acme <noreply@acme.test>`.
    #[arg(
        long,
        env = "PORTCULLIS_SMTP_FROM",
        default_value = "Portcullis <noreply@localhost>",
        global = true
    )]
    pub smtp_from: String,
    /// Delivery attempts before an email is marked failed.
    #[arg(
        long,
        env = "PORTCULLIS_EMAIL_MAX_ATTEMPTS",
        default_value_t = 6,
        global = true
    )]
    pub email_max_attempts: i64,
    /// First retry delay; each further retry doubles it.
    #[arg(
        long,
        env = "PORTCULLIS_EMAIL_RETRY_BASE_MS",
        default_value_t = 10_000,
        global = true
    )]
    pub email_retry_base_ms: i64,
    /// Emails each server sends at the same time (and so at most resends after a crash).
    #[arg(
        long,
        env = "PORTCULLIS_EMAIL_CONCURRENCY",
        default_value_t = 4,
        global = true
    )]
    pub email_concurrency: i64,
    /// How long a sender may hold an email before another worker may take it over (after a crash).
    #[arg(
        long,
        env = "PORTCULLIS_EMAIL_LEASE_MS",
        default_value_t = 60_000,
        global = true
    )]
    pub email_lease_ms: i64,
    /// Lets webhook endpoints be on loopback addresses (development and tests). Private and
    /// link-local addresses stay refused unless `webhooks_allow_private` is on too.
    #[arg(long, env = "PORTCULLIS_WEBHOOKS_ALLOW_LOOPBACK", global = true)]
    pub webhooks_allow_loopback: bool,
    /// Lets webhook endpoints be on private, link-local and loopback addresses (an instance whose
    /// apps live on its own network).
    #[arg(long, env = "PORTCULLIS_WEBHOOKS_ALLOW_PRIVATE", global = true)]
    pub webhooks_allow_private: bool,
    /// How long a webhook worker may hold a delivery before another may take it over (after a
    /// crash), in ms; longer than the 15 s request timeout.
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_LEASE_MS",
        default_value_t = 30_000,
        global = true
    )]
    pub webhook_lease_ms: i64,
    /// Multiplies the webhook retry schedule (1: about a day; tests shrink it to seconds).
    #[arg(
        long,
        env = "PORTCULLIS_WEBHOOK_RETRY_SCALE",
        default_value_t = 1.0,
        global = true
    )]
    pub webhook_retry_scale: f64,
    /// A bearer token `/metrics` asks for; unset, the metrics are public (restrict them at the
    /// proxy, or set this).
    #[arg(long, env = "PORTCULLIS_METRICS_TOKEN", global = true)]
    pub metrics_token: Option<String>,
    /// Logs one JSON object per line (with each request's id) instead of text.
    #[arg(long, env = "PORTCULLIS_LOG_JSON", global = true)]
    pub log_json: bool,
    /// Threads hashing passwords (argon2id, 19 MiB each); 0 means one per core.
    #[arg(
        long,
        env = "PORTCULLIS_PASSWORD_WORKERS",
        default_value_t = 0,
        global = true
    )]
    pub password_workers: usize,
    /// Password checks that may wait for a hashing thread; past it, 503 with `Retry-After`.
    #[arg(
        long,
        env = "PORTCULLIS_PASSWORD_QUEUE",
        default_value_t = 64,
        global = true
    )]
    pub password_queue: usize,
    /// Rate limits: empty for the defaults, `off`, or `rule=limit/window_secs,…` overrides
    /// (rules: sign_in_account, sign_in_ip, code_send_address, code_send_ip, code_check_ip,
    /// totp_user).
    #[arg(
        long,
        env = "PORTCULLIS_RATE_LIMITS",
        default_value = "",
        value_parser = parse_rate_limits,
        global = true
    )]
    pub rate_limits: RateLimits,
    /// Header holding the client's IP when behind a proxy (e.g. `x-forwarded-for`, whose last
    /// entry is used: the one the proxy added); default: the connection's peer address.
    #[arg(long, env = "PORTCULLIS_CLIENT_IP_HEADER", global = true)]
    pub client_ip_header: Option<String>,
    /// Header holding the client's two-letter country code, set by a trusted proxy (Cloudflare's
    /// `cf-ipcountry`, Vercel's `x-vercel-ip-country`); sign-up rules see it as `countryCode`.
    /// Default: none, the country is unknown (`""`).
    #[arg(long, env = "PORTCULLIS_COUNTRY_HEADER", global = true)]
    pub country_header: Option<String>,
    /// Lets anyone sign up to the `internal` project, i.e. become a dashboard admin (development
    /// setups only). Off by default: the first admin comes from the setup link, the others are
    /// invited from the dashboard.
    #[arg(long, env = "PORTCULLIS_OPEN_DASHBOARD_SIGN_UP", global = true)]
    pub open_dashboard_sign_up: bool,
    /// Development and tests: every provider using shared keys signs in through this OpenID
    /// Connect issuer instead, with client id = provider id and secret `MOCK-SERVER-SECRET` (as
    /// the original's development setup does).
    #[arg(long, env = "PORTCULLIS_OAUTH_MOCK_ISSUER", global = true)]
    pub oauth_mock_issuer: Option<String>,
    /// Development and tests: the fixed HTTPS endpoints of providers signed in through their
    /// REST APIs (GitHub, Spotify, …) are reached at `<this url>/<host>/<path>` instead, so a
    /// local fake can answer for them.
    #[arg(long, env = "PORTCULLIS_OAUTH_REROUTE", global = true)]
    pub oauth_reroute: Option<String>,
    /// Lets apps get provider access tokens of accounts signed in with the instance's shared
    /// OAuth keys (off: those tokens carry the operator's app at the provider; the original's
    /// `STACK_ALLOW_SHARED_OAUTH_ACCESS_TOKENS`).
    #[arg(
        long,
        env = "PORTCULLIS_ALLOW_SHARED_OAUTH_ACCESS_TOKENS",
        global = true
    )]
    pub allow_shared_oauth_access_tokens: bool,
    /// Development mode: enables `x-stack-development-override-key` (the internal admin key opens any project).
    #[arg(long, env = "PORTCULLIS_DEV_MODE", global = true)]
    pub dev_mode: bool,
    #[arg(
        long,
        env = "PORTCULLIS_INTERNAL_PUBLISHABLE_CLIENT_KEY",
        hide_env_values = true,
        global = true
    )]
    pub internal_publishable_client_key: Option<String>,
    #[arg(
        long,
        env = "PORTCULLIS_INTERNAL_SECRET_SERVER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub internal_secret_server_key: Option<String>,
    #[arg(
        long,
        env = "PORTCULLIS_INTERNAL_SUPER_SECRET_ADMIN_KEY",
        hide_env_values = true,
        global = true
    )]
    pub internal_super_secret_admin_key: Option<String>,
}

impl Config {
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!(
                "sqlite://{}?mode=rwc",
                self.data_dir.join("portcullis.db").display()
            ),
        }
    }

    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://localhost:{}", self.port),
        }
    }
}

/// `PORTCULLIS_RATE_LIMITS`: the rules' own limits, none at all, or overrides by rule name.
#[derive(Debug, Clone, Default)]
pub enum RateLimits {
    #[default]
    Defaults,
    Off,
    /// Rule name → (limit, window in seconds).
    Overrides(std::collections::HashMap<String, (i64, i64)>),
}

fn parse_rate_limits(spec: &str) -> Result<RateLimits, String> {
    match spec.trim() {
        "" => return Ok(RateLimits::Defaults),
        "off" => return Ok(RateLimits::Off),
        _ => {}
    }
    let mut overrides = std::collections::HashMap::new();
    for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let parsed = pair.split_once('=').and_then(|(name, value)| {
            let (limit, window) = value.split_once('/')?;
            let (limit, window): (i64, i64) =
                (limit.trim().parse().ok()?, window.trim().parse().ok()?);
            (limit >= 0 && window > 0).then(|| (name.trim().to_string(), (limit, window)))
        });
        let Some((name, rule)) = parsed else {
            return Err(format!("{pair:?} is not rule=limit/window_secs"));
        };
        overrides.insert(name, rule);
    }
    Ok(RateLimits::Overrides(overrides))
}
