//! Resource ids: a short type prefix and a UUIDv7, e.g. `user_0192…`.
//!
//! UUIDv7 sorts by creation time, so ids double as a stable order for
//! cursor pagination and index locality.

/// The kinds of resource that carry a prefixed id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Org,
    User,
    ApiKey,
    Audit,
    Request,
    Usage,
    Response,
    Conversation,
    Message,
    FunctionCall,
    FunctionCallOutput,
    ToolCall,
    Call,
    ItemReference,
}

impl IdKind {
    /// The prefix that starts every id of this kind.
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Org => "org_",
            IdKind::User => "user_",
            IdKind::ApiKey => "key_",
            IdKind::Audit => "audit_",
            IdKind::Request => "req_",
            IdKind::Usage => "usage_",
            IdKind::Response => "resp_",
            IdKind::Conversation => "conv_",
            IdKind::Message => "msg_",
            IdKind::FunctionCall => "fc_",
            IdKind::FunctionCallOutput => "fco_",
            IdKind::ToolCall => "tc_",
            IdKind::Call => "call_",
            IdKind::ItemReference => "ref_",
        }
    }
}

/// Mints a new id of the given kind.
pub fn new_id(kind: IdKind) -> String {
    let uuid = uuid::Uuid::now_v7();
    let mut out = String::with_capacity(kind.prefix().len() + 32);
    out.push_str(kind.prefix());
    out.push_str(uuid.simple().encode_lower(&mut uuid::Uuid::encode_buffer()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_carry_their_prefix_and_sort_by_creation() {
        let a = new_id(IdKind::User);
        let b = new_id(IdKind::User);
        assert!(a.starts_with("user_"));
        assert_eq!(a.len(), "user_".len() + 32);
        assert!(a < b, "UUIDv7 ids must sort by creation time: {a} !< {b}");
    }
}
