//! Test harness: starts the real `portcullis` binary on a fresh SQLite file or a fresh PostgreSQL
//! database, creates a project through the CLI, and offers typed helpers so tests read like the
//! flows they check. Every test body runs on both backends (see `both_backends!`).

#![allow(dead_code)]

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const INTERNAL_PCK: &str = "pck_test_internal_publishable";
pub const INTERNAL_SSK: &str = "ssk_test_internal_secret_server";
pub const INTERNAL_SAK: &str = "sak_test_internal_super_secret_admin";

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL tests create their databases. `.ci/run` starts this server.
pub fn pg_admin_url() -> String {
    std::env::var("PORTCULLIS_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://portcullis:portcullis@127.0.0.1:5432/postgres".into())
}

pub struct TestServer {
    pub base: String,
    pub database_url: String,
    pub project_id: String,
    pub publishable_client_key: String,
    pub secret_server_key: String,
    pub super_secret_admin_key: String,
    child: Child,
    _dir: TempDir,
    pub http: reqwest::Client,
    env: Vec<(String, String)>,
    /// False for a replica: the first server's drop removes the shared PostgreSQL database.
    owns_database: bool,
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique_name() -> String {
    format!("pc_{}_{}", std::process::id(), uuid_like())
}

fn uuid_like() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{}_{}", nanos, N.fetch_add(1, Ordering::SeqCst))
}

/// A port nothing listens on now and that this test binary has not handed out before: the
/// kernel may give a just-released port again, and two servers of one binary picking the same
/// port would see one answer the other's health check.
pub fn free_port() -> u16 {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap();
    loop {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if !given.contains(&port) {
            given.push(port);
            return port;
        }
    }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_portcullis")
}

