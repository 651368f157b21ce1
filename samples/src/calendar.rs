//! The Helsinki wall clock and calendar months, as far as the generator needs them.
//!
//! Working days come from `tilannekuva_conventions::calendar`: the same rules the pipeline
//! checks deadlines with.

use chrono::{DateTime, Datelike, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Europe::Helsinki;
pub(crate) use tilannekuva_conventions::calendar::{add_working_days, is_working_day};

/// The last Sunday of October: the day 04:00 EEST becomes 03:00 EET and 03:00–04:00 repeats.
pub(crate) fn autumn_dst_day(year: i32) -> NaiveDate {
    let last = ymd(year, 10, 31);
    last - Days::new(u64::from(last.weekday().num_days_from_sunday()))
}

/// The UTC instant of a Helsinki wall-clock time. A time in the repeated autumn hour takes the
/// earlier instant (the pipeline's policy); a time in the spring gap is moved one hour on, so
/// nothing is ever generated there.
pub(crate) fn local_instant(date: NaiveDate, seconds_of_day: u32, millis: u32) -> DateTime<Utc> {
    let time = NaiveTime::from_num_seconds_from_midnight_opt(seconds_of_day, millis * 1_000_000)
        .expect("seconds_of_day < 86400 and millis < 1000");
    let naive = date.and_time(time);
    let mapped = naive
        .and_local_timezone(Helsinki)
        .earliest()
        .or_else(|| {
            (naive + TimeDelta::hours(1))
                .and_local_timezone(Helsinki)
                .earliest()
        })
        .expect("one hour after a DST gap exists");
    mapped.with_timezone(&Utc)
}

/// The Helsinki wall clock showing `instant`.
pub(crate) fn helsinki(instant: DateTime<Utc>) -> NaiveDateTime {
    instant.with_timezone(&Helsinki).naive_local()
}

/// `instant`, or one hour later if it is the later of two instants showing the same wall clock
/// (the second 03:00–04:00 of the autumn change day). A file with local times cannot tell that
/// hour from the first one, and the pipeline reads it as the first; derived times (arrival,
/// callback) that would land there are pushed out of it so truth and file agree.
pub(crate) fn outside_repeated_hour(instant: DateTime<Utc>) -> DateTime<Utc> {
    match helsinki(instant).and_local_timezone(Helsinki).earliest() {
        Some(first) if first.with_timezone(&Utc) != instant => instant + TimeDelta::hours(1),
        _ => instant,
    }
}

/// A calendar month.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Month {
    pub year: i32,
    pub month: u32,
}

impl Month {
    pub fn of(date: NaiveDate) -> Self {
        Self {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn first(self) -> NaiveDate {
        ymd(self.year, self.month, 1)
    }

    pub fn next(self) -> Self {
        if self.month == 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    pub fn last(self) -> NaiveDate {
        self.next().first().pred_opt().expect("date in range")
    }

    pub fn days_in(self) -> u32 {
        self.last().day()
    }

    /// Quarter 1–4.
    pub fn quarter(self) -> u32 {
        (self.month - 1) / 3 + 1
    }

    /// Every day of the month.
    pub fn days(self) -> impl Iterator<Item = NaiveDate> {
        self.first().iter_days().take(self.days_in() as usize)
    }

    /// `YYYY-MM`, as used in file names.
    pub fn label(self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// Months from the one containing `from` to the one containing `to`.
pub(crate) fn months(from: NaiveDate, to: NaiveDate) -> Vec<Month> {
    let mut out = Vec::new();
    let mut month = Month::of(from);
    while month <= Month::of(to) {
        out.push(month);
        month = month.next();
    }
    out
}

/// Quarter (1–4) of a date.
pub(crate) fn quarter(date: NaiveDate) -> u32 {
    Month::of(date).quarter()
}

pub(crate) fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid calendar date")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;

    #[test]
    fn repeated_hour_takes_the_earlier_instant() {
        let day = autumn_dst_day(2024);
        assert_eq!(day, ymd(2024, 10, 27));
        let t = local_instant(day, 3 * 3600 + 15 * 60, 0);
        assert_eq!(t.hour(), 0); // 03:15 EEST = 00:15 UTC
        let later = t + TimeDelta::hours(1); // 03:15 EET
        assert_eq!(helsinki(later), helsinki(t));
        assert_eq!(outside_repeated_hour(t), t);
        assert_eq!(outside_repeated_hour(later), later + TimeDelta::hours(1));
    }

    #[test]
    fn spring_gap_is_skipped() {
        let t = local_instant(ymd(2024, 3, 31), 3 * 3600 + 30 * 60, 0);
        assert_eq!(helsinki(t).hour(), 4);
    }
}
