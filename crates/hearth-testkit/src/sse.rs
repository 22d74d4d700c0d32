//! Reading `text/event-stream` bodies with named events (`event: name`,
//! `data: …`), as `/v1/responses` streams them: whole ([`parse_events`]) or
//! one event at a time as they arrive ([`EventReader`]).

use serde_json::Value;
use std::collections::VecDeque;
use std::time::Instant;

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, if any.
    pub event: Option<String>,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
}

impl SseEvent {
    /// The data as JSON; panics (naming the event) when it is not.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data)
            .unwrap_or_else(|e| panic!("event data is not JSON ({e}): {self:?}"))
    }
}

/// Splits a whole event stream into its events. Comment lines (`:`) and
/// `id:`/`retry:` fields are skipped; any other line panics, since a
/// well-formed stream has none.
pub fn parse_events(raw: &str) -> Vec<SseEvent> {
    let raw = raw.replace("\r\n", "\n");
    raw.split("\n\n")
        .filter_map(|block| parse_block(block, &raw))
        .collect()
}

fn parse_block(block: &str, raw: &str) -> Option<SseEvent> {
    let mut event = None;
    let mut data = Vec::new();
    for line in block.lines() {
        if line.is_empty() || line.starts_with(':') {
            continue;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = Some(value.to_owned()),
            "data" => data.push(value),
            "id" | "retry" => {}
            _ => panic!("unexpected SSE line {line:?} in {raw:?}"),
        }
    }
    if event.is_none() && data.is_empty() {
        return None;
    }
    Some(SseEvent {
        event,
        data: data.join("\n"),
    })
}

/// Reads a streamed response event by event, noting when each arrived.
pub struct EventReader {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    response: Option<reqwest::Response>,
    buffer: Vec<u8>,
    ready: VecDeque<(SseEvent, Instant)>,
    /// Everything received, for failure messages.
    raw: String,
}

impl EventReader {
    pub fn new(response: reqwest::Response) -> EventReader {
        EventReader {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            response: Some(response),
            buffer: Vec::new(),
            ready: VecDeque::new(),
            raw: String::new(),
        }
    }

    /// The next event and when it was received; `None` at the end of the
    /// stream.
    pub async fn next(&mut self) -> Option<(SseEvent, Instant)> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                return Some(event);
            }
            let response = self.response.as_mut()?;
            match response.chunk().await.expect("stream read") {
                Some(bytes) => {
                    let now = Instant::now();
                    self.raw.push_str(&String::from_utf8_lossy(&bytes));
                    self.buffer.extend_from_slice(&bytes);
                    while let Some(end) = find_blank_line(&self.buffer) {
                        let block: Vec<u8> = self.buffer.drain(..end.1).collect();
                        let text = String::from_utf8(block[..end.0].to_vec())
                            .expect("events are UTF-8")
                            .replace("\r\n", "\n");
                        if let Some(event) = parse_block(&text, &self.raw) {
                            self.ready.push_back((event, now));
                        }
                    }
                }
                None => {
                    self.response = None;
                    assert!(
                        String::from_utf8_lossy(&self.buffer).trim().is_empty(),
                        "stream ended inside an event: {:?}",
                        self.raw
                    );
                }
            }
        }
    }

    /// Every remaining event, to the end of the stream.
    pub async fn rest(&mut self) -> Vec<(SseEvent, Instant)> {
        let mut out = Vec::new();
        while let Some(event) = self.next().await {
            out.push(event);
        }
        out
    }

    /// The text received so far.
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Drops the connection, as a client that goes away.
    pub fn disconnect(&mut self) {
        self.response = None;
    }
}

/// `(end of the event, start of the next)` of the first event in `buf`.
fn find_blank_line(buf: &[u8]) -> Option<(usize, usize)> {
    let lf = buf
        .windows(2)
        .position(|w| w == b"\n\n")
        .map(|i| (i, i + 2));
    let crlf = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_events_parse() {
        let raw = "event: a\ndata: {\"x\":1}\n\n: comment\n\ndata: two\ndata: lines\n\n";
        let events = parse_events(raw);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].event.as_deref(), Some("a"));
        assert_eq!(events[0].json()["x"], 1);
        assert_eq!(events[1].event, None);
        assert_eq!(events[1].data, "two\nlines");
    }

    #[test]
    fn blank_lines_are_found() {
        assert_eq!(find_blank_line(b"a\n\nb"), Some((1, 3)));
        assert_eq!(find_blank_line(b"a\r\n\r\nb"), Some((1, 5)));
        assert_eq!(find_blank_line(b"a\nb"), None);
    }
}
