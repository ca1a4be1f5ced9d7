//! The one seam between the store and its database engine.
//!
//! The store's queries are written once, in the SQL both engines read, with SQLite's
//! numbered placeholders (`?1`) and the token `{now}` for the current time as ISO-8601 UTC
//! text with milliseconds (the format of every time column). [`Db`] runs them on
//!
//! - **SQLite** (a file on one host, the default): as written;
//! - **PostgreSQL** (a server that workers on several hosts share): placeholders become
//!   `$1`, `{now}` becomes PostgreSQL's clock in the same format.
//!
//! Values cross the seam as [`Value`]s and come back as [`Row`]s, so the store never sees
//! either client's types. What the engines do differently beyond the text of a query
//! (how a transaction locks, how long ago a time was) is asked of the [`Dialect`].

use std::borrow::Cow;
use std::sync::{Mutex, MutexGuard};

use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Which engine a query runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// SQLite, through rusqlite.
    Sqlite,
    /// PostgreSQL, through the `postgres` client.
    Postgres,
}

impl Dialect {
    /// SQL for the current time as ISO-8601 UTC text with milliseconds.
    pub(crate) fn now(self) -> &'static str {
        match self {
            Dialect::Sqlite => "strftime('%Y-%m-%dT%H:%M:%fZ','now')",
            Dialect::Postgres => {
                "to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
            }
        }
    }

    /// SQL for the seconds from the time text `earlier` to the time text `later` (both SQL
    /// expressions; `{now}` for the current time), as a double.
    pub(crate) fn seconds_between(self, later: &str, earlier: &str) -> String {
        match self {
            Dialect::Sqlite => format!("((julianday({later}) - julianday({earlier})) * 86400.0)"),
            Dialect::Postgres => format!(
                "(EXTRACT(EPOCH FROM (CAST({later} AS timestamptz) - CAST({earlier} AS timestamptz))))::float8"
            ),
        }
    }

    /// What a `SELECT` that decides whether to claim a row ends with: PostgreSQL locks the
    /// row, skipping it when another transaction holds it (that one is claiming it now);
    /// SQLite needs nothing, its write transactions already run one at a time.
    pub(crate) fn claim_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR UPDATE SKIP LOCKED",
        }
    }

    /// What a `SELECT` of a row this transaction will write ends with: PostgreSQL locks
    /// it until the commit (waiting for another holder); SQLite needs nothing.
    pub(crate) fn write_lock(self) -> &'static str {
        match self {
            Dialect::Sqlite => "",
            Dialect::Postgres => " FOR NO KEY UPDATE",
        }
    }

    /// `sql` as this engine reads it: `{now}` replaced, and for PostgreSQL `?N` written
    /// `$N` (outside quoted text).
    pub(crate) fn translate(self, sql: &str) -> Cow<'_, str> {
        let sql = if sql.contains("{now}") {
            Cow::Owned(sql.replace("{now}", self.now()))
        } else {
            Cow::Borrowed(sql)
        };
        match self {
            Dialect::Sqlite => sql,
            Dialect::Postgres if !sql.contains('?') => sql,
            Dialect::Postgres => {
                let mut out = String::with_capacity(sql.len());
                let mut quoted = false;
                let mut chars = sql.chars().peekable();
                while let Some(c) = chars.next() {
                    if c == '\'' {
                        quoted = !quoted;
                    }
                    if c == '?' && !quoted && chars.peek().is_some_and(char::is_ascii_digit) {
                        out.push('$');
                    } else {
                        out.push(c);
                    }
                }
                Cow::Owned(out)
            }
        }
    }
}

/// A value bound to a query or read from a row: what both engines store.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// SQL NULL (also what a NaN float is stored as, on both engines).
    Null,
    /// A 64-bit integer.
    Int(i64),
    /// A double.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

