//! The audit buffer: API-call records go into a bounded queue and one
//! writer task commits them in groups.
//!
//! The hot path only enqueues (waiting for room if the queue is full, so a
//! stalled database slows callers instead of losing records). The writer
//! takes what is queued, lingering briefly (20 ms by default) for more so that a
//! steady trickle still commits in groups, and writes the audit records
//! (hash-chained), their token usage and their keys' last-use times in one
//! transaction. A flush request cuts the linger short. On shutdown it
//! drains the queue before it returns.

use hearth_store::{CallBatch, Store};
use hearth_types::AuditEntry;
use hearth_types::usage::UsageRecord;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

/// Tuning for the audit buffer.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    /// Records the queue holds before callers wait.
    pub capacity: usize,
    /// Most records committed in one transaction.
    pub max_batch: usize,
    /// How long the writer waits for more records after the first one of a
    /// batch. A commit costs far more than a record, so this is what keeps
    /// the writer's cost per call low under a steady load.
    pub linger: Duration,
}

impl Default for AuditOptions {
    fn default() -> Self {
        AuditOptions {
            capacity: 16_384,
            max_batch: 256,
            linger: Duration::from_millis(20),
        }
    }
}

/// A key's last-use time is written at most this often (it is shown with
/// minute precision's worth of accuracy; rewriting it on every call would
/// cost an UPDATE per batch for nothing).
const LAST_USE_GRANULARITY_MS: i64 = 60_000;

/// What one finished API call leaves behind.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub entry: AuditEntry,
    /// The key used, so the writer can update its last-use time.
    pub key_id: Option<String>,
    /// The token usage, when the call reached a model.
    pub usage: Option<UsageRecord>,
}

enum Message {
    /// Boxed: records are large, and the queue holds thousands of slots.
    Record(Box<CallRecord>),
    /// Answered once everything queued before it is committed.
    Flush(oneshot::Sender<()>),
}

/// The sending side, cloned into every request. Cheap to clone.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<Message>,
    capacity: usize,
    /// Wakes the writer out of its linger when a flush is queued.
    flush_now: Arc<Notify>,
}

impl AuditSink {
    /// Queues a record. Waits only if the queue is full.
    pub async fn record(&self, record: CallRecord) {
        if self
            .tx
            .send(Message::Record(Box::new(record)))
            .await
            .is_err()
        {
            // Only after shutdown has drained the writer; nothing can be
            // written any more, so say so loudly.
            tracing::error!("audit record dropped: the audit writer has stopped");
        }
    }

    /// Queues a record from code that cannot wait (a response body being
    /// dropped): at once if there is room, else from a spawned task that
    /// waits for room.
    pub fn record_detached(&self, record: CallRecord) {
        match self.tx.try_send(Message::Record(Box::new(record))) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let tx = self.tx.clone();
                tokio::spawn(async move {
                    if tx.send(msg).await.is_err() {
                        tracing::error!("audit record dropped: the audit writer has stopped");
                    }
                });
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::error!("audit record dropped: the audit writer has stopped");
            }
        }
    }

    /// Waits until every record queued before this call is committed.
    /// Admins reading the log call it first, so they see their own calls.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.tx.send(Message::Flush(done)).await.is_ok() {
            self.flush_now.notify_one();
            let _ = wait.await;
        }
    }

    /// Records currently waiting in the queue.
    pub fn depth(&self) -> usize {
        self.capacity - self.tx.capacity()
    }
}

/// Starts the writer. It runs until `shutdown` is cancelled, then commits
/// what is queued and returns; await the handle to know it has.
pub fn spawn_writer(
    store: Store,
    options: &AuditOptions,
    shutdown: CancellationToken,
) -> (AuditSink, tokio::task::JoinHandle<()>) {
    let capacity = options.capacity.max(1);
    let (tx, rx) = mpsc::channel(capacity);
    let flush_now = Arc::new(Notify::new());
    let writer = Writer {
        store,
        rx,
        max_batch: options.max_batch.max(1),
        linger: options.linger,
        last_use_written: HashMap::new(),
        flush_now: Arc::clone(&flush_now),
    };
    let handle = tokio::spawn(writer.run(shutdown));
    (
        AuditSink {
            tx,
            capacity,
            flush_now,
        },
        handle,
    )
}

struct Writer {
    store: Store,
    rx: mpsc::Receiver<Message>,
    max_batch: usize,
    linger: Duration,
    /// The last-use time last written per key.
    last_use_written: HashMap<String, i64>,
    flush_now: Arc<Notify>,
}

impl Writer {
    async fn run(mut self, shutdown: CancellationToken) {
        let mut batch = Vec::with_capacity(self.max_batch);
        loop {
            let first = tokio::select! {
                biased;
                msg = self.rx.recv() => msg,
                () = shutdown.cancelled() => None,
            };
            let Some(first) = first else { break };
            let flushing = matches!(first, Message::Flush(_));
            batch.push(first);
            self.take_queued(&mut batch);
            // Sleep through the linger rather than waking for each record:
            // senders then only enqueue, and the group is drained at once.
            // Only a group that is not full lingers (a backlog is committed
            // group after group without pause); a flush request skips the
            // linger or cuts it short.
            if !flushing
                && batch.len() < self.max_batch
                && !shutdown.is_cancelled()
                && !self.linger.is_zero()
            {
                tokio::select! {
                    () = tokio::time::sleep(self.linger) => {}
                    () = self.flush_now.notified() => {}
                    () = shutdown.cancelled() => {}
                }
                self.take_queued(&mut batch);
            }
            self.commit(&mut batch, &shutdown).await;
        }
        // Shutdown: refuse new records, then commit everything queued.
        self.rx.close();
        while let Some(msg) = self.rx.recv().await {
            batch.push(msg);
            if batch.len() >= self.max_batch {
                self.commit(&mut batch, &shutdown).await;
            }
        }
        self.commit(&mut batch, &shutdown).await;
    }

