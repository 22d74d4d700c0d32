//! The audit hash chain: how a record's hash is computed and how a chain
//! is checked. Pure logic; the queries live in `audit_log.rs`.
//!
//! Every record's `hash` covers all its fields and the previous record's
//! hash, so changing or deleting a stored record breaks the link of the
//! record after it. (Truncating the newest records cannot be detected from
//! the chain alone; exporting the tip hash elsewhere covers that.)

use hearth_types::AuditEntry;
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Names the encoding, so a future change to it can be told apart from
/// tampering.
const ENCODING_VERSION: &str = "hearth-audit-v1";

/// Lower-case hex SHA-256 of the canonical encoding of `entry`: every field
/// but `hash` itself, including `seq` and `prev_hash`.
///
/// The encoding is a JSON array in a fixed order with `null` for absent
/// values. JSON escaping makes it unambiguous: no choice of field contents
/// can make two different records encode the same way (a plain separator
/// join could, by moving the separator into a field).
pub fn chain_hash(entry: &AuditEntry) -> String {
    // Written straight from the fields, without building a JSON tree; the
    // bytes are those of the array as `serde_json` writes any value.
    let canonical = serde_json::to_vec(&Canonical(entry)).unwrap_or_default();
    let digest = Sha256::digest(&canonical);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// The canonical encoding of a record: a JSON array of its fields in a
/// fixed order (see [`chain_hash`]).
struct Canonical<'a>(&'a AuditEntry);

impl Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple as _;
        let e = self.0;
        let mut t = serializer.serialize_tuple(20)?;
        t.serialize_element(ENCODING_VERSION)?;
        t.serialize_element(&e.seq)?;
        t.serialize_element(&e.id)?;
        t.serialize_element(&e.created_at)?;
        t.serialize_element(&e.request_id)?;
        t.serialize_element(&e.org_id)?;
        t.serialize_element(&e.user_id)?;
        t.serialize_element(&e.key_prefix)?;
        t.serialize_element(&e.method)?;
        t.serialize_element(&e.path)?;
        t.serialize_element(&e.status)?;
        t.serialize_element(&e.latency_us)?;
        t.serialize_element(&e.client_addr)?;
        t.serialize_element(&e.user_agent)?;
        t.serialize_element(&e.action)?;
        t.serialize_element(&e.resource_id)?;
        t.serialize_element(&e.model)?;
        t.serialize_element(&e.input_tokens)?;
        t.serialize_element(&e.output_tokens)?;
        t.serialize_element(&e.prev_hash)?;
        t.end()
    }
}

/// The outcome of `Store::verify_audit_chain`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Records examined, including the first broken one.
    pub checked: i64,
    /// Whether every examined record links correctly.
    pub valid: bool,
    /// The first record whose seq, hash or link to its predecessor is
    /// wrong; checking stops there, since nothing after it can be trusted.
    pub first_broken_seq: Option<i64>,
    /// The hash of the last record that checked out: the chain's tip when
    /// `valid`.
    pub last_hash: Option<String>,
}

/// Checks records fed to it in seq order, one at a time, so the caller can
/// stream the table in pages.
#[derive(Debug, Default)]
pub(crate) struct ChainVerifier {
    checked: i64,
    last_seq: Option<i64>,
    last_hash: Option<String>,
    broken: Option<i64>,
}

impl ChainVerifier {
    /// Checks the next record. Returns false once the chain is broken;
    /// later records are then ignored.
    pub(crate) fn check(&mut self, entry: &AuditEntry) -> bool {
        if self.broken.is_some() {
            return false;
        }
        self.checked += 1;
        let expected_seq = self.last_seq.map_or(1, |s| s + 1);
        let expected_prev = self.last_hash.as_deref().unwrap_or("");
        if entry.seq != expected_seq
            || entry.prev_hash != expected_prev
            || chain_hash(entry) != entry.hash
        {
            self.broken = Some(entry.seq);
            return false;
        }
        self.last_seq = Some(entry.seq);
        self.last_hash = Some(entry.hash.clone());
        true
    }

    pub(crate) fn report(self) -> ChainReport {
        ChainReport {
            checked: self.checked,
            valid: self.broken.is_none(),
            first_broken_seq: self.broken,
            last_hash: self.last_hash,
        }
    }
}

