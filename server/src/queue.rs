//! Background work: queue workers that claim jobs from the database, the
//! heartbeat of jobs in progress, and the sweeper that requeues jobs lost in
//! a crash, fails jobs that keep crashing, deletes expired results and
//! removes uploads nobody refers to any more.

use std::time::Duration;

use tracing::{error, info, warn};

use crate::jobs::{self, now, result_pdf_path};
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
        if !running.is_empty() {
            if let Err(e) = state.store.heartbeat(&running, now()).await {
                warn!(error = %e, "heartbeat failed");
            }
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
        if let Some(path) = job.upload_path {
            let _ = tokio::fs::remove_file(path).await;
        }
    }
    let expired = state.store.delete_expired(now() - state.config.retention_hours * 3600).await?;
    for uuid in &expired {
        let _ = tokio::fs::remove_file(result_pdf_path(&state.results_dir, uuid)).await;
    }
    if !expired.is_empty() {
        info!(count = expired.len(), "deleted expired jobs");
    }
    remove_orphans(state).await
}

/// Uploads of jobs that no longer exist or already finished (e.g. the
/// process died between finishing a job and deleting its file), and
/// result PDFs of deleted jobs.
async fn remove_orphans(state: &AppState) -> StoreResult<()> {
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
            let keep = match state.store.job(&uuid).await? {
                Some(job) if is_upload => job.upload_path.is_some(),
                Some(_) => true,
                None => false,
            };
            if !keep {
                info!(file = %name, "removing orphaned file");
                let _ = tokio::fs::remove_file(entry.path()).await;
            }
        }
    }
    Ok(())
}
