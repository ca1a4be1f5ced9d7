//! Where the tests find the real data sets that may not be committed (MovieLens 100K and
//! 1M, the Amazon samples), and what they do when those are absent.
//!
//! The data sit in `../shared/data` beside the checkout, or wherever `$EXP_SHARED_DATA`
//! points. On a bare clone they are missing: a test that needs them prints one line on
//! stderr (outside the test harness's capture, so `cargo test` shows it) naming itself
//! and the missing path, and returns early. With `EXP_REQUIRE_SHARED_DATA=1`, as CI sets
//! it, a missing path fails the test instead, so CI can never skip one silently.
//!
//! This file is compiled into the library's unit tests (`#[cfg(test)]`) and included by
//! the integration tests (`tests/common`), so both follow the same rule.

use std::io::Write;
use std::path::{Path, PathBuf};

/// The variable that points at the folder holding `ml-100k/`, `ml-1m/`, `amazon/`, ….
pub const DATA_VAR: &str = "EXP_SHARED_DATA";

/// The variable that turns a skip into a failure (CI sets it to `1`).
pub const REQUIRE_VAR: &str = "EXP_REQUIRE_SHARED_DATA";

/// The folder holding the real data sets: `$EXP_SHARED_DATA`, else `../shared/data`
/// beside the crate.
pub fn root() -> PathBuf {
    std::env::var_os(DATA_VAR)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

/// `root()/path` when it exists. Otherwise the calling test should return at once: this
/// prints the skip line and gives `None`, or panics when [`REQUIRE_VAR`] is set.
pub fn require(path: &str) -> Option<PathBuf> {
    let full = root().join(path);
    if full.exists() {
        return Some(full);
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    let why = format!(
        "`{}` is missing (the real data sets are not redistributable: point {DATA_VAR} at \
         a folder holding ml-100k/, ml-1m/ and amazon/, see README)",
        full.display()
    );
    if std::env::var_os(REQUIRE_VAR).is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("{test}: {why}; {REQUIRE_VAR} is set, so this is a failure, not a skip");
    }
    // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
    let _ = writeln!(std::io::stderr(), "skipped {test}: {why}");
    None
}
