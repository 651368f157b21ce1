//! When a job is due: cron expressions evaluated on local wall-clock time, with an explicit
//! rule for the two daylight-saving days of the year.
//!
//! The [`cron`] crate, given a `chrono-tz` zone, asks the zone for each candidate local
//! time: a time in the spring gap (`LocalResult::None`) is silently dropped, so a 03:30
//! daily job would not run at all on 2025-03-30, and a time in the repeated autumn hour
//! (`LocalResult::Ambiguous`) is returned twice, so the same job would run twice on
//! 2025-10-26. [`JobSchedule`] therefore walks the expression on *naive* local time (no
//! gaps, no repeats) and maps each fire time to an instant itself:
//!
//! - a local time that exists once is that instant;
//! - a local time that does not exist (spring forward, 03:00–04:00 in Helsinki) runs at the
//!   first instant after the gap (04:00 EEST); fire times in the gap and at its end merge
//!   into that one run;
//! - a local time that happens twice (fall back, 03:00–04:00 in Helsinki) runs once, at its
//!   first occurrence (EEST); the second pass through the hour fires nothing.

use std::str::FromStr;

use chrono::{DateTime, Duration, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// How far ahead [`JobSchedule::next_after`] looks before deciding a schedule never fires
/// (for example `0 0 0 30 2 *`, or a working-days-only job whose days never come).
const HORIZON_DAYS: i64 = 366 * 5;

/// A job's schedule: a cron expression in a time zone, optionally on working days only.
#[derive(Debug, Clone)]
pub struct JobSchedule {
    expression: cron::Schedule,
    timezone: Tz,
    working_days_only: bool,
}

impl JobSchedule {
    /// Parses a cron expression (`sec min hour day-of-month month day-of-week [year]`, as
    /// the [`cron`] crate reads it) for `job`.
    pub fn new(job: &str, expression: &str, timezone: Tz, working_days_only: bool) -> Result<Self> {
        let expression = cron::Schedule::from_str(expression).map_err(|e| Error::Schedule {
            job: job.to_string(),
            expression: expression.to_string(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            expression,
            timezone,
            working_days_only,
        })
    }

    /// The time zone the expression is read in.
    pub fn timezone(&self) -> Tz {
        self.timezone
    }

    /// The first fire instant strictly after `after`, by the DST rule of this module;
    /// `None` when the schedule does not fire within five years.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_after = after.with_timezone(&self.timezone).naive_local();
        let horizon = local_after + Duration::days(HORIZON_DAYS);
        // `Utc` stands in for "naive local time": a zone without gaps or repeats.
        for naive in self.expression.after(&local_after.and_utc()) {
            let naive = naive.naive_utc();
            if naive > horizon {
                return None;
            }
            if self.working_days_only
                && !tilannekuva_conventions::calendar::is_working_day(naive.date())
            {
                continue;
            }
            let instant = self.instant_of(naive);
            // A fire time in a repeated hour may map to the first pass, which is before
            // `after` when `after` is in the second pass: it has already been due.
            if instant > after {
                return Some(instant);
            }
        }
        None
    }

    /// Every fire instant in `(after, until]`, oldest first.
    pub fn due_between(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut cursor = after;
        while let Some(next) = self.next_after(cursor) {
            if next > until {
                break;
            }
            out.push(next);
            cursor = next;
        }
        out
    }

    /// The instant a naive local fire time stands for.
    fn instant_of(&self, naive: NaiveDateTime) -> DateTime<Utc> {
        match self.timezone.from_local_datetime(&naive) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
            LocalResult::None => self.first_instant_at_or_after(naive),
        }
    }

    /// The first instant whose local wall-clock time is at or after `naive`: for a time in
    /// a gap, the instant the gap ends. Binary search over seconds: local time is monotone
    /// in the instant around a gap.
    fn first_instant_at_or_after(&self, naive: NaiveDateTime) -> DateTime<Utc> {
        let as_utc = naive.and_utc().timestamp();
        let (mut lo, mut hi) = (as_utc - 15 * 3600, as_utc + 15 * 3600);
        let local = |s: i64| {
            DateTime::from_timestamp(s, 0)
                .expect("in range")
                .with_timezone(&self.timezone)
                .naive_local()
        };
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if local(mid) >= naive {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        DateTime::from_timestamp(lo, 0).expect("in range")
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use chrono_tz::Europe::Helsinki;

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn daily_0330() -> JobSchedule {
        JobSchedule::new("t", "0 30 3 * * *", Helsinki, false).unwrap()
    }

    #[test]
    fn the_cron_crate_alone_gets_both_dst_days_wrong() {
        // Documents why the module exists: cron + chrono-tz skips the spring day and
        // doubles the autumn one.
        let s = cron::Schedule::from_str("0 30 3 * * *").unwrap();
        let start = utc("2025-03-29T12:00:00Z").with_timezone(&Helsinki);
        let next = s.after(&start).next().unwrap();
        assert_eq!(
            next.date_naive(),
            NaiveDate::from_ymd_opt(2025, 3, 31).unwrap()
        );
        let start = utc("2025-10-25T12:00:00Z").with_timezone(&Helsinki);
        let two: Vec<_> = s.after(&start).take(2).collect();
        assert_eq!(
            two[0].date_naive(),
            two[1].date_naive(),
            "fires twice on 2025-10-26"
        );
    }

    #[test]
    fn spring_forward_0330_runs_once_at_the_end_of_the_gap() {
        let due =
            daily_0330().due_between(utc("2025-03-29T00:00:00Z"), utc("2025-03-31T23:59:59Z"));
        assert_eq!(
            due,
            vec![
                utc("2025-03-29T01:30:00Z"), // 03:30 EET
                utc("2025-03-30T01:00:00Z"), // 03:30 does not exist: 04:00 EEST
                utc("2025-03-31T00:30:00Z"), // 03:30 EEST
            ]
        );
    }

    #[test]
    fn fall_back_0330_runs_once_at_the_first_occurrence() {
        let s = daily_0330();
        let due = s.due_between(utc("2025-10-25T00:00:00Z"), utc("2025-10-27T23:59:59Z"));
        assert_eq!(
            due,
            vec![
                utc("2025-10-25T00:30:00Z"), // 03:30 EEST
                utc("2025-10-26T00:30:00Z"), // first 03:30 (EEST), not 01:30Z (EET)
                utc("2025-10-27T01:30:00Z"), // 03:30 EET
            ]
        );
        // Restarted during the second pass of the repeated hour: nothing is due again.
        assert_eq!(
            s.next_after(utc("2025-10-26T01:10:00Z")),
            Some(utc("2025-10-27T01:30:00Z"))
        );
    }

    #[test]
    fn hourly_jobs_on_dst_days_have_23_and_24_runs() {
        let s = JobSchedule::new("t", "0 0 * * * *", Helsinki, false).unwrap();
        // 2025-03-30 local day: 00:00 EET (22:00Z) .. 24:00 EEST (21:00Z), 23 hours long.
        let spring = s.due_between(utc("2025-03-29T21:59:59Z"), utc("2025-03-30T20:59:59Z"));
        assert_eq!(spring.len(), 23);
        assert!(spring.contains(&utc("2025-03-30T01:00:00Z")));
        // 2025-10-26: 25 hours long, the repeated 03:00 fires once.
        let autumn = s.due_between(utc("2025-10-25T20:59:59Z"), utc("2025-10-26T21:59:59Z"));
        assert_eq!(autumn.len(), 24);
        assert!(autumn.contains(&utc("2025-10-26T00:00:00Z")));
        assert!(!autumn.contains(&utc("2025-10-26T01:00:00Z")));
        let mut sorted = autumn.clone();
        sorted.dedup();
        assert_eq!(sorted, autumn);
    }

    #[test]
    fn working_days_only_skips_weekends_and_finnish_holidays() {
        let s = JobSchedule::new("t", "0 0 7 * * *", Helsinki, true).unwrap();
        // Christmas 2025: Wed 24 (Christmas Eve), Thu 25, Fri 26 are holidays, 27–28 weekend.
        let after = utc("2025-12-23T12:00:00Z");
        assert_eq!(s.next_after(after), Some(utc("2025-12-29T05:00:00Z")));
        // Midsummer 2025: Eve Fri 20 June, Day Sat 21 June.
        let due = s.due_between(utc("2025-06-18T00:00:00Z"), utc("2025-06-24T00:00:00Z"));
        let days: Vec<_> = due
            .iter()
            .map(|t| t.with_timezone(&Helsinki).date_naive().to_string())
            .collect();
        assert_eq!(days, ["2025-06-18", "2025-06-19", "2025-06-23"]);
        // Easter 2025: Good Friday 18 April, Easter Monday 21 April.
        let next = s.next_after(utc("2025-04-17T06:00:00Z")).unwrap();
        assert_eq!(next, utc("2025-04-22T04:00:00Z"));
    }

    #[test]
    fn an_impossible_schedule_never_fires() {
        let s = JobSchedule::new("t", "0 0 0 30 2 *", Helsinki, false).unwrap();
        assert_eq!(s.next_after(utc("2025-01-01T00:00:00Z")), None);
    }

    #[test]
    fn a_bad_expression_names_the_job() {
        let e = JobSchedule::new("load_ace", "every hour", Helsinki, false).unwrap_err();
        assert!(e.to_string().contains("load_ace"), "{e}");
    }
}