async fn create_pg_database(name: &str) -> String {
    let admin = pg_admin_url();
    let out = Command::new("psql")
        .arg(&admin)
        .args([
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-c",
            &format!("CREATE DATABASE {name}"),
        ])
        .output()
        .expect("psql must be installed for the PostgreSQL tests");
    assert!(
        out.status.success(),
        "could not create a PostgreSQL test database at {admin} (start it with .ci/run or set PORTCULLIS_TEST_PG_URL): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (prefix, _) = admin.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

pub struct Options {
    pub env: Vec<(String, String)>,
}

impl TestServer {
    pub async fn start(backend: Backend) -> TestServer {
        Self::start_with(backend, Options { env: vec![] }).await
    }

    /// A server whose Stripe API is a fresh localstripe (kept running by the returned handle).
    pub async fn start_with_stripe(backend: Backend) -> (Localstripe, TestServer) {
        let stripe = Localstripe::start().await;
        let env = vec![("PORTCULLIS_STRIPE_API_BASE".into(), stripe.url.clone())];
        let app = Self::start_with(backend, Options { env }).await;
        (stripe, app)
    }

    pub async fn start_with(backend: Backend, opts: Options) -> TestServer {
        let name = unique_name();
        let dir = TempDir(std::env::temp_dir().join(&name));
        std::fs::create_dir_all(&dir.0).unwrap();
        let database_url = match backend {
            Backend::Sqlite => format!("sqlite://{}?mode=rwc", dir.0.join("db.sqlite").display()),
            Backend::Postgres => create_pg_database(&name).await,
        };
        let (child, base) = spawn_server(&database_url, &dir.0, &opts.env).await;
        let http = reqwest::Client::new();
        let keys = create_project_cli(&database_url, &dir.0, "Test project");
        TestServer {
            base,
            database_url,
            project_id: keys["project_id"].as_str().unwrap().into(),
            publishable_client_key: keys["publishable_client_key"].as_str().unwrap().into(),
            secret_server_key: keys["secret_server_key"].as_str().unwrap().into(),
            super_secret_admin_key: keys["super_secret_admin_key"].as_str().unwrap().into(),
            child,
            _dir: dir,
            http,
            env: opts.env,
            owns_database: true,
        }
    }

    /// Another server process on the same database (replicas sharing one PostgreSQL), serving
    /// the same project with the same keys and settings.
    pub async fn replica(&self) -> TestServer {
        let dir = TempDir(std::env::temp_dir().join(unique_name()));
        std::fs::create_dir_all(&dir.0).unwrap();
        let (child, base) = spawn_server(&self.database_url, &dir.0, &self.env).await;
        TestServer {
            base,
            database_url: self.database_url.clone(),
            project_id: self.project_id.clone(),
            publishable_client_key: self.publishable_client_key.clone(),
            secret_server_key: self.secret_server_key.clone(),
            super_secret_admin_key: self.super_secret_admin_key.clone(),
            child,
            _dir: dir,
            http: reqwest::Client::new(),
            env: self.env.clone(),
            owns_database: false,
        }
    }

    /// Kills the server with SIGKILL (no chance to clean up) and starts a new one on the same
    /// database; the project and keys stay the same.
    pub async fn crash_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let (child, base) = spawn_server(&self.database_url, &self._dir.0, &self.env).await;
        self.child = child;
        self.base = base;
    }

    /// What the server printed on stdout (first-start messages such as the dashboard setup link).
    /// The server process id (benchmarks read its memory from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self._dir.0.join("stdout.log")).unwrap_or_default()
    }

    /// The one-time first-admin link the server printed at its first start.
    pub fn setup_link(&self) -> String {
        let out = self.stdout();
        let start = out.rfind("http").expect("a setup link on stdout"); // the newest
        out[start..].split_whitespace().next().unwrap().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self._dir.0.join("server.log")).unwrap_or_default()
    }

    /// A request builder for this project with the given access type and its key.
    pub fn client(&self) -> Req {
        Req::new(self, Method::GET, "").access("client").header(
            "x-stack-publishable-client-key",
            &self.publishable_client_key,
        )
    }
    pub fn server(&self) -> Req {
        Req::new(self, Method::GET, "")
            .access("server")
            .header("x-stack-secret-server-key", &self.secret_server_key)
    }
    pub fn admin(&self) -> Req {
        Req::new(self, Method::GET, "").access("admin").header(
            "x-stack-super-secret-admin-key",
            &self.super_secret_admin_key,
        )
    }
    /// No `x-stack-*` headers at all.
    pub fn anon(&self) -> Req {
        Req {
            headers: vec![],
            ..Req::new(self, Method::GET, "")
        }
    }

    /// Signs up with a password (client access); returns the sign-in answer.
    pub async fn sign_up(&self, email: &str, password: &str) -> Value {
        let r = self
            .client()
            .post("/auth/password/sign-up")
            .json(json!({ "email": email, "password": password }))
            .send()
            .await;
        r.expect(200)
    }

    /// The signed-in user of `session` (`GET /users/me` with client access).
    pub async fn me(&self, session: &Value) -> Value {
        self.client()
            .user(session)
            .get("/users/me")
            .send()
            .await
            .expect(200)
    }

    /// Changes the project's config through the admin API (`{"config": config}`).
    pub async fn configure(&self, config: Value) {
        self.admin()
            .patch("/internal/projects/current")
            .json(json!({ "config": config }))
            .send()
            .await
            .expect(200);
    }

    /// Writes `doc` (dotted keys allowed, `null` removes) into the project's branch-level config
    /// override, as the admin SDK's `updateConfig` does; asserts it was taken.
    pub async fn override_config(&self, doc: Value) {
        self.admin()
            .patch("/internal/config/override/branch")
            .json(json!({ "config_override_string": doc.to_string() }))
            .send()
            .await
            .expect(200);
    }

    /// Signs in to the dashboard over plain HTTP: a client that does not follow redirects, and
    /// the session cookie (`name=value`). Asserts the sign-in answered with its redirect.
    pub async fn dashboard_sign_in(
        &self,
        email: &str,
        password: &str,
    ) -> (reqwest::Client, String) {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let res = http
            .post(format!("{}/dashboard/sign-in", self.base))
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 303, "dashboard sign-in as {email}");
        let set = res.headers()["set-cookie"].to_str().unwrap();
        let cookie = set.split(';').next().unwrap().to_string();
        (http, cookie)
    }

    /// Creates a user through the server API with a password usable for sign-in.
    pub async fn create_user(&self, email: &str) -> Value {
        self.server()
            .post("/users")
            .json(json!({ "primary_email": email, "primary_email_auth_enabled": true, "password": "password123" }))
            .send()
            .await
            .expect(201)
    }
}

