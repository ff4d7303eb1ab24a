//! SQLite storage: one file under the data directory, WAL journal, embedded
//! migrations. SQLite serialises writers, so each read-check-write below is
//! one transaction or one statement and therefore atomic.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use super::{
    Account, Charge, ChatRecord, Finish, Job, JobStatus, OverQuota, PageRecord, Plan, Requeued, Storage, StoreError,
    StoreResult,
};

/// The SQLite implementation of [`Storage`].
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

const JOB_COLUMNS: &str = "uuid, owner, account_id, priority, status, tier, language, tool, translate_to, filename, \
    input_format, upload_path, page_count, pages_done, pages_failed, page_cost, charge_subject, charge_period, \
    attempts, error, result, created_at, started_at, finished_at";

impl SqliteStore {
    /// Opens (creating if needed) `path` and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // WAL + NORMAL survives a process crash (kill -9) without loss;
            // only a power cut can drop the last commits.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }

    /// A transaction that will write. `BEGIN IMMEDIATE` takes SQLite's write lock up front, where
    /// the busy timeout applies. A plain (deferred) `BEGIN` starts as a reader and upgrades at its
    /// first write; when another connection committed in between, SQLite cannot upgrade the stale
    /// snapshot and fails at once with SQLITE_BUSY ("database is locked") instead of waiting —
    /// under load (`bench/run.sh load`: 64 submissions at once) that surfaced as 500s from
    /// `finish`, whose transaction reads before it writes.
    async fn write_tx(&self) -> StoreResult<sqlx::Transaction<'static, sqlx::Sqlite>> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    fn account(row: &SqliteRow) -> Account {
        Account {
            id: row.get("id"),
            token_prefix: row.get("token_prefix"),
            plan: Plan::parse(row.get::<&str, _>("plan")).unwrap_or(Plan::Free),
            credits: row.get("credits"),
            label: row.get("label"),
            created_at: row.get("created_at"),
            revoked_at: row.get("revoked_at"),
        }
    }

    fn job(row: &SqliteRow) -> Job {
        Job {
            uuid: row.get("uuid"),
            owner: row.get("owner"),
            account_id: row.get("account_id"),
            priority: row.get("priority"),
            status: JobStatus::parse(row.get("status")),
            tier: row.get("tier"),
            language: row.get("language"),
            tool: row.get("tool"),
            translate_to: row.get("translate_to"),
            filename: row.get("filename"),
            input_format: row.get("input_format"),
            upload_path: row.get("upload_path"),
            page_count: row.get("page_count"),
            pages_done: row.get("pages_done"),
            pages_failed: row.get("pages_failed"),
            page_cost: row.get("page_cost"),
            charge: Charge { subject: row.get("charge_subject"), period: row.get("charge_period"), cap: 0 },
            attempts: row.get("attempts"),
            error: row.get("error"),
            result: row.get("result"),
            created_at: row.get("created_at"),
            started_at: row.get("started_at"),
            finished_at: row.get("finished_at"),
        }
    }
}

#[async_trait]
impl Storage for SqliteStore {
    async fn create_account(
        &self,
        token_hash: &str,
        token_prefix: &str,
        plan: Plan,
        credits: i64,
        label: Option<&str>,
        now: i64,
    ) -> StoreResult<Account> {
        let row = sqlx::query(
            "INSERT INTO accounts (token_hash, token_prefix, plan, credits, label, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *",
        )
        .bind(token_hash)
        .bind(token_prefix)
        .bind(plan.as_str())
        .bind(credits)
        .bind(label)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(Self::account(&row))
    }