impl Value {
    /// What kind of value this is, for errors.
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "integer",
            Value::Real(_) => "real",
            Value::Text(_) => "text",
            Value::Blob(_) => "blob",
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Value {
        Value::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Value {
        Value::Int(i64::from(v))
    }
}

impl From<usize> for Value {
    /// Counts past `i64::MAX` cannot occur; saturating keeps the conversion panic-free.
    fn from(v: usize) -> Value {
        Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
    }
}

impl From<f64> for Value {
    /// NaN is stored as NULL, as SQLite does, so that both engines store the same rows
    /// (and `MIN`/`AVG` skip a diverged epoch on both); readers turn NULL back into NaN.
    fn from(v: f64) -> Value {
        if v.is_nan() {
            Value::Null
        } else {
            Value::Real(v)
        }
    }
}

impl From<f32> for Value {
    fn from(v: f32) -> Value {
        Value::from(f64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Text(v.clone())
    }
}

impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Value {
        Value::Blob(v)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Null, Into::into)
    }
}

/// Query parameters: `params![a, b]` is `&[Value::from(a), Value::from(b)]`.
macro_rules! params {
    ($($value:expr),* $(,)?) => {
        &[$($crate::store::db::Value::from($value)),*][..]
    };
}
pub(crate) use params;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite's error.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL's (or the connection's) error, shown with the server's own message
    /// (the client's `Display` alone says only `db error`).
    #[error("{}", super::server::one_line(.0))]
    Postgres(#[from] postgres::Error),
    /// A column holds a value of a kind exp never writes there.
    #[error("column {index} holds a {found} value where exp writes {expected}")]
    Column {
        /// 0-based column.
        index: usize,
        /// What was expected, e.g. `an integer`.
        expected: &'static str,
        /// What was found, e.g. `text`.
        found: &'static str,
    },
}

/// One result row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Row(Vec<Value>);

impl Row {
    /// Column `index` as `T`; [`DbError::Column`] when it holds another kind of value.
    pub(crate) fn get<T: FromValue>(&self, index: usize) -> Result<T, DbError> {
        let value = self.0.get(index).unwrap_or(&Value::Null);
        T::from_value(value).ok_or(DbError::Column {
            index,
            expected: T::EXPECTED,
            found: value.kind(),
        })
    }

    /// The row's values, in column order.
    pub(crate) fn into_values(self) -> Vec<Value> {
        self.0
    }

    /// Column `index` as a float, NULL read back as NaN (how NaN is stored).
    pub(crate) fn get_nan(&self, index: usize) -> Result<f64, DbError> {
        Ok(self.get::<Option<f64>>(index)?.unwrap_or(f64::NAN))
    }
}

/// A Rust type a column can be read as.
pub(crate) trait FromValue: Sized {
    /// What the column must hold, for errors.
    const EXPECTED: &'static str;
    /// The value as `Self`, `None` if it is of another kind.
    fn from_value(value: &Value) -> Option<Self>;
}

impl FromValue for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_value(value: &Value) -> Option<i64> {
        match value {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }
}

impl FromValue for usize {
    const EXPECTED: &'static str = "a non-negative integer";
    fn from_value(value: &Value) -> Option<usize> {
        i64::from_value(value).and_then(|v| usize::try_from(v).ok())
    }
}

impl FromValue for f64 {
    const EXPECTED: &'static str = "a number";
    fn from_value(value: &Value) -> Option<f64> {
        match value {
            Value::Real(v) => Some(*v),
            // Integers are numbers too (SQLite returns 3.0 stored in a REAL column as 3).
            Value::Int(v) => Some(*v as f64),
            _ => None,
        }
    }
}

impl FromValue for String {
    const EXPECTED: &'static str = "text";
    fn from_value(value: &Value) -> Option<String> {
        match value {
            Value::Text(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl FromValue for Vec<u8> {
    const EXPECTED: &'static str = "a blob";
    fn from_value(value: &Value) -> Option<Vec<u8>> {
        match value {
            Value::Blob(v) => Some(v.clone()),
            _ => None,
        }
    }
}

impl<T: FromValue> FromValue for Option<T> {
    const EXPECTED: &'static str = T::EXPECTED;
    fn from_value(value: &Value) -> Option<Option<T>> {
        match value {
            Value::Null => Some(None),
            other => T::from_value(other).map(Some),
        }
    }
}

/// Something queries run on: a connection or a transaction of either engine. Object
/// safe, so the store's code takes `&mut dyn Sql` and runs on both.
pub(crate) trait Sql {
    /// The engine.
    fn dialect(&self) -> Dialect;

    /// Runs one statement; returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError>;

    /// Runs one query; returns its rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError>;

    /// Runs several statements separated by `;`, without parameters (schema changes).
    fn batch(&mut self, sql: &str) -> Result<(), DbError>;

    /// The first row of a query, `None` when there is none.
    fn query_opt(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, DbError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// Column 0 of every row of a query, as `T`.
pub(crate) fn column<T: FromValue>(
    db: &mut dyn Sql,
    sql: &str,
    params: &[Value],
) -> Result<Vec<T>, DbError> {
    db.query(sql, params)?
        .iter()
        .map(|row| row.get(0))
        .collect()
}

impl Sql for &'_ rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
        let mut stmt = self.prepare_cached(&Dialect::Sqlite.translate(sql))?;
        Ok(stmt.execute(rusqlite::params_from_iter(params))?)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
        let mut stmt = self.prepare_cached(&Dialect::Sqlite.translate(sql))?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..width)
                .map(|i| sqlite_value(row, i))
                .collect::<Result<_, _>>()?;
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), DbError> {
        Ok(self.execute_batch(&Dialect::Sqlite.translate(sql))?)
    }
}

/// Column `i` of an SQLite row. Text is read through rusqlite's own conversion, so text
/// that is not UTF-8 fails as rusqlite reports it (which the store calls damage).
fn sqlite_value(row: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(i)? {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(v) => Value::Int(v),
        ValueRef::Real(v) => Value::Real(v),
        ValueRef::Text(_) => Value::Text(row.get(i)?),
        ValueRef::Blob(v) => Value::Blob(v.to_vec()),
    })
}

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(*v),
            Value::Real(v) => ValueRef::Real(*v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Blob(v) => ValueRef::Blob(v),
        }))
    }
}