/// Starts the binary on a free port and waits until it answers `/health`.
async fn spawn_server(
    database_url: &str,
    dir: &std::path::Path,
    env: &[(String, String)],
) -> (Child, String) {
    let port = free_port();
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    let mut cmd = Command::new(bin());
    cmd.env("DATABASE_URL", database_url)
        .env("PORT", port.to_string())
        .env("PORTCULLIS_BIND", "127.0.0.1")
        .env("PORTCULLIS_DATA_DIR", dir)
        .env("PORTCULLIS_INTERNAL_PUBLISHABLE_CLIENT_KEY", INTERNAL_PCK)
        .env("PORTCULLIS_INTERNAL_SECRET_SERVER_KEY", INTERNAL_SSK)
        .env("PORTCULLIS_INTERNAL_SUPER_SECRET_ADMIN_KEY", INTERNAL_SAK)
        .env("RUST_LOG", "info,sqlx=warn")
        .stdout(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.join("stdout.log"))
                .unwrap(),
        )
        .stderr(log);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn portcullis");
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        // A server that exited (its port taken, say) must not pass for another's health check.
        assert!(
            child.try_wait().unwrap().is_none(),
            "server exited at start; log: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        assert!(
            Instant::now() < deadline,
            "server did not start; log: {}",
            std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

/// Runs `portcullis project create --json` against the same database.
pub fn create_project_cli(database_url: &str, data_dir: &std::path::Path, name: &str) -> Value {
    let out = Command::new(bin())
        .args(["project", "create", "--name", name, "--json"])
        .env("DATABASE_URL", database_url)
        .env("PORTCULLIS_DATA_DIR", data_dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "project create failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("project create --json prints JSON")
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // PostgreSQL test databases are dropped so repeated runs do not pile them up.
        if let Some(name) = Some(&self.database_url)
            .filter(|_| self.owns_database)
            .and_then(|u| u.strip_prefix("postgres"))
            .and_then(|u| u.rsplit_once('/'))
            .map(|(_, n)| n.to_string())
        {
            let _ = Command::new("psql")
                .arg(pg_admin_url())
                .args([
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ])
                .output();
        }
    }
}

pub struct Req {
    base: String,
    project_id: String,
    http: reqwest::Client,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
}

impl Req {
    fn new(s: &TestServer, method: Method, path: &str) -> Req {
        Req {
            base: s.base.clone(),
            project_id: s.project_id.clone(),
            http: s.http.clone(),
            method,
            path: path.into(),
            headers: vec![("x-stack-project-id".into(), s.project_id.clone())],
            body: None,
        }
    }
    pub fn access(self, t: &str) -> Req {
        self.header("x-stack-access-type", t)
    }
    pub fn header(mut self, k: &str, v: &str) -> Req {
        self.headers.retain(|(name, _)| name != k);
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn without(mut self, k: &str) -> Req {
        self.headers.retain(|(name, _)| name != k);
        self
    }
    pub fn project(self, id: &str) -> Req {
        self.header("x-stack-project-id", id)
    }
    pub fn token(self, access_token: &str) -> Req {
        self.header("x-stack-access-token", access_token)
    }
    pub fn user(self, session: &Value) -> Req {
        let r = self.token(session["access_token"].as_str().unwrap());
        match session["refresh_token"].as_str() {
            Some(rt) => r.header("x-stack-refresh-token", rt),
            None => r,
        }
    }
    fn method(mut self, m: Method, path: &str) -> Req {
        self.method = m;
        self.path = path.into();
        self
    }
    pub fn get(self, path: &str) -> Req {
        self.method(Method::GET, path)
    }
    pub fn post(self, path: &str) -> Req {
        self.method(Method::POST, path)
    }
    pub fn patch(self, path: &str) -> Req {
        self.method(Method::PATCH, path)
    }
    pub fn delete(self, path: &str) -> Req {
        self.method(Method::DELETE, path)
    }
    pub fn put(self, path: &str) -> Req {
        self.method(Method::PUT, path)
    }
    pub fn json(mut self, v: Value) -> Req {
        self.body = Some(("application/json".into(), v.to_string().into_bytes()));
        self
    }
    pub fn raw(mut self, content_type: &str, body: &str) -> Req {
        self.body = Some((content_type.into(), body.as_bytes().to_vec()));
        self
    }
    pub async fn send(self) -> Resp {
        let url = if self.path.starts_with("http") {
            self.path.clone()
        } else {
            format!("{}/api/v1{}", self.base, self.path)
        };
        let mut rb = self.http.request(self.method.clone(), url);
        for (k, v) in &self.headers {
            rb = rb.header(k, v);
        }
        if let Some((ct, body)) = self.body {
            rb = rb.header("content-type", ct).body(body);
        }
        let res = rb.send().await.expect("request failed");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
            what: format!("{} {}", self.method, self.path),
        }
    }
}

pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub json: Value,
    what: String,
}

