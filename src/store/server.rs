//! Connecting to a PostgreSQL store, with failures said in one line.

use std::str::FromStr;
use std::time::Duration;

use super::StoreError;
use super::location::PostgresUrl;

/// How long a connection attempt may take before exp gives up on the server.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects to `url` (without TLS; a server that requires TLS refuses, and says so).
pub(crate) fn connect(url: &PostgresUrl) -> Result<postgres::Client, StoreError> {
    let refused = |reason: String| StoreError::Connect {
        url: url.redacted(),
        reason,
    };
    let mut config = postgres::Config::from_str(url.as_str()).map_err(|e| refused(one_line(&e)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if config.get_application_name().is_none() {
        config.application_name("exp");
    }
    config
        .connect(postgres::NoTls)
        .map_err(|e| refused(one_line(&e)))
}

/// A client error as one line: the server's own message (`password authentication
/// failed for user "exp"`) when it sent one, else the error and its causes.
pub fn one_line(error: &postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}
