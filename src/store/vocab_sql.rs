//! The shared vocabulary in SQLite: each value is stored as its contract name, so a database
//! reads the same in `sqlite3` as in a finding's JSON, and a name no version wrote is an error
//! naming the column's value rather than a silently different finding.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::policy::vocab::{Cause, Kind, PolicyKind, PolicyState, Target};

macro_rules! as_text {
    ($($ty:ty),+) => {$(
        impl ToSql for $ty {
            fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                Ok(ToSqlOutput::from(self.as_str()))
            }
        }

        impl FromSql for $ty {
            fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                let s = value.as_str()?;
                s.parse::<$ty>().map_err(|e| FromSqlError::Other(Box::new(e)))
            }
        }
    )+};
}

as_text!(Cause, Kind, PolicyKind, PolicyState, Target);