    /// Moves what is queued into `batch`, up to a full group.
    fn take_queued(&mut self, batch: &mut Vec<Message>) {
        while batch.len() < self.max_batch {
            let Ok(msg) = self.rx.try_recv() else { break };
            batch.push(msg);
        }
    }

    /// Commits a batch, retrying while the database is unavailable. Flush
    /// requests are answered only after the records before them are in.
    async fn commit(&mut self, batch: &mut Vec<Message>, shutdown: &CancellationToken) {
        if batch.is_empty() {
            return;
        }
        let mut entries = Vec::with_capacity(batch.len());
        let mut usage = Vec::new();
        let mut last_use: HashMap<String, i64> = HashMap::new();
        let mut flushes = Vec::new();
        for msg in batch.drain(..) {
            match msg {
                Message::Record(record) => {
                    let record = *record;
                    if let Some(key_id) = record.key_id {
                        let at = last_use.entry(key_id).or_insert(record.entry.created_at);
                        *at = (*at).max(record.entry.created_at);
                    }
                    usage.extend(record.usage);
                    entries.push(record.entry);
                }
                Message::Flush(done) => flushes.push(done),
            }
        }
        metrics::histogram!("hearth_audit_batch_size").record(entries.len() as f64);
        let key_uses: Vec<(String, i64)> = last_use
            .into_iter()
            .filter(|(key, at)| {
                self.last_use_written
                    .get(key)
                    .is_none_or(|written| at - written >= LAST_USE_GRANULARITY_MS)
            })
            .collect();
        if !entries.is_empty() || !key_uses.is_empty() {
            let mut calls = CallBatch {
                entries,
                usage,
                key_uses,
            };
            self.commit_with_retry(&mut calls, shutdown).await;
            for (key, at) in calls.key_uses {
                self.last_use_written.insert(key, at);
            }
        }
        for done in flushes {
            let _ = done.send(());
        }
    }

    /// Commits the calls' records, retrying while the database is
    /// unavailable. While running it retries until the database is back
    /// (callers wait on the full queue rather than lose records); during
    /// shutdown it gives up after a bounded number of tries so the process
    /// can exit.
    async fn commit_with_retry(&self, calls: &mut CallBatch, shutdown: &CancellationToken) {
        let mut delay = Duration::from_millis(50);
        let mut tries_left_after_shutdown = 5;
        loop {
            let Err(error) = self.store.commit_calls(calls).await else {
                return;
            };
            metrics::counter!("hearth_audit_write_errors_total").increment(1);
            let count = calls.entries.len();
            if shutdown.is_cancelled() {
                tries_left_after_shutdown -= 1;
                if tries_left_after_shutdown == 0 {
                    tracing::error!(%error, lost = count, "audit records could not be written before exit");
                    return;
                }
            }
            tracing::warn!(%error, pending = count, "audit records write failed; retrying");
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_store::testing::TestDatabase;
    use hearth_store::{Backend, StoreOptions};
    use hearth_types::AuditFilter;

    fn call(n: usize) -> CallRecord {
        CallRecord {
            entry: AuditEntry {
                id: format!("audit_{n}"),
                request_id: format!("req_{n}"),
                method: "POST".into(),
                path: "/v1/chat/completions".into(),
                status: 200,
                ..AuditEntry::default()
            },
            key_id: None,
            usage: None,
        }
    }

    /// A backlog of full groups is committed without waiting out the
    /// linger once per group (which would cap the writer at one group per
    /// linger); only the last, partial group lingers.
    #[tokio::test]
    async fn full_groups_do_not_wait_for_the_linger() {
        let db = TestDatabase::new(Backend::Sqlite)
            .await
            .expect("database")
            .expect("sqlite is always available");
        let store = Store::connect(&StoreOptions {
            url: db.url.clone(),
            max_connections: 2,
        })
        .await
        .expect("store");
        let options = AuditOptions {
            capacity: 64,
            max_batch: 4,
            linger: Duration::from_secs(600),
        };
        let shutdown = CancellationToken::new();
        let (sink, writer) = spawn_writer(store.clone(), &options, shutdown.clone());
        for n in 0..13 {
            sink.record(call(n)).await;
        }
        let filter = AuditFilter {
            limit: 100,
            ..AuditFilter::default()
        };
        // Three full groups go in at once; the thirteenth record waits for
        // the (ten-minute) linger.
        let committed = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let n = store.list_audit(&filter).await.expect("list").len();
                if n >= 12 {
                    return n;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("full groups committed without waiting for the linger");
        assert_eq!(committed, 12);
        // A flush cuts the linger short.
        tokio::time::timeout(Duration::from_secs(30), sink.flush())
            .await
            .expect("flush answered without waiting for the linger");
        assert_eq!(store.list_audit(&filter).await.expect("list").len(), 13);
        shutdown.cancel();
        writer.await.expect("writer");
    }
}
