//! [`TestServer`]: the real server, started in-process on port 0.

use crate::Reply;
use hearth_server::{Config, Running};
use hearth_store::Backend;
use hearth_store::testing::TestDatabase;
use rand::distr::{Alphanumeric, SampleString};
use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};
use std::net::SocketAddr;

/// A running server with its own fresh database.
pub struct TestServer {
    pub addr: SocketAddr,
    pub backend: Backend,
    /// The instance owner's key (set through `HEARTH_ADMIN_KEY`).
    pub admin_key: String,
    /// The config the server runs with.
    pub config: Config,
    client: reqwest::Client,
    running: Option<Running>,
    db: TestDatabase,
    /// Holds the tool workspaces of Chat Actions runs.
    workspaces: tempfile::TempDir,
}

/// A user made for a test, with one key.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: String,
    pub key: String,
    pub key_id: String,
}

impl TestServer {
    /// Starts a server with the default config. `None` when the backend is
    /// PostgreSQL and it is not available (see [`TestDatabase::new`]).
    pub async fn start(backend: Backend) -> Option<TestServer> {
        Self::start_with(backend, |_| {}).await
    }

    /// Starts a server after `adjust` has changed its config.
    pub async fn start_with(
        backend: Backend,
        adjust: impl FnOnce(&mut Config),
    ) -> Option<TestServer> {
        let db = TestDatabase::new(backend).await.expect("test database")?;
        let mut config = Config::defaults();
        config.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.database.url = db.url.clone();
        config.database.max_connections = 4;
        let workspaces = tempfile::tempdir().expect("workspace directory");
        config.responses.workspace_dir = workspaces.path().to_owned();
        adjust(&mut config);
        let admin_key = format!(
            "hk-test-{}",
            Alphanumeric.sample_string(&mut rand::rng(), 32)
        );
        let running = hearth_server::start(config.clone(), Some(admin_key.clone()))
            .await
            .expect("server starts");
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("http client");
        Some(TestServer {
            addr: running.addr,
            backend,
            admin_key,
            config,
            client,
            running: Some(running),
            db,
            workspaces,
        })
    }

    /// The directory under which each conversation's tool workspace lives.
    pub fn workspace_dir(&self) -> &std::path::Path {
        self.workspaces.path()
    }

    /// The database URL the server uses (for tests that inspect it).
    pub fn database_url(&self) -> &str {
        &self.db.url
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The base URL an OpenAI SDK takes: `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        self.url("/v1")
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// A request with `Authorization: Bearer key`.
    pub fn request(&self, method: Method, path: &str, key: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).bearer_auth(key)
    }

    /// A request as the instance owner.
    pub fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path, &self.admin_key)
    }

    /// Sends a request built with [`Self::request`], [`Self::admin`] or
    /// [`Self::client`] and reads the whole response.
    pub async fn send(&self, req: RequestBuilder) -> Reply {
        Reply::read(req.send().await.expect("request sent")).await
    }

    /// Sends `body` as JSON with `key` and returns status and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.request(method, path, key);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body read");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    /// Creates a user in the admin's organisation (or `org_id`) with the
    /// given role, and a key for them.
    pub async fn user(&self, role: &str, org_id: Option<&str>) -> TestUser {
        let email = format!(
            "{}@test.local",
            Alphanumeric
                .sample_string(&mut rand::rng(), 12)
                .to_lowercase()
        );
        let mut body = json!({"email": email, "role": role});
        if let Some(org) = org_id {
            body["org_id"] = json!(org);
        }
        let (status, user) = self
            .call(Method::POST, "/v1/admin/users", &self.admin_key, Some(body))
            .await;
        assert_eq!(status, 201, "create user: {user}");
        let id = user["id"].as_str().unwrap().to_owned();
        let (status, key) = self
            .call(
                Method::POST,
                "/v1/admin/api-keys",
                &self.admin_key,
                Some(json!({"user_id": id})),
            )
            .await;
        assert_eq!(status, 201, "create key: {key}");
        TestUser {
            id,
            key: key["key"].as_str().unwrap().to_owned(),
            key_id: key["id"].as_str().unwrap().to_owned(),
        }
    }

    /// Creates an organisation and returns its id.
    pub async fn org(&self, name: &str) -> String {
        let (status, org) = self
            .call(
                Method::POST,
                "/v1/admin/orgs",
                &self.admin_key,
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(status, 201, "create org: {org}");
        org["id"].as_str().unwrap().to_owned()
    }

    /// Stops the server gracefully (drains the audit buffer).
    pub async fn stop(mut self) {
        self.shutdown().await;
    }

    /// Stops the server gracefully, like [`Self::stop`], but keeps its
    /// database so the test can inspect it ([`Self::database_url`]) or
    /// [`Self::restart`] on it. Calls made meanwhile fail to connect.
    pub async fn shutdown(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("graceful stop");
        }
    }

    /// Stops the server gracefully (if it runs) and starts a new one with
    /// the same config, admin key and database, on a new port: what an
    /// operator's restart looks like to clients.
    pub async fn restart(&mut self) {
        self.shutdown().await;
        let running = hearth_server::start(self.config.clone(), Some(self.admin_key.clone()))
            .await
            .expect("server restarts");
        self.addr = running.addr;
        self.running = Some(running);
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown_token().cancel();
        }
    }
}
