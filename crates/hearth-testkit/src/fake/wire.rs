//! Pieces both fakes build answers from: response builders, SSE framing,
//! how text and tool arguments are cut into deltas, and the replies that
//! look the same whatever the provider (HTML pages, garbage, empty bodies).

use super::body::FakeBody;
use super::script::Script;
use hyper::Response;
use hyper::body::Bytes;
use serde_json::Value;
use std::time::{SystemTime, UNIX_EPOCH};

/// A JSON response with this status.
pub(crate) fn json(status: u16, body: &Value) -> Response<FakeBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(FakeBody::full(body.to_string()))
        .expect("valid status")
}

/// An SSE response whose events go out `script.chunk_delay` apart.
pub(crate) fn sse(events: Vec<Bytes>, script: &Script) -> Response<FakeBody> {
    Response::builder()
        .status(200)
        .header("content-type", "text/event-stream; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(FakeBody::stream(events, script.chunk_delay))
        .expect("static response")
}

/// `data: {json}` followed by the blank line that ends an event.
pub(crate) fn data_event(data: &Value) -> Bytes {
    Bytes::from(format!("data: {data}\n\n"))
}

/// A named event: `event: name` then `data: {json}`.
pub(crate) fn named_event(name: &str, data: &Value) -> Bytes {
    Bytes::from(format!("event: {name}\ndata: {data}\n\n"))
}

/// Seconds since the epoch, for `created` fields.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Cuts text into the deltas a model would stream: one per word, each
/// word carrying the whitespace before it. Concatenated, they give `text`.
pub(crate) fn text_deltas(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    for ch in text.chars() {
        if ch.is_whitespace() && in_word {
            pieces.push(std::mem::take(&mut current));
            in_word = false;
        }
        if !ch.is_whitespace() {
            in_word = true;
        }
        current.push(ch);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

/// Cuts serialised tool arguments into about four fragments (at least two
/// when there are two characters), on character boundaries.
pub(crate) fn argument_fragments(arguments: &str) -> Vec<String> {
    let chars: Vec<char> = arguments.chars().collect();
    if chars.is_empty() {
        return Vec::new();
    }
    let size = chars.len().div_ceil(4).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

/// The arguments of a tool call as the JSON text OpenAI sends.
pub(crate) fn arguments_text(arguments: &Value) -> String {
    arguments.to_string()
}

/// 200 with an empty body of the type the client asked for.
pub(crate) fn empty(stream: bool) -> Response<FakeBody> {
    let content_type = if stream {
        "text/event-stream"
    } else {
        "application/json"
    };
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(FakeBody::full(Bytes::new()))
        .expect("static response")
}

/// The error page a reverse proxy answers with when its backend fails.
pub(crate) fn html(status: u16) -> Response<FakeBody> {
    let page = format!(
        "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n\
         <center><h1>{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    Response::builder()
        .status(status)
        .header("content-type", "text/html")
        .body(FakeBody::full(page))
        .expect("valid status")
}

/// A body that claims to be what the client asked for and is not.
pub(crate) fn garbage(stream: bool) -> Response<FakeBody> {
    let (content_type, body) = if stream {
        (
            "text/event-stream",
            "\u{1}\u{2}this is not an event stream\r\n<<<>>>\n",
        )
    } else {
        ("application/json", "{\"choices\": [ this is not json")
    };
    Response::builder()
        .status(200)
        .header("content-type", content_type)
        .body(FakeBody::full(body))
        .expect("static response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_deltas_rejoin_to_the_text() {
        for text in [
            "Hello from the fake upstream.",
            "  lead and trail  ",
            "one",
            "",
            "a\nb\tc",
        ] {
            let pieces = text_deltas(text);
            assert_eq!(pieces.concat(), text);
        }
        assert_eq!(text_deltas("Hello big world"), ["Hello", " big", " world"]);
    }

    #[test]
    fn argument_fragments_rejoin_and_split() {
        let args = r#"{"city":"Zürich","units":"metric"}"#;
        let fragments = argument_fragments(args);
        assert!(fragments.len() >= 2, "{fragments:?}");
        assert_eq!(fragments.concat(), args);
        assert_eq!(argument_fragments("{}").len(), 2);
        assert!(argument_fragments("").is_empty());
    }
}
