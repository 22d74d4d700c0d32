//! An incremental decoder for server-sent events, fed with network chunks
//! as they arrive.
//!
//! It follows the WHATWG event-stream rules that upstream LLM APIs rely on:
//! `\n`, `\r\n` and `\r` line endings; events split across chunks; several
//! `data:` lines joined with `\n`; comment lines (`: keep-alive`) ignored;
//! `id:` and `retry:` ignored. One deliberate leniency: an event still
//! pending when the body ends is dispatched rather than dropped, since some
//! servers omit the final blank line.
//!
//! A single-line `data:` payload is a slice of the received bytes, so the
//! openai passthrough can forward it without copying or re-serialising.

use bytes::{Buf, Bytes, BytesMut};

/// The largest event (or line) accepted; an upstream that sends more
/// without a line break is broken or hostile.
pub(crate) const MAX_EVENT_BYTES: usize = 16 * 1024 * 1024;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SseEvent {
    /// The `event:` field, if any.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: Bytes,
}

/// The event is larger than [`MAX_EVENT_BYTES`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct TooLarge;

/// Decoder state between chunks.
#[derive(Debug, Default)]
pub(crate) struct SseDecoder {
    /// Bytes received and not yet consumed as whole lines.
    buf: BytesMut,
    /// How far `buf` has been searched for a line end without finding one.
    scanned: usize,
    /// The last line ended in `\r`; a `\n` first in the next chunk belongs to it.
    after_cr: bool,
    /// `event:` of the event being assembled.
    event: Option<String>,
    /// `data:` lines of the event being assembled.
    data: Vec<Bytes>,
    /// Size of `data`, to bound it.
    data_len: usize,
}

impl SseDecoder {
    /// Appends a network chunk.
    pub(crate) fn feed(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
    }

    /// The next complete event, if the bytes fed so far hold one.
    pub(crate) fn next_event(&mut self) -> Result<Option<SseEvent>, TooLarge> {
        while let Some(line) = self.next_line() {
            if let Some(event) = self.line(line) {
                return Ok(Some(event));
            }
            if self.data_len > MAX_EVENT_BYTES {
                return Err(TooLarge);
            }
        }
        if self.buf.len() > MAX_EVENT_BYTES {
            return Err(TooLarge);
        }
        Ok(None)
    }

    /// Call when the body has ended: the last event, if one was pending
    /// (an unterminated last line included).
    pub(crate) fn finish(&mut self) -> Option<SseEvent> {
        if !self.buf.is_empty() {
            let line = self.buf.split().freeze();
            self.scanned = 0;
            if let Some(event) = self.line(line) {
                return Some(event);
            }
        }
        self.dispatch()
    }

    /// Takes the next whole line off the buffer, without its terminator.
    fn next_line(&mut self) -> Option<Bytes> {
        if self.after_cr && !self.buf.is_empty() {
            self.after_cr = false;
            if self.buf[0] == b'\n' {
                self.buf.advance(1);
            }
        }
        let found = self.buf[self.scanned..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r');
        let Some(offset) = found else {
            self.scanned = self.buf.len();
            return None;
        };
        let end = self.scanned + offset;
        self.scanned = 0;
        let line = self.buf.split_to(end).freeze();
        let terminator = self.buf[0];
        self.buf.advance(1);
        if terminator == b'\r' {
            match self.buf.first() {
                Some(b'\n') => self.buf.advance(1),
                Some(_) => {}
                None => self.after_cr = true,
            }
        }
        Some(line)
    }

    /// Applies one line; returns an event when the line is blank and ends one.
    fn line(&mut self, line: Bytes) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line[0] == b':' {
            return None;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(colon) => {
                let start = if line.get(colon + 1) == Some(&b' ') {
                    colon + 2
                } else {
                    colon + 1
                };
                (line.slice(..colon), line.slice(start..))
            }
            None => (line.clone(), Bytes::new()),
        };
        match &field[..] {
            b"data" => {
                self.data_len += value.len() + 1;
                self.data.push(value);
            }
            b"event" => self.event = Some(String::from_utf8_lossy(&value).into_owned()),
            _ => {}
        }
        None
    }

