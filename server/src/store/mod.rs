//! Persistence behind one trait: accounts, page usage, the job queue, page
//! checkpoints and chat transcripts. Each database has its own module and
//! migrations folder — [`sqlite::SqliteStore`] (the embedded default, one
//! server per data directory) and [`postgres::PgStore`] (many `ocrchat serve`
//! nodes on one database) — and [`open`] picks one from the URL. Everything
//! above this module talks to `dyn Storage`.
//!
//! Rows carry enums, never strings: [`Column`] is the one place a stored
//! word becomes a value, and an unknown word is a [`StoreError::Corrupt`],
//! not a silent default.

pub mod postgres;
pub mod sqlite;

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use ocrchat_engine::InputFormat;
use thiserror::Error;

use crate::llm::{ChatRole, Tier, Tool};

/// A storage failure (always a server-side problem, never the caller's).
#[derive(Debug, Error)]
pub enum StoreError {
    /// The database refused or could not be reached.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value this version does not know.
    #[error("stored {column} has an unknown value {value:?}")]
    Corrupt {
        /// Which column.
        column: &'static str,
        /// What it held.
        value: String,
    },
    /// A job that should exist does not.
    #[error("job {0} does not exist")]
    NoSuchJob(String),
    /// The attempt finishing a job no longer holds its claim (it was requeued after a stale
    /// heartbeat; another attempt owns the job now).
    #[error("job {0} is no longer claimed by this attempt")]
    ClaimLost(String),
    /// The blob store (uploads, result PDFs) failed.
    #[error(transparent)]
    Blob(#[from] crate::blobs::BlobError),
    /// A URL that names no supported database.
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://USER@HOST/DB")]
    UnsupportedUrl(String),
}

impl StoreError {
    /// Whether the database itself is unreachable (the API answers 503, not 500).
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Database(e) | Self::Blob(crate::blobs::BlobError::Database(e)) => unreachable_database(e),
            _ => false,
        }
    }
}

/// A connection problem rather than a refused statement.
fn unreachable_database(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        // SQLSTATE classes 08 (connection exception), 53 (insufficient
        // resources) and 57 (operator intervention: the server shutting down).
        sqlx::Error::Database(e) => {
            e.code().is_some_and(|c| c.starts_with("08") || c.starts_with("53") || c.starts_with("57"))
        }
        _ => false,
    }
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A value stored as one lower-case word.
pub trait Column: Sized + Copy + 'static {
    /// Column name, for [`StoreError::Corrupt`].
    const NAME: &'static str;
    /// The stored word.
    fn word(self) -> &'static str;
    /// Every value (the parse is the inverse of [`Column::word`]).
    const ALL: &'static [Self];
    /// Parses a stored word.
    fn from_word(value: &str) -> StoreResult<Self> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.word() == value)
            .ok_or_else(|| StoreError::Corrupt { column: Self::NAME, value: value.to_string() })
    }
}

impl Column for Tier {
    const NAME: &'static str = "tier";
    const ALL: &'static [Self] = &[Tier::Cpu, Tier::Vlm];
    fn word(self) -> &'static str {
        self.as_str()
    }
}

impl Column for Tool {
    const NAME: &'static str = "tool";
    const ALL: &'static [Self] = &[
        Tool::ExtractTables,
        Tool::ImageToText,
        Tool::PdfToText,
        Tool::HandwritingToText,
        Tool::Translate,
        Tool::MathToLatex,
    ];
    fn word(self) -> &'static str {
        self.slug()
    }
}

impl Column for ChatRole {
    const NAME: &'static str = "role";
    const ALL: &'static [Self] = &[ChatRole::User, ChatRole::Assistant];
    fn word(self) -> &'static str {
        match self {
            ChatRole::User => "user",
            ChatRole::Assistant => "assistant",
        }
    }
}

impl Column for InputFormat {
    const NAME: &'static str = "input_format";
    const ALL: &'static [Self] = &[
        InputFormat::Png,
        InputFormat::Jpeg,
        InputFormat::Webp,
        InputFormat::Gif,
        InputFormat::Bmp,
        InputFormat::Tiff,
        InputFormat::Pdf,
    ];
    fn word(self) -> &'static str {
        self.name()
    }
}

impl Column for Plan {
    const NAME: &'static str = "plan";
    const ALL: &'static [Self] = &[Plan::Free, Plan::Paid];
    fn word(self) -> &'static str {
        self.as_str()
    }
}