/// Runs `f` on the rows of a PostgreSQL query (either a client or a transaction).
fn postgres_rows(rows: Vec<postgres::Row>) -> Result<Vec<Row>, DbError> {
    rows.iter()
        .map(|row| {
            (0..row.len())
                .map(|i| row.try_get::<_, Value>(i).map_err(DbError::from))
                .collect::<Result<_, _>>()
                .map(Row)
        })
        .collect()
}

/// The parameters as the `postgres` client takes them.
fn postgres_params(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

macro_rules! impl_postgres_sql {
    ($ty:ty) => {
        impl Sql for $ty {
            fn dialect(&self) -> Dialect {
                Dialect::Postgres
            }

            fn execute(&mut self, sql: &str, params: &[Value]) -> Result<usize, DbError> {
                let sql = Dialect::Postgres.translate(sql);
                let n = postgres::GenericClient::execute(self, &*sql, &postgres_params(params))?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }

            fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, DbError> {
                let sql = Dialect::Postgres.translate(sql);
                postgres_rows(postgres::GenericClient::query(
                    self,
                    &*sql,
                    &postgres_params(params),
                )?)
            }

            fn batch(&mut self, sql: &str) -> Result<(), DbError> {
                let sql = Dialect::Postgres.translate(sql);
                Ok(postgres::GenericClient::batch_execute(self, &sql)?)
            }
        }
    };
}

impl_postgres_sql!(postgres::Client);
impl_postgres_sql!(postgres::Transaction<'_>);

impl ToSql for Value {
    /// Binds the value as the column's type asks (PostgreSQL, unlike SQLite, checks it):
    /// an integer into an `int4` or a `float8`, a float into a `float4`.
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(v) => match *ty {
                Type::INT2 => i16::try_from(*v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(*v)?.to_sql(ty, out),
                Type::FLOAT8 => (*v as f64).to_sql(ty, out),
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => v.to_string().to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Real(v) => match *ty {
                Type::FLOAT4 => (*v as f32).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Value::Text(v) => v.as_str().to_sql(ty, out),
            Value::Blob(v) => v.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::from(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::from(f32::from_sql(ty, raw)?),
            Type::BYTEA => Value::Blob(<Vec<u8>>::from_sql(ty, raw)?),
            _ => Value::Text(String::from_sql(ty, raw)?),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Value, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT8
                | Type::INT4
                | Type::INT2
                | Type::BOOL
                | Type::FLOAT8
                | Type::FLOAT4
                | Type::BYTEA
                | Type::TEXT
                | Type::VARCHAR
                | Type::BPCHAR
                | Type::NAME
                | Type::UNKNOWN
        )
    }
}

/// An open database: an SQLite connection, or a PostgreSQL client (behind a mutex, since
/// the `postgres` client needs `&mut` even to read and the store's readers take `&self`).
pub(crate) enum Db {
    /// An SQLite file (or `:memory:`).
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL server.
    Postgres(Mutex<postgres::Client>),
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Db::Sqlite(_) => "Db::Sqlite",
            Db::Postgres(_) => "Db::Postgres",
        })
    }
}

impl Db {
    /// The engine.
    pub(crate) fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Runs `f` on the connection, outside any transaction (each statement commits on
    /// its own).
    pub(crate) fn run<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(conn) => f(&mut { conn }),
            Db::Postgres(client) => f(&mut *lock(client)),
        }
    }

    /// Runs `f` in one write transaction, committed when `f` returns `Ok` and rolled back
    /// otherwise. On SQLite it is IMMEDIATE: it takes the write lock at once, so its
    /// reads and writes are one step no other process interleaves with. On PostgreSQL it
    /// is READ COMMITTED; what must not interleave locks rows (`Dialect::claim_lock`,
    /// `Dialect::write_lock`).
    pub(crate) fn transaction<T, E: From<DbError>>(
        &self,
        f: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        match self {
            Db::Sqlite(conn) => {
                let tx = rusqlite::Transaction::new_unchecked(
                    conn,
                    rusqlite::TransactionBehavior::Immediate,
                )
                .map_err(DbError::from)?;
                let value = f(&mut { &*tx })?;
                tx.commit().map_err(DbError::from)?;
                Ok(value)
            }
            Db::Postgres(client) => {
                let mut client = lock(client);
                let mut tx = client.transaction().map_err(DbError::from)?;
                let value = f(&mut tx)?;
                tx.commit().map_err(DbError::from)?;
                Ok(value)
            }
        }
    }
}

