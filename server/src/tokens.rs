//! `ocrchat token create|list|revoke|credit`: account management on the
//! server's database, whichever backend `database_url` names (safe while
//! servers run: SQLite WAL, PostgreSQL transactions).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};

use crate::auth::{new_token, token_hash, token_prefix};
use crate::jobs::now;
use crate::store::{self, Account, Backend, Plan, Storage};

/// Where the accounts are: the database URL, or the SQLite file in `data_dir`.
pub struct Database<'a> {
    /// `database_url` (config, `OCRCHAT_DATABASE_URL`, `--database-url`).
    pub url: Option<&'a str>,
    /// The data directory (holds the SQLite file when no URL is given).
    pub data_dir: &'a Path,
}

async fn open(db: &Database<'_>) -> anyhow::Result<Arc<dyn Storage>> {
    let backend = Backend::from_url(db.url, db.data_dir)?;
    store::open(&backend).await.context("opening the database")
}

/// Creates an account and writes its token, alone, as the last line of `out`.
pub async fn create(
    db: &Database<'_>,
    plan: &str,
    credits: i64,
    label: Option<&str>,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let plan = Plan::parse(plan).with_context(|| format!("plan must be free or paid, not {plan:?}"))?;
    if credits < 0 {
        bail!("credits must not be negative");
    }
    let store = open(db).await?;
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
pub async fn list(db: &Database<'_>, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = open(db).await?;
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

/// The one active account `which` names: an id, a token prefix (as listed) or the token itself.
fn find<'a>(accounts: &'a [Account], which: &str) -> anyhow::Result<&'a Account> {
    let prefix = if which.len() > 12 && which.starts_with("ocr_") { token_prefix(which) } else { which.to_string() };
    let active = accounts.iter().filter(|a| a.revoked_at.is_none());
    let matches: Vec<&Account> =
        active.filter(|a| a.token_prefix == prefix || which.parse::<i64>().is_ok_and(|id| id == a.id)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => bail!("no active account matches {which:?}"),
        _ => bail!("{which:?} matches {} accounts; give the account id", matches.len()),
    }
}

/// Revokes by account id, token prefix or the token itself.
pub async fn revoke(db: &Database<'_>, which: &str, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = open(db).await?;
    let accounts = store.accounts().await?;
    let account = find(&accounts, which)?;
    if !store.revoke_account(account.id, now()).await? {
        bail!("account {} was revoked meanwhile", account.id);
    }
    writeln!(out, "revoked account {} ({})", account.id, account.token_prefix)?;
    Ok(())
}

/// Adds purchased credits to an account.
pub async fn credit(db: &Database<'_>, account_id: i64, credits: i64, out: &mut dyn Write) -> anyhow::Result<()> {
    let store = open(db).await?;
    if !store.add_credits(account_id, credits).await? {
        bail!("no account {account_id}");
    }
    writeln!(out, "added {credits} credits to account {account_id}")?;
    Ok(())
}
