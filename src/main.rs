//! The `portcullis` command: serve (default), migrate, project create.

use anyhow::Context;
use clap::Parser;
use config::{Cli, Command, Config, ProjectCommand};
use portcullis::kernel::Kernel;
use portcullis::{config, crypto, projects, server, store};
use store::Store;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    crypto::password::return_large_allocations_to_os();
    let cli = Cli::parse();
    let config = cli.config;
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .with_writer(std::io::stderr);
    if config.log_json {
        // Each line carries the request's span (its id, method and path) when inside one.
        logs.json().with_current_span(true).init();
    } else {
        logs.init();
    }
    let store = open_store(&config).await?;
    let secret = server_secret(&config, &store).await?;
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config, store, secret).await,
        Command::Migrate => Ok(()),
        Command::Project {
            command: ProjectCommand::Create { name, json, owner },
        } => create_project(&Kernel::new(config, store, &secret), name, json, owner).await,
    }
}

async fn open_store(config: &Config) -> anyhow::Result<Store> {
    if config.database_url.is_none() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
    }
    let store = Store::connect(&config.database_url()).await?;
    store.migrate().await?;
    Ok(store)
}

async fn serve(config: Config, store: Store, secret: Vec<u8>) -> anyhow::Result<()> {
    let addr = format!("{}:{}", config.bind, config.port);
    let state = server::AppState::new(config, store, &secret);
    let kernel = state.kernel().clone();
    let config = &kernel.config;
    let generated = projects::ensure_internal(
        &kernel,
        [
            config.internal_publishable_client_key.clone(),
            config.internal_secret_server_key.clone(),
            config.internal_super_secret_admin_key.clone(),
        ],
    )
    .await
    .map_err(|e| anyhow::anyhow!("creating the internal project: {e}"))?;
    if let Some(keys) = generated {
        // Printed once, on the first start; only hashes are stored.
        println!("Created the internal project. Its keys (shown only now):");
        println!("  publishable client key: {}", keys.publishable_client_key);
        println!("  secret server key:      {}", keys.secret_server_key);
        println!("  super secret admin key: {}", keys.super_secret_admin_key);
    }
    match portcullis::ui::dashboard::setup_link(&kernel).await {
        Ok(Some(link)) => {
            println!("No dashboard admin yet. Create the first one (link works once): {link}")
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("could not create a dashboard setup link: {e}"),
    }
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    tracing::info!(
        "Portcullis listening on http://{addr} (API at {}/api/v1)",
        kernel.public_url
    );
    let app = server::start(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}

/// The secret token-signing keys derive from: configured, or generated once and kept in the
/// database so every replica signs with the same keys.
async fn server_secret(config: &Config, store: &Store) -> anyhow::Result<Vec<u8>> {
    if let Some(s) = &config.server_secret {
        return Ok(s.as_bytes().to_vec());
    }
    let candidate = crypto::secret::random_base32(52);
    sqlx::query("INSERT INTO instance_secrets (name, value) VALUES ('jwt', $1) ON CONFLICT (name) DO NOTHING")
        .bind(&candidate)
        .execute(&store.pool)
        .await?;
    let value: String = sqlx::query_scalar("SELECT value FROM instance_secrets WHERE name = 'jwt'")
        .fetch_one(&store.pool)
        .await?;
    Ok(value.into_bytes())
}

/// `project create`: the project belongs to the selected team of the dashboard admin `owner`
/// (an email), or of the first admin, so it shows in their dashboard.
async fn create_project(
    kernel: &Kernel,
    name: String,
    json: bool,
    owner: Option<String>,
) -> anyhow::Result<()> {
    let admin = match &owner {
        Some(email) => {
            let email = portcullis::users::normalize_email(email);
            portcullis::users::find_by_auth_email(kernel.db(), projects::INTERNAL, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("{email} is not a dashboard admin."))
                .map(Some)?
        }
        // Before any admin exists the project has no owner; the first admin adopts it.
        None => portcullis::users::first_signed_up(kernel.db(), projects::INTERNAL)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?,
    };
    let team = admin.and_then(|a| a.selected_team_id);
    let project = projects::new_project(name, team);
    let keys = projects::create_with_keys(kernel, &project, projects::keys::generate_keys())
        .await
        .map_err(|e| anyhow::anyhow!("creating the project: {e}"))?;
    if json {
        println!(
            "{}",
            serde_json::json!({
                "project_id": project.id,
                "publishable_client_key": keys.publishable_client_key,
                "secret_server_key": keys.secret_server_key,
                "super_secret_admin_key": keys.super_secret_admin_key,
            })
        );
    } else {
        println!("Created project {} ({})", project.display_name, project.id);
        println!("  publishable client key: {}", keys.publishable_client_key);
        println!("  secret server key:      {}", keys.secret_server_key);
        println!("  super secret admin key: {}", keys.super_secret_admin_key);
    }
    Ok(())
}
