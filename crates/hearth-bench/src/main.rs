//! `hearth-bench`: what Hearth adds to an LLM call.
//!
//! Starts a minimal fake OpenAI-compatible upstream in this process and a
//! real `hearth serve` in front of it (auth, rate limiting, audit and
//! accounting all on), then drives both, interleaved, and prints added
//! latency (concurrency 1, streaming and not; a fixed offered rate),
//! maximum throughput, Hearth's CPU time per request and its peak RSS.

mod client;
mod fake;
mod hearth;
mod phases;
mod report;
mod stats;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Benchmark Hearth against a fake upstream, directly and through Hearth.
#[derive(Debug, Parser)]
#[command(name = "hearth-bench")]
pub struct Args {
    /// Requests per side (direct and through Hearth) in each latency phase.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Seconds per side of the maximum-throughput phase.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Offered rate of the fixed-rate phase, requests per second per side.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// Connections per side of the fixed-rate phase.
    #[arg(long, default_value_t = 32)]
    rate_connections: usize,
    /// Connections of the maximum-throughput phase.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Content chunks in each streamed answer (plus usage and [DONE]).
    #[arg(long, default_value_t = 8)]
    stream_chunks: usize,
    /// Warm-up requests per side before measuring.
    #[arg(long, default_value_t = 1_000)]
    warmup: usize,
    /// The hearth binary to run.
    #[arg(long, default_value = "target/release/hearth")]
    hearth: PathBuf,
    /// Print the figures as JSON on stdout (the table then goes to stderr).
    #[arg(long)]
    json: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.requests > 0, "--requests must be positive");
    anyhow::ensure!(
        args.rate.is_finite() && args.rate > 0.0,
        "--rate must be positive"
    );
    anyhow::ensure!(
        args.connections > 0 && args.rate_connections > 0,
        "connection counts must be positive"
    );
    // The load generator runs on one thread; the fake upstream on another
    // (see `fake::start`); Hearth is its own process.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Interrupted, `run` is dropped, and with it the Hearth process.
        tokio::select! {
            result = run(args) => result,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    })
}

/// Everything the report needs.
pub struct Results {
    pub args_summary: String,
    pub cpus: Option<usize>,
    pub clk_tck: u64,
    pub offered_rate: f64,
    pub c1: phases::Serial,
    pub c1_stream: phases::Serial,
    pub rate: phases::OpenLoop,
    pub throughput: phases::Throughput,
    /// Hearth's cost, phase by phase.
    pub cpu: Vec<PhaseCost>,
    pub peak_rss_kb: u64,
}

/// What one phase cost Hearth.
pub struct PhaseCost {
    pub name: &'static str,
    /// utime + stime, in clock ticks.
    pub ticks: u64,
    /// Requests sent through Hearth.
    pub requests: u64,
    /// Audit records and group commits in the phase, from `/metrics`.
    pub audit: Option<(f64, f64)>,
    /// How long Hearth kept working after the phase's last answer.
    pub drain: Duration,
}

/// Hearth's counters at a phase boundary.
struct Mark {
    ticks: u64,
    audit: Option<(f64, f64)>,
}

async fn mark(server: &hearth::Hearth) -> anyhow::Result<Mark> {
    Ok(Mark {
        ticks: server.cpu_ticks()?,
        audit: server.audit_batches().await,
    })
}

