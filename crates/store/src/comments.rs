//! Review comments and viewed marks, per job.

use rusqlite::{params, Row};
use sidekick_protocol::{Comment, Side};

use super::*;

/// A comment as stored, before it is placed in the file as it is now.
fn comment(row: &Row<'_>) -> rusqlite::Result<(Comment, String)> {
    let side: String = row.get("side")?;
    let quote: String = row.get("quote")?;
    Ok((
        Comment {
            id: row.get::<_, i64>("id")? as u64,
            path: row.get("path")?,
            side: if side == "old" { Side::Old } else { Side::New },
            line: row.get("line")?,
            end_line: row.get("end_line")?,
            quote: Vec::new(),
            body: row.get("body")?,
            created_at: row.get::<_, i64>("created_at")? as u64,
            sent_at: row.get::<_, Option<i64>>("sent_at")?.map(|t| t as u64),
            now_line: None,
        },
        quote,
    ))
}

impl Store {
    pub fn add_comment(&mut self, job_id: &str, c: &Comment) -> Result<u64> {
        self.conn.execute(
            "INSERT INTO comments (job_id, path, side, line, end_line, quote, body, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                job_id,
                c.path,
                c.side.as_str(),
                c.line,
                c.end_line,
                to_json(&c.quote),
                c.body,
                c.created_at as i64
            ],
        )?;
        Ok(self.conn.last_insert_rowid() as u64)
    }

    /// The job's comments, oldest first.
    pub fn comments(&self, job_id: &str) -> Result<Vec<Comment>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT * FROM comments WHERE job_id = ?1 ORDER BY id")?;
        let rows = stmt.query_map([job_id], comment)?;
        let mut out = Vec::new();
        for row in rows {
            let (mut c, quote) = row?;
            c.quote = from_json(&quote)?;
            out.push(c);
        }
        Ok(out)
    }

    /// Deletes one of the job's comments; false when it has no such comment.
    pub fn delete_comment(&mut self, job_id: &str, id: u64) -> Result<bool> {
        let n = self.conn.execute(
            "DELETE FROM comments WHERE job_id = ?1 AND id = ?2",
            params![job_id, id as i64],
        )?;
        Ok(n > 0)
    }

    pub fn mark_comments_sent(&mut self, job_id: &str, ids: &[u64], at: u64) -> Result<()> {
        let tx = self.conn.transaction()?;
        for id in ids {
            tx.execute(
                "UPDATE comments SET sent_at = ?3 WHERE job_id = ?1 AND id = ?2",
                params![job_id, *id as i64, at as i64],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// The files marked viewed, each with the key of its diff then.
    pub fn viewed(&self, job_id: &str) -> Result<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, key FROM viewed WHERE job_id = ?1 ORDER BY path")?;
        let rows = stmt.query_map([job_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Marks a file viewed at `key`, or (`None`) not viewed.
    pub fn set_viewed(&mut self, job_id: &str, path: &str, key: Option<&str>) -> Result<()> {
        match key {
            Some(key) => self.conn.execute(
                "INSERT INTO viewed (job_id, path, key) VALUES (?1, ?2, ?3)
                 ON CONFLICT (job_id, path) DO UPDATE SET key = excluded.key",
                params![job_id, path, key],
            )?,
            None => self.conn.execute(
                "DELETE FROM viewed WHERE job_id = ?1 AND path = ?2",
                params![job_id, path],
            )?,
        };
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample;
    use sidekick_protocol::JobState;

    #[test]
    fn comments_and_viewed_marks_round_trip_per_job() {
        let mut s = Store::open_in_memory().expect("store");
        s.insert_job(&sample("01a", JobState::Completed))
            .expect("insert");
        s.insert_job(&sample("01b", JobState::Completed))
            .expect("insert");
        let c = Comment {
            id: 0,
            path: "src/a.rs".into(),
            side: Side::Old,
            line: 3,
            end_line: 4,
            quote: vec!["x".into(), "y \"z\"".into()],
            body: "why?".into(),
            created_at: 7,
            sent_at: None,
            now_line: None,
        };
        let id = s.add_comment("01a", &c).expect("add");
        let other = s.add_comment("01b", &c).expect("add");
        assert_ne!(id, other);
        let got = s.comments("01a").expect("list");
        assert_eq!(got, vec![Comment { id, ..c.clone() }]);
        s.mark_comments_sent("01a", &[id, other], 9).expect("sent");
        assert_eq!(s.comments("01a").expect("list")[0].sent_at, Some(9));
        assert_eq!(
            s.comments("01b").expect("list")[0].sent_at,
            None,
            "another job's comment is not marked"
        );
        assert!(!s.delete_comment("01a", other).expect("delete"));
        assert!(s.delete_comment("01a", id).expect("delete"));
        assert!(s.comments("01a").expect("list").is_empty());

        s.set_viewed("01a", "a.rs", Some("k1")).expect("view");
        s.set_viewed("01a", "a.rs", Some("k2")).expect("view");
        s.set_viewed("01a", "b.rs", Some("k3")).expect("view");
        s.set_viewed("01a", "b.rs", None).expect("unview");
        assert_eq!(
            s.viewed("01a").expect("viewed"),
            vec![("a.rs".to_string(), "k2".to_string())]
        );
        assert!(s.viewed("01b").expect("viewed").is_empty());
    }
}
