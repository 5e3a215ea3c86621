//! Spending budgets per UTC day and calendar month. The running totals are
//! kept in memory for a lock-held-for-nanoseconds check on every call, and
//! are seeded at start-up from the ledger, so a restart does not reset them.
//! Calls already in flight when the budget runs out still finish (their cost
//! is unknown until then), so a period can overshoot by what those calls cost.

use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use parking_lot::Mutex;

/// Which period a refusal is about, and its numbers.
#[derive(Debug, Clone, PartialEq)]
pub struct OverBudget {
    /// "daily" or "monthly".
    pub period: &'static str,
    /// Spent so far in the period.
    pub spent: f64,
    /// The budget.
    pub budget: f64,
    /// Until the period resets.
    pub retry_after: Duration,
}

/// A key's budgets and spend.
#[derive(Debug)]
pub struct Budget {
    per_day: Option<f64>,
    per_month: Option<f64>,
    spend: Mutex<Spend>,
}

#[derive(Debug, Default)]
struct Spend {
    day: Option<NaiveDate>,
    day_usd: f64,
    month: Option<(i32, u32)>,
    month_usd: f64,
}

impl Budget {
    /// Budgets in USD; none means unlimited.
    pub fn new(per_day: Option<f64>, per_month: Option<f64>) -> Budget {
        Budget {
            per_day,
            per_month,
            spend: Mutex::new(Spend::default()),
        }
    }

    /// Whether any budget is set.
    pub fn is_limited(&self) -> bool {
        self.per_day.is_some() || self.per_month.is_some()
    }

    /// Refuses when the day's or the month's budget is spent.
    pub fn check(&self, now: DateTime<Utc>) -> Result<(), OverBudget> {
        if !self.is_limited() {
            return Ok(());
        }
        let (day_usd, month_usd) = {
            let mut spend = self.spend.lock();
            spend.roll(now);
            (spend.day_usd, spend.month_usd)
        };
        if let Some(budget) = self.per_day
            && day_usd >= budget
        {
            return Err(OverBudget {
                period: "daily",
                spent: day_usd,
                budget,
                retry_after: until(next_day(now), now),
            });
        }
        if let Some(budget) = self.per_month
            && month_usd >= budget
        {
            return Err(OverBudget {
                period: "monthly",
                spent: month_usd,
                budget,
                retry_after: until(next_month(now), now),
            });
        }
        Ok(())
    }

    /// Adds a finished call's cost.
    pub fn add(&self, usd: f64, now: DateTime<Utc>) {
        if usd <= 0.0 || !usd.is_finite() {
            return;
        }
        let mut spend = self.spend.lock();
        spend.roll(now);
        spend.day_usd += usd;
        spend.month_usd += usd;
    }

    /// Starts from what the ledger says was spent today and this month.
    pub fn seed(&self, day_usd: f64, month_usd: f64, now: DateTime<Utc>) {
        let mut spend = self.spend.lock();
        spend.roll(now);
        spend.day_usd = day_usd;
        spend.month_usd = month_usd;
    }
}

impl Spend {
    /// Starts a new day or month at zero when one has begun.
    fn roll(&mut self, now: DateTime<Utc>) {
        let day = now.date_naive();
        if self.day != Some(day) {
            self.day = Some(day);
            self.day_usd = 0.0;
        }
        let month = (now.year(), now.month());
        if self.month != Some(month) {
            self.month = Some(month);
            self.month_usd = 0.0;
        }
    }
}

/// Midnight UTC that starts `now`'s day.
pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&now.date_naive().and_time(chrono::NaiveTime::MIN))
}

/// Midnight UTC on the first of `now`'s month.
pub fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let first = now.date_naive().with_day(1).unwrap_or(now.date_naive());
    Utc.from_utc_datetime(&first.and_time(chrono::NaiveTime::MIN))
}

fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    day_start(now) + chrono::Duration::days(1)
}

fn next_month(now: DateTime<Utc>) -> DateTime<Utc> {
    let (y, m) = if now.month() == 12 {
        (now.year() + 1, 1)
    } else {
        (now.year(), now.month() + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .map(|d| Utc.from_utc_datetime(&d.and_time(chrono::NaiveTime::MIN)))
        // Only out of chrono's range (year 262143): a day from now then.
        .unwrap_or_else(|| next_day(now))
}

fn until(then: DateTime<Utc>, now: DateTime<Utc>) -> Duration {
    (then - now).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn daily_budget_refuses_once_spent_and_resets_at_midnight() {
        let b = Budget::new(Some(1.0), None);
        let now = at("2026-12-04T23:00:00Z");
        b.add(0.6, now);
        assert!(b.check(now).is_ok());
        b.add(0.4, now);
        let over = b.check(now).unwrap_err();
        assert_eq!(over.period, "daily");
        assert_eq!(over.retry_after, Duration::from_secs(3600));
        assert!(b.check(at("2026-12-05T00:00:01Z")).is_ok());
    }

    #[test]
    fn monthly_budget_counts_across_days_and_resets_on_the_first() {
        let b = Budget::new(Some(10.0), Some(1.0));
        b.seed(0.5, 0.9, at("2026-12-30T10:00:00Z"));
        b.add(0.2, at("2026-12-31T10:00:00Z"));
        let over = b.check(at("2026-12-31T23:00:00Z")).unwrap_err();
        assert_eq!(over.period, "monthly");
        assert_eq!(over.retry_after, Duration::from_secs(3600));
        assert!(b.check(at("2027-01-01T00:00:00Z")).is_ok());
    }

    #[test]
    fn period_starts() {
        let now = at("2026-02-17T13:14:15Z");
        assert_eq!(day_start(now), at("2026-02-17T00:00:00Z"));
        assert_eq!(month_start(now), at("2026-02-01T00:00:00Z"));
    }
}