/// Fills `seq`, `prev_hash` and `hash` of `entries` so they continue the
/// chain whose newest record is `tip` (`None` for an empty log).
pub(crate) fn link(entries: &mut [AuditEntry], tip: Option<(i64, String)>) {
    let (mut seq, mut prev) = tip.unwrap_or((0, String::new()));
    for entry in entries {
        seq += 1;
        entry.seq = seq;
        entry.prev_hash = prev;
        entry.hash = chain_hash(entry);
        prev = entry.hash.clone();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AuditEntry {
        AuditEntry {
            seq: 7,
            id: "audit_1".into(),
            created_at: 1_700_000_000_000,
            request_id: "req_1".into(),
            org_id: Some("org_1".into()),
            user_id: Some("user_1".into()),
            key_prefix: Some("hk_abc".into()),
            method: "POST".into(),
            path: "/v1/chat/completions".into(),
            status: 200,
            latency_us: 1234,
            client_addr: Some("127.0.0.1".into()),
            user_agent: Some("curl/8".into()),
            action: Some("user.create".into()),
            resource_id: Some("user_2".into()),
            model: Some("gpt-x".into()),
            input_tokens: Some(10),
            output_tokens: Some(20),
            prev_hash: "ab".repeat(32),
            hash: String::new(),
        }
    }

    #[test]
    fn hash_is_deterministic_lowercase_hex() {
        let h = chain_hash(&sample());
        assert_eq!(h, chain_hash(&sample()));
        assert_eq!(h.len(), 64);
        assert!(h.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')), "{h}");
    }

    #[test]
    fn encoding_is_the_json_array_of_the_fields() {
        // Chains written before must keep verifying: the encoding is exactly
        // the JSON array of the fields as a tree would print it.
        let mut odd = sample();
        odd.user_agent = Some("a \"q\" \\ \u{1}\t é 😀 \u{2028}".into());
        for e in [sample(), AuditEntry::default(), odd] {
            let tree = serde_json::json!([
                ENCODING_VERSION,
                e.seq,
                e.id,
                e.created_at,
                e.request_id,
                e.org_id,
                e.user_id,
                e.key_prefix,
                e.method,
                e.path,
                e.status,
                e.latency_us,
                e.client_addr,
                e.user_agent,
                e.action,
                e.resource_id,
                e.model,
                e.input_tokens,
                e.output_tokens,
                e.prev_hash,
            ]);
            let direct = serde_json::to_vec(&Canonical(&e)).unwrap();
            assert_eq!(String::from_utf8(direct).unwrap(), tree.to_string());
            let digest = Sha256::digest(tree.to_string().as_bytes());
            let expected: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(chain_hash(&e), expected);
        }
    }

    #[test]
    fn hash_ignores_the_stored_hash_field() {
        let mut e = sample();
        let h = chain_hash(&e);
        e.hash = "anything".into();
        assert_eq!(chain_hash(&e), h);
    }

    #[test]
    fn every_field_changes_the_hash() {
        let base = chain_hash(&sample());
        type Edit = fn(&mut AuditEntry);
        let edits: Vec<(&str, Edit)> = vec![
            ("seq", |e| e.seq += 1),
            ("id", |e| e.id.push('x')),
            ("created_at", |e| e.created_at += 1),
            ("request_id", |e| e.request_id.push('x')),
            ("org_id", |e| e.org_id = None),
            ("user_id", |e| e.user_id = Some("user_9".into())),
            ("key_prefix", |e| e.key_prefix = None),
            ("method", |e| e.method = "GET".into()),
            ("path", |e| e.path.push('/')),
            ("status", |e| e.status = 500),
            ("latency_us", |e| e.latency_us += 1),
            ("client_addr", |e| e.client_addr = None),
            ("user_agent", |e| e.user_agent = None),
            ("action", |e| e.action = None),
            ("resource_id", |e| e.resource_id = None),
            ("model", |e| e.model = None),
            ("input_tokens", |e| e.input_tokens = Some(11)),
            ("output_tokens", |e| e.output_tokens = None),
            ("prev_hash", |e| e.prev_hash = String::new()),
        ];
        for (field, edit) in edits {
            let mut e = sample();
            edit(&mut e);
            assert_ne!(
                chain_hash(&e),
                base,
                "changing {field} must change the hash"
            );
        }
    }

    #[test]
    fn moving_text_between_fields_changes_the_hash() {
        // A naive join would encode these two records identically.
        let mut a = sample();
        a.method = "GET|".into();
        a.path = "/x".into();
        let mut b = sample();
        b.method = "GET".into();
        b.path = "|/x".into();
        assert_ne!(chain_hash(&a), chain_hash(&b));
        // None and the empty string are different values.
        let mut c = sample();
        c.model = Some(String::new());
        let mut d = sample();
        d.model = None;
        assert_ne!(chain_hash(&c), chain_hash(&d));
    }

    #[test]
    fn linked_entries_verify_and_edits_are_found() {
        let mut entries = vec![sample(), sample(), sample()];
        link(&mut entries, None);
        assert_eq!(entries[0].seq, 1);
        assert_eq!(entries[0].prev_hash, "");
        assert_eq!(entries[2].prev_hash, entries[1].hash);

        let mut v = ChainVerifier::default();
        assert!(entries.iter().all(|e| v.check(e)));
        let report = v.report();
        assert!(report.valid);
        assert_eq!(report.checked, 3);
        assert_eq!(report.last_hash.as_deref(), Some(entries[2].hash.as_str()));

        entries[1].path = "/tampered".into();
        let mut v = ChainVerifier::default();
        entries.iter().for_each(|e| {
            v.check(e);
        });
        let report = v.report();
        assert!(!report.valid);
        assert_eq!(report.first_broken_seq, Some(2));
        assert_eq!(report.last_hash.as_deref(), Some(entries[0].hash.as_str()));
    }

    #[test]
    fn a_deleted_record_breaks_the_next_link() {
        let mut entries = vec![sample(), sample(), sample()];
        link(&mut entries, Some((41, "f".repeat(64))));
        assert_eq!(entries[0].seq, 42);
        assert_eq!(entries[0].prev_hash, "f".repeat(64));

        let mut fresh = vec![sample(), sample(), sample()];
        link(&mut fresh, None);
        fresh.remove(1);
        let mut v = ChainVerifier::default();
        fresh.iter().for_each(|e| {
            v.check(e);
        });
        assert_eq!(v.report().first_broken_seq, Some(3));
    }
}
