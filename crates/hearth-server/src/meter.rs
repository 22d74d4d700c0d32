//! Per-call metering of model calls.
//!
//! The gate puts a [`Meter`] into every request. A model handler fills in
//! what it learns — the model, the tokens charged up front, the usage the
//! upstream reports, and for streams a count of forwarded chunks — and the
//! gate reads it when the response is finished (or abandoned) to settle
//! the token limit and write the audit and usage records.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hearth_engine::gateway::TokenCharge;
use hearth_providers::Usage;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

/// Shared between the handler, the stream relay and the gate. Cheap to
/// clone.
#[derive(Clone, Default)]
pub struct Meter(Arc<Mutex<MeterState>>);

#[derive(Default)]
struct MeterState {
    model: Option<String>,
    charge: Option<TokenCharge>,
    reported: Option<Usage>,
    /// Content chunks relayed so far: the completion estimate (about one
    /// token per chunk) when the upstream never reports usage.
    chunks: u64,
}

/// The metered facts of a finished call.
#[derive(Debug, Clone)]
pub struct Metered {
    pub model: String,
    pub charge: Option<TokenCharge>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Whether the counts are Hearth's estimate rather than the upstream's.
    pub estimated: bool,
    /// Whether the call reached a model, so its usage is recorded.
    pub used: bool,
}

impl Meter {
    fn with<R>(&self, f: impl FnOnce(&mut MeterState) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The model the client asked for (canonical once resolved).
    pub fn set_model(&self, model: impl Into<String>) {
        let model = model.into();
        self.with(|s| s.model = Some(model));
    }

    /// The tokens charged before the call, to settle at the end.
    pub fn set_charge(&self, charge: TokenCharge) {
        self.with(|s| s.charge = Some(charge));
    }

    /// Usage as the upstream reported it.
    pub fn report(&self, usage: Usage) {
        self.with(|s| s.reported = Some(usage));
    }

    /// One more content chunk went to the client.
    pub fn count_chunk(&self) {
        self.with(|s| s.chunks += 1);
    }

    /// What was metered, if the call named a model. Takes the charge, so a
    /// call is settled once.
    pub fn finish(&self) -> Option<Metered> {
        self.with(|s| {
            let model = s.model.clone()?;
            let charge = s.charge.take();
            let (input, output, estimated) = match s.reported {
                Some(u) => (u.prompt_tokens, u.completion_tokens, false),
                // Reached a model but never heard its usage: the prompt
                // estimate charged up front, and one token per chunk.
                None if charge.is_some() => {
                    (charge.as_ref().map_or(0, |c| c.charged), s.chunks, true)
                }
                None => {
                    return Some(Metered {
                        model,
                        charge: None,
                        input_tokens: 0,
                        output_tokens: 0,
                        estimated: false,
                        used: false,
                    });
                }
            };
            // A Chat Actions run settles its own charges per model call and
            // reports only the total; a gateway call hands its charge over.
            let used = charge.is_some()
                || s.reported
                    .is_some_and(|u| u.prompt_tokens + u.completion_tokens > 0);
            Some(Metered {
                model,
                charge,
                input_tokens: input,
                output_tokens: output,
                estimated,
                used,
            })
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Meter {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Meter>().cloned().unwrap_or_default())
    }
}
