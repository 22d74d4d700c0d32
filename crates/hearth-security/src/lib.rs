//! Hearth's enterprise controls: who is calling, what they may do, how
//! often, and the record of what they did.
//!
//! Architecture invariant: only this crate can construct a [`Principal`].
//! Everything that acts for a caller receives one from [`Authenticator`].

pub mod audit;
mod cache;
mod error;
pub mod keys;
mod principal;
pub mod ratelimit;

mod auth;

pub use auth::{AuthFailure, AuthOptions, Authenticator, KeyOwner};
pub use error::{AuthError, Denied};
pub use principal::Principal;
