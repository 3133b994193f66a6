//! Delivery: workers claim due emails from the outbox, send them over SMTP and record every
//! attempt. A claim is a lease (`claimed_until`), so an email whose sender died is picked up
//! again after a restart; on PostgreSQL replicas share the work with `FOR UPDATE SKIP LOCKED`.
//! Each email keeps one Message-ID across attempts, so a resend after a crash between the SMTP
//! server's acceptance and our bookkeeping is recognisable as the same message.

use crate::kernel::Kernel;
use crate::projects::config::EmailConfig;
use crate::store::{now_ms, Backend};
use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::{json, Value};
use sqlx::Row;
use std::time::Duration;

const IDLE_POLL: Duration = Duration::from_millis(250);

struct Claimed {
    id: String,
    project_id: String,
    recipient: String,
    subject: String,
    html: String,
    text: String,
    smtp: String,
    attempts: i64,
    errors: Value,
}

/// The email outbox's depth and age, for `/metrics`.
pub async fn queue_stat(state: &Kernel) -> sqlx::Result<crate::http::metrics::QueueStat> {
    let sql = "SELECT COUNT(*), MIN(created_at) FROM emails WHERE status IN ('queued', 'sending')";
    crate::http::metrics::measure_queue(state.db(), "emails", sql).await
}

pub fn spawn(state: Kernel) {
    let wakeup = state.wakeups.of(super::QUEUE);
    tokio::spawn(async move {
        let mut transports = Transports::default();
        loop {
            let claimed = match claim(&state).await {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming emails failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = wakeup.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            // Deliveries of a batch run side by side: SMTP round trips dominate, not CPU.
            let mut deliveries = tokio::task::JoinSet::new();
            for email in claimed {
                let state = state.clone();
                let route = transport_for(&state, &mut transports, &email).await;
                deliveries.spawn(async move {
                    let outcome = match route {
                        Ok((transport, from)) => deliver(&transport, from, &email).await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = record(&state, &email, outcome).await {
                        tracing::warn!(email = %email.id, error = %e, "recording a delivery outcome failed");
                    }
                });
            }
            while deliveries.join_next().await.is_some() {}
        }
    });
}

async fn claim(state: &Kernel) -> sqlx::Result<Vec<Claimed>> {
    let now = now_ms();
    let lock = match state.store.backend {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    let batch = state.config.email_concurrency.max(1);
    let sql = format!(
        "UPDATE emails SET status = 'sending', claimed_until = $1, attempts = attempts + 1, updated_at = $2,
            started_sending_at = COALESCE(started_sending_at, $2)
         WHERE id IN (SELECT id FROM emails
            WHERE ((status = 'queued' AND next_attempt_at <= $2) OR (status = 'sending' AND claimed_until < $2))
              AND (smtp = 'project' OR $3 = 1)
            ORDER BY next_attempt_at LIMIT {batch} {lock})
         RETURNING id, project_id, recipient, subject, html, text_body, smtp, attempts, attempt_errors"
    );
    let rows = sqlx::query(&sql)
        .bind(now + state.config.email_lease_ms)
        .bind(now)
        .bind(state.config.smtp_url.is_some() as i64)
        .fetch_all(state.db())
        .await?;
    rows.iter()
        .map(|r| {
            Ok(Claimed {
                id: r.try_get("id")?,
                project_id: r.try_get("project_id")?,
                recipient: r.try_get("recipient")?,
                subject: r.try_get("subject")?,
                html: r.try_get("html")?,
                text: r.try_get("text_body")?,
                smtp: r.try_get("smtp")?,
                attempts: r.try_get("attempts")?,
                errors: serde_json::from_str(&r.try_get::<String, _>("attempt_errors")?)
                    .unwrap_or(json!([])),
            })
        })
        .collect()
}

type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Pooled SMTP connections, per server. A pooled send returns once the server accepted the
/// message (no QUIT round trip), which also narrows the window in which a crash causes a resend.
#[derive(Default)]
struct Transports {
    instance: Option<Transport>,
    /// Keyed by the project's whole server configuration, so an edited configuration gets a new pool.
    projects: std::collections::HashMap<String, Transport>,
    /// The worker's own recently read projects, so a batch to one project reads it once.
    project_cache: crate::projects::ProjectCache,
}

/// The transport and sender address for an email: the project's own server or the instance's.
async fn transport_for(
    state: &Kernel,
    transports: &mut Transports,
    email: &Claimed,
) -> anyhow::Result<(Transport, Mailbox)> {
    if email.smtp == "instance" {
        let url = state
            .config
            .smtp_url
            .as_deref()
            .ok_or_else(|| anyhow::anyhow!("no instance SMTP server is configured"))?;
        if transports.instance.is_none() {
            transports.instance = Some(
                Transport::from_url(url)?
                    .timeout(Some(Duration::from_secs(20)))
                    .build(),
            );
        }
        let transport = transports
            .instance
            .clone()
            .ok_or_else(|| anyhow::anyhow!("instance transport"))?;
        // The original's shared sender: the project's display name, the instance's address.
        let instance: Mailbox = state.config.smtp_from.parse()?;
        let name = match transports.project_cache.get(state, &email.project_id).await {
            Ok(Some(project)) => Some(project.display_name.clone()),
            _ => instance.name.clone(),
        };
        return Ok((transport, Mailbox::new(name, instance.email)));
    }
    let project = transports
        .project_cache
        .get(state, &email.project_id)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let Some(config @ EmailConfig::Standard { .. }) =
        project.map(|p| p.config.email_config.clone())
    else {
        anyhow::bail!("the project no longer has its own email server");
    };
    let EmailConfig::Standard {
        host,
        port,
        username,
        password,
        sender_name,
        sender_email,
    } = &config
    else {
        unreachable!()
    };
    let from = Mailbox::new(Some(sender_name.clone()), sender_email.parse()?);
    let key = serde_json::to_string(&config)?;
    if !transports.projects.contains_key(&key) {
        let transport = smtp_transport(host, *port, username, password)?;
        transports.projects.insert(key.clone(), transport);
    }
    let transport = transports
        .projects
        .get(&key)
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("project transport"))?;
    Ok((transport, from))
}

/// A project's own SMTP server: implicit TLS on 465, STARTTLS when offered elsewhere.
fn smtp_transport(
    host: &str,
    port: u16,
    username: &str,
    password: &str,
) -> anyhow::Result<Transport> {
    let tls = TlsParameters::new(host.to_string())?;
    Ok(Transport::builder_dangerous(host)
        .port(port)
        .tls(if port == 465 {
            Tls::Wrapper(tls)
        } else {
            Tls::Opportunistic(tls)
        })
        .credentials(Credentials::new(username.to_string(), password.to_string()))
        .timeout(Some(Duration::from_secs(20)))
        .build())
}

/// The SMTP server to try, as `internal/send-test-email` gives it.
pub struct SmtpServer<'a> {
    pub host: &'a str,
    pub port: u16,
    pub username: &'a str,
    pub password: &'a str,
    pub sender_name: &'a str,
    pub sender_email: &'a str,
}

/// Sends the original's test email through `server` now, without the outbox or retries, giving
/// up after 10 s (the original's `internal/send-test-email`). Err: what went wrong, worded
/// for the admin.
pub async fn send_test_email(server: &SmtpServer<'_>, to: &str) -> Result<(), String> {
    let attempt = async {
        let from = Mailbox::new(
            Some(server.sender_name.to_string()),
            server.sender_email.parse()?,
        );
        let message = Message::builder()
            .from(from)
            .to(to.parse()?)
            .subject("Test Email from Stack Auth")
            .header(ContentType::TEXT_PLAIN)
            .body("This is a test email from Stack Auth. If you successfully received this email, your email server configuration is working correctly.".to_string())?;
        smtp_transport(server.host, server.port, server.username, server.password)?
            .send(message)
            .await?;
        anyhow::Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Err(_) => Err("Timed out while sending test email. Make sure the email server is running and accepting connections.".into()),
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => match e.downcast_ref::<lettre::transport::smtp::Error>() {
            Some(smtp) if smtp.is_permanent() || smtp.is_transient() => {
                Err(format!("Email server rejected the email: {smtp}"))
            }
            _ => Err("Unknown error while sending test email. Make sure the email server is running and accepting connections.".into()),
        },
    }
}

async fn deliver(transport: &Transport, from: Mailbox, email: &Claimed) -> anyhow::Result<()> {
    let domain = from.email.domain().to_string();
    let message = Message::builder()
        .from(from)
        .to(email.recipient.parse()?)
        .subject(&email.subject)
        .message_id(Some(format!("<{}@{}>", email.id, domain)))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(email.text.clone()),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(email.html.clone()),
                ),
        )?;
    transport.send(message).await?;
    Ok(())
}

