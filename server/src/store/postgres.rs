//! PostgreSQL storage, for several `ocrchat serve` nodes on one database
//! (migrations in `migrations/postgres`). Every rule that must hold across
//! nodes is one statement or one transaction here: a reservation is one
//! conditional upsert, a claim takes the next pending job with
//! `FOR UPDATE SKIP LOCKED` (two nodes never get the same job, and neither
//! waits for the other), a finish locks the job row so its refund happens
//! once, and a queued job is announced with `NOTIFY ocrchat_jobs` so idle
//! nodes wake at once instead of at their next poll.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPoolOptions, PgRow};
use sqlx::{PgPool, Row};
use tracing::warn;

use super::{
    Account, Charge, ChatRecord, Column, Cursor, Finish, Inserted, Job, JobStatus, NewJob, OverQuota, PageRecord, Plan,
    Requeued, Storage, StoreError, StoreResult, StoredView, interrupted_error,
};

/// The `LISTEN`/`NOTIFY` channel announcing queued jobs.
const CHANNEL: &str = "ocrchat_jobs";

/// The PostgreSQL implementation of [`Storage`].
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

const JOB_COLUMNS: &str = "uuid, owner, account_id, priority, status, tier, language, tool, translate_to, filename, \
    input_format, upload_path, page_count, pages_done, pages_failed, page_cost, charge_subject, charge_period, \
    attempts, worker, error, created_at, started_at, finished_at";

impl PgStore {
    /// Connects to `url` and applies migrations (concurrent starts are
    /// serialised by sqlx's advisory lock).
    pub async fn open(url: &str) -> StoreResult<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            // A database that went away surfaces within seconds (503), not
            // after a long queue of waiting requests.
            .acquire_timeout(Duration::from_secs(5))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
        Ok(Self { pool })
    }

    /// The connection pool (the PostgreSQL blob store shares it).
    pub fn pool(&self) -> PgPool {
        self.pool.clone()
    }

    fn account(row: &PgRow) -> StoreResult<Account> {
        Ok(Account {
            id: row.get("id"),
            token_prefix: row.get("token_prefix"),
            plan: Plan::from_word(row.get("plan"))?,
            credits: row.get("credits"),
            label: row.get("label"),
            created_at: row.get("created_at"),
            revoked_at: row.get("revoked_at"),
        })
    }

    fn job(row: &PgRow) -> StoreResult<Job> {
        Ok(Job {
            uuid: row.get("uuid"),
            owner: row.get("owner"),
            account_id: row.get("account_id"),
            priority: row.get("priority"),
            status: JobStatus::from_word(row.get("status"))?,
            tier: Column::from_word(row.get("tier"))?,
            language: row.get("language"),
            tool: row.get::<Option<&str>, _>("tool").map(Column::from_word).transpose()?,
            translate_to: row.get("translate_to"),
            filename: row.get("filename"),
            input_format: Column::from_word(row.get("input_format"))?,
            upload: row.get("upload_path"),
            page_count: row.get("page_count"),
            pages_done: row.get("pages_done"),
            pages_failed: row.get("pages_failed"),
            page_cost: row.get("page_cost"),
            charge_subject: row.get("charge_subject"),
            charge_period: row.get("charge_period"),
            attempts: row.get("attempts"),
            worker: row.get("worker"),
            error: row.get("error"),
            created_at: row.get("created_at"),
            started_at: row.get("started_at"),
            finished_at: row.get("finished_at"),
        })
    }

    async fn announce(&self) -> StoreResult<()> {
        sqlx::query("SELECT pg_notify($1, '')").bind(CHANNEL).execute(&self.pool).await?;
        Ok(())
    }

    /// `finish` inside an open transaction (also used by `requeue_stale`).
    async fn finish_in(tx: &mut sqlx::PgConnection, uuid: &str, finish: &Finish, now: i64) -> StoreResult<()> {
        // The row lock makes a concurrent second finish wait and then see `refunded`.
        let job = sqlx::query(
            "SELECT charge_subject, charge_period, page_cost, refunded, status, worker FROM jobs WHERE uuid = $1 \
             FOR UPDATE",
        )
        .bind(uuid)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| StoreError::NoSuchJob(uuid.to_string()))?;
        if let Some(claim) = &finish.claim {
            let held = job.get::<String, _>("status") == JobStatus::Processing.word()
                && job.get::<Option<String>, _>("worker").as_deref() == Some(claim.as_str());
            if !held {
                return Err(StoreError::ClaimLost(uuid.to_string()));
            }
        }
        if !job.get::<bool, _>("refunded") && finish.refund_pages > 0 {
            let credits = finish.refund_pages * job.get::<i64, _>("page_cost");
            sqlx::query("UPDATE usage SET pages = GREATEST(0, pages - $1) WHERE subject = $2 AND period = $3")
                .bind(credits)
                .bind(job.get::<String, _>("charge_subject"))
                .bind(job.get::<String, _>("charge_period"))
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(
            "UPDATE jobs SET status = $1, error = $2, result = $3, finished_at = $4, upload_path = NULL, worker = NULL, \
             refunded = TRUE WHERE uuid = $5",
        )
        .bind(finish.status.word())
        .bind(&finish.error)
        .bind(&finish.result)
        .bind(now)
        .bind(uuid)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM job_pages WHERE job_uuid = $1").bind(uuid).execute(&mut *tx).await?;
        Ok(())
    }
}

