//! Time as Hearth stores it: milliseconds since the Unix epoch, UTC.

/// Milliseconds since the Unix epoch. Every stored timestamp uses this unit.
pub type UnixMillis = i64;

/// Converts stored milliseconds to the whole Unix seconds that
/// OpenAI-shaped endpoints show.
pub const fn millis_to_secs(ms: UnixMillis) -> i64 {
    ms.div_euclid(1000)
}

/// The current wall-clock time in milliseconds since the Unix epoch.
pub fn now_millis() -> UnixMillis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
