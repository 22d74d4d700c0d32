//! The measured phases. Every phase drives the fake upstream directly
//! and through Hearth in the same loop, alternating, so that whatever
//! else the machine is doing hits both sides alike.

use crate::client::{Conn, Target};
use anyhow::bail;
use bytes::Bytes;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Which side a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Direct,
    Hearth,
}

/// The two targets and the request bodies.
#[derive(Debug, Clone)]
pub struct Setup {
    pub direct: Arc<Target>,
    pub hearth: Arc<Target>,
    pub body: Bytes,
    pub stream_body: Bytes,
}

impl Setup {
    fn target(&self, side: Side) -> Arc<Target> {
        match side {
            Side::Direct => Arc::clone(&self.direct),
            Side::Hearth => Arc::clone(&self.hearth),
        }
    }

    fn body(&self, stream: bool) -> Bytes {
        if stream {
            self.stream_body.clone()
        } else {
            self.body.clone()
        }
    }
}

/// A connection to each side.
struct Pair {
    direct: Conn,
    hearth: Conn,
}

impl Pair {
    async fn open(setup: &Setup) -> anyhow::Result<Pair> {
        let mut pair = Pair {
            direct: Conn::new(setup.target(Side::Direct)),
            hearth: Conn::new(setup.target(Side::Hearth)),
        };
        pair.direct.open().await?;
        pair.hearth.open().await?;
        Ok(pair)
    }

    fn conn(&mut self, side: Side) -> &mut Conn {
        match side {
            Side::Direct => &mut self.direct,
            Side::Hearth => &mut self.hearth,
        }
    }
}

/// Failed requests, and the first failure's message.
#[derive(Debug, Default, Clone)]
pub struct Errors {
    pub direct: u64,
    pub hearth: u64,
    pub first: Option<String>,
}

impl Errors {
    fn record(&mut self, side: Side, error: &anyhow::Error) {
        match side {
            Side::Direct => self.direct += 1,
            Side::Hearth => self.hearth += 1,
        }
        if self.first.is_none() {
            self.first = Some(format!("{error:#}"));
        }
    }

    fn merge(&mut self, other: Errors) {
        self.direct += other.direct;
        self.hearth += other.hearth;
        if self.first.is_none() {
            self.first = other.first;
        }
    }

    /// Fails when more than 1% of the requests (and more than a handful)
    /// failed: the figures would not mean anything.
    pub fn check(&self, phase: &str, attempted: u64) -> anyhow::Result<()> {
        let failed = self.direct + self.hearth;
        if failed > 10.max(attempted / 100) {
            bail!(
                "{phase}: {failed} of {attempted} requests failed (direct {}, hearth {}); first: {}",
                self.direct,
                self.hearth,
                self.first.as_deref().unwrap_or("?")
            );
        }
        Ok(())
    }
}

/// Latency samples of one side.
#[derive(Debug, Default, Clone)]
pub struct Samples {
    pub first_byte: Vec<Duration>,
    pub total: Vec<Duration>,
}

/// What a concurrency-1 phase measured.
#[derive(Debug, Default)]
pub struct Serial {
    pub direct: Samples,
    pub hearth: Samples,
    pub errors: Errors,
}

impl Serial {
    fn side(&mut self, side: Side) -> &mut Samples {
        match side {
            Side::Direct => &mut self.direct,
            Side::Hearth => &mut self.hearth,
        }
    }
}

/// Concurrency 1: `n` requests to each side on one connection each,
/// alternating which side goes first in each round.
pub async fn serial(setup: &Setup, n: usize, stream: bool) -> anyhow::Result<Serial> {
    let mut pair = Pair::open(setup).await?;
    let body = setup.body(stream);
    let mut out = Serial::default();
    for i in 0..n {
        let order = if i % 2 == 0 {
            [Side::Direct, Side::Hearth]
        } else {
            [Side::Hearth, Side::Direct]
        };
        for side in order {
            let start = Instant::now();
            match pair.conn(side).call(&body, stream).await {
                Ok(t) => {
                    let samples = out.side(side);
                    samples.first_byte.push(t.first_byte - start);
                    samples.total.push(t.end - start);
                }
                Err(e) => out.errors.record(side, &e),
            }
        }
    }
    Ok(out)
}

/// What the fixed-rate phase measured.
#[derive(Debug, Default)]
pub struct OpenLoop {
    pub direct: Vec<Duration>,
    pub hearth: Vec<Duration>,
    pub errors: Errors,
    /// From the first scheduled send to the last answer.
    pub elapsed: Duration,
    /// How late a worker picked up a request after its scheduled time
    /// (schedule thread, queueing for a free connection), p99 per side.
    pub pickup_lag_p99_direct: Duration,
    pub pickup_lag_p99_hearth: Duration,
}