impl Resp {
    /// Asserts the status and returns the JSON body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: unexpected status; body: {}",
            self.what,
            self.text
        );
        self.json
    }

    /// Asserts a known error: status, `x-stack-known-error` header equal to the body's code.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: unexpected status; body: {}",
            self.what,
            self.text
        );
        assert_eq!(
            self.json["code"], code,
            "{}: unexpected error; body: {}",
            self.what, self.text
        );
        let header = self
            .headers
            .get("x-stack-known-error")
            .map(|v| v.to_str().unwrap().to_string());
        assert_eq!(
            header.as_deref(),
            Some(code),
            "{}: x-stack-known-error header",
            self.what
        );
        self.json
    }

    /// Asserts a plain-text (not known) error.
    #[track_caller]
    pub fn expect_text(self, status: u16, contains: &str) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{}: unexpected status; body: {}",
            self.what,
            self.text
        );
        assert!(
            self.headers.get("x-stack-known-error").is_none(),
            "{}: plain-text errors carry no known-error header",
            self.what
        );
        assert!(
            self.text.contains(contains),
            "{}: body {:?} should contain {:?}",
            self.what,
            self.text,
            contains
        );
    }
}

/// Declares `#[tokio::test]`s running the same async body on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = TestServer::start(Backend::Sqlite).await;
                ($body)(app).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let app = TestServer::start(Backend::Postgres).await;
                ($body)(app).await;
            }
        }
    };
}

/// A real SMTP server process (tests/smtp_sink.py, aiosmtpd) on loopback.
pub struct SmtpSink {
    pub port: u16,
    pub dir: TempDir,
    child: Child,
}

