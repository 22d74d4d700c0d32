//! Conversations, their items and stored responses, as the Responses API
//! ("Chat Actions") persists them.
//!
//! Items and responses are kept as the JSON the API shows (`body`), plus
//! the few columns the store needs to find, scope and order them.

use crate::time::UnixMillis;

/// A conversation: an ordered list of items that responses append to.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    pub id: String,
    pub org_id: String,
    /// Who created it.
    pub user_id: String,
    pub created_at: UnixMillis,
    /// The caller's key/value pairs, validated by the engine.
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// Whether an item was given to a response (input) or produced by it
/// (output).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Input,
    Output,
}

impl ItemKind {
    /// The stored text: `input` or `output`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ItemKind::Input => "input",
            ItemKind::Output => "output",
        }
    }

    /// The kind a stored text names, if any.
    pub fn parse(s: &str) -> Option<ItemKind> {
        match s {
            "input" => Some(ItemKind::Input),
            "output" => Some(ItemKind::Output),
            _ => None,
        }
    }
}

/// One item (message, function_call, function_call_output, tool call…) as
/// stored: the item's JSON, which carries its own `id` and `type`, plus
/// where it belongs.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredItem {
    /// The same id as `body["id"]`; unique across the instance.
    pub id: String,
    pub org_id: String,
    /// The conversation whose history the item is part of, if any.
    pub conversation_id: Option<String>,
    /// The response that took it as input or produced it, if any (items
    /// added through the conversations API belong to none).
    pub response_id: Option<String>,
    pub kind: ItemKind,
    /// Position: within the conversation, or within the response when there
    /// is no conversation. Assigned by the store, contiguous from 1.
    pub seq: i64,
    pub created_at: UnixMillis,
    pub body: serde_json::Value,
}

/// A stored response: the whole OpenAI Response object as `body`, plus what
/// the store needs to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredResponse {
    pub id: String,
    pub org_id: String,
    pub user_id: String,
    /// Set to `None` by the store when the conversation is deleted.
    pub conversation_id: Option<String>,
    pub previous_response_id: Option<String>,
    pub created_at: UnixMillis,
    pub body: serde_json::Value,
}

/// A new item to append; the store assigns its `seq`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewItem {
    pub id: String,
    pub response_id: Option<String>,
    pub kind: ItemKind,
    pub created_at: UnixMillis,
    pub body: serde_json::Value,
}

/// Which way a listing runs through `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    Asc,
    #[default]
    Desc,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_kinds_round_trip_through_their_stored_text() {
        for kind in [ItemKind::Input, ItemKind::Output] {
            assert_eq!(ItemKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(ItemKind::parse("Input"), None);
        assert_eq!(Order::default(), Order::Desc);
    }
}
