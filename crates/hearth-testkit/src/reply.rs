//! [`Reply`]: a response read whole, with checks for the error envelope
//! every Hearth error uses.

use reqwest::header::HeaderMap;
use serde_json::Value;

/// A response: status, headers and body (JSON when it parses, else the
/// text as a JSON string).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Reads a response whole.
    pub async fn read(resp: reqwest::Response) -> Reply {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("response body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// A header as text, if present and printable.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `x-request-id` header, which every response must carry.
    pub fn request_id(&self) -> &str {
        let id = self.header("x-request-id").unwrap_or_else(|| {
            panic!(
                "no x-request-id on a {} response: {}",
                self.status, self.body
            )
        });
        assert!(!id.is_empty(), "empty x-request-id");
        id
    }

    /// Asserts the status, panicking with the body otherwise.
    pub fn expect_status(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.body
        );
        &self.body
    }

    /// Asserts an error response: this status, a JSON body of exactly
    /// `{"error":{"message","type","param","code"},"message"}` with the two
    /// messages equal and non-empty, `type` equal to `kind`, and an
    /// `x-request-id`. Returns the inner `error` object.
    pub fn expect_error(&self, status: u16, kind: &str) -> &Value {
        self.expect_status(status);
        let ct = self.header("content-type").unwrap_or("");
        assert!(
            ct.starts_with("application/json"),
            "error content-type {ct:?}"
        );
        let top = self
            .body
            .as_object()
            .unwrap_or_else(|| panic!("error body is not an object: {}", self.body));
        let mut top_keys: Vec<&str> = top.keys().map(String::as_str).collect();
        top_keys.sort_unstable();
        assert_eq!(
            top_keys,
            ["error", "message"],
            "envelope keys of {}",
            self.body
        );
        let error = &self.body["error"];
        let inner = error
            .as_object()
            .unwrap_or_else(|| panic!("'error' is not an object: {}", self.body));
        let mut inner_keys: Vec<&str> = inner.keys().map(String::as_str).collect();
        inner_keys.sort_unstable();
        assert_eq!(
            inner_keys,
            ["code", "message", "param", "type"],
            "error keys of {}",
            self.body
        );
        let message = error["message"]
            .as_str()
            .expect("error.message is a string");
        assert!(!message.is_empty(), "empty error message");
        assert_eq!(
            self.body["message"], error["message"],
            "top-level message differs: {}",
            self.body
        );
        assert_eq!(error["type"], kind, "error type of {}", self.body);
        assert!(
            error["param"].is_null() || error["param"].is_string(),
            "param: {}",
            self.body
        );
        assert!(
            error["code"].is_null() || error["code"].is_string(),
            "code: {}",
            self.body
        );
        self.request_id();
        error
    }

    /// Asserts a 401 in the envelope with a `www-authenticate` challenge.
    pub fn expect_unauthorized(&self) -> &Value {
        let error = self.expect_error(401, "authentication_error");
        assert!(
            self.header("www-authenticate")
                .is_some_and(|v| v.starts_with("Bearer")),
            "401 without a Bearer www-authenticate: {:?}",
            self.headers
        );
        error
    }
}
