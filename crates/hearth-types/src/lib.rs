//! Wire and domain types shared by every Hearth layer.
//!
//! Architecture invariant: this crate does no I/O. It holds plain data and
//! the rules that need nothing but that data (which role may do what, how an
//! id looks), so every other layer can agree on them without depending on
//! each other.

pub mod admin;
pub mod audit;
pub mod conversation;
pub mod id;
pub mod identity;
pub mod role;
pub mod time;
pub mod usage;

pub use audit::{AuditEntry, AuditFilter};
pub use identity::{ApiKey, Org, User};
pub use role::{Permission, Role};
