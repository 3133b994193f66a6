//! Dashboard page times for a project with 100k users (seeded straight into the database), on
//! SQLite and PostgreSQL: the users list (first page, a deep page), search, a user's page, the
//! project page, and the payments and teams pages. Prints p50/p99 per page against the 50 ms
//! budget; asserts nothing.
//!
//!     cargo bench --bench dashboard -- [--users 100000] [--backends sqlite,postgres]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{bench_arg as arg, Backend, TestServer};
use std::time::Instant;

fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let at = text.find(start).expect(start) + start.len();
    &text[at..at + text[at..].find(end).expect(end)]
}

/// Inserts `n` users with a primary email each, in batches, straight into the project's tables,
/// then refreshes the planner statistics.
async fn seed(database_url: &str, project_id: &str, n: usize) {
    let store = portcullis::store::Store::connect(database_url)
        .await
        .unwrap();
    let now = portcullis::store::now_ms();
    let batch = 500;
    for start in (0..n).step_by(batch) {
        let mut tx = store.pool.begin().await.unwrap();
        let mut users = String::from("INSERT INTO users (id, project_id, display_name, signed_up_at, last_active_at, oauth_providers) VALUES ");
        let mut channels = String::from("INSERT INTO contact_channels (id, project_id, user_id, type, value, is_verified, is_primary, used_for_auth, auth_value, created_at) VALUES ");
        for i in start..(start + batch).min(n) {
            let id = uuid::Uuid::new_v4();
            let sep = if i == start { "" } else { "," };
            let at = now - (n - i) as i64 * 1000;
            users.push_str(&format!(
                "{sep}('{id}', '{project_id}', 'Person {i}', {at}, {at}, '[]')"
            ));
            channels.push_str(&format!("{sep}('{}', '{project_id}', '{id}', 'email', 'user{i}@example.com', 1, 1, 1, 'user{i}@example.com', {at})", uuid::Uuid::new_v4()));
        }
        sqlx::query(&users).execute(&mut *tx).await.unwrap();
        sqlx::query(&channels).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    // What autovacuum (PostgreSQL) or `PRAGMA optimize` (SQLite) does soon after a bulk import;
    // without it the planners still see the empty tables they started with.
    sqlx::query("ANALYZE").execute(&store.pool).await.unwrap();
}

async fn time_page(http: &reqwest::Client, cookie: &str, url: &str, runs: usize) -> (f64, f64) {
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let r = http.get(url).header("cookie", cookie).send().await.unwrap();
        assert!(r.status().is_success(), "{url}: {}", r.status());
        r.bytes().await.unwrap();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    (ms[runs / 2], ms[(runs * 99 / 100).min(runs - 1)])
}

async fn bench(backend: Backend, n: usize) {
    let app = TestServer::start(backend).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let link = app.setup_link().replace("localhost", "127.0.0.1");
    let code = link.split("code=").nth(1).unwrap().to_string();
    let r = http
        .post(format!("{}/dashboard/setup", app.base))
        .form(&[
            ("code", code.as_str()),
            ("email", "bench@example.com"),
            ("password", "bench-password"),
        ])
        .send()
        .await
        .unwrap();
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let home = http
        .get(format!("{}/dashboard", app.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = between(&home, "name=\"csrf\" value=\"", "\"").to_string();
    let created = http
        .post(format!("{}/dashboard/projects", app.base))
        .header("cookie", &cookie)
        .form(&[("display_name", "Big"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let pid = between(&created, "Project ID</th><td><code>", "<").to_string();
    let t = Instant::now();
    seed(&app.database_url, &pid, n).await;
    println!(
        "\n[{backend:?}] seeded {n} users in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    let base = format!("{}/dashboard/projects/{pid}", app.base);
    let first = http
        .get(format!("{base}/users"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let user_path = between(
        &first,
        &format!("href=\"/dashboard/projects/{pid}/users/"),
        "\"",
    )
    .to_string();
    let deep_cursor = {
        let store = portcullis::store::Store::connect(&app.database_url)
            .await
            .unwrap();
        let sql = format!("SELECT id FROM users WHERE project_id = '{pid}' ORDER BY signed_up_at, id LIMIT 1 OFFSET {}", n / 2);
        let id: String = sqlx::query_scalar(&sql)
            .fetch_one(&store.pool)
            .await
            .unwrap();
        id
    };
    let pages = [
        ("project overview", base.clone()),
        ("users, first page", format!("{base}/users")),
        (
            "users, page at the middle",
            format!("{base}/users?cursor={deep_cursor}"),
        ),
        (
            "users, search exact email",
            format!("{base}/users?query=user{}%40example.com", n / 3),
        ),
        (
            "users, search substring",
            format!("{base}/users?query=son%20{}", n / 7),
        ),
        ("user detail", format!("{base}/users/{user_path}")),
        ("settings", format!("{base}/settings")),
        ("payments, customers", format!("{base}/payments/customers")),
        (
            "payments, customer search",
            format!("{base}/payments/customers?query=user{}%40", n / 5),
        ),
        (
            "payments, one customer",
            format!("{base}/payments/customers/user/{user_path}"),
        ),
        (
            "payments, transactions",
            format!("{base}/payments/transactions"),
        ),
        ("teams", format!("{base}/teams")),
    ];
    for (name, url) in pages {
        let (p50, p99) = time_page(&http, &cookie, &url, 40).await;
        println!(
            "{name:<28} p50 {p50:>7.2} ms   p99 {p99:>7.2} ms   p50 vs 50 ms budget = {:.2}x",
            p50 / 50.0
        );
    }
}

fn main() {
    let n: usize = arg("--users", "100000").parse().unwrap();
    let backends = arg("--backends", "sqlite,postgres");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    for b in backends.split(',') {
        let backend = if b == "postgres" {
            Backend::Postgres
        } else {
            Backend::Sqlite
        };
        rt.block_on(bench(backend, n));
    }
}
