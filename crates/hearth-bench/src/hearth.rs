//! The Hearth server under test: a real `hearth serve` process with a
//! temporary config and SQLite database, plus what `/proc` says about it.

use anyhow::{Context as _, anyhow, bail};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The owner key Hearth bootstraps with (`HEARTH_ADMIN_KEY`).
pub const ADMIN_KEY: &str = "hk-bench-owner-key-0123456789";
/// The model id the bench calls.
pub const MODEL: &str = "bench-model";

/// A running `hearth serve`; killed when dropped.
pub struct Hearth {
    child: Child,
    pub addr: SocketAddr,
    pub pid: u32,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Hearth {
    /// Starts `binary` with a config whose only provider is `upstream`.
    /// Limits are far above anything the bench can send, so nothing is
    /// refused; auth, rate limiting, audit and accounting stay on. (Not
    /// above 60e9 per minute: Hearth's GCRA interval is 60e9 ns / limit.)
    pub fn spawn(binary: &Path, upstream: SocketAddr) -> anyhow::Result<Hearth> {
        if !binary.is_file() {
            bail!(
                "no hearth binary at {} (build it with `cargo build --release -p hearth-server`, or pass --hearth PATH)",
                binary.display()
            );
        }
        // Absolute: the process runs in the temporary directory.
        let binary = binary
            .canonicalize()
            .with_context(|| format!("resolving {}", binary.display()))?;
        let dir = tempfile::Builder::new().prefix("hearth-bench-").tempdir()?;
        let port = free_port()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let db = dir.path().join("hearth.db");
        let config = format!(
            r#"[server]
listen = "{addr}"

[database]
url = "sqlite://{db}"

[limits]
requests_per_minute = 1000000000
tokens_per_minute = 1000000000

[[providers]]
name = "fake"
kind = "openai"
base_url = "http://{upstream}/v1"
api_key = "bench-upstream-key"

[[models]]
id = "{MODEL}"
provider = "fake"
upstream_model = "fake-model"
"#,
            db = db.display(),
        );
        let config_path = dir.path().join("hearth.toml");
        std::fs::write(&config_path, config)?;
        let log = dir.path().join("hearth.log");
        let log_file = std::fs::File::create(&log)?;
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .env("HEARTH_ADMIN_KEY", ADMIN_KEY)
            .env("RUST_LOG", "info")
            .env_remove("OPENAI_API_KEY")
            .env_remove("ANTHROPIC_API_KEY")
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        // Nothing from the caller's environment may change the config.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HEARTH__") {
                command.env_remove(name);
            }
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Hearth {
            pid: child.id(),
            child,
            addr,
            log,
            _dir: dir,
        })
    }

    /// Waits until `/healthz` answers 200, or fails with the log's tail.
    pub async fn wait_healthy(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait()? {
                bail!("hearth exited with {status}:\n{}", self.log_tail());
            }
            if crate::client::healthy(self.addr).await {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "hearth did not answer /healthz within {timeout:?}:\n{}",
            self.log_tail()
        )
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The last lines Hearth logged.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// CPU ticks (utime + stime, all threads) so far.
    pub fn cpu_ticks(&self) -> anyhow::Result<u64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid))?;
        parse_cpu_ticks(&stat)
    }

    /// Peak resident set size (VmHWM), in kB.
    pub fn peak_rss_kb(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))?;
        parse_status_kb(&status, "VmHWM:")
    }

    /// The audit writer's group commits so far, from `/metrics`:
    /// (records committed, commits). `None` if the metric is not there.
    pub async fn audit_batches(&self) -> Option<(f64, f64)> {
        let (status, body) = crate::client::get(self.addr, "/metrics").await.ok()?;
        if !status.is_success() {
            return None;
        }
        parse_histogram_totals(&String::from_utf8_lossy(&body), "hearth_audit_batch_size")
    }

    /// SIGTERM (graceful: the audit buffer is flushed), then SIGKILL if
    /// it has not exited within ten seconds.
    pub fn stop(mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // Drop kills it.
    }
}

