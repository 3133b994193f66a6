//! Both dialects' migrations must produce the same tables, columns and indexes, since every
//! query in the code is shared between them.

mod common;
use common::*;
use sqlx::Row;
use std::collections::BTreeSet;

async fn migrated(url: &str) -> portcullis::store::Store {
    let store = portcullis::store::Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    // Migrating twice is a no-op.
    store.migrate().await.unwrap();
    store
}

async fn shape(
    store: &portcullis::store::Store,
    columns_sql: &str,
    indexes_sql: &str,
) -> (BTreeSet<String>, BTreeSet<String>) {
    let cols = sqlx::query(columns_sql)
        .fetch_all(&store.pool)
        .await
        .unwrap();
    let idx = sqlx::query(indexes_sql)
        .fetch_all(&store.pool)
        .await
        .unwrap();
    (
        cols.iter()
            .map(|r| format!("{}.{}", r.get::<String, _>(0), r.get::<String, _>(1)))
            .collect(),
        idx.iter().map(|r| r.get::<String, _>(0)).collect(),
    )
}

#[tokio::test]
async fn sqlite_and_postgres_schemas_agree() {
    let dir = TempDir(std::env::temp_dir().join(format!("pc_schema_{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let sqlite = migrated(&format!(
        "sqlite://{}?mode=rwc",
        dir.0.join("s.db").display()
    ))
    .await;
    let lite = shape(
        &sqlite,
        "SELECT m.name, p.name FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'",
    )
    .await;

    let name = format!("pc_schema_{}", std::process::id());
    let admin = pg_admin_url();
    let _ = std::process::Command::new("psql")
        .arg(&admin)
        .args(["-q", "-c", &format!("DROP DATABASE IF EXISTS {name}")])
        .output();
    let created = std::process::Command::new("psql")
        .arg(&admin)
        .args(["-q", "-c", &format!("CREATE DATABASE {name}")])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "PostgreSQL is needed: {}",
        String::from_utf8_lossy(&created.stderr)
    );
    let pg_url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let pg = migrated(&pg_url).await;
    let post = shape(
        &pg,
        "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
        // Trigram search indexes are PostgreSQL's alone: SQLite has no such index type.
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public' AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_trgm'",
    )
    .await;
    pg.pool.close().await;
    let _ = std::process::Command::new("psql")
        .arg(&admin)
        .args([
            "-q",
            "-c",
            &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ])
        .output();

    assert_eq!(
        lite.0, post.0,
        "columns differ between the SQLite and PostgreSQL migrations"
    );
    assert_eq!(
        lite.1, post.1,
        "indexes differ between the SQLite and PostgreSQL migrations"
    );
    assert!(lite.0.contains("contact_channels.auth_value"));
}