    async fn account_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE token_hash = ? AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(Self::account))
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY id").fetch_all(&self.pool).await?;
        Ok(rows.iter().map(Self::account).collect())
    }

    async fn revoke_account(&self, id_or_prefix: &str, now: i64) -> StoreResult<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET revoked_at = ? WHERE revoked_at IS NULL AND (CAST(id AS TEXT) = ? OR token_prefix = ?)",
        )
        .bind(now)
        .bind(id_or_prefix)
        .bind(id_or_prefix)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_credits(&self, account_id: i64, credits: i64) -> StoreResult<()> {
        sqlx::query("UPDATE accounts SET credits = credits + ? WHERE id = ?")
            .bind(credits)
            .bind(account_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn reserve(&self, charge: &Charge, pages: i64) -> StoreResult<Result<(), OverQuota>> {
        let mut tx = self.write_tx().await?;
        sqlx::query("INSERT INTO usage (subject, period, pages) VALUES (?, ?, 0) ON CONFLICT DO NOTHING")
            .bind(&charge.subject)
            .bind(&charge.period)
            .execute(&mut *tx)
            .await?;
        let updated =
            sqlx::query("UPDATE usage SET pages = pages + ? WHERE subject = ? AND period = ? AND pages + ? <= ?")
                .bind(pages)
                .bind(&charge.subject)
                .bind(&charge.period)
                .bind(pages)
                .bind(charge.cap)
                .execute(&mut *tx)
                .await?;
        let outcome = if updated.rows_affected() == 1 {
            Ok(())
        } else {
            let used: i64 = sqlx::query_scalar("SELECT pages FROM usage WHERE subject = ? AND period = ?")
                .bind(&charge.subject)
                .bind(&charge.period)
                .fetch_one(&mut *tx)
                .await?;
            Err(OverQuota { used, cap: charge.cap })
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn used(&self, subject: &str, period: &str) -> StoreResult<i64> {
        let used: Option<i64> = sqlx::query_scalar("SELECT pages FROM usage WHERE subject = ? AND period = ?")
            .bind(subject)
            .bind(period)
            .fetch_optional(&self.pool)
            .await?;
        Ok(used.unwrap_or(0))
    }

    async fn insert_job(&self, job: &Job, worker: Option<&str>, now: i64) -> StoreResult<()> {
        let status = if worker.is_some() { "processing" } else { "pending" };
        sqlx::query(
            "INSERT INTO jobs (uuid, owner, account_id, priority, status, tier, language, tool, translate_to, filename, \
             input_format, upload_path, page_count, page_cost, charge_subject, charge_period, attempts, worker, \
             created_at, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&job.uuid)
        .bind(&job.owner)
        .bind(job.account_id)
        .bind(job.priority)
        .bind(status)
        .bind(&job.tier)
        .bind(&job.language)
        .bind(&job.tool)
        .bind(&job.translate_to)
        .bind(&job.filename)
        .bind(&job.input_format)
        .bind(&job.upload_path)
        .bind(job.page_count)
        .bind(job.page_cost)
        .bind(&job.charge.subject)
        .bind(&job.charge.period)
        .bind(i64::from(worker.is_some()))
        .bind(worker)
        .bind(job.created_at)
        .bind(worker.map(|_| now))
        .bind(worker.map(|_| now))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn job(&self, uuid: &str) -> StoreResult<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE uuid = ?"))
            .bind(uuid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(Self::job))
    }

    async fn claim_next(&self, worker: &str, now: i64) -> StoreResult<Option<Job>> {
        // One statement: the sub-select and the update cannot interleave with
        // another claimer, so a job is never handed out twice.
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'processing', worker = ?, attempts = attempts + 1, \
             started_at = COALESCE(started_at, ?), heartbeat_at = ? \
             WHERE uuid = (SELECT uuid FROM jobs WHERE status = 'pending' ORDER BY priority DESC, created_at, rowid LIMIT 1) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(worker)
        .bind(now)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(Self::job))
    }

    async fn heartbeat(&self, uuids: &[String], now: i64) -> StoreResult<()> {
        for uuid in uuids {
            sqlx::query("UPDATE jobs SET heartbeat_at = ? WHERE uuid = ? AND status = 'processing'")
                .bind(now)
                .bind(uuid)
                .execute(&self.pool)
                .await?;
        }
        Ok(())
    }

    async fn save_page(&self, uuid: &str, record: &PageRecord, now: i64) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO job_pages (job_uuid, idx, page, error) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(uuid)
        .bind(record.index)
        .bind(&record.page)
        .bind(&record.error)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            sqlx::query(
                "UPDATE jobs SET pages_done = pages_done + 1, pages_failed = pages_failed + ?, heartbeat_at = ? WHERE uuid = ?",
            )
            .bind(i64::from(record.error.is_some()))
            .bind(now)
            .bind(uuid)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pages(&self, uuid: &str) -> StoreResult<Vec<PageRecord>> {
        let rows = sqlx::query("SELECT idx, page, error FROM job_pages WHERE job_uuid = ? ORDER BY idx")
            .bind(uuid)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| PageRecord { index: r.get("idx"), page: r.get("page"), error: r.get("error") })
            .collect())
    }

    async fn finish(&self, uuid: &str, finish: &Finish, now: i64) -> StoreResult<()> {
        let mut tx = self.write_tx().await?;
        let job = sqlx::query("SELECT charge_subject, charge_period, page_cost, refunded FROM jobs WHERE uuid = ?")
            .bind(uuid)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| StoreError(format!("job {uuid} vanished")))?;
        // Refund once, even if a finish is retried.
        if job.get::<i64, _>("refunded") == 0 && finish.refund_pages > 0 {
            let credits = finish.refund_pages * job.get::<i64, _>("page_cost");
            sqlx::query("UPDATE usage SET pages = MAX(0, pages - ?) WHERE subject = ? AND period = ?")
                .bind(credits)
                .bind(job.get::<String, _>("charge_subject"))
                .bind(job.get::<String, _>("charge_period"))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE jobs SET status = ?, error = ?, result = ?, finished_at = ?, upload_path = NULL, worker = NULL, refunded = 1 \
             WHERE uuid = ?",
        )
        .bind(finish.status.as_str())
        .bind(&finish.error)
        .bind(&finish.result)
        .bind(now)
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
        // The result holds every page now; checkpoints are no longer needed.
        sqlx::query("DELETE FROM job_pages WHERE job_uuid = ?").bind(uuid).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn requeue_stale(&self, stale_before: i64, max_attempts: i64, now: i64) -> StoreResult<Requeued> {
        let mut out = Requeued::default();
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'pending', worker = NULL WHERE status = 'processing' AND heartbeat_at < ? AND attempts < ? RETURNING uuid",
        )
        .bind(stale_before)
        .bind(max_attempts)
        .fetch_all(&self.pool)
        .await?;
        out.requeued = requeued.iter().map(|r| r.get("uuid")).collect();
        let dead = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'processing' AND heartbeat_at < ? AND attempts >= ?"
        ))
        .bind(stale_before)
        .bind(max_attempts)
        .fetch_all(&self.pool)
        .await?;
        for row in &dead {
            let job = Self::job(row);
            let finish = Finish {
                status: JobStatus::Failed,
                error: Some(format!("processing was interrupted {} times; giving up", job.attempts)),
                result: None,
                refund_pages: job.page_count - (job.pages_done - job.pages_failed),
            };
            self.finish(&job.uuid, &finish, now).await?;
            out.failed.push(job);
        }
        Ok(out)
    }

    async fn unfinished_jobs(&self, owner: &str, min_pages: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE owner = ? AND status IN ('pending', 'processing') AND page_count > ?",
        )
        .bind(owner)
        .bind(min_pages)
        .fetch_one(&self.pool)
        .await?)
    }

    async fn queue_depth(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = 'pending'").fetch_one(&self.pool).await?)
    }

    async fn delete_expired(&self, before: i64) -> StoreResult<Vec<String>> {
        let rows =
            sqlx::query("DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < ? RETURNING uuid")
                .bind(before)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| r.get("uuid")).collect())
    }

    async fn add_chat(&self, uuid: &str, account_id: i64, record: &ChatRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_messages (job_uuid, account_id, conversation, role, content, citations, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(uuid)
        .bind(account_id)
        .bind(&record.conversation)
        .bind(&record.role)
        .bind(&record.content)
        .bind(&record.citations)
        .bind(record.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn chat_history(&self, uuid: &str, account_id: i64) -> StoreResult<Vec<ChatRecord>> {
        let rows = sqlx::query(
            "SELECT conversation, role, content, citations, created_at FROM chat_messages WHERE job_uuid = ? AND account_id = ? ORDER BY id",
        )
        .bind(uuid)
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| ChatRecord {
                conversation: r.get("conversation"),
                role: r.get("role"),
                content: r.get("content"),
                citations: r.get("citations"),
                created_at: r.get("created_at"),
            })
            .collect())
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store(name: &str) -> (SqliteStore, std::path::PathBuf) {
        let dir = std::env::temp_dir().join(format!("ocrchat-store-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        (SqliteStore::open(&dir.join("db.sqlite3")).await.unwrap(), dir)
    }

    fn job(uuid: &str, priority: i64, created_at: i64) -> Job {
        Job {
            uuid: uuid.into(),
            owner: "ip:127.0.0.1".into(),
            account_id: None,
            priority,
            status: JobStatus::Pending,
            tier: "cpu".into(),
            language: "auto".into(),
            tool: None,
            translate_to: None,
            filename: "a.png".into(),
            input_format: "png".into(),
            upload_path: Some(format!("/nonexistent/{uuid}")),
            page_count: 4,
            pages_done: 0,
            pages_failed: 0,
            page_cost: 1,
            charge: Charge { subject: "ip:127.0.0.1".into(), period: "2026-11-24".into(), cap: 10 },
            attempts: 0,
            error: None,
            result: None,
            created_at,
            started_at: None,
            finished_at: None,
        }
    }

    #[tokio::test]
    async fn paid_jobs_are_claimed_first_then_oldest() {
        let (s, dir) = store("claim").await;
        s.insert_job(&job("free-old", 0, 1), None, 1).await.unwrap();
        s.insert_job(&job("paid-new", 1, 5), None, 5).await.unwrap();
        s.insert_job(&job("free-new", 0, 3), None, 3).await.unwrap();
        let mut order = Vec::new();
        while let Some(j) = s.claim_next("w", 10).await.unwrap() {
            assert_eq!((j.status, j.attempts), (JobStatus::Processing, 1));
            order.push(j.uuid);
        }
        assert_eq!(order, ["paid-new", "free-old", "free-new"]);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn reservations_stop_at_the_cap_and_failed_pages_are_refunded_once() {
        let (s, dir) = store("reserve").await;
        let charge = Charge { subject: "acct:1".into(), period: "2026-11".into(), cap: 5 };
        assert_eq!(s.reserve(&charge, 4).await.unwrap(), Ok(()));
        assert_eq!(s.reserve(&charge, 2).await.unwrap(), Err(OverQuota { used: 4, cap: 5 }));
        let mut j = job("j", 0, 1);
        j.charge = charge.clone();
        s.insert_job(&j, Some("w"), 1).await.unwrap();
        let finish = Finish { status: JobStatus::Done, error: None, result: Some("{}".into()), refund_pages: 3 };
        s.finish("j", &finish, 2).await.unwrap();
        s.finish("j", &finish, 3).await.unwrap();
        assert_eq!(s.used("acct:1", "2026-11").await.unwrap(), 1, "3 pages refunded, once");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn stale_jobs_are_requeued_until_out_of_attempts() {
        let (s, dir) = store("stale").await;
        s.insert_job(&job("j", 0, 1), None, 1).await.unwrap();
        for attempt in 1..=3 {
            let claimed = s.claim_next("w", 10).await.unwrap().expect("claimable");
            assert_eq!(claimed.attempts, attempt);
            // A page was checkpointed before the "crash" on the first attempt.
            if attempt == 1 {
                s.save_page("j", &PageRecord { index: 0, page: Some("{}".into()), error: None }, 11).await.unwrap();
            }
            let outcome = s.requeue_stale(i64::MAX, 3, 20).await.unwrap();
            if attempt < 3 {
                assert_eq!(outcome.requeued, ["j"]);
            } else {
                assert_eq!(outcome.failed.len(), 1, "third interruption fails the job");
            }
        }
        let j = s.job("j").await.unwrap().unwrap();
        assert_eq!(j.status, JobStatus::Failed);
        assert!(j.upload_path.is_none() && j.error.is_some_and(|e| e.contains("interrupted")));
        assert_eq!(j.pages_done, 1, "the checkpoint survived the requeues");
        let _ = std::fs::remove_dir_all(dir);
    }
}
