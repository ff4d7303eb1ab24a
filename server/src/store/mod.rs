//! Persistence behind one trait: accounts, page usage, the job queue, page
//! checkpoints and chat transcripts. SQLite is the implementation today
//! ([`sqlite::SqliteStore`]); everything above this module talks to
//! `dyn Storage`, so PostgreSQL can follow without touching the API.

pub mod sqlite;

use async_trait::async_trait;
use thiserror::Error;

/// A storage failure (always a server-side problem, never the caller's).
#[derive(Debug, Error)]
#[error("storage: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// A storage error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Self(e.to_string())
    }
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// An account's plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Monthly page bucket.
    Free,
    /// Purchased credits, higher caps, queue priority.
    Paid,
}

impl Plan {
    /// `free` or `paid`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Free => "free",
            Self::Paid => "paid",
        }
    }

    /// Parses `free` or `paid`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "free" => Some(Self::Free),
            "paid" => Some(Self::Paid),
            _ => None,
        }
    }
}

/// An API account.
#[derive(Clone, Debug)]
pub struct Account {
    /// Row id.
    pub id: i64,
    /// First characters of the token (for `token list`; not enough to use it).
    pub token_prefix: String,
    /// Plan.
    pub plan: Plan,
    /// Purchased credits (paid plan), in pages.
    pub credits: i64,
    /// Free-text label.
    pub label: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// Where a job's pages are charged: a subject's usage in one period against a cap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charge {
    /// `acct:<id>` or `ip:<addr>`.
    pub subject: String,
    /// `YYYY-MM-DD` (anonymous), `YYYY-MM` (free), `credits` (paid).
    pub period: String,
    /// Pages allowed in that period.
    pub cap: i64,
}

/// Refusal of a reservation: the balance it would exceed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverQuota {
    /// Pages already used.
    pub used: i64,
    /// Pages allowed.
    pub cap: i64,
}

/// Job lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobStatus {
    /// Queued.
    Pending,
    /// Claimed by a worker.
    Processing,
    /// Finished; result available.
    Done,
    /// Finished without a result.
    Failed,
}

impl JobStatus {
    /// The API's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Processing => "processing",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "processing" => Self::Processing,
            "done" => Self::Done,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// A job as stored.
#[derive(Clone, Debug)]
pub struct Job {
    /// Public id.
    pub uuid: String,
    /// Who may see it: `acct:<id>` or `ip:<addr>`.
    pub owner: String,
    /// Account, when submitted with a token.
    pub account_id: Option<i64>,
    /// Queue priority (paid = 1).
    pub priority: i64,
    /// Lifecycle state.
    pub status: JobStatus,
    /// `cpu` or `vlm`.
    pub tier: String,
    /// Requested language (canonical code or `auto`).
    pub language: String,
    /// Tool preset slug.
    pub tool: Option<String>,
    /// Target language for `translate`.
    pub translate_to: Option<String>,
    /// Original file name (sanitised).
    pub filename: String,
    /// Sniffed input format.
    pub input_format: String,
    /// Uploaded bytes on disk until the job finishes.
    pub upload_path: Option<String>,
    /// Pages in the file.
    pub page_count: i64,
    /// Pages finished (ok or failed).
    pub pages_done: i64,
    /// Pages that failed.
    pub pages_failed: i64,
    /// Credits charged per page.
    pub page_cost: i64,
    /// Where the pages were charged.
    pub charge: Charge,
    /// Claims so far (bounded retries).
    pub attempts: i64,
    /// Error of a failed job.
    pub error: Option<String>,
    /// The document JSON of a finished job.
    pub result: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub started_at: Option<i64>,
    /// Unix seconds.
    pub finished_at: Option<i64>,
}

/// A finished page checkpoint: the page JSON or the error that stopped it.
#[derive(Clone, Debug)]
pub struct PageRecord {
    /// Zero-based page index.
    pub index: i64,
    /// Page JSON when it succeeded.
    pub page: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
}

/// How a job ended.
#[derive(Clone, Debug)]
pub struct Finish {
    /// `Done` or `Failed`.
    pub status: JobStatus,
    /// Error message for failed jobs.
    pub error: Option<String>,
    /// Document JSON for done jobs.
    pub result: Option<String>,
    /// Pages not charged after all (failed or never processed).
    pub refund_pages: i64,
}

/// A chat message.
#[derive(Clone, Debug)]
pub struct ChatRecord {
    /// Conversation id.
    pub conversation: String,
    /// `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
    /// Citations JSON (assistant messages).
    pub citations: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

/// Jobs that a stale sweep put back in the queue or gave up on.
#[derive(Debug, Default)]
pub struct Requeued {
    /// Back to `pending`.
    pub requeued: Vec<String>,
    /// Out of attempts: now `failed` (their uploads must be deleted).
    pub failed: Vec<Job>,
}

/// Everything the server persists.
#[async_trait]
pub trait Storage: Send + Sync {
    /// Creates an account for a token hash.
    async fn create_account(
        &self,
        token_hash: &str,
        token_prefix: &str,
        plan: Plan,
        credits: i64,
        label: Option<&str>,
        now: i64,
    ) -> StoreResult<Account>;
    /// The live (not revoked) account holding this token hash.
    async fn account_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Account>>;
    /// All accounts, oldest first.
    async fn accounts(&self) -> StoreResult<Vec<Account>>;
    /// Revokes the account with this id or token prefix; false when none matched.
    async fn revoke_account(&self, id_or_prefix: &str, now: i64) -> StoreResult<bool>;
    /// Adds purchased credits to an account.
    async fn add_credits(&self, account_id: i64, credits: i64) -> StoreResult<()>;

