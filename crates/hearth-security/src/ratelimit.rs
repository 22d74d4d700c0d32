//! Rate limits: GCRA (the generic cell rate algorithm) per organisation and
//! per key.
//!
//! A quota of N per minute admits a burst of N and then one every 60/N
//! seconds. GCRA keeps one timestamp per limited subject (the "theoretical
//! arrival time") instead of a window of counters, so a check is a few
//! arithmetic operations under a sharded lock.
//!
//! The limiter sits behind [`RateLimiter`] so a shared implementation
//! (Redis, for several replicas) can replace the in-process one.

use std::collections::HashMap;
use std::future::Future;
use std::hash::{BuildHasher, Hash};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What is being limited.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    OrgRequests(String),
    KeyRequests(String),
    OrgTokens(String),
}

/// A limit of `per_minute` units each minute, with a burst of the same size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    pub per_minute: u64,
}

/// One subject to charge, with its quota.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub subject: Subject,
    pub quota: Quota,
}

/// The outcome for the tightest subject of a [`RateLimiter::acquire`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// The quota of the subject reported below.
    pub limit: u64,
    /// Units still available right now after this call.
    pub remaining: u64,
    /// How long until the subject's allowance is whole again.
    pub reset: Duration,
    /// When refused: how long to wait before the same call would pass.
    pub retry_after: Duration,
}

/// A rate limiter that charges several subjects at once: either all of
/// them are charged or none is.
pub trait RateLimiter: Send + Sync {
    /// Charges `cost` units to every check's subject. If any subject lacks
    /// the allowance nothing is charged and the decision is a refusal for
    /// the subject that must wait longest; otherwise the decision reports
    /// the subject with the least remaining.
    fn acquire(&self, checks: &[Check], cost: u64) -> impl Future<Output = Decision> + Send;

    /// Corrects an earlier charge of `charged` units to `actual` once the
    /// real cost is known (tokens are estimated before a model call and
    /// counted after it). Never refuses: an overrun makes later calls
    /// wait. Fire-and-forget, so it can run where nothing can be awaited
    /// (a dropped stream); a shared implementation sends it in the
    /// background.
    fn settle(&self, check: &Check, charged: u64, actual: u64);
}

/// The limiters Hearth can run. A closed set: each variant is a deployment
/// choice, selected by configuration.
pub enum Limiter {
    /// State in this process: exact on one node.
    Local(LocalLimiter),
}

impl RateLimiter for Limiter {
    async fn acquire(&self, checks: &[Check], cost: u64) -> Decision {
        match self {
            Limiter::Local(local) => local.acquire_now(checks, cost),
        }
    }

    fn settle(&self, check: &Check, charged: u64, actual: u64) {
        match self {
            Limiter::Local(local) => local.settle(check, charged, actual),
        }
    }
}

const SHARDS: usize = 32;
/// Past this many subjects in a shard, fully recovered subjects (whose
/// state equals "never seen") are swept out.
const SWEEP_AT: usize = 4096;

/// In-process GCRA.
pub struct LocalLimiter {
    epoch: Instant,
    hasher: std::collections::hash_map::RandomState,
    /// Theoretical arrival time per subject, in nanoseconds since `epoch`.
    shards: [Mutex<HashMap<Subject, u64>>; SHARDS],
}

impl Default for LocalLimiter {
    fn default() -> Self {
        LocalLimiter {
            epoch: Instant::now(),
            hasher: std::collections::hash_map::RandomState::new(),
            shards: std::array::from_fn(|_| Mutex::new(HashMap::new())),
        }
    }
}