impl Column for JobStatus {
    const NAME: &'static str = "status";
    const ALL: &'static [Self] = &[JobStatus::Pending, JobStatus::Processing, JobStatus::Done, JobStatus::Failed];
    fn word(self) -> &'static str {
        self.as_str()
    }
}

/// Which database a URL names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://PATH` (or no URL: the file in the data directory).
    Sqlite(std::path::PathBuf),
    /// `postgres://…` / `postgresql://…`.
    Postgres(String),
}

impl Backend {
    /// The backend of `url`; `None` means the SQLite file in `data_dir`.
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> StoreResult<Self> {
        let Some(url) = url.map(str::trim).filter(|u| !u.is_empty()) else {
            return Ok(Self::Sqlite(data_dir.join("ocrchat.sqlite3")));
        };
        if let Some(path) = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")) {
            let path = path.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(StoreError::UnsupportedUrl(url.to_string()));
            }
            return Ok(Self::Sqlite(path.into()));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        Err(StoreError::UnsupportedUrl(redact(url)))
    }

    /// Whether one server process owns the database (SQLite: the data
    /// directory lock), so every `processing` job at start was left by a
    /// dead process. False for PostgreSQL: other nodes' work is live.
    pub fn single_process(&self) -> bool {
        matches!(self, Self::Sqlite(_))
    }

    /// The database for messages (no password).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("sqlite://{}", path.display()),
            Self::Postgres(url) => redact(url),
        }
    }
}

/// `url` without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

/// Opens (and migrates) the database `backend` names.
pub async fn open(backend: &Backend) -> StoreResult<Arc<dyn Storage>> {
    Ok(match backend {
        Backend::Sqlite(path) => Arc::new(sqlite::SqliteStore::open(path).await?),
        Backend::Postgres(url) => Arc::new(postgres::PgStore::open(url).await?),
    })
}

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
}

/// A job to store: what a submission knows before the queue touches it.
#[derive(Clone, Debug)]
pub struct NewJob {
    /// Public id.
    pub uuid: String,
    /// Who may see it: `acct:<id>` or `ip:<addr>`.
    pub owner: String,
    /// Account, when submitted with a token.
    pub account_id: Option<i64>,
    /// Queue priority (paid = 1).
    pub priority: i64,
    /// OCR tier.
    pub tier: Tier,
    /// Requested language (canonical code or `auto`).
    pub language: String,
    /// Tool preset.
    pub tool: Option<Tool>,
    /// Target language for `translate`.
    pub translate_to: Option<String>,
    /// Original file name (sanitised).
    pub filename: String,
    /// Sniffed input format.
    pub input_format: InputFormat,
    /// Blob key of the uploaded file ([`crate::blobs`]), kept until the job ends.
    pub upload: String,
    /// Pages in the file.
    pub page_count: i64,
    /// Credits charged per page.
    pub page_cost: i64,
    /// Where the pages were charged (already reserved).
    pub charge: Charge,
    /// The client's `Idempotency-Key`: a second job with the same key and owner is not created.
    pub idempotency_key: Option<String>,
}

/// What [`Storage::insert_job`] did.
#[derive(Clone, Debug)]
pub enum Inserted {
    /// The job was stored.
    New(Job),
    /// The owner already has a job with this idempotency key: that one.
    Existing(Job),
}

/// A finished job's API JSON as rendered once, with its entity tag.
#[derive(Clone, Debug)]
pub struct StoredView {
    /// Strong `ETag` value (quoted).
    pub etag: String,
    /// The JSON body.
    pub json: String,
}

/// Where a listing continues: the last job of the previous page.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Its `created_at`.
    pub created_at: i64,
    /// Its uuid (ties of `created_at`).
    pub uuid: String,
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
    /// OCR tier.
    pub tier: Tier,
    /// Requested language (canonical code or `auto`).
    pub language: String,
    /// Tool preset.
    pub tool: Option<Tool>,
    /// Target language for `translate`.
    pub translate_to: Option<String>,
    /// Original file name (sanitised).
    pub filename: String,
    /// Sniffed input format.
    pub input_format: InputFormat,
    /// Blob key of the uploaded file until the job ends.
    pub upload: Option<String>,
    /// Pages in the file.
    pub page_count: i64,
    /// Pages finished (ok or failed).
    pub pages_done: i64,
    /// Pages that failed.
    pub pages_failed: i64,
    /// Credits charged per page.
    pub page_cost: i64,
    /// Balance the pages were charged to.
    pub charge_subject: String,
    /// Period of that balance.
    pub charge_period: String,
    /// Claims so far (bounded retries).
    pub attempts: i64,
    /// Who holds the claim (`<node>#<n>`) while `processing`.
    pub worker: Option<String>,
    /// Error of a failed job.
    pub error: Option<String>,
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
    /// Pages not delivered after all (failed, never processed, or every page of a failed job).
    pub refund_pages: i64,
    /// The claim (`Job::worker`) this attempt ran under: the finish applies only while the job is
    /// still `processing` under it, so an attempt whose claim went stale and was requeued (a
    /// frozen node that wakes up) cannot overwrite the attempt that took over. `None`: no check
    /// (the sweep failing a job out of attempts).
    pub claim: Option<String>,
}

