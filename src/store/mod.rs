//! One connection pool over SQLite or PostgreSQL (sqlx's `Any` driver) and the schema migrations.
//! Domain code writes portable SQL with `$n` placeholders; ids are text, times integer milliseconds,
//! booleans integers — so no query branches on the backend. Only DDL differs, per dialect.

pub mod recent;

use anyhow::Context;
use sqlx::any::{install_default_drivers, AnyPoolOptions};
use sqlx::{AnyPool, Row};
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Clone)]
pub struct Store {
    pub pool: AnyPool,
    pub backend: Backend,
    /// SQLite has one writer at a time; contended transactions queue here instead of in SQLite's
    /// busy handler, which sleeps in growing steps and wrecks latency under load.
    sqlite_writer: std::sync::Arc<tokio::sync::Mutex<()>>,
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

macro_rules! migration {
    ($version:expr, $name:literal) => {
        Migration {
            version: $version,
            name: $name,
            sqlite: include_str!(concat!("migrations/sqlite/", $name, ".sql")),
            postgres: include_str!(concat!("migrations/postgres/", $name, ".sql")),
        }
    };
}

const MIGRATIONS: &[Migration] = &[
    migration!(1, "0001_foundation"),
    migration!(2, "0002_emails_and_codes"),
    migration!(3, "0003_teams_rbac_api_keys"),
    migration!(4, "0004_payments"),
    migration!(5, "0005_channel_index"),
    migration!(6, "0006_item_balances"),
    migration!(7, "0007_search_trigrams"),
    migration!(8, "0008_rate_limits"),
    migration!(9, "0009_rate_limits_unlogged"),
    migration!(10, "0010_oauth"),
    migration!(11, "0011_oauth_account_ids"),
    migration!(12, "0012_oauth_tokens"),
    migration!(13, "0013_mfa_and_cli"),
    migration!(14, "0014_passkeys"),
    migration!(15, "0015_stripe"),
    migration!(16, "0016_stripe_billing"),
    migration!(17, "0017_webhooks"),
    migration!(18, "0018_data_vault"),
    migration!(19, "0019_key_sets_and_config_source"),
    migration!(20, "0020_sign_up_rule_triggers"),
];

/// WAL lets readers run beside the single writer; the busy timeout queues writers instead of failing.
const SQLITE_PRAGMAS: &[&str] = &[
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    "PRAGMA busy_timeout = 10000",
    // Autocheckpoints keep the WAL near 4 MiB under steady writes (benches/load.rs --only wal);
    // should a long reader hold one off, the file is cut back to this size once it completes.
    "PRAGMA journal_size_limit = 16777216",
    "PRAGMA foreign_keys = ON",
];

impl Store {
    pub async fn connect(url: &str) -> anyhow::Result<Store> {
        install_default_drivers();
        let backend = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            anyhow::bail!("DATABASE_URL must start with sqlite: or postgres://");
        };
        let max = match backend {
            // SQLite allows one writer at a time; a handful of connections serve concurrent reads.
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in SQLITE_PRAGMAS {
                            sqlx::Executor::execute(&mut *conn, *pragma).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await
            .with_context(|| format!("connecting to the {backend:?} database"))?;
        Ok(Store {
            pool,
            backend,
            sqlite_writer: Default::default(),
        })
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock keeps replicas starting
    /// together from racing each other.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.pool.acquire().await?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_lock(7243411)")
                .execute(&mut *conn)
                .await?;
        }
        let result = self.apply_pending(&mut conn).await;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_unlock(7243411)")
                .execute(&mut *conn)
                .await?;
        }
        result
    }

    async fn apply_pending(&self, conn: &mut sqlx::AnyConnection) -> anyhow::Result<()> {
        sqlx::raw_sql("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)")
            .execute(&mut *conn)
            .await?;
        let rows = sqlx::query("SELECT version FROM schema_migrations")
            .fetch_all(&mut *conn)
            .await?;
        let applied: Vec<i64> = rows.iter().map(|r| r.get::<i64, _>(0)).collect();
        for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
            let ddl = match self.backend {
                Backend::Sqlite => m.sqlite,
                Backend::Postgres => m.postgres,
            };
            let mut tx = sqlx::Connection::begin(&mut *conn).await?;
            sqlx::raw_sql(ddl)
                .execute(&mut *tx)
                .await
                .with_context(|| format!("migration {}", m.name))?;
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(m.version)
            .bind(m.name)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            tracing::info!(migration = m.name, "applied");
        }
        Ok(())
    }
}

impl Store {
    /// Held across a hot write transaction: serialises SQLite writers in-process (a no-op on
    /// PostgreSQL, whose row locks queue writers well).
    pub async fn write_turn(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.sqlite_writer.lock().await),
            Backend::Postgres => None,
        }
    }
}

/// Appends ` AND <column> = $n` for each filter that is set (numbered after the binds already in
/// `binds`), so every query shape can use its index — `($n = '' OR col = $n)` cannot.
pub fn and_equal<'a>(
    sql: &mut String,
    binds: &mut Vec<&'a str>,
    filters: &[(&str, Option<&'a str>)],
) {
    for (column, value) in filters {
        if let Some(v) = value {
            binds.push(v);
            sql.push_str(&format!(" AND {column} = ${}", binds.len()));
        }
    }
}

/// Runs a query whose parameters are all text.
pub fn bind_all<'q>(
    sql: &'q str,
    binds: &[&'q str],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    binds.iter().fold(sqlx::query(sql), |q, b| q.bind(*b))
}

/// `$first, $first+1, …` for `count` values bound in order: the list of an `IN (…)`.
pub fn placeholders(first: usize, count: usize) -> String {
    (first..first + count)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A case-insensitive substring pattern for `LOWER(column) LIKE $n ESCAPE '\\'`.
pub fn like_pattern(q: &str) -> String {
    let escaped = q
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Booleans are stored as 0/1 integers in both dialects.
pub fn flag(b: bool) -> i64 {
    b as i64
}

/// ISO 8601 in UTC with milliseconds (`2026-11-30T08:15:23.000Z`) for `ms` since the epoch.
pub fn iso(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

#[cfg(test)]
mod iso_tests {
    #[test]
    fn iso_dates() {
        assert_eq!(super::iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(super::iso(1_709_209_800_123), "2024-02-29T12:30:00.123Z");
    }
}
