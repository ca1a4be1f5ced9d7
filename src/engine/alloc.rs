//! Fallible allocation of parameter-sized buffers: a run whose tables, layers or optimiser
//! state cannot fit fails alone with a message, instead of aborting the whole process
//! (Rust's infallible `vec!` and candle's CPU allocations abort on failure).
//!
//! Sizes are multiplied with checked arithmetic, compared with the memory [`limit`]
//! before anything is allocated, and host buffers are reserved with
//! [`Vec::try_reserve_exact`], so a request the allocator refuses is an error too.

use candle_core::{Result, bail};

/// Environment variable capping the memory one grid point may use, in bytes. It lowers
/// the limit read from the system (never raises it); tests use it to exercise the memory
/// checks on small data.
pub const LIMIT_ENV: &str = "EXP_MEMORY_LIMIT_BYTES";

/// Where a memory limit comes from, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitSource {
    /// `MemAvailable` in `/proc/meminfo`.
    MemAvailable,
    /// [`LIMIT_ENV`].
    Environment,
}

/// A memory limit in bytes and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Bytes.
    pub bytes: u64,
    /// Where the number comes from.
    pub source: LimitSource,
}

impl std::fmt::Display for Limit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = match self.source {
            LimitSource::MemAvailable => "available (MemAvailable in /proc/meminfo)".to_string(),
            LimitSource::Environment => format!("allowed by {LIMIT_ENV}"),
        };
        write!(f, "{} {from}", human_bytes(u128::from(self.bytes)))
    }
}

/// The memory one run may use: the smaller of the system's available memory (Linux:
/// `MemAvailable`; elsewhere unknown) and [`LIMIT_ENV`]; `None` when neither is known.
/// A malformed [`LIMIT_ENV`] is ignored here; [`env_limit`] reports it.
pub fn limit() -> Option<Limit> {
    let system = mem_available().map(|bytes| Limit {
        bytes,
        source: LimitSource::MemAvailable,
    });
    let env = env_limit().ok().flatten().map(|bytes| Limit {
        bytes,
        source: LimitSource::Environment,
    });
    match (system, env) {
        (Some(s), Some(e)) if e.bytes < s.bytes => Some(e),
        (Some(s), _) => Some(s),
        (None, e) => e,
    }
}

/// [`LIMIT_ENV`] as a number of bytes: `Ok(None)` when unset or empty, an error naming
/// the variable when it is not a whole number.
pub fn env_limit() -> std::result::Result<Option<u64>, String> {
    let Some(value) = std::env::var_os(LIMIT_ENV) else {
        return Ok(None);
    };
    let value = value.to_string_lossy();
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    value
        .parse::<u64>()
        .map(Some)
        .map_err(|_| format!("{LIMIT_ENV} must be a whole number of bytes, got `{value}`"))
}

/// `MemAvailable` from `/proc/meminfo`, in bytes; `None` where there is no such file.
fn mem_available() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_mem_available(&text)
}

/// The `MemAvailable:  123 kB` line of a `/proc/meminfo` text, in bytes.
fn parse_mem_available(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut fields = line["MemAvailable:".len()..].split_whitespace();
    let value: u64 = fields.next()?.parse().ok()?;
    match fields.next() {
        Some("kB") => value.checked_mul(1024),
        None => Some(value),
        Some(_) => None,
    }
}

/// The number of elements of a buffer of shape `dims` named `what`, or an error when
/// the product overflows.
pub fn elements(what: &str, dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .map_or_else(
            || {
                bail!(
                    "{what}: a buffer of shape {dims:?} has more elements than memory can address"
                )
            },
            Ok,
        )
}

/// Checks that `bytes` for `what` fit under the memory [`limit`] (when one is known):
/// the guard before an allocation candle would otherwise abort on.
pub fn check(what: &str, bytes: u128) -> Result<()> {
    // Small buffers are not worth a look at the limit (this runs once per layer per batch).
    if bytes < SMALL {
        return Ok(());
    }
    if let Some(limit) = cached_limit()
        && bytes > u128::from(limit.bytes)
    {
        bail!("{what} needs {} but only {limit}", human_bytes(bytes));
    }
    Ok(())
}

/// Buffers below this many bytes pass [`check`] without a look at the limit.
const SMALL: u128 = 64 << 20;

/// [`limit`] as first read by this process: the guards run per batch, too often to read
/// `/proc/meminfo` each time, and they are there for sizes that cannot fit anywhere.
fn cached_limit() -> Option<Limit> {
    static LIMIT: std::sync::OnceLock<Option<Limit>> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(limit)
}

/// An empty vector with room for `n` values of `T`, for `what`: checked against the
/// [`limit`] and reserved fallibly, so a refused allocation is an error, not an abort.
pub fn vec_with_capacity<T>(what: &str, n: usize) -> Result<Vec<T>> {
    let bytes = (n as u128).saturating_mul(std::mem::size_of::<T>() as u128);
    check(what, bytes)?;
    reserve(what, n)
}

/// An empty vector with room for `n` values, or an error when the allocator refuses.
fn reserve<T>(what: &str, n: usize) -> Result<Vec<T>> {
    let bytes = (n as u128).saturating_mul(std::mem::size_of::<T>() as u128);
    let mut out = Vec::new();
    if out.try_reserve_exact(n).is_err() {
        bail!(
            "{what}: could not allocate {} (the system refused)",
            human_bytes(bytes)
        );
    }
    Ok(out)
}

/// `n` copies of `value` for `what`, allocated as [`vec_with_capacity`] does.
pub fn filled<T: Clone>(what: &str, n: usize, value: T) -> Result<Vec<T>> {
    let mut out = vec_with_capacity(what, n)?;
    out.resize(n, value);
    Ok(out)
}

/// Bytes in binary units with one decimal, e.g. `1.5 GiB`.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 7] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_available_is_read_in_kilobytes() {
        let text = "MemTotal:       16000000 kB\nMemFree:  100 kB\nMemAvailable:    2048 kB\n";
        assert_eq!(parse_mem_available(text), Some(2048 * 1024));
        assert_eq!(parse_mem_available("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_mem_available("MemAvailable: lots kB\n"), None);
    }

    #[test]
    fn overflowing_shapes_are_errors() {
        assert_eq!(elements("t", &[3, 4]).unwrap(), 12);
        let error = elements("user_factors", &[usize::MAX / 2, 3]).unwrap_err();
        assert!(error.to_string().contains("user_factors"), "{error}");
    }

    #[test]
    fn an_allocation_the_system_refuses_is_an_error_not_an_abort() {
        // 2^60 floats (4 EiB): more than any machine can give; `vec!` would abort here.
        let error = reserve::<f32>("user_factors", 1usize << 60).unwrap_err();
        assert!(error.to_string().contains("the system refused"), "{error}");
        let error = filled("user_factors", 1usize << 60, 0.0f32).unwrap_err();
        assert!(error.to_string().contains("user_factors"), "{error}");
    }

    #[test]
    fn human_bytes_uses_binary_units() {
        assert_eq!(human_bytes(512), "512 bytes");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(3 << 30), "3.0 GiB");
    }
}
