//! Suppression rules kept in the database (`whydenied suppress`).

use super::*;

impl Store {
    /// Stores a suppression rule.
    pub fn add_suppression(&mut self, s: &Suppression) -> Result<(), StoreError> {
        let path = self.path.clone();
        let until = s
            .until
            .as_deref()
            .and_then(|u| u.parse::<Timestamp>().ok())
            .map(|t| t.as_millisecond());
        self.conn
            .execute(
                "INSERT INTO suppressions (principal, action, resource, cause, function, reason, until, created, exact, finding)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                params![s.principal, s.action, s.resource, s.cause, s.function, s.reason, until, Timestamp::now().as_millisecond(), s.exact, s.finding],
            )
            .map_err(sq(&path))?;
        Ok(())
    }

    /// The stored suppression rules.
    pub fn suppressions(&self) -> Result<Vec<Suppression>, StoreError> {
        let path = self.path.clone();
        let mut st = self
            .conn
            .prepare("SELECT principal, action, resource, cause, function, reason, until, exact, finding FROM suppressions ORDER BY id")
            .map_err(sq(&path))?;
        let rows = st
            .query_map([], |r| {
                Ok(Suppression {
                    principal: r.get(0)?,
                    action: r.get(1)?,
                    resource: r.get(2)?,
                    cause: r.get(3)?,
                    function: r.get(4)?,
                    reason: r.get(5)?,
                    until: r.get::<_, Option<i64>>(6)?.map(format_ms),
                    exact: r.get(7)?,
                    finding: r.get(8)?,
                })
            })
            .map_err(sq(&path))?;
        let mut out = Vec::new();
        for r in rows {
            out.push(r.map_err(sq(&path))?);
        }
        Ok(out)
    }
}
