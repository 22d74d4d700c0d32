//! The printed table and the `--json` figures.

use crate::Results;
use crate::stats::{Summary, added_ms, ms};
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::time::Duration;

const C1_P50_MS: f64 = 0.15;
const C1_P99_MS: f64 = 0.5;
const RATE_P99_MS: f64 = 1.0;
const CPU_US: f64 = 100.0;
const RSS_MB: f64 = 100.0;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

fn verdict(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// Hearth's CPU over all measured phases: (µs total, requests).
fn cpu_total(r: &Results) -> (f64, u64) {
    let ticks: u64 = r.cpu.iter().map(|c| c.ticks).sum();
    let requests: u64 = r.cpu.iter().map(|c| c.requests).sum();
    (ticks_to_us(ticks, r.clk_tck), requests)
}

fn ticks_to_us(ticks: u64, clk_tck: u64) -> f64 {
    ticks as f64 * 1e6 / clk_tck as f64
}

fn per_request(us: f64, requests: u64) -> f64 {
    if requests == 0 {
        0.0
    } else {
        us / requests as f64
    }
}

/// Decimal megabytes from /proc's kB (KiB).
fn rss_mb(kb: u64) -> f64 {
    kb as f64 * 1024.0 / 1e6
}

fn header(out: &mut String) {
    let _ = writeln!(
        out,
        "  {:<16}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "", "p50 ms", "p90 ms", "p99 ms", "max ms", "mean ms"
    );
}

fn row(out: &mut String, name: &str, s: &Summary) {
    let _ = writeln!(
        out,
        "  {:<16}{:>10.3}{:>10.3}{:>10.3}{:>10.3}{:>10.3}",
        name,
        ms(s.p50),
        ms(s.p90),
        ms(s.p99),
        ms(s.max),
        ms(s.mean)
    );
}

fn added_row(out: &mut String, d: &Summary, h: &Summary, note: &str) {
    let _ = writeln!(
        out,
        "  {:<16}{:>+10.3}{:>+10.3}{:>+10.3}{:>10}{:>+10.3}   {note}",
        "added",
        added_ms(d.p50, h.p50),
        added_ms(d.p90, h.p90),
        added_ms(d.p99, h.p99),
        "",
        added_ms(d.mean, h.mean),
    );
}

fn c1_note(d: &Summary, h: &Summary) -> String {
    let ok = added_ms(d.p50, h.p50) <= C1_P50_MS && added_ms(d.p99, h.p99) <= C1_P99_MS;
    format!(
        "{} (added p50 ≤ {C1_P50_MS:.3}, p99 ≤ {C1_P99_MS:.3})",
        verdict(ok)
    )
}

fn block(
    out: &mut String,
    direct: &[Duration],
    hearth: &[Duration],
    note: impl Fn(&Summary, &Summary) -> String,
) {
    let d = Summary::of(direct);
    let h = Summary::of(hearth);
    header(out);
    row(out, "direct", &d);
    row(out, "through hearth", &h);
    added_row(out, &d, &h, &note(&d, &h));
}

/// The plain-text report.
pub fn table(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Hearth gateway benchmark ({} CPUs, CLK_TCK {})",
        r.cpus.map_or_else(|| "?".to_owned(), |n| n.to_string()),
        r.clk_tck
    );
    let _ = writeln!(out, "{}", r.args_summary);
    let _ = writeln!(
        out,
        "Each figure: the fake upstream directly vs the same fake through Hearth, interleaved; added = hearth percentile − direct percentile."
    );
    let _ = writeln!(out);

    let _ = writeln!(
        out,
        "1. Concurrency 1, non-streaming: request sent → whole answer read ({} per side)",
        r.c1.hearth.total.len()
    );
    block(&mut out, &r.c1.direct.total, &r.c1.hearth.total, c1_note);
    let _ = writeln!(out);

    let _ = writeln!(
        out,
        "2. Concurrency 1, streaming ({} per side)",
        r.c1_stream.hearth.total.len()
    );
    let _ = writeln!(out, " time to first byte (first SSE event):");
    block(
        &mut out,
        &r.c1_stream.direct.first_byte,
        &r.c1_stream.hearth.first_byte,
        c1_note,
    );
    let _ = writeln!(out, " whole stream (through data: [DONE]):");
    block(
        &mut out,
        &r.c1_stream.direct.total,
        &r.c1_stream.hearth.total,
        c1_note,
    );
    let _ = writeln!(out);

    let rate = &r.rate;
    let per_side = rate.hearth.len().max(rate.direct.len()) as f64;
    let _ = writeln!(
        out,
        "3. Fixed offered rate, non-streaming, open loop: scheduled send time → whole answer read"
    );
    let _ = writeln!(
        out,
        "   offered {:.0} req/s per side ({:.0} req/s in total), achieved {:.0} req/s per side over {:.2} s",
        r.offered_rate,
        2.0 * r.offered_rate,
        per_side / rate.elapsed.as_secs_f64().max(1e-9),
        rate.elapsed.as_secs_f64(),
    );
    let _ = writeln!(
        out,
        "   pick-up lag p99 (scheduled time → a connection takes it): direct {:.3} ms, hearth {:.3} ms",
        ms(nanos(rate.pickup_lag_p99_direct)),
        ms(nanos(rate.pickup_lag_p99_hearth)),
    );
    block(&mut out, &rate.direct, &rate.hearth, |d, h| {
        format!(
            "{} (added p99 ≤ {RATE_P99_MS:.3})",
            verdict(added_ms(d.p99, h.p99) <= RATE_P99_MS)
        )
    });
    let _ = writeln!(out);

    let t = &r.throughput;
    let _ = writeln!(
        out,
        "4. Maximum throughput, non-streaming, closed loop ({:.1} s measured per side)",
        t.hearth_elapsed.as_secs_f64()
    );
    let _ = writeln!(out, "  {:<16}{:>10.0} req/s", "direct", t.direct_rps());
    let _ = writeln!(
        out,
        "  {:<16}{:>10.0} req/s   ({:.0}% of direct) while sending",
        "through hearth",
        t.hearth_rps(),
        100.0 * t.hearth_rps() / t.direct_rps().max(1e-9)
    );
    let _ = writeln!(
        out,
        "  {:<16}{:>10.0} req/s   sustained: counting the {:.1} s Hearth kept working after its slices (audit queue)",
        "",
        t.hearth_sustained_rps(),
        t.hearth_drain.as_secs_f64()
    );
    let _ = writeln!(out);

    let (us, requests) = cpu_total(r);
    let cpu_per_request = per_request(us, requests);
    let _ = writeln!(out, "5. Hearth process");
    let _ = writeln!(
        out,
        "  CPU per request {:>8.1} µs   {} (≤ {CPU_US:.0} µs)   [{:.0} ms utime+stime / {requests} requests through hearth, phases 1–4]",
        cpu_per_request,
        verdict(cpu_per_request <= CPU_US),
        us / 1000.0,
    );
    for c in &r.cpu {
        let phase_us = ticks_to_us(c.ticks, r.clk_tck);
        let audit = c.audit.map_or_else(String::new, |(records, commits)| {
            format!(
                "; audit: {commits:.0} group commits, {:.1} records each",
                records / commits.max(1.0)
            )
        });
        let drain = if c.drain > Duration::from_secs(1) {
            format!("; busy {:.1} s after the phase", c.drain.as_secs_f64())
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "    {:<20}{:>8.1} µs/request   ({:.0} ms / {}{audit}{drain})",
            c.name,
            per_request(phase_us, c.requests),
            phase_us / 1000.0,
            c.requests
        );
    }
    let mb = rss_mb(r.peak_rss_kb);
    let _ = writeln!(
        out,
        "  peak RSS        {:>8.1} MB   {} (≤ {RSS_MB:.0} MB)   [VmHWM {} kB]",
        mb,
        verdict(mb <= RSS_MB),
        r.peak_rss_kb
    );
    let _ = writeln!(out);

    let errors = [
        ("concurrency 1", &r.c1.errors),
        ("streaming", &r.c1_stream.errors),
        ("fixed rate", &r.rate.errors),
        ("throughput", &r.throughput.errors),
    ];
    let failed: Vec<String> = errors
        .iter()
        .filter(|(_, e)| e.direct + e.hearth > 0)
        .map(|(name, e)| {
            format!(
                "{name}: direct {}, hearth {} (first: {})",
                e.direct,
                e.hearth,
                e.first.as_deref().unwrap_or("?")
            )
        })
        .collect();
    if failed.is_empty() {
        let _ = write!(out, "Failed requests: none");
    } else {
        let _ = write!(out, "Failed requests: {}", failed.join("; "));
    }
    out
}

