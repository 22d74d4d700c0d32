//! Running the real `hearth` binary: a working directory with its own
//! environment, a server guard that kills the process if the test fails,
//! and a CLI runner. Every wait is bounded.

use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt as _, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

pub const BIN: &str = env!("CARGO_BIN_EXE_hearth");

/// Start-up of a debug build, migrations included, on a busy machine.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);
/// From SIGTERM/SIGINT to exit ("within a few seconds").
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// One CLI command, or a server that must fail at start-up.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(30);
/// Waiting for a running server to notice a change made by the CLI
/// (the tests set `auth.cache_ttl_secs` to 1).
pub const CACHE_TIMEOUT: Duration = Duration::from_secs(10);

/// A 32-character `HEARTH_ADMIN_KEY`.
pub const OWNER_KEY: &str = "hearth-test-owner-key-0123456789";

/// The line `hearth serve` prints once it accepts connections.
pub const LISTENING: &str = "Hearth listening on http://";

/// A fresh, empty working directory and the environment `hearth` runs
/// with there. Nothing is inherited from the test's environment except
/// `PATH`, so a developer's `HEARTH__*` or `RUST_LOG` cannot leak in.
pub struct Hearth {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Hearth {
    pub fn new() -> Hearth {
        Hearth {
            dir: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        }
    }

    /// Sets (or replaces) an environment variable for every later run.
    pub fn env(mut self, key: &str, value: &str) -> Hearth {
        self.set_env(key, value);
        self
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.env.retain(|(k, _)| k != key);
        self.env.push((key.to_owned(), value.to_owned()));
    }

    pub fn remove_env(&mut self, key: &str) {
        self.env.retain(|(k, _)| k != key);
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `hearth ARGS` in the working directory with this environment.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.args(args).current_dir(self.dir.path()).env_clear();
        for inherited in ["PATH", "LLVM_PROFILE_FILE"] {
            if let Some(value) = std::env::var_os(inherited) {
                cmd.env(inherited, value);
            }
        }
        cmd.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        cmd
    }

    /// Runs `hearth ARGS` to completion (killed if it outlives the timeout).
    pub async fn run(&self, args: &[&str]) -> Output {
        let out = tokio::time::timeout(CLI_TIMEOUT, self.command(args).output())
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "`hearth {}` did not exit within {CLI_TIMEOUT:?}",
                    args.join(" ")
                )
            })
            .expect("spawn hearth");
        assert_no_panic(&out, args);
        out
    }

    /// Runs a command that must succeed and print JSON on stdout.
    pub async fn run_json(&self, args: &[&str]) -> Value {
        let out = self.run(args).await;
        assert!(
            out.status.success(),
            "`hearth {}` failed ({}):\nstdout: {}\nstderr: {}",
            args.join(" "),
            out.status,
            stdout(&out),
            stderr(&out)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`hearth {}` printed no JSON ({e}): {}",
                args.join(" "),
                stdout(&out)
            )
        })
    }

    /// Runs a command that must fail; returns its stderr.
    pub async fn run_err(&self, args: &[&str]) -> String {
        let out = self.run(args).await;
        assert!(
            !out.status.success(),
            "`hearth {}` should have failed:\nstdout: {}\nstderr: {}",
            args.join(" "),
            stdout(&out),
            stderr(&out)
        );
        stderr(&out)
    }

    /// `hearth serve --listen 127.0.0.1:0 EXTRA…`, waiting until it listens.
    pub async fn serve(&self, extra: &[&str]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        Server::start(self.command(&args)).await
    }
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Whatever went wrong, `hearth` reports it; it never panics.
fn assert_no_panic(out: &Output, args: &[&str]) {
    let err = stderr(out);
    assert!(
        !err.contains("panicked")
            && !err.contains("stack backtrace")
            && out.status.code() != Some(101),
        "`hearth {}` panicked:\n{err}",
        args.join(" ")
    );
}

/// Lines a process wrote, collected as they arrive.
type Lines = Arc<Mutex<Vec<String>>>;

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, into: Lines) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            into.lock().expect("lines lock").push(line);
        }
    })
}

/// A running `hearth serve`. Dropping it kills the process (and, when the
/// test is failing, prints what the server wrote).
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    stderr: Lines,
    stdout: Lines,
    readers: Vec<JoinHandle<()>>,
    exited: Option<ExitStatus>,
}

