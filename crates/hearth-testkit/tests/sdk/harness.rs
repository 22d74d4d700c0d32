//! Finding the installed SDKs, starting Hearth in front of the fakes, and
//! running one scenario script as a bounded subprocess.

use hearth_server::Config;
use hearth_testkit::gateway::{self, Routed};
use hearth_testkit::{Backend, FakeAnthropic, FakeOpenAi, Recorded, Script, TestServer, ToolCall};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The longest one scenario process may run before it is killed.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(90);

const NOT_RUN_NOTE: &str = "note: OpenAI SDKs not installed (run scripts/sdk-setup): the SDK compatibility suite was NOT run\n";

fn workspace() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// Which SDK a scenario is written for.
#[derive(Clone, Copy, Debug)]
pub enum Sdk {
    Python,
    Node,
}

/// An installed SDK: the program and the script that holds the scenarios.
#[derive(Debug)]
pub struct Installed {
    program: PathBuf,
    script: PathBuf,
}

impl Sdk {
    /// The installed SDK, or `None` (test passes without running, with one
    /// note on stderr per process) when it is missing. With
    /// `HEARTH_REQUIRE_SDK=1` a missing SDK fails the test instead.
    pub fn installed(self) -> Option<Installed> {
        match self.find() {
            Ok(found) => Some(found),
            Err(missing) => {
                if std::env::var("HEARTH_REQUIRE_SDK").as_deref() == Ok("1") {
                    panic!(
                        "{missing}; HEARTH_REQUIRE_SDK=1 requires the OpenAI SDKs: run scripts/sdk-setup"
                    );
                }
                static NOTE: Once = Once::new();
                NOTE.call_once(|| {
                    // Straight to the process's stderr: the test harness
                    // captures eprintln! of passing tests.
                    let _ = std::io::stderr().write_all(NOT_RUN_NOTE.as_bytes());
                });
                None
            }
        }
    }

    fn find(self) -> Result<Installed, String> {
        let root = workspace();
        match self {
            Sdk::Python => {
                let program = std::env::var_os("HEARTH_SDK_PYTHON")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.join("target/sdk-venv/bin/python"));
                if !program.exists() {
                    return Err(format!("python SDK: {} not found", program.display()));
                }
                Ok(Installed {
                    program,
                    script: root.join("sdk-tests/python/scenarios.py"),
                })
            }
            Sdk::Node => {
                let modules = root.join("sdk-tests/node/node_modules/openai");
                if !modules.join("package.json").exists() {
                    return Err(format!("node SDK: {} not found", modules.display()));
                }
                let program = std::env::var_os("HEARTH_SDK_NODE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| PathBuf::from("node"));
                Ok(Installed {
                    program,
                    script: root.join("sdk-tests/node/scenarios.mjs"),
                })
            }
        }
    }
}

/// One of the two fake upstreams, by the model id that routes to it.
#[derive(Clone, Copy, Debug)]
pub enum Provider {
    OpenAi,
    Anthropic,
}

impl Provider {
    pub fn model(self) -> &'static str {
        match self {
            Provider::OpenAi => gateway::OPENAI_MODEL,
            Provider::Anthropic => gateway::ANTHROPIC_MODEL,
        }
    }

    /// A tool call id in the provider's own style: `call_{tag}` or
    /// `toolu_{tag}`.
    pub fn call_id(self, tag: &str) -> String {
        match self {
            Provider::OpenAi => format!("call_{tag}"),
            Provider::Anthropic => format!("toolu_{tag}"),
        }
    }
}

/// What a scenario's `HEARTH_EXPECT` says of one tool call.
pub fn tool_call_expect(call: &ToolCall) -> Value {
    json!({"id": call.id, "name": call.name, "arguments": call.arguments})
}

/// `n` copies of `reply`, to queue one per call of the scenario.
pub fn times(n: usize, reply: impl Into<Script>) -> Vec<Script> {
    vec![reply.into(); n]
}

/// Hearth (SQLite) routing `gpt-test` and `claude-test` to the two fakes.
pub struct Env {
    pub openai: FakeOpenAi,
    pub anthropic: FakeAnthropic,
    pub server: TestServer,
}

impl Env {
    pub async fn start() -> Env {
        Env::start_with(|_| {}).await
    }

    /// Starts Hearth after `adjust` has changed the (already routed) config.
    pub async fn start_with(adjust: impl FnOnce(&mut Config)) -> Env {
        let Routed {
            server,
            openai,
            anthropic,
        } = Routed::start(Backend::Sqlite, |_| {}, adjust)
            .await
            .expect("SQLite test server");
        Env {
            openai,
            anthropic,
            server,
        }
    }

    /// Queues the next answer of `provider`'s fake.
    pub fn enqueue(&self, provider: Provider, script: impl Into<Script>) {
        match provider {
            Provider::OpenAi => self.openai.enqueue(script),
            Provider::Anthropic => self.anthropic.enqueue(script),
        }
    }

    /// What `provider`'s fake received.
    pub fn requests(&self, provider: Provider) -> Vec<Recorded> {
        match provider {
            Provider::OpenAi => self.openai.requests(),
            Provider::Anthropic => self.anthropic.requests(),
        }
    }

