//! What a caller may spend: which balance a job is charged to, its cap, and
//! the per-file page cap of the caller's plan.

use time::OffsetDateTime;

use crate::auth::Caller;
use crate::config::Config;
use crate::store::{Charge, Plan};

/// The balance `caller`'s pages are charged to at `now`.
pub fn charge_for(caller: &Caller, config: &Config, now: OffsetDateTime) -> Charge {
    let date = now.date();
    match &caller.account {
        None => Charge {
            subject: format!("ip:{}", caller.ip),
            period: format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day()),
            cap: config.anon_daily_pages,
        },
        Some(account) => match account.plan {
            Plan::Free => Charge {
                subject: format!("acct:{}", account.id),
                period: format!("{:04}-{:02}", date.year(), u8::from(date.month())),
                cap: config.free_monthly_pages,
            },
            Plan::Paid => {
                Charge { subject: format!("acct:{}", account.id), period: "credits".into(), cap: account.credits }
            }
        },
    }
}

/// Largest file, in pages, the caller may submit.
pub fn max_pages_per_file(caller: &Caller, config: &Config) -> i64 {
    match caller.plan() {
        None => config.anon_max_pages_per_file,
        Some(Plan::Free) => config.free_max_pages_per_file,
        Some(Plan::Paid) => config.paid_max_pages_per_file,
    }
}

/// Which balance a 402 is about, in words.
pub fn balance_name(caller: &Caller) -> &'static str {
    match caller.plan() {
        None => "the daily anonymous allowance for this IP",
        Some(Plan::Free) => "the free plan's monthly pages",
        Some(Plan::Paid) => "the account's credits",
    }
}

#[cfg(test)]
mod tests {
    use std::net::IpAddr;

    use time::macros::datetime;

    use super::*;
    use crate::store::Account;

    fn caller(plan: Option<Plan>) -> Caller {
        Caller {
            account: plan.map(|plan| Account {
                id: 7,
                token_prefix: String::new(),
                plan,
                credits: 1000,
                label: None,
                created_at: 0,
                revoked_at: None,
            }),
            ip: IpAddr::from([10, 0, 0, 1]),
        }
    }

    #[test]
    fn each_plan_charges_its_own_balance() {
        let config = Config::default();
        let now = datetime!(2026-11-24 23:59 UTC);
        let cases = [
            (None, "ip:10.0.0.1", "2026-11-24", config.anon_daily_pages, config.anon_max_pages_per_file),
            (Some(Plan::Free), "acct:7", "2026-11", config.free_monthly_pages, config.free_max_pages_per_file),
            (Some(Plan::Paid), "acct:7", "credits", 1000, config.paid_max_pages_per_file),
        ];
        for (plan, subject, period, cap, per_file) in cases {
            let c = caller(plan);
            assert_eq!(charge_for(&c, &config, now), Charge { subject: subject.into(), period: period.into(), cap });
            assert_eq!(max_pages_per_file(&c, &config), per_file);
        }
    }
}
