//! [`Deadline`]: the instant a blocking tool run must give up by.
//!
//! The async side abandons a run when its timeout fires, but a thread in
//! `spawn_blocking` cannot be cancelled; the run checks its deadline in
//! every loop so that the thread also stops soon after.

use std::time::{Duration, Instant};

use crate::ToolError;

/// When a tool run must stop; `None` when the timeout is too large to
/// represent, which means "never".
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline(Option<Instant>);

impl Deadline {
    /// The deadline `timeout` from now.
    pub(crate) fn after(timeout: Duration) -> Self {
        Self(Instant::now().checked_add(timeout))
    }

    /// Fails with [`ToolError::Timeout`] once the deadline has passed.
    pub(crate) fn check(self) -> Result<(), ToolError> {
        match self.0 {
            Some(at) if Instant::now() >= at => Err(ToolError::Timeout),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_before_and_fails_after() {
        assert!(Deadline::after(Duration::from_secs(60)).check().is_ok());
        assert_eq!(
            Deadline::after(Duration::ZERO).check(),
            Err(ToolError::Timeout)
        );
        assert!(Deadline::after(Duration::MAX).check().is_ok());
    }
}