    /// Ends the event being assembled; `None` if it had no data.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        self.data_len = 0;
        let data = match self.data.len() {
            0 => return None,
            1 => self.data.pop().unwrap_or_default(),
            _ => {
                let joined = self.data.join(&b'\n');
                self.data.clear();
                Bytes::from(joined)
            }
        };
        Some(SseEvent { event, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], piece: usize) -> Vec<SseEvent> {
        let mut decoder = SseDecoder::default();
        let mut events = Vec::new();
        for chunk in input.chunks(piece) {
            decoder.feed(chunk);
            while let Some(event) = decoder.next_event().unwrap() {
                events.push(event);
            }
        }
        events.extend(decoder.finish());
        events
    }

    fn ev(event: Option<&str>, data: &str) -> SseEvent {
        SseEvent {
            event: event.map(str::to_owned),
            data: Bytes::copy_from_slice(data.as_bytes()),
        }
    }

    const AWKWARD: &[u8] = b": keep-alive\r\n\r\nevent: message_start\r\ndata: {\"a\":1}\r\n\r\ndata: first\ndata:second\n\nid: 7\nretry: 10\ndata: {\"b\":\"\xc3\xa9\"}\r\rdata: [DONE]\n\n";

    #[test]
    fn every_split_gives_the_same_events() {
        let expected = vec![
            ev(Some("message_start"), "{\"a\":1}"),
            ev(None, "first\nsecond"),
            ev(None, "{\"b\":\"é\"}"),
            ev(None, "[DONE]"),
        ];
        for piece in 1..=AWKWARD.len() {
            assert_eq!(decode_in_pieces(AWKWARD, piece), expected, "piece {piece}");
        }
    }

    #[test]
    fn any_two_cuts_give_the_same_events() {
        let expected = decode_in_pieces(AWKWARD, AWKWARD.len());
        for a in 0..AWKWARD.len() {
            for b in a..AWKWARD.len() {
                let mut decoder = SseDecoder::default();
                let mut events = Vec::new();
                for piece in [&AWKWARD[..a], &AWKWARD[a..b], &AWKWARD[b..]] {
                    decoder.feed(piece);
                    while let Some(event) = decoder.next_event().unwrap() {
                        events.push(event);
                    }
                }
                events.extend(decoder.finish());
                assert_eq!(events, expected, "cuts at {a} and {b}");
            }
        }
    }

    #[test]
    fn crlf_split_between_chunks_is_one_line_end() {
        let mut decoder = SseDecoder::default();
        decoder.feed(b"data: x\r");
        assert_eq!(decoder.next_event().unwrap(), None);
        decoder.feed(b"\n\r");
        assert_eq!(decoder.next_event().unwrap(), Some(ev(None, "x")));
        decoder.feed(b"\ndata: y\n\n");
        assert_eq!(decoder.next_event().unwrap(), Some(ev(None, "y")));
    }

    #[test]
    fn event_without_final_blank_line_is_kept_at_the_end() {
        assert_eq!(
            decode_in_pieces(b"data: {\"x\":1}\n\ndata: [DONE]", 5),
            vec![ev(None, "{\"x\":1}"), ev(None, "[DONE]")]
        );
    }

    #[test]
    fn event_type_is_reset_between_events_and_blank_events_are_skipped() {
        assert_eq!(
            decode_in_pieces(b"event: ping\n\nevent: error\ndata: {}\n\ndata: z\n\n", 3),
            vec![ev(Some("error"), "{}"), ev(None, "z")]
        );
    }

    #[test]
    fn oversized_line_is_refused() {
        let mut decoder = SseDecoder::default();
        decoder.feed(b"data: ");
        decoder.feed(&vec![b'x'; MAX_EVENT_BYTES + 1]);
        assert_eq!(decoder.next_event(), Err(TooLarge));
    }
}