fn summary_json(s: &Summary) -> Value {
    json!({
        "count": s.count,
        "p50_ms": ms(s.p50),
        "p90_ms": ms(s.p90),
        "p99_ms": ms(s.p99),
        "max_ms": ms(s.max),
        "mean_ms": ms(s.mean),
    })
}

fn compare_json(direct: &[Duration], hearth: &[Duration]) -> Value {
    let d = Summary::of(direct);
    let h = Summary::of(hearth);
    json!({
        "direct": summary_json(&d),
        "hearth": summary_json(&h),
        "added_p50_ms": added_ms(d.p50, h.p50),
        "added_p99_ms": added_ms(d.p99, h.p99),
    })
}

/// The figures as JSON.
pub fn json(r: &Results) -> Value {
    let (us, requests) = cpu_total(r);
    let t = &r.throughput;
    json!({
        "parameters": r.args_summary,
        "cpus": r.cpus,
        "clk_tck": r.clk_tck,
        "c1_non_streaming": compare_json(&r.c1.direct.total, &r.c1.hearth.total),
        "c1_streaming_first_byte": compare_json(&r.c1_stream.direct.first_byte, &r.c1_stream.hearth.first_byte),
        "c1_streaming_whole": compare_json(&r.c1_stream.direct.total, &r.c1_stream.hearth.total),
        "fixed_rate": {
            "offered_per_side_rps": r.offered_rate,
            "elapsed_s": r.rate.elapsed.as_secs_f64(),
            "pickup_lag_p99_ms": {
                "direct": ms(nanos(r.rate.pickup_lag_p99_direct)),
                "hearth": ms(nanos(r.rate.pickup_lag_p99_hearth)),
            },
            "latency": compare_json(&r.rate.direct, &r.rate.hearth),
        },
        "max_throughput": {
            "direct_rps": t.direct_rps(),
            "hearth_rps": t.hearth_rps(),
            "hearth_sustained_rps": t.hearth_sustained_rps(),
            "hearth_busy_after_s": t.hearth_drain.as_secs_f64(),
        },
        "hearth_cpu": {
            "us_per_request": per_request(us, requests),
            "total_ms": us / 1000.0,
            "requests": requests,
            "phases": r.cpu.iter().map(|c| {
                let phase_us = ticks_to_us(c.ticks, r.clk_tck);
                json!({
                    "phase": c.name,
                    "us_per_request": per_request(phase_us, c.requests),
                    "requests": c.requests,
                    "audit_records": c.audit.map(|a| a.0),
                    "audit_commits": c.audit.map(|a| a.1),
                    "busy_after_s": c.drain.as_secs_f64(),
                })
            }).collect::<Vec<_>>(),
        },
        "hearth_peak_rss_mb": rss_mb(r.peak_rss_kb),
        "failed_requests": {
            "direct": r.c1.errors.direct + r.c1_stream.errors.direct + r.rate.errors.direct + t.errors.direct,
            "hearth": r.c1.errors.hearth + r.c1_stream.errors.hearth + r.rate.errors.hearth + t.errors.hearth,
        },
        "targets": {
            "c1_added_p50_ms": C1_P50_MS,
            "c1_added_p99_ms": C1_P99_MS,
            "rate_added_p99_ms": RATE_P99_MS,
            "cpu_us_per_request": CPU_US,
            "peak_rss_mb": RSS_MB,
        },
    })
}
