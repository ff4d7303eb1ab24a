//! `ocrchat token create|list|revoke|credit`: account management on the
//! server's database (safe while the server runs: SQLite WAL).

use std::io::Write;
use std::path::Path;

use anyhow::{Context, bail};

use crate::auth::{new_token, token_hash, token_prefix};
use crate::jobs::now;
use crate::serve::database_path;
use crate::store::sqlite::SqliteStore;
use crate::store::{Plan, Storage};

async fn open(data_dir: &Path) -> anyhow::Result<SqliteStore> {
    std::fs::create_dir_all(data_dir).with_context(|| format!("creating {}", data_dir.display()))?;
    SqliteStore::open(&database_path(data_dir)).await.context("opening the database")
}

/// Creates an account and writes its token, alone, as the last line of `out`.
pub async fn create(
    data_dir: &Path,
    plan: &str,
    credits: i64,
    label: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let plan = Plan::parse(plan).with_context(|| format!("plan must be free or paid, not {plan:?}"))?;
    if credits < 0 {
        bail!("credits must not be negative");
    }
    let store = open(data_dir).await?;
    let token = new_token();
    let account = store.create_account(&token_hash(&token), &token_prefix(&token), plan, credits, label, now()).await?;
    writeln!(
        out,
        "account {} ({}, {} credits); the token is shown once — store it now:",
        account.id,
        plan.as_str(),
        account.credits
    )?;
    writeln!(out, "{token}")?;
    Ok(())
}

/// Lists accounts (never tokens: only their prefixes are stored in clear).
pub async fn list(data_dir: &Path, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = open(data_dir).await?;
    writeln!(out, "{:>5}  {:<14} {:<5} {:>8} {:>8}  {:<8} label", "id", "prefix", "plan", "credits", "used", "state")?;
    for a in store.accounts().await? {
        let used = match a.plan {
            Plan::Paid => store.used(&format!("acct:{}", a.id), "credits").await?,
            Plan::Free => {
                let d = time::OffsetDateTime::now_utc().date();
                store.used(&format!("acct:{}", a.id), &format!("{:04}-{:02}", d.year(), u8::from(d.month()))).await?
            }
        };
        let state = if a.revoked_at.is_some() { "revoked" } else { "active" };
        writeln!(
            out,
            "{:>5}  {:<14} {:<5} {:>8} {:>8}  {:<8} {}",
            a.id,
            a.token_prefix,
            a.plan.as_str(),
            a.credits,
            used,
            state,
            a.label.unwrap_or_default()
        )?;
    }
    Ok(())
}

/// Revokes by account id, token prefix or the token itself.
pub async fn revoke(data_dir: &Path, which: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = open(data_dir).await?;
    let key = if which.len() > 12 && which.starts_with("ocr_") { token_prefix(which) } else { which.to_string() };
    if !store.revoke_account(&key, now()).await? {
        bail!("no active account matches {which:?}");
    }
    writeln!(out, "revoked {which}")?;
    Ok(())
}

/// Adds purchased credits to an account.
pub async fn credit(data_dir: &Path, account_id: i64, credits: i64, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = open(data_dir).await?;
    store.add_credits(account_id, credits).await?;
    writeln!(out, "added {credits} credits to account {account_id}")?;
    Ok(())
}
