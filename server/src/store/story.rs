//! One storage story, told to every backend: SQLite in a temp dir and the
//! real PostgreSQL of the tests (`ocrchat_tests::postgres`). Anything the
//! server relies on across nodes — reservations never passing a cap, a job
//! never claimed twice, live work never requeued, refunds once — is asserted
//! here with concurrent callers, not only in sequence.

use std::collections::HashSet;
use std::sync::Arc;

use ocrchat_engine::InputFormat;

use super::*;

fn new_job(uuid: &str, priority: i64, pages: i64, charge: &Charge) -> NewJob {
    NewJob {
        uuid: uuid.into(),
        owner: "acct:1".into(),
        account_id: None,
        priority,
        tier: Tier::Cpu,
        language: "auto".into(),
        tool: None,
        translate_to: None,
        filename: format!("{uuid}.png"),
        input_format: InputFormat::Png,
        upload: uuid.to_string(),
        page_count: pages,
        page_cost: 1,
        charge: charge.clone(),
        idempotency_key: None,
    }
}

/// The stored job of a fresh insert.
fn fresh(inserted: Inserted) -> Job {
    match inserted {
        Inserted::New(job) => job,
        Inserted::Existing(job) => panic!("{} already existed", job.uuid),
    }
}

fn page(index: i64) -> PageRecord {
    PageRecord { index, page: Some(format!("{{\"index\":{index}}}")), error: None }
}