    /// Fails if either fake saw a request that breaks its protocol.
    pub fn assert_no_violations(&self) {
        let (a, b) = (self.openai.violations(), self.anthropic.violations());
        assert!(
            a.is_empty() && b.is_empty(),
            "protocol violations: openai {a:#?}, anthropic {b:#?}"
        );
    }
}

/// A scenario to run: `SDK script NAME` with Hearth's URL, a key, a model
/// and what it must see (`HEARTH_EXPECT`).
pub struct Scenario<'a> {
    sdk: Installed,
    name: &'a str,
    key: Option<String>,
    model: &'a str,
    expect: Value,
}

impl Installed {
    pub fn scenario<'a>(self, name: &'a str) -> Scenario<'a> {
        Scenario {
            sdk: self,
            name,
            key: None,
            model: gateway::OPENAI_MODEL,
            expect: json!({}),
        }
    }
}

impl<'a> Scenario<'a> {
    pub fn model(mut self, model: &'a str) -> Self {
        self.model = model;
        self
    }

    /// Calls with this key instead of the instance owner's.
    pub fn key(mut self, key: &str) -> Self {
        self.key = Some(key.to_owned());
        self
    }

    pub fn expect(mut self, expect: Value) -> Self {
        self.expect = expect;
        self
    }

    /// Starts a fresh [`Env`], queues `replies` (in order) on `provider`'s
    /// fake, runs the scenario with `provider`'s model and `expect`, and
    /// returns the env for the test's own checks.
    pub async fn run_scripted(
        self,
        provider: Provider,
        replies: impl IntoIterator<Item = Script>,
        expect: Value,
    ) -> Env {
        let env = Env::start().await;
        for reply in replies {
            env.enqueue(provider, reply);
        }
        self.model(provider.model()).expect(expect).run(&env).await;
        env
    }

    /// Runs the scenario, as it is, against a fresh [`Env`] with nothing
    /// queued, and returns the env for the test's own checks.
    pub async fn run_unscripted(self) -> Env {
        let env = Env::start().await;
        self.run(&env).await;
        env
    }

    /// Runs the scenario against `env` and fails the test, with the
    /// script's output, unless it exits 0 within [`SCENARIO_TIMEOUT`].
    pub async fn run(self, env: &Env) {
        let mut cmd = Command::new(&self.sdk.program);
        cmd.arg(&self.sdk.script)
            .arg(self.name)
            .current_dir(self.sdk.script.parent().expect("script folder"))
            .env("HEARTH_BASE_URL", env.server.base_url())
            .env(
                "HEARTH_API_KEY",
                self.key.as_deref().unwrap_or(&env.server.admin_key),
            )
            .env("HEARTH_MODEL", self.model)
            .env("HEARTH_EXPECT", self.expect.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env("PYTHONUNBUFFERED", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Nothing from the caller's environment may redirect the SDKs.
        for var in [
            "HTTP_PROXY",
            "HTTPS_PROXY",
            "ALL_PROXY",
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "OPENAI_API_KEY",
            "OPENAI_BASE_URL",
            "OPENAI_ORG_ID",
            "OPENAI_PROJECT_ID",
            "OPENAI_LOG",
            "NODE_OPTIONS",
        ] {
            cmd.env_remove(var);
        }
        let what = format!(
            "{:?} scenario {} ({})",
            self.sdk.program, self.name, self.model
        );
        let out = tokio::task::spawn_blocking(move || run_bounded(cmd, SCENARIO_TIMEOUT))
            .await
            .expect("scenario runner");
        let out = match out {
            Ok(out) => out,
            Err(e) => panic!("{what}: could not start: {e} (run scripts/sdk-setup?)"),
        };
        let report = format!(
            "{what}: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            match (out.status, out.timed_out) {
                (_, true) => format!("killed after {SCENARIO_TIMEOUT:?}"),
                (Some(status), false) => status.to_string(),
                (None, false) => "no exit status".to_owned(),
            },
            out.stdout,
            out.stderr
        );
        assert!(
            !out.timed_out && out.status.is_some_and(|s| s.success()),
            "{report}"
        );
        // Visible with --nocapture.
        println!("{}", out.stdout.trim_end());
    }
}

struct Output {
    status: Option<ExitStatus>,
    timed_out: bool,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end or until `timeout`, when it is killed.
fn run_bounded(mut cmd: Command, timeout: Duration) -> std::io::Result<Output> {
    let mut child = cmd.spawn()?;
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut pipe) = pipe {
                // Bounded by the process: its end closes the pipe.
                let _ = pipe.read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            timed_out = true;
            let _ = child.kill();
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ok(Output {
        status,
        timed_out,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

#[test]
fn run_bounded_kills_a_process_past_its_timeout() {
    let started = Instant::now();
    let mut cmd = Command::new("sleep");
    cmd.arg("30").stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = run_bounded(cmd, Duration::from_millis(200)).unwrap();
    assert!(out.timed_out);
    assert!(!out.status.is_some_and(|s| s.success()));
    assert!(started.elapsed() < Duration::from_secs(10));
}