/// The client, even when a thread panicked holding it (the connection itself is fine).
fn lock(client: &Mutex<postgres::Client>) -> MutexGuard<'_, postgres::Client> {
    client
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_reads_numbered_placeholders_and_the_clock_token() {
        let sql = "UPDATE runs SET error = '?1 stays', at = {now} WHERE id = ?12 AND x = ?2";
        let pg = Dialect::Postgres.translate(sql);
        assert!(pg.starts_with("UPDATE runs SET error = '?1 stays', at = to_char("));
        assert!(pg.ends_with("WHERE id = $12 AND x = $2"), "{pg}");
        let lite = Dialect::Sqlite.translate(sql);
        assert_eq!(
            lite,
            "UPDATE runs SET error = '?1 stays', at = strftime('%Y-%m-%dT%H:%M:%fZ','now') \
             WHERE id = ?12 AND x = ?2"
        );
    }

    #[test]
    fn values_round_trip_through_sqlite_and_nan_is_stored_as_null() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut sql = &conn;
        Sql::batch(
            &mut sql,
            "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB)",
        )
        .unwrap();
        Sql::execute(
            &mut sql,
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            params![7_i64, f64::NAN, "x", vec![1_u8, 2]],
        )
        .unwrap();
        let row = Sql::query_opt(&mut sql, "SELECT i, r, s, b FROM t", &[])
            .unwrap()
            .unwrap();
        assert_eq!(row.get::<i64>(0).unwrap(), 7);
        assert!(row.get_nan(1).unwrap().is_nan());
        assert_eq!(row.get::<Option<f64>>(1).unwrap(), None);
        assert_eq!(row.get::<String>(2).unwrap(), "x");
        assert_eq!(row.get::<Vec<u8>>(3).unwrap(), vec![1, 2]);
        let wrong = row.get::<i64>(2).unwrap_err();
        assert_eq!(
            wrong.to_string(),
            "column 2 holds a text value where exp writes an integer"
        );
    }
}