impl Drop for Hearth {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A port free right now (the kernel's pick), for Hearth to listen on.
fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Clock ticks per second, from `getconf CLK_TCK`.
pub fn clock_ticks_per_second() -> anyhow::Result<u64> {
    let output = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .context("running getconf CLK_TCK")?;
    if !output.status.success() {
        bail!("getconf CLK_TCK failed");
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let ticks: u64 = text
        .trim()
        .parse()
        .with_context(|| format!("getconf CLK_TCK printed {text:?}"))?;
    if ticks == 0 {
        bail!("getconf CLK_TCK printed 0");
    }
    Ok(ticks)
}

/// The number of CPUs this process may use (informational).
pub fn cpus() -> Option<usize> {
    std::thread::available_parallelism().ok().map(usize::from)
}

/// utime + stime from a `/proc/<pid>/stat` line. The command name (field
/// 2) may hold spaces and parentheses, so fields are counted after the
/// last `)`: state is field 3, utime 14, stime 15.
fn parse_cpu_ticks(stat: &str) -> anyhow::Result<u64> {
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| anyhow!("unexpected /proc stat: {stat:?}"))?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| -> anyhow::Result<u64> {
        fields
            .get(n - 3)
            .ok_or_else(|| anyhow!("/proc stat has no field {n}"))?
            .parse::<u64>()
            .with_context(|| format!("/proc stat field {n}"))
    };
    Ok(field(14)? + field(15)?)
}

/// A `Name:   1234 kB` line of `/proc/<pid>/status`.
fn parse_status_kb(status: &str, name: &str) -> anyhow::Result<u64> {
    let line = status
        .lines()
        .find(|l| l.starts_with(name))
        .ok_or_else(|| anyhow!("/proc status has no {name}"))?;
    line[name.len()..]
        .split_whitespace()
        .next()
        .ok_or_else(|| anyhow!("empty {name}"))?
        .parse()
        .with_context(|| format!("parsing {line:?}"))
}

/// `<name>_sum` and `<name>_count` of an unlabelled Prometheus histogram.
fn parse_histogram_totals(text: &str, name: &str) -> Option<(f64, f64)> {
    let value = |suffix: &str| -> Option<f64> {
        let metric = format!("{name}{suffix}");
        text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            (key == metric).then(|| value.parse().ok()).flatten()
        })
    };
    Some((value("_sum")?, value("_count")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_are_counted_after_the_command_name() {
        let stat =
            "4242 (odd) name) S 1 4242 4242 0 -1 4194304 100 0 0 0 37 5 0 0 20 0 4 0 123 1000 200";
        assert_eq!(parse_cpu_ticks(stat).unwrap(), 42);
    }

    #[test]
    fn peak_rss_is_read_from_vmhwm() {
        let status = "Name:\thearth\nVmPeak:\t  900 kB\nVmHWM:\t   23960 kB\nVmRSS:\t 20000 kB\n";
        assert_eq!(parse_status_kb(status, "VmHWM:").unwrap(), 23960);
    }

    #[test]
    fn histogram_totals_are_read_from_prometheus_text() {
        let text = "# TYPE hearth_audit_batch_size histogram\n\
                    hearth_audit_batch_size_bucket{le=\"1\"} 3\n\
                    hearth_audit_batch_size_sum 120\n\
                    hearth_audit_batch_size_count 7\n";
        assert_eq!(
            parse_histogram_totals(text, "hearth_audit_batch_size"),
            Some((120.0, 7.0))
        );
        assert_eq!(parse_histogram_totals(text, "other"), None);
    }

    #[test]
    fn own_process_stats_parse() {
        let pid = std::process::id();
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        parse_cpu_ticks(&stat).unwrap();
        assert!(clock_ticks_per_second().unwrap() > 0);
    }
}