/// A side's worker pool: what each worker measured.
type PoolResult = (Vec<Duration>, Vec<Duration>, Errors);

/// `connections` workers, each with its own connection to `side`, taking
/// scheduled send times from one queue until it closes.
async fn pool(
    setup: &Setup,
    side: Side,
    connections: usize,
    rx: tokio::sync::mpsc::UnboundedReceiver<Instant>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<PoolResult>>> {
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    let body = setup.body(false);
    let mut workers = Vec::with_capacity(connections);
    for _ in 0..connections {
        let mut conn = Conn::new(setup.target(side));
        conn.open().await?;
        let rx = Arc::clone(&rx);
        let body = body.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut lags = Vec::new();
            let mut errors = Errors::default();
            loop {
                let job = rx.lock().await.recv().await;
                let Some(at) = job else { break };
                lags.push(Instant::now().saturating_duration_since(at));
                match conn.call(&body, false).await {
                    Ok(t) => latencies.push(t.end.saturating_duration_since(at)),
                    Err(e) => errors.record(side, &e),
                }
            }
            (latencies, lags, errors)
        }));
    }
    Ok(workers)
}

async fn gather(
    workers: Vec<tokio::task::JoinHandle<PoolResult>>,
    errors: &mut Errors,
) -> anyhow::Result<(Vec<Duration>, Duration)> {
    let mut latencies = Vec::new();
    let mut lags = Vec::new();
    for worker in workers {
        let (l, g, e) = worker.await?;
        latencies.extend(l);
        lags.extend(g);
        errors.merge(e);
    }
    let lag = crate::stats::Summary::of(&lags);
    Ok((latencies, Duration::from_nanos(lag.p99)))
}