impl SmtpSink {
    pub fn start(auth: Option<(&str, &str)>) -> SmtpSink {
        let port = free_port();
        let dir = TempDir(std::env::temp_dir().join(format!("pc_mail_{}", unique_name())));
        std::fs::create_dir_all(&dir.0).unwrap();
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_sink.py");
        let mut cmd = Command::new("python3");
        cmd.arg(script)
            .args(["--port", &port.to_string(), "--dir"])
            .arg(&dir.0)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some((u, p)) = auth {
            cmd.args(["--user", u, "--password", p]);
        }
        let mut child = cmd
            .spawn()
            .expect("python3 with aiosmtpd is needed (pip install aiosmtpd; .ci/run does)");
        use std::io::BufRead;
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            "ready",
            "SMTP sink did not start (is aiosmtpd installed?)"
        );
        SmtpSink { port, dir, child }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every message received so far, oldest first.
    pub fn messages(&self) -> Vec<Value> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir.0)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect()
    }

    /// Waits until `count` messages sent to `to` arrived; returns them.
    pub async fn wait_for(&self, to: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let found: Vec<Value> = self
                .messages()
                .into_iter()
                .filter(|m| m["to"].as_str().is_some_and(|t| t.contains(to)))
                .collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} message(s) to {to}, got {}: {:?}",
                found.len(),
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `code` query parameter of the first link in `text` that has one.
pub fn code_from_link(text: &str) -> String {
    let start = text.find("code=").expect("a link with a code") + 5;
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// Runs one SQL query directly against a test database (for checks the API must not expose,
/// such as what is stored at rest) and returns its rows as text.
pub fn db_query_text(database_url: &str, sql: &str) -> String {
    let out = if database_url.starts_with("postgres") {
        Command::new("psql")
            .arg(database_url)
            .args(["-tA", "-c", sql])
            .output()
            .unwrap()
    } else {
        let path = database_url
            .trim_start_matches("sqlite://")
            .split('?')
            .next()
            .unwrap()
            .to_string();
        Command::new("python3")
            .args(["-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); [print(*r, sep='|') for r in c.execute(sys.argv[2])]; c.commit()", &path, sql])
            .output()
            .unwrap()
    };
    assert!(
        out.status.success(),
        "query failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Declares two `#[tokio::test]`s running `run(Backend::Sqlite)` and `run(Backend::Postgres)`, for
/// test bodies that start their own server (with options, sinks, or restarts).
#[macro_export]
macro_rules! on_both_backends {
    ($name:ident, $run:path) => {
        $crate::on_both_backends!($name, $run, 2);
    };
    ($name:ident, $run:path, $threads:literal) => {
        mod $name {
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn sqlite() {
                $run(Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = $threads)]
            async fn postgres() {
                $run(Backend::Postgres).await;
            }
        }
    };
}

/// A benchmark's command-line option: the value after `--name`, else `default`.
pub fn bench_arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// A node process (a script in `tests/sdk`); killed on drop. Its output goes to `log`.
pub struct NodeProcess {
    child: Child,
    log: PathBuf,
}

impl NodeProcess {
    pub fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn sdk_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// Runs `tests/sdk/<script> <args>` with `env` and waits until `ready` answers (any HTTP answer).
pub async fn start_node(
    script: &str,
    args: &[String],
    env: &[(&str, &str)],
    ready: &str,
    log: PathBuf,
) -> NodeProcess {
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("node")
        .arg(script)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(sdk_dir())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("node (see .ci/run)");
    let process = NodeProcess { child, log };
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(ready).await.is_err() {
        assert!(
            Instant::now() < deadline,
            "{script} did not start: {}",
            process.output()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    process
}

/// localstripe (PyPI), a stateful fake of Stripe's API, on its own port; killed on drop.
/// Its webhooks are signed like Stripe's (see `register_webhook`).
pub struct Localstripe {
    pub url: String,
    _process: NodeProcess,
    _dir: TempDir,
}

impl Localstripe {
    pub async fn start() -> Localstripe {
        let port = free_port();
        let dir = TempDir(std::env::temp_dir().join(unique_name()));
        std::fs::create_dir_all(&dir.0).unwrap();
        let log = dir.0.join("localstripe.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("python3")
            .args(["-m", "localstripe", "--from-scratch", "--port"])
            .arg(port.to_string())
            .current_dir(&dir.0)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("python3 -m localstripe (pip install localstripe; .ci/run does)");
        let process = NodeProcess { child, log };
        let url = format!("http://localhost:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{url}/js.stripe.com/v3/"))
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "localstripe did not start: {}",
                process.output()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Localstripe {
            url,
            _process: process,
            _dir: dir,
        }
    }

    pub fn output(&self) -> String {
        self._process.output()
    }

    /// Confirms a SetupIntent with a card number, as Stripe.js's `confirmCardSetup` does on a
    /// checkout page.
    pub async fn confirm_card(&self, client_secret: &str, number: &str) {
        let setup_id = client_secret.split("_secret_").next().unwrap();
        self.call(
            Method::POST,
            &format!("/v1/setup_intents/{setup_id}/confirm"),
            &[
                ("client_secret", client_secret),
                ("payment_method_data[type]", "card"),
                ("payment_method_data[card][number]", number),
                ("payment_method_data[card][exp_month]", "12"),
                ("payment_method_data[card][exp_year]", "2030"),
                ("payment_method_data[card][cvc]", "123"),
            ],
        )
        .await;
    }

    /// Polls `done` until it holds (localstripe sends webhooks a second after the event),
    /// failing after 20 s with both servers' logs.
    pub async fn wait_for<F, Fut>(&self, what: &str, app: &TestServer, done: F)
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !done().await {
            assert!(
                Instant::now() < deadline,
                "no {what}; localstripe: {}\nserver: {}",
                self.output(),
                app.log()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Connects `app`'s project to this Stripe (secret key, `webhook_secret`, and a publishable
    /// key for the checkout page) and has its events delivered to the project's webhook.
    pub async fn connect(&self, app: &TestServer, webhook_secret: &str) {
        app.admin()
            .post("/internal/payments/setup")
            .json(json!({
                "stripe_secret_key": "sk_test_portcullis",
                "stripe_webhook_secret": webhook_secret,
                "stripe_publishable_key": "pk_test_portcullis",
            }))
            .send()
            .await
            .expect(200);
        self.register_webhook(
            &format!(
                "{}/api/v1/integrations/stripe/webhooks?project_id={}",
                app.base, app.project_id
            ),
            webhook_secret,
        )
        .await;
    }

    /// Sends every event to `url`, signed with `secret`.
    pub async fn register_webhook(&self, url: &str, secret: &str) {
        let res = reqwest::Client::new()
            .post(format!("{}/_config/webhooks/portcullis", self.url))
            .form(&[("url", url), ("secret", secret)])
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    }

    /// A call to the fake Stripe API with a secret key, as our server or Stripe.js would make.
    pub async fn call(&self, method: Method, path: &str, form: &[(&str, &str)]) -> Value {
        let res = reqwest::Client::new()
            .request(method, format!("{}{path}", self.url))
            .bearer_auth("sk_test_portcullis")
            .form(form)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path}: {status} {body}");
        body
    }
}

/// A fresh `tests/artifacts/<name>-<backend>` folder for a browser test's screenshots and logs,
/// after checking the npm packages (esbuild, playwright-core, the SDK) are installed.
pub fn browser_artifacts(name: &str, backend: Backend) -> PathBuf {
    assert!(
        sdk_dir().join("node_modules/esbuild").exists(),
        "the npm packages are not installed: run `npm ci --prefix tests/sdk` (.ci/run does)"
    );
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/artifacts/{name}-{backend:?}").to_lowercase());
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    artifacts
}

/// The tiny `@stackframe/js` app (`tests/sdk/oauth-app`, bundled by `serve-oauth-app.mjs`) for
/// `app`'s project, talking to the API at `base`, served on each of `ports`.
pub async fn serve_test_app(
    app: &TestServer,
    base: &str,
    ports: &[u16],
    log: PathBuf,
) -> NodeProcess {
    let args: Vec<String> = ports.iter().map(u16::to_string).collect();
    start_node(
        "serve-oauth-app.mjs",
        &args,
        &[
            ("PORTCULLIS_URL", base),
            ("PORTCULLIS_PROJECT_ID", &app.project_id),
            (
                "PORTCULLIS_PUBLISHABLE_CLIENT_KEY",
                &app.publishable_client_key,
            ),
        ],
        &format!("http://localhost:{}/app.js", ports[0]),
        log,
    )
    .await
}

/// Runs the browser script `tests/sdk/<script>` with `env` (and `ARTIFACTS`), and checks it
/// succeeded, printed `{"ok": true, …}` last and wrote each of `shots` (`<shot>.png`); `logs`
/// adds the servers' output to a failure. Returns the script's summary.
pub async fn run_browser_script(
    script: &str,
    env: &[(&str, String)],
    artifacts: &Path,
    shots: &[&str],
    logs: impl FnOnce() -> String,
) -> Value {
    let started = Instant::now();
    let out = tokio::process::Command::new("node")
        .arg(script)
        .current_dir(sdk_dir())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("ARTIFACTS", artifacts)
        .output()
        .await
        .expect("node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed after {:?}\nstdout: {stdout}\nstderr: {}\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr),
        logs()
    );
    let summary: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{script}'s last line is not JSON ({e}): {stdout}"));
    assert_eq!(summary["ok"], true, "{stdout}");
    for shot in shots {
        assert!(
            artifacts.join(format!("{shot}.png")).exists(),
            "screenshot {shot}"
        );
    }
    summary
}

/// Seconds since the epoch, as Stripe's signatures count time.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A `Stripe-Signature` header for `payload` signed with `secret` at `t` (s), as Stripe signs.
pub fn stripe_signature(payload: &str, secret: &str, t: i64) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let tag = ring::hmac::sign(&key, format!("{t}.{payload}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// The TOTP (RFC 6238: SHA-1, 6 digits, 30 s) an authenticator app holding `secret_base64` shows
/// `offset_steps` steps from now.
pub fn totp_for(secret_base64: &str, offset_steps: i64) -> String {
    use base64::Engine;
    let secret = base64::engine::general_purpose::STANDARD
        .decode(secret_base64)
        .unwrap();
    let totp = totp_rs::TOTP::new_unchecked(totp_rs::Algorithm::SHA1, 6, 0, 30, secret);
    totp.generate((now_secs() + offset_steps * 30) as u64)
}
