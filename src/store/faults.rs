//! Databases that cannot be used as usual: read-only ones, and damaged ones.
//!
//! - **Read-only.** Commands that only read (`status`, `compare`, `report`, `runs`,
//!   `export`, `recommend`, `similar`) open the database with SQLite's read-only flag
//!   ([`read_only_connection`]), so they work on a file without write permission, in a
//!   directory without it, or on a read-only filesystem. A WAL database needs its `-shm`
//!   index beside it; where that cannot be created the file is opened `immutable` (SQLite
//!   then reads the main file as it is, which is exact once no writer is left, as on a
//!   read-only copy). Commands that write say that the database is read-only, and why
//!   ([`read_only_reason`]), instead of SQLite's `unable to open database file`.
//! - **Damaged.** A page overwritten by a disk or copy fault surfaces as SQLite's
//!   `database disk image is malformed`, or (damage inside a row) as text that is not
//!   UTF-8 or a value of the wrong type ([`damage`]); the store then says the database is
//!   damaged, with `PRAGMA integrity_check`'s verdict ([`integrity_verdict`]).

use std::path::Path;

use rusqlite::types::Type;
use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::BUSY_TIMEOUT;
use super::db::DbError;

/// Opens `path` read-only; it must exist. Falls back to an `immutable` open when the
/// WAL index cannot be created beside the file (a read-only directory or filesystem).
pub(crate) fn read_only_connection(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // The first read is what needs the WAL index.
    match conn.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0)) {
        Ok(_) => Ok(conn),
        Err(error)
            if matches!(
                error.sqlite_error_code(),
                Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly)
            ) =>
        {
            drop(conn);
            let uri = format!("file:{}?immutable=1", uri_path(path));
            let conn = Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)?;
            conn.busy_timeout(BUSY_TIMEOUT)?;
            Ok(conn)
        }
        Err(error) => Err(error),
    }
}

/// `path` as the path part of an SQLite `file:` URI: every byte outside the unreserved
/// set and `/` percent-encoded (so `?`, `#` and `%` in a name cannot end the path).
fn uri_path(path: &Path) -> String {
    let text = path.to_string_lossy();
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Why the database at `path` cannot be written here, if it cannot: the file is not
/// writable, its directory is not (SQLite creates `-wal` and `-shm` files beside it), or
/// the filesystem is read-only. `None` when it looks writable (or does not exist yet).
pub(crate) fn read_only_reason(path: &Path) -> Option<String> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match writable(path) {
        Err(Denied::ReadOnlyFs) => return Some("it is on a read-only filesystem".into()),
        Err(Denied::Permission) => return Some("there is no write permission on it".into()),
        Ok(()) => {}
    }
    match writable(dir) {
        Err(Denied::ReadOnlyFs) => Some("it is on a read-only filesystem".into()),
        Err(Denied::Permission) => Some(format!(
            "its directory `{}` is not writable, and SQLite must create `-wal` and `-shm` \
             files beside it",
            dir.display()
        )),
        Ok(()) => None,
    }
}

/// Why a path may not be written.
enum Denied {
    /// The filesystem is mounted read-only.
    ReadOnlyFs,
    /// The permission bits (or an ACL) forbid it.
    Permission,
}

/// Whether this process may write `path` (an existing path; a missing one counts as
/// writable, since nothing can be said about it).
fn writable(path: &Path) -> Result<(), Denied> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let Ok(c_path) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
            return Ok(());
        };
        // SAFETY: a valid NUL-terminated path; access only reads it.
        if unsafe { libc::access(c_path.as_ptr(), libc::W_OK) } == 0 {
            return Ok(());
        }
        match std::io::Error::last_os_error().raw_os_error() {
            Some(libc::EROFS) => Err(Denied::ReadOnlyFs),
            Some(libc::EACCES | libc::EPERM) => Err(Denied::Permission),
            _ => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        match std::fs::metadata(path) {
            Ok(m) if m.permissions().readonly() => Err(Denied::Permission),
            _ => Ok(()),
        }
    }
}

/// Whether SQLite refused a write because the database (or where it lives) is read-only.
pub(crate) fn is_read_only_error(error: &rusqlite::Error) -> bool {
    matches!(
        error.sqlite_error_code(),
        Some(ErrorCode::ReadOnly | ErrorCode::CannotOpen)
    )
}

/// What in `error` says the database file is damaged, if anything does: SQLite's own
/// corruption codes, or a stored value exp never writes (text that is not UTF-8, a value
/// of another type than its column's) — what a row overwritten in place reads back as.
pub(crate) fn damage(error: &DbError) -> Option<String> {
    let error = match error {
        DbError::Sqlite(error) => error,
        DbError::Column {
            index,
            expected,
            found,
        } => {
            return Some(format!(
                "column {index} of a row holds a {found} value where exp writes {expected}"
            ));
        }
        DbError::Postgres(_) => return None,
    };
    match error {
        rusqlite::Error::SqliteFailure(e, message)
            if matches!(e.code, ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase) =>
        {
            Some(format!(
                "SQLite reports: {}",
                message.clone().unwrap_or_else(|| e.to_string())
            ))
        }
        rusqlite::Error::FromSqlConversionFailure(column, Type::Text, cause) => Some(format!(
            "column {column} of a row holds text that is not UTF-8 ({cause})"
        )),
        rusqlite::Error::Utf8Error(column, cause) => Some(format!(
            "column {column} of a row holds text that is not UTF-8 ({cause})"
        )),
        rusqlite::Error::InvalidColumnType(column, name, found) => Some(format!(
            "column {column} (`{name}`) of a row holds a {found} value, which exp never writes \
             there"
        )),
        _ => None,
    }
}

/// The first lines of `PRAGMA integrity_check` on the database at `path`, joined with
/// `; ` (`ok` when SQLite finds the structure intact: damage inside a row's bytes can
/// leave it so), or why it could not be run.
pub(crate) fn integrity_verdict(path: &Path) -> String {
    if path == Path::new(":memory:") {
        return "not run (in-memory database)".into();
    }
    if !path.is_file() {
        return "not run (not an SQLite file)".into();
    }
    let verdict = (|| -> rusqlite::Result<Vec<String>> {
        let conn = read_only_connection(path)?;
        let mut stmt = conn.prepare("PRAGMA integrity_check(5)")?;
        let rows = stmt.query_map([], |row| row.get::<_, String>(0))?;
        rows.collect()
    })();
    match verdict {
        Ok(lines) if lines.is_empty() => "no answer".into(),
        Ok(lines) => lines.join("; "),
        Err(error) => format!("it could not run ({error})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_paths_escape_what_would_end_the_path() {
        assert_eq!(
            uri_path(Path::new("/a b/r?x#1%.db")),
            "/a%20b/r%3Fx%231%25.db"
        );
        assert_eq!(uri_path(Path::new("rel/exp.sqlite")), "rel/exp.sqlite");
    }

    #[test]
    fn text_that_is_not_utf8_counts_as_damage_and_a_busy_database_does_not() {
        let conn = Connection::open_in_memory().unwrap();
        let error = conn
            .query_row("SELECT CAST(x'ff41' AS TEXT)", [], |r| {
                r.get::<_, String>(0)
            })
            .unwrap_err();
        assert!(
            damage(&DbError::from(error)).is_some_and(|d| d.contains("not UTF-8")),
            "a non-UTF-8 text value"
        );
        let busy = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            None,
        );
        assert_eq!(damage(&busy.into()), None);
    }
}