async fn story(s: Arc<dyn Storage>) {
    s.ping().await.unwrap();

    // Accounts: create, find by token hash, credit, revoke by id.
    let free = s.create_account("hash-free", "ocr_free", Plan::Free, 0, Some("alice"), 1).await.unwrap();
    let paid = s.create_account("hash-paid", "ocr_paid", Plan::Paid, 5, None, 2).await.unwrap();
    assert_eq!((free.plan, free.label.as_deref()), (Plan::Free, Some("alice")));
    assert_eq!(s.account_by_token_hash("hash-paid").await.unwrap().map(|a| a.id), Some(paid.id));
    assert!(s.add_credits(paid.id, 10).await.unwrap());
    assert!(!s.add_credits(paid.id + 1000, 10).await.unwrap(), "no such account");
    assert!(s.revoke_account(free.id, 3).await.unwrap());
    assert!(!s.revoke_account(free.id, 4).await.unwrap(), "already revoked");
    assert!(s.account_by_token_hash("hash-free").await.unwrap().is_none(), "revoked tokens do not authenticate");
    let all = s.accounts().await.unwrap();
    assert_eq!(
        all.iter().map(|a| (a.id, a.credits, a.revoked_at)).collect::<Vec<_>>(),
        [(free.id, 0, Some(3)), (paid.id, 15, None)]
    );

    // Reservations: 20 concurrent one-page reservations against 10 pages left.
    let charge = Charge { subject: "acct:1".into(), period: "2026-11".into(), cap: 10 };
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (s, charge) = (Arc::clone(&s), charge.clone());
            tokio::spawn(async move { s.reserve(&charge, 1).await.unwrap() })
        })
        .collect();
    let mut accepted = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => accepted += 1,
            Err(over) => assert_eq!(over.cap, 10),
        }
    }
    assert_eq!(accepted, 10, "exactly the cap is reserved");
    assert_eq!(s.reserve(&charge, 1).await.unwrap(), Err(OverQuota { used: 10, cap: 10 }));
    assert_eq!(s.reserve(&charge, 11).await.unwrap(), Err(OverQuota { used: 10, cap: 10 }));
    let big = Charge { subject: "acct:1".into(), period: "credits".into(), cap: 100 };
    assert_eq!(s.reserve(&big, 30).await.unwrap(), Ok(()));

    // Jobs: the stored row carries enums; an inline job is born claimed.
    let mut vlm = new_job("inline", 0, 2, &big);
    (vlm.tier, vlm.tool, vlm.translate_to, vlm.input_format) =
        (Tier::Vlm, Some(Tool::Translate), Some("de".into()), InputFormat::Pdf);
    let inline = fresh(s.insert_job(&vlm, Some("node-a#0"), 5).await.unwrap());
    assert_eq!(
        (inline.status, inline.attempts, inline.worker.as_deref()),
        (JobStatus::Processing, 1, Some("node-a#0"))
    );
    let stored = s.job("inline").await.unwrap().unwrap();
    assert_eq!((stored.tier, stored.tool, stored.input_format), (Tier::Vlm, Some(Tool::Translate), InputFormat::Pdf));
    for (uuid, priority, created) in [("free-old", 0, 10), ("paid-new", 1, 12), ("free-new", 0, 11)] {
        let job = fresh(s.insert_job(&new_job(uuid, priority, 4, &big), None, created).await.unwrap());
        assert_eq!((job.status, job.attempts, job.worker), (JobStatus::Pending, 0, None));
    }
    assert_eq!(s.queue_depth().await.unwrap(), 3);

    // Idempotency: the same key from the same owner finds the first job,
    // also when both submissions race; another owner's key is separate.
    let mut keyed = new_job("keyed-1", 0, 1, &big);
    keyed.page_count = 1;
    keyed.idempotency_key = Some("retry-me".into());
    let mut twin = keyed.clone();
    twin.uuid = "keyed-2".into();
    let (a, b) = tokio::join!(s.insert_job(&keyed, Some("node-a#0"), 6), s.insert_job(&twin, Some("node-a#0"), 6));
    let uuids: Vec<(bool, String)> = [a.unwrap(), b.unwrap()]
        .into_iter()
        .map(|i| match i {
            Inserted::New(j) => (true, j.uuid),
            Inserted::Existing(j) => (false, j.uuid),
        })
        .collect();
    assert_eq!(uuids.iter().filter(|(new, _)| *new).count(), 1, "{uuids:?}");
    assert_eq!(uuids[0].1, uuids[1].1, "both answers name the same job");
    let mut other = twin.clone();
    (other.uuid, other.owner) = ("keyed-3".into(), "ip:10.0.0.9".into());
    assert!(matches!(s.insert_job(&other, Some("n"), 6).await.unwrap(), Inserted::New(_)));
    assert_eq!(s.job_by_idempotency_key("acct:1", "retry-me").await.unwrap().unwrap().uuid, uuids[0].1);
    let before = s.used("acct:1", "credits").await.unwrap();
    s.release(&big, 1).await.unwrap();
    assert_eq!(s.used("acct:1", "credits").await.unwrap(), before - 1, "a duplicate's reservation is given back");
    s.reserve(&big, 1).await.unwrap().unwrap();
    let finish =
        Finish { status: JobStatus::Done, error: None, result: Some("{}".into()), refund_pages: 0, claim: None };
    for uuid in ["keyed-1", "keyed-2", "keyed-3"] {
        if s.job(uuid).await.unwrap().is_some() {
            s.finish(uuid, &finish, 7).await.unwrap();
        }
    }

    // Listing: newest first, keyset pages of 2.
    let mut listed = Vec::new();
    let mut cursor = None;
    loop {
        let page = s.jobs_of("acct:1", cursor.as_ref(), 2).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        cursor = page.last().map(|j| Cursor { created_at: j.created_at, uuid: j.uuid.clone() });
        listed.extend(page.into_iter().map(|j| j.uuid));
    }
    assert_eq!(listed, ["paid-new", "free-new", "free-old", uuids[0].1.as_str(), "inline"]);
    assert_eq!(s.unfinished_jobs("acct:1", 2).await.unwrap(), 3, "the 2-page inline job is not queued work");

    // Claims: paid first, then oldest; concurrent claimers never share a job.
    let first = s.claim_next("node-a#1", 20).await.unwrap().unwrap();
    assert_eq!((first.uuid.as_str(), first.attempts), ("paid-new", 1));
    let tasks: Vec<_> = (0..6)
        .map(|n| {
            let s = Arc::clone(&s);
            tokio::spawn(async move { s.claim_next(&format!("node-b#{n}"), 21).await.unwrap().map(|j| j.uuid) })
        })
        .collect();
    let mut claimed = Vec::new();
    for t in tasks {
        claimed.extend(t.await.unwrap());
    }
    claimed.sort();
    assert_eq!(claimed, ["free-new", "free-old"], "each pending job claimed exactly once");
    assert!(s.claim_next("node-c#0", 22).await.unwrap().is_none());

    // Heartbeats: live work is never requeued, stale work is.
    s.heartbeat(&["paid-new".into(), "free-old".into(), "free-new".into()], 100).await.unwrap();
    let outcome = s.requeue_stale(90, 3, 101).await.unwrap();
    assert_eq!(outcome.requeued, ["inline"], "only the job whose heartbeat (5) is older than 90");
    assert!(outcome.failed.is_empty());
    let again = s.claim_next("node-c#0", 102).await.unwrap().unwrap();
    assert_eq!((again.uuid.as_str(), again.attempts, again.started_at), ("inline", 2, Some(5)));
    // Fencing: the first attempt, waking up after its claim was requeued, cannot finish the
    // job the second attempt holds; the holder can.
    let stale = Finish {
        status: JobStatus::Failed,
        error: Some("late".into()),
        result: None,
        refund_pages: 2,
        claim: Some("node-a#0".into()),
    };
    assert!(matches!(s.finish("inline", &stale, 103).await, Err(StoreError::ClaimLost(_))));
    let job = s.job("inline").await.unwrap().unwrap();
    assert_eq!((job.status, job.worker.as_deref()), (JobStatus::Processing, Some("node-c#0")));

    // Checkpoints: a page saved twice (a retried attempt) counts once.
    s.save_page("free-old", &page(0), 110).await.unwrap();
    s.save_page("free-old", &page(0), 111).await.unwrap();
    s.save_page("free-old", &PageRecord { index: 1, page: None, error: Some("bad".into()) }, 112).await.unwrap();
    let job = s.job("free-old").await.unwrap().unwrap();
    assert_eq!((job.pages_done, job.pages_failed), (2, 1));
    assert_eq!(s.pages("free-old").await.unwrap().iter().map(|p| p.index).collect::<Vec<_>>(), [0, 1]);

    // Finish: a refund happens once, even when finish runs twice at once.
    assert_eq!(s.used("acct:1", "credits").await.unwrap(), 30);
    let finish = Finish {
        status: JobStatus::Done,
        error: Some("1 of 4".into()),
        result: Some("{}".into()),
        refund_pages: 3,
        claim: None,
    };
    let (a, b) = tokio::join!(s.finish("free-old", &finish, 120), s.finish("free-old", &finish, 121));
    a.unwrap();
    b.unwrap();
    assert_eq!(s.used("acct:1", "credits").await.unwrap(), 27, "3 pages refunded, once");
    let done = s.job("free-old").await.unwrap().unwrap();
    assert_eq!((done.status, done.upload, done.worker), (JobStatus::Done, None, None));
    assert_eq!(s.result("free-old").await.unwrap().as_deref(), Some("{}"));

    // The rendered view of a finished job is kept once; the first writer wins.
    assert!(s.view("free-old").await.unwrap().is_none());
    let first = StoredView { etag: "\"a\"".into(), json: "{\"n\":1}".into() };
    s.store_view("free-old", &first).await.unwrap();
    s.store_view("free-old", &StoredView { etag: "\"b\"".into(), json: "{}".into() }).await.unwrap();
    let kept = s.view("free-old").await.unwrap().unwrap();
    assert_eq!((kept.etag.as_str(), kept.json.as_str()), ("\"a\"", "{\"n\":1}"));
    s.store_view("paid-new", &first).await.unwrap();
    assert!(s.view("paid-new").await.unwrap().is_none(), "unfinished jobs have no stored view");
    assert!(s.pages("free-old").await.unwrap().is_empty(), "checkpoints go once the result holds the pages");
    assert!(matches!(s.finish("nope", &finish, 1).await, Err(StoreError::NoSuchJob(_))));

    // A job interrupted max_attempts times fails and refunds every page it
    // had charged, checkpoints or not: it delivers none (crash-drill hole a).
    s.save_page("free-new", &page(0), 130).await.unwrap();
    for attempt in 2..=3 {
        let outcome = s.requeue_stale(i64::MAX, 3, 140).await.unwrap();
        assert!(outcome.requeued.contains(&"free-new".to_string()));
        while let Some(j) = s.claim_next("node-d#0", 141).await.unwrap() {
            if j.uuid == "free-new" {
                assert_eq!(j.attempts, attempt);
            }
        }
    }
    let before = s.used("acct:1", "credits").await.unwrap();
    let outcome = s.requeue_stale(i64::MAX, 3, 150).await.unwrap();
    let failed: HashSet<_> = outcome.failed.iter().map(|j| j.uuid.as_str()).collect();
    assert!(failed.contains("free-new"));
    let dead = s.job("free-new").await.unwrap().unwrap();
    assert_eq!(dead.status, JobStatus::Failed);
    assert_eq!(dead.error.as_deref(), Some(interrupted_error(3).as_str()));
    let refunded: i64 = outcome.failed.iter().map(|j| j.page_count * j.page_cost).sum();
    assert_eq!(s.used("acct:1", "credits").await.unwrap(), before - refunded, "every page of a failed job refunded");

    // Chat: roles survive the round trip, oldest first.
    for (role, content) in [(ChatRole::User, "q"), (ChatRole::Assistant, "a")] {
        let record =
            ChatRecord { conversation: "c1".into(), role, content: content.into(), citations: None, created_at: 160 };
        s.add_chat("free-old", paid.id, &record).await.unwrap();
    }
    let history = s.chat_history("free-old", paid.id).await.unwrap();
    assert_eq!(
        history.iter().map(|r| (r.role, r.content.as_str())).collect::<Vec<_>>(),
        [(ChatRole::User, "q"), (ChatRole::Assistant, "a")]
    );
    assert!(s.chat_history("free-old", free.id).await.unwrap().is_empty(), "transcripts are per account");

    // Expiry: finished jobs older than the cut-off go, with their chats.
    let mut expired = s.delete_expired(125).await.unwrap();
    expired.sort();
    let mut want = vec!["free-old".to_string(), "keyed-3".to_string(), uuids[0].1.clone()];
    want.sort();
    assert_eq!(expired, want);
    assert!(s.job("free-old").await.unwrap().is_none());
    assert!(s.chat_history("free-old", paid.id).await.unwrap().is_empty());
    assert!(s.job("free-new").await.unwrap().is_some(), "finished at 150: kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storage_story_on_sqlite() {
    let dir = std::env::temp_dir().join(format!("ocrchat-story-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let backend = Backend::from_url(None, &dir).unwrap();
    story(open(&backend).await.unwrap()).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn storage_story_on_postgres() {
    let Some(url) = ocrchat_tests::postgres::fresh_database("storage_story") else { return };
    let backend = Backend::from_url(Some(&url), std::path::Path::new("/nonexistent")).unwrap();
    assert!(matches!(backend, Backend::Postgres(_)));
    story(open(&backend).await.unwrap()).await;
}

#[test]
fn the_backend_is_picked_from_the_url() {
    let dir = std::path::Path::new("/data");
    assert_eq!(Backend::from_url(None, dir).unwrap(), Backend::Sqlite("/data/ocrchat.sqlite3".into()));
    assert_eq!(
        Backend::from_url(Some("sqlite:///x/db.sqlite3"), dir).unwrap(),
        Backend::Sqlite("/x/db.sqlite3".into())
    );
    assert!(matches!(Backend::from_url(Some("postgresql://u:p@h/db"), dir), Ok(Backend::Postgres(_))));
    let err = Backend::from_url(Some("mysql://u:secret@h/db"), dir).unwrap_err().to_string();
    assert!(err.contains("mysql://u:***@h/db") && !err.contains("secret"), "{err}");
    assert_eq!(Backend::Postgres("postgres://u:secret@h:5432/db".into()).describe(), "postgres://u:***@h:5432/db");
}