fn cost(
    name: &'static str,
    before: &Mark,
    after: &Mark,
    requests: u64,
    drain: Duration,
) -> PhaseCost {
    PhaseCost {
        name,
        drain,
        ticks: after.ticks.saturating_sub(before.ticks),
        requests,
        audit: before
            .audit
            .zip(after.audit)
            .map(|((r0, c0), (r1, c1))| (r1 - r0, c1 - c0)),
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let clk_tck = hearth::clock_ticks_per_second()?;
    let upstream = fake::start(args.stream_chunks)?;
    let mut server = hearth::Hearth::spawn(&args.hearth, upstream)?;
    server.wait_healthy(Duration::from_secs(60)).await?;
    progress(&format!(
        "hearth {} (pid {}) on {}, fake upstream on {upstream}",
        args.hearth.display(),
        server.pid,
        server.addr
    ));

    let body = serde_json::json!({
        "model": hearth::MODEL,
        "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "Say hello in a few words."}
        ],
        "max_tokens": 64,
    });
    let mut stream_body = body.clone();
    stream_body["stream"] = serde_json::Value::Bool(true);
    stream_body["stream_options"] = serde_json::json!({"include_usage": true});
    let setup = phases::Setup {
        direct: client::Target::new(upstream, "bench-upstream-key")?,
        hearth: client::Target::new(server.addr, hearth::ADMIN_KEY)?,
        body: Bytes::from(serde_json::to_vec(&body)?),
        stream_body: Bytes::from(serde_json::to_vec(&stream_body)?),
    };

    progress(&format!("warm-up: {} requests per side", args.warmup));
    let warm = phases::serial(&setup, args.warmup.div_ceil(2), false).await?;
    warm.errors.check("warm-up", args.warmup as u64)?;
    let warm = phases::serial(&setup, args.warmup.div_ceil(2), true).await?;
    warm.errors
        .check("warm-up (streaming)", args.warmup as u64)?;

    let n = args.requests;
    let mut cpu = Vec::new();
    settle(&server).await?;
    let mut before = mark(&server).await?;

    progress(&format!("1/4 concurrency 1, non-streaming: {n} per side"));
    let c1 = phases::serial(&setup, n, false).await?;
    c1.errors.check("concurrency 1", 2 * n as u64)?;
    let drain = settle(&server).await?;
    let after = mark(&server).await?;
    cpu.push(cost("c=1 non-streaming", &before, &after, n as u64, drain));
    before = after;

    progress(&format!("2/4 concurrency 1, streaming: {n} per side"));
    let c1_stream = phases::serial(&setup, n, true).await?;
    c1_stream
        .errors
        .check("concurrency 1 streaming", 2 * n as u64)?;
    let drain = settle(&server).await?;
    let after = mark(&server).await?;
    cpu.push(cost("c=1 streaming", &before, &after, n as u64, drain));
    before = after;

    progress(&format!(
        "3/4 open loop at {} req/s per side, {} connections per side: {n} per side (~{:.0} s)",
        args.rate,
        args.rate_connections,
        n as f64 / args.rate
    ));
    let rate = phases::open_loop(&setup, n, args.rate, args.rate_connections).await?;
    rate.errors.check("fixed rate", 2 * n as u64)?;
    let drain = settle(&server).await?;
    let after = mark(&server).await?;
    cpu.push(cost(
        "fixed rate",
        &before,
        &after,
        rate.hearth.len() as u64 + rate.errors.hearth,
        drain,
    ));
    before = after;

    progress(&format!(
        "4/4 closed loop, {} connections, {} s per side",
        args.connections, args.duration
    ));
    let throughput = phases::closed_loop(&setup, args.duration, args.connections, &server).await?;
    let attempted = throughput.direct_requests + throughput.hearth_requests;
    throughput.errors.check("throughput", attempted)?;
    let drain = settle(&server).await?;
    let after = mark(&server).await?;
    cpu.push(cost(
        "max throughput",
        &before,
        &after,
        throughput.hearth_sent,
        drain,
    ));

    anyhow::ensure!(
        server.alive(),
        "hearth exited during the run:\n{}",
        server.log_tail()
    );
    let peak_rss_kb = server.peak_rss_kb().context("reading VmHWM")?;
    server.stop();

    let results = Results {
        args_summary: format!(
            "--requests {} --rate {} --duration {} (fixed-rate connections {} per side, throughput connections {}, {} content chunks per stream)",
            args.requests,
            args.rate,
            args.duration,
            args.rate_connections,
            args.connections,
            args.stream_chunks
        ),
        cpus: hearth::cpus(),
        clk_tck,
        offered_rate: args.rate,
        c1,
        c1_stream,
        rate,
        throughput,
        cpu,
        peak_rss_kb,
    };
    let table = report::table(&results);
    if args.json {
        eprintln!("{table}");
        println!("{}", serde_json::to_string_pretty(&report::json(&results))?);
    } else {
        println!("{table}");
    }
    Ok(())
}

/// Waits until Hearth is idle (its CPU time has not moved for half a
/// second; at most 30 s), so the audit records of a phase are committed,
/// and counted, in that phase, and their backlog does not slow the next.
async fn settle(server: &hearth::Hearth) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(30);
    let mut last = server.cpu_ticks()?;
    let mut quiet = 0;
    while Instant::now() < deadline && quiet < 2 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = server.cpu_ticks()?;
        quiet = if now == last { quiet + 1 } else { 0 };
        last = now;
    }
    let waited = started.elapsed();
    if waited > Duration::from_secs(1) {
        progress(&format!(
            "   waited {:.1} s for hearth to go idle (audit backlog)",
            waited.as_secs_f64()
        ));
    }
    Ok(waited)
}

fn progress(message: &str) {
    eprintln!("[bench] {message}");
}