/// Open loop: `rate` requests per second to each side, `n` to each, on
/// one schedule that interleaves the sides (Hearth, direct, Hearth, …,
/// one every 1/(2·rate) s). Each side has its own pool of `connections`
/// workers, so a stall on one side does not delay the other. A request's
/// latency runs from its scheduled send time, so time spent waiting for a
/// free connection counts (no coordinated omission).
pub async fn open_loop(
    setup: &Setup,
    n: usize,
    rate: f64,
    connections: usize,
) -> anyhow::Result<OpenLoop> {
    let (direct_tx, direct_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let (hearth_tx, hearth_rx) = tokio::sync::mpsc::unbounded_channel::<Instant>();
    let direct_pool = pool(setup, Side::Direct, connections, direct_rx).await?;
    let hearth_pool = pool(setup, Side::Hearth, connections, hearth_rx).await?;
    // The schedule runs on its own thread: tokio's timer has millisecond
    // granularity, a plain sleep is good to tens of microseconds.
    let start = Instant::now() + Duration::from_millis(20);
    let slots = 2 * n;
    let dispatcher = std::thread::Builder::new()
        .name("bench-schedule".to_owned())
        .spawn(move || {
            for j in 0..slots {
                let at = start + Duration::from_secs_f64(j as f64 / (2.0 * rate));
                let now = Instant::now();
                if at > now {
                    std::thread::sleep(at - now);
                }
                let tx = if j % 2 == 0 { &hearth_tx } else { &direct_tx };
                if tx.send(at).is_err() {
                    break;
                }
            }
            // Dropping the senders lets the workers finish once their
            // queues are empty.
        })?;
    let mut out = OpenLoop::default();
    let (direct, direct_lag) = gather(direct_pool, &mut out.errors).await?;
    let (hearth, hearth_lag) = gather(hearth_pool, &mut out.errors).await?;
    out.elapsed = start.elapsed();
    if dispatcher.join().is_err() {
        bail!("the schedule thread panicked");
    }
    out.direct = direct;
    out.hearth = hearth;
    out.pickup_lag_p99_direct = direct_lag;
    out.pickup_lag_p99_hearth = hearth_lag;
    Ok(out)
}

/// What the throughput phase measured.
#[derive(Debug, Default)]
pub struct Throughput {
    pub direct_requests: u64,
    pub direct_elapsed: Duration,
    pub hearth_requests: u64,
    pub hearth_elapsed: Duration,
    /// How long Hearth kept working after its measured slices (writing
    /// the audit records it had queued).
    pub hearth_drain: Duration,
    /// Requests sent to Hearth, warm-up slices included.
    pub hearth_sent: u64,
    pub errors: Errors,
}

impl Throughput {
    pub fn direct_rps(&self) -> f64 {
        self.direct_requests as f64 / self.direct_elapsed.as_secs_f64().max(1e-9)
    }

    /// While sending.
    pub fn hearth_rps(&self) -> f64 {
        self.hearth_requests as f64 / self.hearth_elapsed.as_secs_f64().max(1e-9)
    }

    /// Counting the time Hearth needed afterwards to finish the work
    /// (audit and usage records) of those requests.
    pub fn hearth_sustained_rps(&self) -> f64 {
        self.hearth_requests as f64
            / (self.hearth_elapsed + self.hearth_drain)
                .as_secs_f64()
                .max(1e-9)
    }
}

/// Closed loop: `connections` workers send back to back for `secs`
/// seconds per side, in one-second slices alternating between the sides
/// (after a half-second warm-up slice each). A slice lasts from its start
/// until every worker has had its last answer. After each Hearth slice the
/// next slice waits until Hearth is idle, so work Hearth deferred (its
/// audit queue) neither slows the direct slices nor goes uncounted.
pub async fn closed_loop(
    setup: &Setup,
    secs: u64,
    connections: usize,
    server: &crate::hearth::Hearth,
) -> anyhow::Result<Throughput> {
    let slice = Duration::from_secs(1);
    let warm = Duration::from_millis(500);
    let mut plan: Vec<(Side, Duration, bool)> =
        vec![(Side::Direct, warm, false), (Side::Hearth, warm, false)];
    for i in 0..secs.max(1) {
        let (a, b) = if i % 2 == 0 {
            (Side::Direct, Side::Hearth)
        } else {
            (Side::Hearth, Side::Direct)
        };
        plan.push((a, slice, true));
        plan.push((b, slice, true));
    }
    let slices = plan.len();
    let current: Arc<Mutex<(Instant, Side)>> = Arc::new(Mutex::new((Instant::now(), Side::Direct)));
    let begin = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let finish = Arc::new(tokio::sync::Barrier::new(connections + 1));
    let mut pairs = Vec::with_capacity(connections);
    for _ in 0..connections {
        pairs.push(Pair::open(setup).await?);
    }
    let body = setup.body(false);
    let mut workers = Vec::with_capacity(connections);
    for mut pair in pairs {
        let current = Arc::clone(&current);
        let begin = Arc::clone(&begin);
        let finish = Arc::clone(&finish);
        let body = body.clone();
        workers.push(tokio::spawn(async move {
            let mut done = vec![0_u64; slices];
            let mut errors = Errors::default();
            for count in &mut done {
                begin.wait().await;
                let (deadline, side) = match current.lock() {
                    Ok(c) => *c,
                    Err(poisoned) => *poisoned.into_inner(),
                };
                while Instant::now() < deadline {
                    match pair.conn(side).call(&body, false).await {
                        Ok(_) => *count += 1,
                        Err(e) => errors.record(side, &e),
                    }
                }
                finish.wait().await;
            }
            (done, errors)
        }));
    }
    let mut elapsed = Vec::with_capacity(slices);
    let mut drains = Vec::with_capacity(slices);
    for &(side, length, _) in &plan {
        let start = Instant::now();
        match current.lock() {
            Ok(mut c) => *c = (start + length, side),
            Err(poisoned) => *poisoned.into_inner() = (start + length, side),
        }
        begin.wait().await;
        finish.wait().await;
        elapsed.push(start.elapsed());
        drains.push(if side == Side::Hearth {
            busy_after(server).await?
        } else {
            Duration::ZERO
        });
    }
    let mut out = Throughput::default();
    let mut done = vec![0_u64; slices];
    for worker in workers {
        let (counts, errors) = worker.await?;
        for (total, n) in done.iter_mut().zip(counts) {
            *total += n;
        }
        out.errors.merge(errors);
    }
    for (i, &(side, _, counted)) in plan.iter().enumerate() {
        if side == Side::Hearth {
            out.hearth_sent += done[i];
        }
        if !counted {
            continue;
        }
        match side {
            Side::Direct => {
                out.direct_requests += done[i];
                out.direct_elapsed += elapsed[i];
            }
            Side::Hearth => {
                out.hearth_requests += done[i];
                out.hearth_elapsed += elapsed[i];
                out.hearth_drain += drains[i];
            }
        }
    }
    out.hearth_sent += out.errors.hearth;
    Ok(out)
}

/// Waits until Hearth's CPU time stops moving (unchanged for 150 ms; at
/// most 60 s) and returns how long it kept moving: the work Hearth still
/// had to do when its last answer went out. Ticks are 10 ms, so this is
/// good to a few tens of milliseconds.
async fn busy_after(server: &crate::hearth::Hearth) -> anyhow::Result<Duration> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(60);
    let mut last = server.cpu_ticks()?;
    let mut last_change = start;
    let mut quiet = 0;
    while quiet < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = server.cpu_ticks()?;
        if now == last {
            quiet += 1;
        } else {
            quiet = 0;
            last = now;
            last_change = Instant::now();
        }
    }
    Ok(last_change - start)
}