async fn record(state: &Kernel, email: &Claimed, outcome: anyhow::Result<()>) -> sqlx::Result<()> {
    let now = now_ms();
    match outcome {
        Ok(()) => {
            sqlx::query("UPDATE emails SET status = 'sent', delivered_at = $1, updated_at = $1, claimed_until = NULL WHERE id = $2")
                .bind(now)
                .bind(&email.id)
                .execute(state.db())
                .await?;
        }
        Err(e) => {
            let message = format!("{e:#}");
            tracing::info!(email = %email.id, attempt = email.attempts, error = %message, "email delivery failed");
            let mut errors = email.errors.as_array().cloned().unwrap_or_default();
            errors.push(json!({
                "attempt_number": email.attempts, "timestamp": now,
                "external_message": message, "external_details": {}, "internal_message": message, "internal_details": {},
            }));
            let give_up = email.attempts >= state.config.email_max_attempts;
            let backoff = state
                .config
                .email_retry_base_ms
                .saturating_mul(1 << (email.attempts - 1).clamp(0, 20));
            sqlx::query(
                "UPDATE emails SET status = $1, attempt_errors = $2, next_attempt_at = $3, updated_at = $4, claimed_until = NULL,
                    error_at = $5, server_error = $6 WHERE id = $7",
            )
            .bind(if give_up { "server-error" } else { "queued" })
            .bind(Value::Array(errors).to_string())
            .bind(now.saturating_add(backoff))
            .bind(now)
            .bind(give_up.then_some(now))
            .bind(give_up.then_some(message))
            .bind(&email.id)
            .execute(state.db())
            .await?;
        }
    }
    Ok(())
}
