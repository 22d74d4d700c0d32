//! Reading a model's tool arguments: a JSON object whose members are checked
//! by name and type, so that every mistake is reported naming the argument.
//!
//! A member whose value is `null` counts as absent: models often spell an
//! omitted optional argument that way. A `null` in place of the whole object
//! counts as `{}` for the same reason.

use serde_json::{Map, Value};

use crate::ToolError;

/// The arguments of one call, checked to contain only `known` names.
pub(crate) struct Args<'a> {
    map: Option<&'a Map<String, Value>>,
}

impl<'a> Args<'a> {
    /// Checks that `value` is an object whose members are all in `known`.
    pub(crate) fn new(value: &'a Value, known: &[&str]) -> Result<Self, ToolError> {
        let map = match value {
            Value::Object(map) => map,
            Value::Null => return Ok(Self { map: None }),
            _ => return Err(invalid("the arguments must be a JSON object")),
        };
        if let Some(unknown) = map.keys().find(|key| !known.contains(&key.as_str())) {
            let expected = known
                .iter()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", ");
            return Err(invalid(&format!(
                "unknown argument `{}`; the arguments are {expected}",
                clip(unknown, 64)
            )));
        }
        Ok(Self { map: Some(map) })
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map?.get(name).filter(|value| !value.is_null())
    }

    /// A required string argument.
    pub(crate) fn string(&self, name: &str) -> Result<&'a str, ToolError> {
        self.opt_string(name)?
            .ok_or_else(|| invalid(&format!("missing required argument `{name}` (a string)")))
    }

    /// An optional string argument.
    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(wrong_type(name, "a string", other)),
        }
    }

    /// An optional boolean argument.
    pub(crate) fn opt_bool(&self, name: &str) -> Result<Option<bool>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(wrong_type(name, "a boolean", other)),
        }
    }

    /// An optional integer argument that must be at least 1.
    pub(crate) fn opt_positive(&self, name: &str) -> Result<Option<u64>, ToolError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(number)) => match number.as_u64() {
                Some(n) if n >= 1 => Ok(Some(n)),
                _ => Err(invalid(&format!(
                    "argument `{name}` must be an integer of at least 1, got {number}"
                ))),
            },
            Some(other) => Err(wrong_type(name, "an integer", other)),
        }
    }
}

fn invalid(message: &str) -> ToolError {
    ToolError::InvalidArguments(message.to_owned())
}

fn wrong_type(name: &str, expected: &str, got: &Value) -> ToolError {
    let got = match got {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    };
    invalid(&format!("argument `{name}` must be {expected}, not {got}"))
}

/// At most `max` characters of `text`, marked when shortened; for echoing
/// the model's input back without letting it bloat the message.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_typed_members_and_treats_null_as_absent() {
        let value = json!({"path": "a", "flag": true, "n": 3, "none": null});
        let args = Args::new(&value, &["path", "flag", "n", "none"]).unwrap();
        assert_eq!(args.string("path").unwrap(), "a");
        assert_eq!(args.opt_bool("flag").unwrap(), Some(true));
        assert_eq!(args.opt_positive("n").unwrap(), Some(3));
        assert_eq!(args.opt_string("none").unwrap(), None);
        assert!(Args::new(&Value::Null, &["path"]).is_ok());
    }

    #[test]
    fn errors_name_the_argument() {
        let value = json!({"path": 1, "n": 0, "m": -2, "f": "yes"});
        let args = Args::new(&value, &["path", "n", "m", "f", "q"]).unwrap();
        let message = |e: ToolError| e.to_string();
        assert!(message(args.string("path").unwrap_err()).contains("`path` must be a string"));
        assert!(message(args.opt_positive("n").unwrap_err()).contains("`n`"));
        assert!(message(args.opt_positive("m").unwrap_err()).contains("`m`"));
        assert!(message(args.opt_bool("f").unwrap_err()).contains("`f` must be a boolean"));
        assert!(message(args.string("q").unwrap_err()).contains("missing required argument `q`"));
    }

    #[test]
    fn rejects_unknown_members_and_non_objects() {
        let error = Args::new(&json!({"path": "a", "bogus": 1}), &["path"])
            .err()
            .unwrap();
        assert!(error.to_string().contains("unknown argument `bogus`"));
        assert!(matches!(
            Args::new(&json!(["a"]), &["path"]),
            Err(ToolError::InvalidArguments(_))
        ));
    }

    #[test]
    fn clip_shortens_on_a_char_boundary() {
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("hi", 2), "hi");
    }
}
