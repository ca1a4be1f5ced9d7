//! Throw-away PostgreSQL databases for tests: the store's own tests and the end-to-end
//! tests of `exp` on a PostgreSQL store.
//!
//! The server is named by `EXP_TEST_POSTGRES` (a URL whose role may create databases;
//! `scripts/pg-server.sh start DIR` starts one and prints it). Without it the PostgreSQL
//! tests skip with a printed reason, unless `EXP_REQUIRE_POSTGRES` is set (CI sets it),
//! when they fail: CI must never skip them.

use std::io::Write as _;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::location::PostgresUrl;

/// The environment variable naming the test server.
pub const SERVER_VAR: &str = "EXP_TEST_POSTGRES";

/// The environment variable that turns a missing server into a failure.
pub const REQUIRE_VAR: &str = "EXP_REQUIRE_POSTGRES";

/// A fresh, empty database on the test server, dropped (with any connections to it)
/// when this is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    admin: PostgresUrl,
    name: String,
    url: PostgresUrl,
}

impl ScratchDatabase {
    /// A new database for test `test`, or `None` (with a line on stderr saying why) when
    /// no server is configured and none is required.
    ///
    /// # Panics
    /// When a server is required but not configured, or cannot be reached: a test that
    /// claims PostgreSQL works must not pass without one.
    pub fn create(test: &str) -> Option<ScratchDatabase> {
        let Ok(admin) = std::env::var(SERVER_VAR) else {
            assert!(
                std::env::var_os(REQUIRE_VAR).is_none(),
                "{REQUIRE_VAR} is set but {SERVER_VAR} is not: start a server with \
                 scripts/pg-server.sh start DIR and set {SERVER_VAR} to the URL it prints"
            );
            // Straight to the process's stderr: libtest captures `eprintln!` of passing tests.
            let _ = writeln!(
                std::io::stderr(),
                "skipped {test}: no PostgreSQL server (set {SERVER_VAR}=postgres://…; \
                 scripts/pg-server.sh start DIR starts one and prints its URL)"
            );
            return None;
        };
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "exp_test_{}_{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = postgres::Client::connect(&admin, postgres::NoTls)
            .unwrap_or_else(|e| panic!("{SERVER_VAR}: cannot connect: {e}"));
        // One statement per call: CREATE DATABASE cannot run inside the implicit
        // transaction of a multi-statement query.
        for sql in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            client.batch_execute(&sql).unwrap_or_else(|e| {
                panic!(
                    "{SERVER_VAR}: `{sql}` failed: {}",
                    super::server::one_line(&e)
                )
            });
        }
        let url = with_database(&admin, &name);
        Some(ScratchDatabase {
            admin: PostgresUrl::from_str(&admin).expect("a postgres URL"),
            url: PostgresUrl::from_str(&url).expect("a postgres URL"),
            name,
        })
    }

    /// The database's URL (with the password).
    pub fn url(&self) -> &str {
        self.url.as_str()
    }

    /// The database's URL as a store location.
    pub fn postgres_url(&self) -> &PostgresUrl {
        &self.url
    }
}

impl Drop for ScratchDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(self.admin.as_str(), postgres::NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// `url` with its database name replaced by `name` (options kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, options) = match url.split_once('?') {
        Some((base, options)) => (base, format!("?{options}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let authority = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{authority}/{name}{options}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_name_is_replaced_and_options_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:1/exp?sslmode=disable", "t1"),
            "postgres://u:p@h:1/t1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "t2"), "postgres://u@h/t2");
    }
}