#[async_trait]
impl Storage for PgStore {
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
            "INSERT INTO accounts (token_hash, token_prefix, plan, credits, label, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
        )
        .bind(token_hash)
        .bind(token_prefix)
        .bind(plan.word())
        .bind(credits)
        .bind(label)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Self::account(&row)
    }

    async fn account_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Account>> {
        let row = sqlx::query("SELECT * FROM accounts WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::account).transpose()
    }

    async fn accounts(&self) -> StoreResult<Vec<Account>> {
        let rows = sqlx::query("SELECT * FROM accounts ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(Self::account).collect()
    }

    async fn revoke_account(&self, id: i64, now: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE accounts SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn add_credits(&self, id: i64, credits: i64) -> StoreResult<bool> {
        let done = sqlx::query("UPDATE accounts SET credits = credits + $1 WHERE id = $2")
            .bind(credits)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() > 0)
    }

    async fn reserve(&self, charge: &Charge, pages: i64) -> StoreResult<Result<(), OverQuota>> {
        // One conditional upsert: the row lock of ON CONFLICT DO UPDATE
        // orders concurrent reservations (from any node), and each re-checks
        // the cap against the committed total.
        let reserved: Option<i64> = if pages <= charge.cap {
            sqlx::query_scalar(
                "INSERT INTO usage AS u (subject, period, pages) VALUES ($1, $2, $3) \
                 ON CONFLICT (subject, period) DO UPDATE SET pages = u.pages + EXCLUDED.pages \
                 WHERE u.pages + EXCLUDED.pages <= $4 RETURNING pages",
            )
            .bind(&charge.subject)
            .bind(&charge.period)
            .bind(pages)
            .bind(charge.cap)
            .fetch_optional(&self.pool)
            .await?
        } else {
            None
        };
        Ok(match reserved {
            Some(_) => Ok(()),
            None => Err(OverQuota { used: self.used(&charge.subject, &charge.period).await?, cap: charge.cap }),
        })
    }

    async fn release(&self, charge: &Charge, pages: i64) -> StoreResult<()> {
        sqlx::query("UPDATE usage SET pages = GREATEST(0, pages - $1) WHERE subject = $2 AND period = $3")
            .bind(pages)
            .bind(&charge.subject)
            .bind(&charge.period)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn used(&self, subject: &str, period: &str) -> StoreResult<i64> {
        let used: Option<i64> = sqlx::query_scalar("SELECT pages FROM usage WHERE subject = $1 AND period = $2")
            .bind(subject)
            .bind(period)
            .fetch_optional(&self.pool)
            .await?;
        Ok(used.unwrap_or(0))
    }

    async fn insert_job(&self, job: &NewJob, claimed_by: Option<&str>, now: i64) -> StoreResult<Inserted> {
        let status = if claimed_by.is_some() { JobStatus::Processing } else { JobStatus::Pending };
        let row = sqlx::query(&format!(
            "INSERT INTO jobs (uuid, owner, account_id, priority, status, tier, language, tool, translate_to, filename, \
             input_format, upload_path, page_count, page_cost, charge_subject, charge_period, attempts, worker, \
             created_at, started_at, heartbeat_at, idempotency_key) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22) \
             ON CONFLICT (owner, idempotency_key) DO NOTHING RETURNING {JOB_COLUMNS}"
        ))
        .bind(&job.uuid)
        .bind(&job.owner)
        .bind(job.account_id)
        .bind(job.priority)
        .bind(status.word())
        .bind(job.tier.word())
        .bind(&job.language)
        .bind(job.tool.map(Column::word))
        .bind(&job.translate_to)
        .bind(&job.filename)
        .bind(job.input_format.word())
        .bind(&job.upload)
        .bind(job.page_count)
        .bind(job.page_cost)
        .bind(&job.charge.subject)
        .bind(&job.charge.period)
        .bind(i64::from(claimed_by.is_some()))
        .bind(claimed_by)
        .bind(now)
        .bind(claimed_by.map(|_| now))
        .bind(claimed_by.map(|_| now))
        .bind(&job.idempotency_key)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            // Only a key can conflict (uuids are fresh): the retried submission's job.
            let key = job.idempotency_key.as_deref().unwrap_or_default();
            let existing = self.job_by_idempotency_key(&job.owner, key).await?;
            return existing.map(Inserted::Existing).ok_or_else(|| StoreError::NoSuchJob(job.uuid.clone()));
        };
        if claimed_by.is_none() {
            self.announce().await?;
        }
        Ok(Inserted::New(Self::job(&row)?))
    }

    async fn job(&self, uuid: &str) -> StoreResult<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE uuid = $1"))
            .bind(uuid)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::job).transpose()
    }

    async fn job_by_idempotency_key(&self, owner: &str, key: &str) -> StoreResult<Option<Job>> {
        let row = sqlx::query(&format!("SELECT {JOB_COLUMNS} FROM jobs WHERE owner = $1 AND idempotency_key = $2"))
            .bind(owner)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(Self::job).transpose()
    }

    async fn jobs_of(&self, owner: &str, cursor: Option<&Cursor>, limit: i64) -> StoreResult<Vec<Job>> {
        // Keyset pagination: stable while jobs are added or expire.
        let (created_at, uuid) = cursor.map_or((i64::MAX, String::new()), |c| (c.created_at, c.uuid.clone()));
        let rows = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE owner = $1 \
             AND (created_at < $2 OR (created_at = $3 AND uuid < $4)) \
             ORDER BY created_at DESC, uuid DESC LIMIT $5"
        ))
        .bind(owner)
        .bind(created_at)
        .bind(created_at)
        .bind(if cursor.is_some() { uuid } else { "~".repeat(40) })
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(Self::job).collect()
    }

    async fn result(&self, uuid: &str) -> StoreResult<Option<String>> {
        let result: Option<Option<String>> =
            sqlx::query_scalar("SELECT result FROM jobs WHERE uuid = $1").bind(uuid).fetch_optional(&self.pool).await?;
        Ok(result.flatten())
    }

    async fn view(&self, uuid: &str) -> StoreResult<Option<StoredView>> {
        let row = sqlx::query("SELECT view, view_etag FROM jobs WHERE uuid = $1 AND view IS NOT NULL")
            .bind(uuid)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|r| StoredView { etag: r.get("view_etag"), json: r.get("view") }))
    }

    async fn store_view(&self, uuid: &str, view: &StoredView) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET view = $1, view_etag = $2 WHERE uuid = $3 AND view IS NULL AND status IN ('done', 'failed')")
            .bind(&view.json)
            .bind(&view.etag)
            .bind(uuid)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn claim_next(&self, worker: &str, now: i64) -> StoreResult<Option<Job>> {
        let row = sqlx::query(&format!(
            "UPDATE jobs SET status = 'processing', worker = $1, attempts = attempts + 1, \
             started_at = COALESCE(started_at, $2), heartbeat_at = $2 \
             WHERE uuid = (SELECT uuid FROM jobs WHERE status = 'pending' \
                           ORDER BY priority DESC, created_at, seq LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING {JOB_COLUMNS}"
        ))
        .bind(worker)
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(Self::job).transpose()
    }

    async fn heartbeat(&self, uuids: &[String], now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE jobs SET heartbeat_at = $1 WHERE uuid = ANY($2) AND status = 'processing'")
            .bind(now)
            .bind(uuids)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn save_page(&self, uuid: &str, record: &PageRecord, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO job_pages (job_uuid, idx, page, error) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
        )
        .bind(uuid)
        .bind(record.index)
        .bind(&record.page)
        .bind(&record.error)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() == 1 {
            sqlx::query(
                "UPDATE jobs SET pages_done = pages_done + 1, pages_failed = pages_failed + $1, heartbeat_at = $2 \
                 WHERE uuid = $3",
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
        let rows = sqlx::query("SELECT idx, page, error FROM job_pages WHERE job_uuid = $1 ORDER BY idx")
            .bind(uuid)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| PageRecord { index: r.get("idx"), page: r.get("page"), error: r.get("error") })
            .collect())
    }

    async fn finish(&self, uuid: &str, finish: &Finish, now: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        Self::finish_in(&mut tx, uuid, finish, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn requeue_stale(&self, stale_before: i64, max_attempts: i64, now: i64) -> StoreResult<Requeued> {
        let mut tx = self.pool.begin().await?;
        // Nodes sweep concurrently: the row locks make a second sweeper
        // re-check `status` after the first committed, so each stale job is
        // requeued (or failed and refunded) by exactly one of them.
        let requeued = sqlx::query(
            "UPDATE jobs SET status = 'pending', worker = NULL \
             WHERE status = 'processing' AND heartbeat_at < $1 AND attempts < $2 RETURNING uuid",
        )
        .bind(stale_before)
        .bind(max_attempts)
        .fetch_all(&mut *tx)
        .await?;
        let dead = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE status = 'processing' AND heartbeat_at < $1 AND attempts >= $2 \
             FOR UPDATE SKIP LOCKED"
        ))
        .bind(stale_before)
        .bind(max_attempts)
        .fetch_all(&mut *tx)
        .await?;
        let mut out = Requeued { requeued: requeued.iter().map(|r| r.get("uuid")).collect(), failed: Vec::new() };
        for row in &dead {
            let job = Self::job(row)?;
            // A failed job delivers no page, so none stays charged.
            let finish = Finish {
                status: JobStatus::Failed,
                error: Some(interrupted_error(job.attempts)),
                result: None,
                refund_pages: job.page_count,
                claim: None,
            };
            Self::finish_in(&mut tx, &job.uuid, &finish, now).await?;
            out.failed.push(job);
        }
        tx.commit().await?;
        if !out.requeued.is_empty() {
            self.announce().await?;
        }
        Ok(out)
    }

    async fn unfinished_jobs(&self, owner: &str, min_pages: i64) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE owner = $1 AND status IN ('pending', 'processing') AND page_count > $2",
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
            sqlx::query("DELETE FROM jobs WHERE status IN ('done', 'failed') AND finished_at < $1 RETURNING uuid")
                .bind(before)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows.iter().map(|r| r.get("uuid")).collect())
    }

    async fn add_chat(&self, uuid: &str, account_id: i64, record: &ChatRecord) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO chat_messages (job_uuid, account_id, conversation, role, content, citations, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(uuid)
        .bind(account_id)
        .bind(&record.conversation)
        .bind(record.role.word())
        .bind(&record.content)
        .bind(&record.citations)
        .bind(record.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn chat_history(&self, uuid: &str, account_id: i64) -> StoreResult<Vec<ChatRecord>> {
        let rows = sqlx::query(
            "SELECT conversation, role, content, citations, created_at FROM chat_messages \
             WHERE job_uuid = $1 AND account_id = $2 ORDER BY id",
        )
        .bind(uuid)
        .bind(account_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ChatRecord {
                    conversation: r.get("conversation"),
                    role: Column::from_word(r.get("role"))?,
                    content: r.get("content"),
                    citations: r.get("citations"),
                    created_at: r.get("created_at"),
                })
            })
            .collect()
    }

    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn forward_wakeups(&self, notify: Arc<tokio::sync::Notify>) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            loop {
                let listened = async {
                    let mut listener = PgListener::connect_with(&pool).await?;
                    listener.listen(CHANNEL).await?;
                    loop {
                        listener.recv().await?;
                        notify.notify_one();
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), sqlx::Error>(())
                };
                if let Err(e) = listened.await {
                    warn!(error = %e, "job wake-ups lost; listening again (workers still poll meanwhile)");
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }
}