    /// Reserves `pages` against a charge atomically, or says how far over it would go.
    async fn reserve(&self, charge: &Charge, pages: i64) -> StoreResult<Result<(), OverQuota>>;
    /// Pages used so far under a charge.
    async fn used(&self, subject: &str, period: &str) -> StoreResult<i64>;

    /// Stores a new job (`pending`, or `processing` claimed by `worker` for inline work).
    async fn insert_job(&self, job: &Job, worker: Option<&str>, now: i64) -> StoreResult<()>;
    /// One job.
    async fn job(&self, uuid: &str) -> StoreResult<Option<Job>>;
    /// Claims the next pending job (priority first, then oldest) for `worker`.
    async fn claim_next(&self, worker: &str, now: i64) -> StoreResult<Option<Job>>;
    /// Marks jobs as alive.
    async fn heartbeat(&self, uuids: &[String], now: i64) -> StoreResult<()>;
    /// Checkpoints one finished page and advances `pages_done`.
    async fn save_page(&self, uuid: &str, record: &PageRecord, now: i64) -> StoreResult<()>;
    /// Checkpointed pages of a job, by index.
    async fn pages(&self, uuid: &str) -> StoreResult<Vec<PageRecord>>;
    /// Ends a job: status, result, refund of unprocessed pages, upload forgotten.
    async fn finish(&self, uuid: &str, finish: &Finish, now: i64) -> StoreResult<()>;
    /// Puts `processing` jobs whose heartbeat is older than `stale_before` back in
    /// the queue, or fails them once they used `max_attempts` claims.
    async fn requeue_stale(&self, stale_before: i64, max_attempts: i64, now: i64) -> StoreResult<Requeued>;
    /// Unfinished jobs of an owner with more than `min_pages` pages (queued
    /// work counted by the per-caller concurrency limit).
    async fn unfinished_jobs(&self, owner: &str, min_pages: i64) -> StoreResult<i64>;
    /// Jobs waiting in the queue.
    async fn queue_depth(&self) -> StoreResult<i64>;
    /// Deletes finished jobs older than `before`; returns their uuids.
    async fn delete_expired(&self, before: i64) -> StoreResult<Vec<String>>;

    /// Appends a chat message.
    async fn add_chat(&self, uuid: &str, account_id: i64, record: &ChatRecord) -> StoreResult<()>;
    /// The transcript of a job for an account, oldest first.
    async fn chat_history(&self, uuid: &str, account_id: i64) -> StoreResult<Vec<ChatRecord>>;
    /// Is the database answering?
    async fn ping(&self) -> StoreResult<()>;
}
