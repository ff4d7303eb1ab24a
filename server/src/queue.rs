//! Background work: queue workers that claim jobs from the database, the
//! heartbeat of jobs in progress, and the sweeper that requeues jobs lost in
//! a crash, fails jobs that keep crashing, deletes expired results and
//! removes uploads nobody refers to any more.

use std::time::Duration;

use tracing::{error, info, warn};

use crate::blobs::BlobKind;
use crate::jobs::{self, now};
use crate::state::AppState;
use crate::store::StoreResult;

/// Starts `config.workers` queue workers, the heartbeat and the sweeper.
pub fn spawn(state: &AppState) {
    for n in 0..state.config.workers.max(1) {
        let state = state.clone();
        tokio::spawn(async move { worker(state, n).await });
    }
    let heartbeat = state.clone();
    tokio::spawn(async move { heartbeat_loop(heartbeat).await });
    let sweeper = state.clone();
    tokio::spawn(async move { sweep_loop(sweeper).await });
}

async fn worker(state: AppState, n: usize) {
    let worker_id = format!("{}#{n}", state.worker_id);
    loop {
        match state.store.claim_next(&worker_id, now()).await {
            Ok(Some(job)) => {
                info!(uuid = %job.uuid, attempt = job.attempts, pages = job.page_count, "claimed job");
                if let Err(e) = jobs::process(&state, job).await {
                    error!(error = %e, "job stopped on a storage error; the sweeper will requeue it");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
            Ok(None) => {
                // Woken by a submission, or poll now and then for jobs the
                // sweeper requeued.
                let _ = tokio::time::timeout(Duration::from_secs(2), state.queue_notify.notified()).await;
            }
            Err(e) => {
                error!(error = %e, "could not claim a job");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

async fn heartbeat_loop(state: AppState) {
    let every = Duration::from_secs((state.config.stale_after_secs / 4).clamp(1, 30) as u64);
    loop {
        tokio::time::sleep(every).await;
        let running = state.running_jobs();
        if !running.is_empty()
            && let Err(e) = state.store.heartbeat(&running, now()).await
        {
            warn!(error = %e, "heartbeat failed");
        }
    }
}

async fn sweep_loop(state: AppState) {
    loop {
        tokio::time::sleep(Duration::from_secs(state.config.sweep_interval_secs.max(1))).await;
        if let Err(e) = sweep(&state, now() - state.config.stale_after_secs).await {
            warn!(error = %e, "sweep failed");
        }
    }
}

/// Requeues jobs whose heartbeat is older than `stale_before`, fails those
/// out of attempts, deletes expired jobs and orphaned files.
pub async fn sweep(state: &AppState, stale_before: i64) -> StoreResult<()> {
    let outcome = state.store.requeue_stale(stale_before, state.config.max_attempts, now()).await?;
    if !outcome.requeued.is_empty() {
        info!(jobs = ?outcome.requeued, "requeued interrupted jobs");
        state.queue_notify.notify_waiters();
    }
    for job in outcome.failed {
        warn!(uuid = %job.uuid, attempts = job.attempts, "job failed after repeated interruptions");
        let _ = state.blobs.delete(BlobKind::Upload, &job.uuid).await;
    }
    let expired = state.store.delete_expired(now() - state.config.retention_hours * 3600).await?;
    for uuid in &expired {
        if let Err(e) = state.blobs.delete(BlobKind::ResultPdf, uuid).await {
            warn!(%uuid, error = %e, "could not delete an expired result PDF (the sweep retries)");
        }
    }
    if !expired.is_empty() {
        info!(count = expired.len(), "deleted expired jobs");
    }
    remove_orphans(state).await
}

/// Whether a job still needs its upload (`is_upload`) or result PDF.
async fn still_needed(state: &AppState, uuid: &str, is_upload: bool) -> StoreResult<bool> {
    Ok(match state.store.job(uuid).await? {
        Some(job) if is_upload => job.upload.is_some(),
        Some(_) => true,
        None => false,
    })
}

/// Uploads of jobs that no longer exist or already finished (e.g. the
/// process died between finishing a job and deleting its upload), result
/// PDFs of deleted jobs — in the blob store and in this node's staging
/// directories. Anything younger than ten minutes may still be written.
async fn remove_orphans(state: &AppState) -> StoreResult<()> {
    let settle = Duration::from_secs(600);
    for kind in [BlobKind::Upload, BlobKind::ResultPdf] {
        for (key, age) in state.blobs.list(kind).await? {
            if age >= settle && !still_needed(state, &key, kind == BlobKind::Upload).await? {
                info!(%key, kind = kind.word(), "removing orphaned blob");
                state.blobs.delete(kind, &key).await?;
            }
        }
    }
    for (dir, is_upload) in [(&state.uploads_dir, true), (&state.results_dir, false)] {
        let Ok(mut entries) = tokio::fs::read_dir(dir).await else { continue };
        while let Ok(Some(entry)) = entries.next_entry().await {
            let name = entry.file_name().to_string_lossy().into_owned();
            let uuid = name.split('.').next().unwrap_or_default().to_string();
            // Files still being written (a streaming upload, a rendering PDF) are young.
            let young = entry
                .metadata()
                .await
                .ok()
                .and_then(|m| m.modified().ok())
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < Duration::from_secs(600));
            if young {
                continue;
            }
            if !still_needed(state, &uuid, is_upload).await? {
                info!(file = %name, "removing orphaned file");
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::config::Config;
    use crate::store::JobStatus;
    use crate::testing::{Scratch, charge, fake_vlm, pdf, state, vlm_job};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn workers_take_queued_jobs_when_woken() {
        let dir = Scratch::new("queue-work");
        let vlm = fake_vlm(&[]).await;
        let config = Config { workers: 2, sweep_interval_secs: 3600, ..Config::default() };
        let state = state(&dir, Some(&vlm), config).await;
        spawn(&state);
        for uuid in ["q1", "q2", "q3"] {
            vlm_job(&state, uuid, &pdf(2), 2, &charge(), false).await;
            state.queue_notify.notify_one();
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let mut done = 0;
            for uuid in ["q1", "q2", "q3"] {
                let job = state.store.job(uuid).await.unwrap().unwrap();
                done += usize::from(job.status == JobStatus::Done);
            }
            if done == 3 {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "queued jobs were not processed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(state.store.queue_depth().await.unwrap(), 0);
        assert_eq!(vlm.requests.load(std::sync::atomic::Ordering::SeqCst), 6, "each page once");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sweep_requeues_stale_work_fails_exhausted_jobs_and_removes_leftovers() {
        let dir = Scratch::new("queue-sweep");
        let config = Config { max_attempts: 2, retention_hours: 1, ..Config::default() };
        let state = state(&dir, None, config).await;
        let stale = vlm_job(&state, "stale", &pdf(1), 1, &charge(), true).await;
        let live = vlm_job(&state, "live", &pdf(1), 1, &charge(), true).await;
        // "stale" last beat at its start; "live" later.
        state.store.heartbeat(std::slice::from_ref(&live.uuid), now() + 100).await.unwrap();
        sweep(&state, stale.created_at + 1).await.unwrap();
        assert_eq!(state.store.job("stale").await.unwrap().unwrap().status, JobStatus::Pending, "requeued");
        assert_eq!(state.store.job("live").await.unwrap().unwrap().status, JobStatus::Processing, "left alone");

        // Claimed again and lost again: out of attempts (2), failed, refunded, upload gone.
        let again = state.store.claim_next("unit#1", now()).await.unwrap().unwrap();
        assert_eq!((again.uuid.as_str(), again.attempts), ("stale", 2));
        sweep(&state, i64::MAX).await.unwrap();
        let failed = state.store.job("stale").await.unwrap().unwrap();
        assert_eq!(failed.status, JobStatus::Failed);
        assert!(!state.uploads_dir.join(&stale.uuid).exists(), "its upload is deleted");
        assert_eq!(state.store.used("acct:1", "credits").await.unwrap(), 1, "only the live job stays charged");

        // An upload no job refers to, older than ten minutes, is removed; a young one is kept
        // (it may be a submission still streaming in).
        let orphan = state.uploads_dir.join("orphan");
        let young = state.uploads_dir.join("young");
        std::fs::write(&orphan, b"x").unwrap();
        std::fs::write(&young, b"x").unwrap();
        let old = SystemTime::now() - Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&orphan).unwrap().set_modified(old).unwrap();
        // An expired job's result PDF goes with it.
        let pdf_path = state.results_dir.join("stale.pdf");
        std::fs::write(&pdf_path, b"%PDF-").unwrap();
        backdate_finish(&state, "stale").await;
        sweep(&state, 0).await.unwrap();
        assert!(!orphan.exists() && young.exists());
        assert!(state.store.job("stale").await.unwrap().is_none(), "expired");
        assert!(!pdf_path.exists(), "its result PDF removed");
        assert!(state.uploads_dir.join(&live.uuid).exists(), "a live job's upload stays");
    }

    /// Moves a finished job's end far enough back to be past retention.
    async fn backdate_finish(state: &AppState, uuid: &str) {
        // The store has no "backdate" operation; finishing again at an old time does it
        // (finish is idempotent for refunds).
        let finish = crate::store::Finish {
            status: JobStatus::Failed,
            error: Some("expired".into()),
            result: None,
            refund_pages: 0,
            claim: None,
        };
        state.store.finish(uuid, &finish, now() - 7200).await.unwrap();
    }
}