impl LocalLimiter {
    fn shard(&self, subject: &Subject) -> &Mutex<HashMap<Subject, u64>> {
        // Truncation is the point: any bits pick a shard.
        #[expect(clippy::cast_possible_truncation, reason = "hash bits select a shard")]
        let i = (self.hasher.hash_one(subject) as usize) % SHARDS;
        &self.shards[i]
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Charges at the current instant.
    pub fn acquire_now(&self, checks: &[Check], cost: u64) -> Decision {
        self.acquire_at(checks, cost, self.now_nanos())
    }

    fn acquire_at(&self, checks: &[Check], cost: u64, now: u64) -> Decision {
        let mut charged: Vec<(usize, u64)> = Vec::with_capacity(checks.len());
        let mut report: Option<Decision> = None;
        for (i, check) in checks.iter().enumerate() {
            let outcome = self.charge(check, cost, now);
            match outcome {
                Charge::Allowed { previous, decision } => {
                    charged.push((i, previous));
                    if report.is_none_or(|r| r.allowed && decision.remaining < r.remaining) {
                        report = Some(decision);
                    }
                }
                Charge::Refused(decision) => {
                    // All or nothing: give back what earlier subjects paid.
                    for (j, previous) in charged {
                        self.restore(&checks[j].subject, previous);
                    }
                    return decision;
                }
            }
        }
        report.unwrap_or(Decision {
            allowed: true,
            limit: 0,
            remaining: 0,
            reset: Duration::ZERO,
            retry_after: Duration::ZERO,
        })
    }

    fn charge(&self, check: &Check, cost: u64, now: u64) -> Charge {
        let per_minute = check.quota.per_minute.max(1);
        // Nanoseconds each unit occupies, and the burst the quota tolerates.
        // At least 1 ns: a quota above 60e9 per minute must not divide by zero.
        let interval = (60_000_000_000 / per_minute).max(1);
        let burst = interval.saturating_mul(per_minute);
        let mut shard = self
            .shard(&check.subject)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let tat = shard.get(&check.subject).copied().unwrap_or(0).max(now);
        let new_tat = tat.saturating_add(interval.saturating_mul(cost));
        let allow_at = new_tat.saturating_sub(burst);
        if allow_at > now {
            let remaining_now = now.saturating_add(burst).saturating_sub(tat) / interval;
            return Charge::Refused(Decision {
                allowed: false,
                limit: per_minute,
                remaining: remaining_now,
                reset: Duration::from_nanos(tat - now),
                retry_after: Duration::from_nanos(allow_at - now),
            });
        }
        let previous = shard.insert(check.subject.clone(), new_tat).unwrap_or(0);
        if shard.len() > SWEEP_AT {
            shard.retain(|_, t| *t > now);
        }
        Charge::Allowed {
            previous,
            decision: Decision {
                allowed: true,
                limit: per_minute,
                remaining: now.saturating_add(burst).saturating_sub(new_tat) / interval,
                reset: Duration::from_nanos(new_tat - now),
                retry_after: Duration::ZERO,
            },
        }
    }

    /// Moves the subject's arrival time by the difference between what was
    /// charged and what was used.
    pub fn settle(&self, check: &Check, charged: u64, actual: u64) {
        if charged == actual {
            return;
        }
        let interval = (60_000_000_000 / check.quota.per_minute.max(1)).max(1);
        let mut shard = self
            .shard(&check.subject)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let tat = shard.entry(check.subject.clone()).or_insert(0);
        if actual > charged {
            let base = (*tat).max(self.now_nanos());
            *tat = base.saturating_add(interval.saturating_mul(actual - charged));
        } else {
            *tat = tat.saturating_sub(interval.saturating_mul(charged - actual));
        }
    }

    fn restore(&self, subject: &Subject, previous: u64) {
        let mut shard = self
            .shard(subject)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        shard.insert(subject.clone(), previous);
    }
}

enum Charge {
    Allowed { previous: u64, decision: Decision },
    Refused(Decision),
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: u64 = 1_000_000_000;

    fn org(n: u64) -> Check {
        Check {
            subject: Subject::OrgRequests("o".into()),
            quota: Quota { per_minute: n },
        }
    }

    fn key(n: u64) -> Check {
        Check {
            subject: Subject::KeyRequests("k".into()),
            quota: Quota { per_minute: n },
        }
    }