impl Server {
    /// Spawns `cmd` and waits for the `Hearth listening on` line.
    pub async fn start(mut cmd: Command) -> Server {
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawn hearth serve");
        let stderr: Lines = Arc::default();
        let stdout: Lines = Arc::default();
        let readers = vec![
            collect(child.stderr.take().expect("stderr"), stderr.clone()),
            collect(child.stdout.take().expect("stdout"), stdout.clone()),
        ];
        let mut server = Server {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stderr,
            stdout,
            readers,
            exited: None,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let found = server.stderr_lines().iter().find_map(|l| {
                l.split_once(LISTENING)
                    .map(|(_, rest)| rest.trim().to_owned())
            });
            if let Some(addr) = found {
                server.addr = addr
                    .parse()
                    .unwrap_or_else(|_| panic!("bad address in the listening line: {addr}"));
                return server;
            }
            if let Some(status) = server.child.try_wait().expect("try_wait") {
                server.exited = Some(status);
                server.join_readers().await;
                panic!(
                    "hearth serve exited ({status}) before listening:\n{}",
                    server.stderr()
                );
            }
            assert!(
                Instant::now() < deadline,
                "hearth serve did not listen within {START_TIMEOUT:?}:\n{}",
                server.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn pid(&self) -> u32 {
        self.child.id().expect("server still running")
    }

    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("lines lock").clone()
    }

    pub fn stderr(&self) -> String {
        self.stderr_lines().join("\n")
    }

    pub fn stdout(&self) -> String {
        self.stdout.lock().expect("lines lock").join("\n")
    }

    /// Sends a signal (`TERM`, `INT`) with the `kill` command.
    pub async fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -{signal} failed");
    }

    /// Waits until some stderr line contains `needle`.
    pub async fn wait_for_line(&self, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while !self.stderr_lines().iter().any(|l| l.contains(needle)) {
            assert!(
                Instant::now() < deadline,
                "no stderr line with {needle:?} within {timeout:?}:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits for the process to exit (bounded), then for its output.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        let status = match tokio::time::timeout(EXIT_TIMEOUT, self.child.wait()).await {
            Ok(status) => status.expect("wait for hearth"),
            Err(_) => panic!(
                "hearth did not exit within {EXIT_TIMEOUT:?}:\n{}",
                self.stderr()
            ),
        };
        self.exited = Some(status);
        self.join_readers().await;
        status
    }

    /// Sends `signal` and waits for the exit; asserts it was clean.
    pub async fn stop(&mut self, signal: &str) {
        self.signal(signal).await;
        let started = Instant::now();
        let status = self.wait_exit().await;
        assert!(
            status.success(),
            "hearth exited with {status} after SIG{signal}:\n{}",
            self.stderr()
        );
        eprintln!("SIG{signal} → exit 0 in {:?}", started.elapsed());
    }

    async fn join_readers(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.exited.is_none() {
            let _ = self.child.start_kill();
        }
        if std::thread::panicking() {
            eprintln!(
                "--- hearth serve stderr ---\n{}\n--- stdout ---\n{}",
                self.stderr(),
                self.stdout()
            );
        }
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// `GET /v1/me` with a Bearer key: the status and the body.
pub async fn me(server: &Server, key: &str) -> (u16, Value) {
    let response = http()
        .get(server.url("/v1/me"))
        .bearer_auth(key)
        .send()
        .await
        .expect("GET /v1/me");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// Polls `GET /v1/me` until `accept(status, body)` holds.
pub async fn me_until(
    server: &Server,
    key: &str,
    what: &str,
    accept: impl Fn(u16, &Value) -> bool,
) {
    let deadline = Instant::now() + CACHE_TIMEOUT;
    loop {
        let (status, body) = me(server, key).await;
        if accept(status, &body) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{what}: still {status} {body} after {CACHE_TIMEOUT:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every audit entry matching `query` (e.g. `path_prefix=/v1/me`), through
/// all pages of `GET /v1/admin/audit-logs`.
pub async fn audit_entries(server: &Server, key: &str, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut url = server.url(&format!("/v1/admin/audit-logs?limit=100&{query}"));
        if let Some(after) = &after {
            url.push_str(&format!("&after={after}"));
        }
        let response = http()
            .get(&url)
            .bearer_auth(key)
            .send()
            .await
            .expect("audit-logs");
        assert_eq!(response.status(), 200, "GET {url}");
        let page: Value = response.json().await.expect("audit page");
        let data = page["data"].as_array().expect("data").clone();
        after = page["last_id"].as_str().map(str::to_owned);
        all.extend(data);
        if page["has_more"] != true {
            return all;
        }
    }
}
