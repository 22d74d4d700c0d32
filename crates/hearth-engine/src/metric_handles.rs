//! Metric handles kept by their label values.
//!
//! Registering a labelled metric builds and hashes its key and looks it up
//! under the registry's lock, which costs more than the counting. A
//! request-serving thread keeps the handles it has used in a [`Handles`]
//! (in a `thread_local!`), so a call only compares a few label values.

/// Distinct label sets one [`Handles`] keeps; past this, handles are
/// registered on every use (correct, only slower).
const KEPT: usize = 256;

/// Handles `H` by their label values `K`.
pub struct Handles<K, H> {
    kept: Vec<(K, H)>,
}

impl<K, H> Handles<K, H> {
    pub const fn new() -> Self {
        Handles { kept: Vec::new() }
    }

    /// Runs `use_them` with the handles whose labels `matches` recognises,
    /// registering them with `register` the first time.
    pub fn with(
        &mut self,
        matches: impl Fn(&K) -> bool,
        register: impl FnOnce() -> (K, H),
        use_them: impl FnOnce(&H),
    ) {
        if let Some((_, handles)) = self.kept.iter().find(|(labels, _)| matches(labels)) {
            return use_them(handles);
        }
        let (labels, handles) = register();
        use_them(&handles);
        if self.kept.len() < KEPT {
            self.kept.push((labels, handles));
        }
    }
}

impl<K, H> Default for Handles<K, H> {
    fn default() -> Self {
        Handles::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_registered_once_per_label_set_up_to_the_bound() {
        let mut handles = Handles::new();
        let mut registered = 0;
        let mut seen = Vec::new();
        for label in [1, 2, 1, 1, 2] {
            handles.with(
                |kept| *kept == label,
                || {
                    registered += 1;
                    (label, label * 10)
                },
                |h| seen.push(*h),
            );
        }
        assert_eq!(registered, 2);
        assert_eq!(seen, [10, 20, 10, 10, 20]);

        // Past the bound the handles still work, registered each time.
        let mut full = Handles::new();
        for label in 0..KEPT {
            full.with(|kept| *kept == label, || (label, label), |_| {});
        }
        let mut registered = 0;
        for _ in 0..2 {
            full.with(
                |kept| *kept == KEPT,
                || {
                    registered += 1;
                    (KEPT, KEPT)
                },
                |h| assert_eq!(*h, KEPT),
            );
        }
        assert_eq!(registered, 2);
    }
}