    #[test]
    fn a_full_burst_passes_then_the_next_waits_one_interval() {
        let l = LocalLimiter::default();
        let t0 = 1_000 * SEC;
        for i in 0..60 {
            let d = l.acquire_at(&[org(60)], 1, t0);
            assert!(d.allowed, "request {i} of the burst");
            assert_eq!(d.remaining, 59 - i);
        }
        let refused = l.acquire_at(&[org(60)], 1, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Duration::from_secs(1));
        assert_eq!(refused.remaining, 0);
        assert!(l.acquire_at(&[org(60)], 1, t0 + SEC).allowed);
    }

    #[test]
    fn a_refusal_charges_no_subject() {
        let l = LocalLimiter::default();
        let t0 = 1_000 * SEC;
        assert!(l.acquire_at(&[key(1)], 1, t0).allowed);
        // The org has room but the key does not: the org must not be charged.
        for _ in 0..5 {
            assert!(!l.acquire_at(&[org(3), key(1)], 1, t0).allowed);
        }
        for _ in 0..3 {
            assert!(l.acquire_at(&[org(3)], 1, t0).allowed);
        }
        assert!(!l.acquire_at(&[org(3)], 1, t0).allowed);
    }

    #[test]
    fn the_report_names_the_tightest_subject() {
        let l = LocalLimiter::default();
        let d = l.acquire_at(&[org(100), key(10)], 1, SEC);
        assert_eq!((d.limit, d.remaining), (10, 9));
    }

    #[test]
    fn costs_above_one_consume_several_units() {
        let l = LocalLimiter::default();
        let tokens = Check {
            subject: Subject::OrgTokens("o".into()),
            quota: Quota { per_minute: 1000 },
        };
        assert!(
            l.acquire_at(std::slice::from_ref(&tokens), 600, SEC)
                .allowed
        );
        let d = l.acquire_at(std::slice::from_ref(&tokens), 600, SEC);
        assert!(!d.allowed);
        assert_eq!(d.remaining, 400);
        assert!(
            d.retry_after > Duration::from_secs(11) && d.retry_after <= Duration::from_secs(12)
        );
    }

    #[test]
    fn settling_moves_the_allowance_both_ways() {
        let l = LocalLimiter::default();
        let tokens = Check {
            subject: Subject::OrgTokens("o".into()),
            quota: Quota { per_minute: 1000 },
        };
        let now = l.now_nanos();
        assert!(
            l.acquire_at(std::slice::from_ref(&tokens), 100, now)
                .allowed
        );
        // The call used 1,100 tokens, not 100: the allowance is overdrawn.
        l.settle(&tokens, 100, 1_100);
        assert!(!l.acquire_now(std::slice::from_ref(&tokens), 1).allowed);
        // Refunding the overrun makes room again.
        l.settle(&tokens, 1_100, 100);
        assert!(l.acquire_now(std::slice::from_ref(&tokens), 1).allowed);
    }

    #[test]
    fn enormous_quotas_do_not_divide_by_zero() {
        let l = LocalLimiter::default();
        let huge = Check {
            subject: Subject::OrgTokens("o".into()),
            quota: Quota {
                per_minute: u64::MAX,
            },
        };
        assert!(
            l.acquire_at(std::slice::from_ref(&huge), 1_000, SEC)
                .allowed
        );
        l.settle(&huge, 1_000, 10);
    }

    #[test]
    fn recovered_subjects_are_swept() {
        let l = LocalLimiter::default();
        for i in 0..(SWEEP_AT * SHARDS * 2) {
            let c = Check {
                subject: Subject::KeyRequests(i.to_string()),
                quota: Quota { per_minute: 6000 },
            };
            l.acquire_at(&[c], 1, (i as u64) * SEC);
        }
        let total: usize = l.shards.iter().map(|s| s.lock().unwrap().len()).sum();
        assert!(total <= SWEEP_AT * SHARDS + SHARDS, "{total} subjects kept");
    }
}