/// A chat message.
#[derive(Clone, Debug)]
pub struct ChatRecord {
    /// Conversation id.
    pub conversation: String,
    /// Who said it.
    pub role: ChatRole,
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
    /// Out of attempts: now `failed`, every page refunded (their upload blobs must be deleted).
    pub failed: Vec<Job>,
}

/// The error of a job given up after `attempts` interrupted claims.
pub fn interrupted_error(attempts: i64) -> String {
    format!("processing was interrupted {attempts} times; giving up")
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
    /// Revokes account `id`; false when it does not exist or is already revoked.
    async fn revoke_account(&self, id: i64, now: i64) -> StoreResult<bool>;
    /// Adds purchased credits to account `id`; false when it does not exist.
    async fn add_credits(&self, id: i64, credits: i64) -> StoreResult<bool>;

    /// Reserves `pages` against a charge in one atomic step (concurrent
    /// reservations, from any number of nodes, never pass the cap), or says
    /// how far over it would go.
    async fn reserve(&self, charge: &Charge, pages: i64) -> StoreResult<Result<(), OverQuota>>;
    /// Pages used so far under a charge.
    async fn used(&self, subject: &str, period: &str) -> StoreResult<i64>;

    /// Gives back `pages` reserved against a charge that no job took (a
    /// duplicate submission).
    async fn release(&self, charge: &Charge, pages: i64) -> StoreResult<()>;

    /// Stores a new job: `pending` (and wakes idle nodes), or `processing`
    /// claimed by `claimed_by` for inline work; or returns the owner's job
    /// with the same idempotency key.
    async fn insert_job(&self, job: &NewJob, claimed_by: Option<&str>, now: i64) -> StoreResult<Inserted>;
    /// One job (without its result: polls stay cheap).
    async fn job(&self, uuid: &str) -> StoreResult<Option<Job>>;
    /// The owner's job submitted with this idempotency key.
    async fn job_by_idempotency_key(&self, owner: &str, key: &str) -> StoreResult<Option<Job>>;
    /// An owner's jobs, newest first, after `cursor`, at most `limit`.
    async fn jobs_of(&self, owner: &str, cursor: Option<&Cursor>, limit: i64) -> StoreResult<Vec<Job>>;
    /// The document JSON of a done job.
    async fn result(&self, uuid: &str) -> StoreResult<Option<String>>;
    /// The finished job's rendered API JSON, once stored.
    async fn view(&self, uuid: &str) -> StoreResult<Option<StoredView>>;
    /// Keeps a finished job's rendered API JSON (the first writer wins).
    async fn store_view(&self, uuid: &str, view: &StoredView) -> StoreResult<()>;
    /// Claims the next pending job (priority first, then oldest) for
    /// `worker`; concurrent claimers never get the same job.
    async fn claim_next(&self, worker: &str, now: i64) -> StoreResult<Option<Job>>;
    /// Marks jobs as alive (only while still `processing`).
    async fn heartbeat(&self, uuids: &[String], now: i64) -> StoreResult<()>;
    /// Checkpoints one finished page and advances `pages_done` (once per page).
    async fn save_page(&self, uuid: &str, record: &PageRecord, now: i64) -> StoreResult<()>;
    /// Checkpointed pages of a job, by index.
    async fn pages(&self, uuid: &str) -> StoreResult<Vec<PageRecord>>;
    /// Ends a job: status, result, refund of undelivered pages (once, even
    /// when retried), upload forgotten.
    async fn finish(&self, uuid: &str, finish: &Finish, now: i64) -> StoreResult<()>;
    /// Puts `processing` jobs whose heartbeat is older than `stale_before` back in
    /// the queue, or fails them (refunding every page) once they used `max_attempts` claims.
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
    /// Forwards "a job was queued" from other processes to `notify` (no-op
    /// where one process owns the database).
    fn forward_wakeups(&self, notify: Arc<tokio::sync::Notify>);
}

#[cfg(test)]
mod story;
