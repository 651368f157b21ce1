//! Points in time as Finnish sources write them, and Helsinki local time to UTC.
//!
//! A source column is read with a [`TimeFormat`] (parsed from a configuration string such
//! as `"d.m.yyyy H:mm"`) into a [`Parsed`] value that keeps what the source actually said:
//! a calendar date, a wall-clock local time without offset, or an absolute instant.
//! Turning a local time into an instant is a separate, explicit step ([`local_to_utc`],
//! [`to_utc`]) under a [`LocalTimePolicy`], because Europe/Helsinki local time is not
//! continuous: on the last Sunday of March 03:00–04:00 does not exist, and on the last
//! Sunday of October 03:00–04:00 happens twice. By default both cases are errors rather
//! than silent guesses.

use std::fmt;
use std::str::FromStr;

use chrono::format::{Item, StrftimeItems};
use chrono::{
    DateTime, Datelike, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset,
    TimeDelta, TimeZone, Utc,
};
use serde::{Deserialize, Serialize};

use crate::ValueError;

/// Europe/Helsinki: EET (UTC+2) in winter, EEST (UTC+3) in summer.
pub const HELSINKI: chrono_tz::Tz = chrono_tz::Europe::Helsinki;

/// The configuration strings [`TimeFormat`] accepts, for error messages.
const ALLOWED_FORMATS: &str = "\"d.m.yyyy\", \"d.m.yyyy H:mm\", \"iso8601\", \
    \"epoch_seconds\", \"epoch_millis\", \"period_start\", \"period_end\" or \
    \"strftime:<chrono pattern>\"";

/// How a source writes a point in time.
///
/// Parsed from configuration strings ([`FromStr`]) and written back by
/// [`Display`](fmt::Display) so that the two round-trip:
///
/// | string | variant | reads |
/// | --- | --- | --- |
/// | `d.m.yyyy` | [`FinnishDate`](Self::FinnishDate) | `25.3.2025`, `05.03.2025` |
/// | `d.m.yyyy H:mm` (alias `d.m.yyyy H:mm:ss`) | [`FinnishDateTime`](Self::FinnishDateTime) | `25.3.2025 14:05`, `25.03.2025 04:05:09`, `25.3.2025 14.05` |
/// | `iso8601` | [`Iso8601`](Self::Iso8601) | `2025-03-25`, `2025-03-25T14:05`, `2025-03-25 14:05:09.250`, `2025-03-25T12:05:00Z`, `…+02:00` |
/// | `epoch_seconds` | [`EpochSeconds`](Self::EpochSeconds) | `1742904300`, `1742904300.25` |
/// | `epoch_millis` | [`EpochMillis`](Self::EpochMillis) | `1742904300250` |
/// | `strftime:<pattern>` | [`Strftime`](Self::Strftime) | whatever the chrono pattern says |
/// | `period_start` | [`PeriodStart`](Self::PeriodStart) | a year, a quarter or a month as its first day: `2024` → 1.1.2024, `2024-Q2`, `Q2/2024`, `Q2 2024` → 1.4.2024, `2024-03`, `3/2024`, `3.2024`, `2024M03` → 1.3.2024 |
/// | `period_end` | [`PeriodEnd`](Self::PeriodEnd) | the same periods as their last day: `2024` → 31.12.2024, `2/2024` → 29.2.2024 |
///
/// It serializes as that same string.
#[derive(Debug, Clone, PartialEq)]
pub enum TimeFormat {
    /// `d.m.yyyy`, day and month with or without a leading zero.
    FinnishDate,
    /// `d.m.yyyy H:mm` with optional `:ss`; hour with or without a leading zero; the
    /// Finnish `.` is accepted as time separator too (`14.05`).
    FinnishDateTime,
    /// ISO 8601 / RFC 3339 extended format: a date, or a date-time with `T` or a space,
    /// optional seconds and fraction, and optional `Z` or `±hh:mm` / `±hhmm` / `±hh` offset.
    Iso8601,
    /// Unix epoch seconds, integer or with a `.` fraction (chat webhooks send floats).
    EpochSeconds,
    /// Unix epoch milliseconds, integer or with a `.` fraction.
    EpochMillis,
    /// A chrono `strftime` pattern, e.g. `%Y%m%d %H%M`. The result is a date, a local time
    /// or an instant depending on which fields the pattern has (`%z` or `%s` give an instant).
    Strftime(String),
    /// A reporting period (a year, or a month of a year) read as its first day.
    PeriodStart,
    /// A reporting period read as its last day: the statistical date of a year-end figure.
    PeriodEnd,
}

impl FromStr for TimeFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        match t {
            "d.m.yyyy" => return Ok(Self::FinnishDate),
            "d.m.yyyy H:mm" | "d.m.yyyy H:mm:ss" => return Ok(Self::FinnishDateTime),
            "iso8601" => return Ok(Self::Iso8601),
            "epoch_seconds" => return Ok(Self::EpochSeconds),
            "epoch_millis" => return Ok(Self::EpochMillis),
            "period_start" => return Ok(Self::PeriodStart),
            "period_end" => return Ok(Self::PeriodEnd),
            _ => {}
        }
        let Some(pattern) = t.strip_prefix("strftime:") else {
            return Err(format!(
                "unknown time format {t:?}: expected one of {ALLOWED_FORMATS}"
            ));
        };
        if pattern.is_empty() {
            return Err(
                "time format \"strftime:\" needs a chrono pattern after the colon, \
                 e.g. \"strftime:%Y%m%d %H%M\""
                    .to_owned(),
            );
        }
        if StrftimeItems::new(pattern).any(|item| matches!(item, Item::Error)) {
            return Err(format!(
                "time format {t:?} has an invalid chrono strftime pattern"
            ));
        }
        Ok(Self::Strftime(pattern.to_owned()))
    }
}

impl fmt::Display for TimeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::FinnishDate => f.write_str("d.m.yyyy"),
            Self::FinnishDateTime => f.write_str("d.m.yyyy H:mm"),
            Self::Iso8601 => f.write_str("iso8601"),
            Self::EpochSeconds => f.write_str("epoch_seconds"),
            Self::EpochMillis => f.write_str("epoch_millis"),
            Self::Strftime(pattern) => write!(f, "strftime:{pattern}"),
            Self::PeriodStart => f.write_str("period_start"),
            Self::PeriodEnd => f.write_str("period_end"),
        }
    }
}

impl TimeFormat {
    /// A spreadsheet's date or date-time cell (a wall-clock time, no offset) written as
    /// this format reads it, so that a typed cell and a text cell of the same column go
    /// through one reading. `None` for formats that need an offset or an instant
    /// (`epoch_*`, a pattern with `%z` or `%s`).
    pub fn write_local(&self, t: NaiveDateTime) -> Option<String> {
        let midnight = t.time() == NaiveTime::MIN;
        Some(match self {
            Self::FinnishDate => t.format("%-d.%-m.%Y").to_string(),
            Self::FinnishDateTime => t.format("%-d.%-m.%Y %-H:%M:%S").to_string(),
            Self::Iso8601 if midnight => t.format("%Y-%m-%d").to_string(),
            Self::Iso8601 => t.format("%Y-%m-%dT%H:%M:%S%.f").to_string(),
            Self::EpochSeconds | Self::EpochMillis => return None,
            Self::Strftime(p) if ["%z", "%:z", "%s", "%Z"].iter().any(|x| p.contains(x)) => {
                return None;
            }
            Self::Strftime(p) => t.format(p).to_string(),
            Self::PeriodStart | Self::PeriodEnd => t.format("%Y-%m").to_string(),
        })
    }
}

impl Serialize for TimeFormat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The result of reading one value: what the source said, before any time-zone decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Parsed {
    /// A calendar date without a time.
    Date(NaiveDate),
    /// A wall-clock local time without an offset (to be interpreted in a time zone).
    Local(NaiveDateTime),
    /// An absolute instant (the source gave an offset, `Z`, or an epoch number).
    Instant(DateTime<Utc>),
}

/// Reads one value in `fmt`. Surrounding whitespace is ignored; an empty value is an
/// error (check for missing-value markers first, see [`crate::boolean::is_missing`]).
pub fn parse_time(s: &str, fmt: &TimeFormat) -> Result<Parsed, ValueError> {
    let t = crate::trim(s);
    let parsed = match fmt {
        TimeFormat::FinnishDate => parse_finnish_date(t).map(Parsed::Date),
        TimeFormat::FinnishDateTime => parse_finnish_date_time(t).map(Parsed::Local),
        TimeFormat::Iso8601 => parse_iso8601(t),
        TimeFormat::EpochSeconds => parse_epoch(t, NANOS_PER_SECOND).map(Parsed::Instant),
        TimeFormat::EpochMillis => parse_epoch(t, NANOS_PER_MILLI).map(Parsed::Instant),
        TimeFormat::Strftime(pattern) => parse_strftime(t, pattern),
        TimeFormat::PeriodStart => parse_period(t, false).map(Parsed::Date),
        TimeFormat::PeriodEnd => parse_period(t, true).map(Parsed::Date),
    };
    parsed.ok_or_else(|| ValueError::new(expected_for(fmt)))
}

fn expected_for(fmt: &TimeFormat) -> String {
    match fmt {
        TimeFormat::FinnishDate => "a date as d.m.yyyy (e.g. 25.3.2025)".to_owned(),
        TimeFormat::FinnishDateTime => {
            "a date and time as d.m.yyyy H:mm[:ss] (e.g. 25.3.2025 14:05)".to_owned()
        }
        TimeFormat::Iso8601 => "an ISO 8601 date or date-time (e.g. 2025-03-25, \
             2025-03-25T14:05:00, 2025-03-25T12:05:00Z or 2025-03-25T14:05:00+02:00)"
            .to_owned(),
        TimeFormat::EpochSeconds => {
            "Unix epoch seconds (e.g. 1742904300 or 1742904300.25)".to_owned()
        }
        TimeFormat::EpochMillis => "Unix epoch milliseconds (e.g. 1742904300250)".to_owned(),
        TimeFormat::Strftime(pattern) => {
            format!("a date or time matching the pattern {pattern:?}")
        }
        TimeFormat::PeriodStart | TimeFormat::PeriodEnd => {
            "a year, a quarter or a month (e.g. 2024, 2024-Q2, Q2/2024, 2024-03, 3/2024, 3.2024 or 2024M03)"
                .to_owned()
        }
    }
}

/// A year (`2024`), a quarter (`2024-Q2`, `2024Q2`, `2024 Q2`, `Q2/2024`, `Q2-2024`,
/// `Q2 2024`, the `Q` in either case) or a month (`2024-03`, `2024-3`, `2024/03`,
/// `3/2024`, `03/2024`, `3.2024`, `2024M03`) as its first or last day.
fn parse_period(t: &str, last: bool) -> Option<NaiveDate> {
    let (year, month, months) = if let Some(y) = digits(t, 4, 4) {
        (y, 1, 12)
    } else if let Some((y, q)) = quarter(t) {
        (y, (q - 1) * 3 + 1, 3)
    } else {
        let (y, m) = year_month(t)?;
        (y, m, 1)
    };
    let first = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, 1)?;
    if !last {
        return Some(first);
    }
    first
        .checked_add_months(chrono::Months::new(months))?
        .pred_opt()
}

/// A quarter as (year, 1..=4): the year on either side of `Q<n>`, separated by nothing,
/// `-`, `/` or a space.
fn quarter(t: &str) -> Option<(u32, u32)> {
    let at = t.find(['Q', 'q'])?;
    let (before, after) = (&t[..at], &t[at + 1..]);
    let seps: &[char] = &['-', '/', ' '];
    let (year, q) = if before.is_empty() {
        // Q2/2024: the quarter digit, a separator, the year.
        let q = after.get(..1)?;
        let rest = after.get(1..)?;
        let year = rest.strip_prefix(seps)?;
        (year, q)
    } else {
        let year = before.strip_suffix(seps).unwrap_or(before);
        (year, after)
    };
    let q = digits(q, 1, 1)?;
    (1..=4).contains(&q).then_some(())?;
    Some((digits(year, 4, 4)?, q))
}

/// A month as (year, month).
fn year_month(t: &str) -> Option<(u32, u32)> {
    if let Some((y, m)) = t.split_once('M').or_else(|| t.split_once('-')) {
        Some((digits(y, 4, 4)?, digits(m, 1, 2)?))
    } else if let Some((a, b)) = t.split_once('/').or_else(|| t.split_once('.')) {
        match (digits(a, 4, 4), digits(b, 4, 4)) {
            (Some(y), None) => Some((y, digits(b, 1, 2)?)),
            (None, Some(y)) => Some((y, digits(a, 1, 2)?)),
            _ => None,
        }
    } else {
        None
    }
}

/// The number made of exactly `min..=max` ASCII digits, or `None`.
fn digits(s: &str, min: usize, max: usize) -> Option<u32> {
    if s.len() < min || s.len() > max || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `d.m.yyyy` with optional leading zeros.
fn parse_finnish_date(t: &str) -> Option<NaiveDate> {
    let mut parts = t.split('.');
    let day = digits(parts.next()?, 1, 2)?;
    let month = digits(parts.next()?, 1, 2)?;
    let year = digits(parts.next()?, 4, 4)?;
    if parts.next().is_some() {
        return None;
    }
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// `H:mm` or `H:mm:ss`, with `:` or the Finnish `.` between the fields.
fn parse_finnish_time(t: &str) -> Option<NaiveTime> {
    let mut parts = t.split([':', '.']);
    let hour = digits(parts.next()?, 1, 2)?;
    let minute = digits(parts.next()?, 2, 2)?;
    let second = match parts.next() {
        Some(s) => digits(s, 2, 2)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(hour, minute, second)
}

fn parse_finnish_date_time(t: &str) -> Option<NaiveDateTime> {
    let mut parts = t.split_whitespace();
    let date = parse_finnish_date(parts.next()?)?;
    let time = parse_finnish_time(parts.next()?)?;
    if parts.next().is_some() {
        return None;
    }
    Some(date.and_time(time))
}

/// `yyyy-mm-dd`.
fn parse_iso_date(t: &str) -> Option<NaiveDate> {
    let b = t.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year = digits(t.get(0..4)?, 4, 4)?;
    let month = digits(t.get(5..7)?, 2, 2)?;
    let day = digits(t.get(8..10)?, 2, 2)?;
    NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)
}

/// `hh:mm`, `hh:mm:ss` or `hh:mm:ss.fffffffff` (`,` also accepted before the fraction).
fn parse_iso_time(t: &str) -> Option<NaiveTime> {
    let mut parts = t.split(':');
    let hour = digits(parts.next()?, 2, 2)?;
    let minute = digits(parts.next()?, 2, 2)?;
    let (second, nano) = match parts.next() {
        None => (0, 0),
        Some(sec) => match sec.split_once(['.', ',']) {
            None => (digits(sec, 2, 2)?, 0),
            Some((whole, frac)) => (digits(whole, 2, 2)?, fraction_to_nanos(frac)?),
        },
    };
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_nano_opt(hour, minute, second, nano)
}

/// Digits after a decimal point as nanoseconds; digits past the ninth are truncated.
fn fraction_to_nanos(frac: &str) -> Option<u32> {
    if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut nanos: u32 = 0;
    for i in 0..9 {
        let digit = frac.as_bytes().get(i).map_or(0, |b| u32::from(b - b'0'));
        nanos = nanos * 10 + digit;
    }
    Some(nanos)
}

/// `Z`, `±hh:mm`, `±hhmm` or `±hh` as seconds east of UTC.
fn parse_offset(t: &str) -> Option<i32> {
    if t.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let (sign, rest) = match t.as_bytes().first()? {
        b'+' => (1, &t[1..]),
        b'-' => (-1, &t[1..]),
        _ => return None,
    };
    let (hours, minutes) = match rest.len() {
        2 => (digits(rest, 2, 2)?, 0),
        4 => (
            digits(rest.get(0..2)?, 2, 2)?,
            digits(rest.get(2..4)?, 2, 2)?,
        ),
        5 if rest.as_bytes()[2] == b':' => (
            digits(rest.get(0..2)?, 2, 2)?,
            digits(rest.get(3..5)?, 2, 2)?,
        ),
        _ => return None,
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * i32::try_from(hours * 3600 + minutes * 60).ok()?)
}

fn parse_iso8601(t: &str) -> Option<Parsed> {
    if t.len() == 10 {
        return parse_iso_date(t).map(Parsed::Date);
    }
    let date = parse_iso_date(t.get(0..10)?)?;
    if !matches!(t.as_bytes().get(10)?, b'T' | b't' | b' ') {
        return None;
    }
    let rest = t.get(11..)?;
    // The offset starts at a trailing Z or at the last sign; the time itself has neither.
    let offset_at = rest.rfind(['+', '-']).or_else(|| rest.rfind(['Z', 'z']));
    let (time, offset) = match offset_at {
        Some(i) => (&rest[..i], Some(parse_offset(&rest[i..])?)),
        None => (rest, None),
    };
    let local = date.and_time(parse_iso_time(time)?);
    match offset {
        None => Some(Parsed::Local(local)),
        Some(secs) => {
            let dt = FixedOffset::east_opt(secs)?
                .from_local_datetime(&local)
                .single()?;
            Some(Parsed::Instant(dt.with_timezone(&Utc)))
        }
    }
}

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;

/// An epoch number in units of `unit_nanos` nanoseconds: an integer, a `.` decimal, or
/// (as JSON serializers sometimes write large floats) scientific notation.
fn parse_epoch(t: &str, unit_nanos: i128) -> Option<DateTime<Utc>> {
    let nanos = if t.contains(['e', 'E']) {
        let value: f64 = t.parse().ok()?;
        // Float precision is the limit here anyway; round to whole microseconds.
        let micros = (value * (unit_nanos as f64) / 1000.0).round();
        if !micros.is_finite() || micros.abs() > 1e20 {
            return None;
        }
        (micros as i128) * 1000
    } else {
        let (negative, unsigned) = match t.as_bytes().first()? {
            b'-' => (true, &t[1..]),
            b'+' => (false, &t[1..]),
            _ => (false, t),
        };
        let (whole, frac) = match unsigned.split_once('.') {
            Some((whole, frac)) => (whole, Some(frac)),
            None => (unsigned, None),
        };
        // 20 digits are far beyond chrono's range and far from overflowing i128.
        if whole.is_empty() || whole.len() > 20 || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let mut nanos = whole.parse::<i128>().ok()? * unit_nanos;
        if let Some(frac) = frac {
            if frac.is_empty() || !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            // Sub-nanosecond digits are dropped: 18 digits cover any unit here.
            let kept = &frac[..frac.len().min(18)];
            let scale = 10_i128.pow(u32::try_from(kept.len()).ok()?);
            nanos += kept.parse::<i128>().ok()? * unit_nanos / scale;
        }
        if negative { -nanos } else { nanos }
    };
    let secs = i64::try_from(nanos.div_euclid(NANOS_PER_SECOND)).ok()?;
    let sub = u32::try_from(nanos.rem_euclid(NANOS_PER_SECOND)).ok()?;
    DateTime::from_timestamp(secs, sub)
}

fn parse_strftime(t: &str, pattern: &str) -> Option<Parsed> {
    let mut parsed = chrono::format::Parsed::new();
    chrono::format::parse(&mut parsed, t, StrftimeItems::new(pattern)).ok()?;
    if parsed.offset().is_some() {
        return Some(Parsed::Instant(
            parsed.to_datetime().ok()?.with_timezone(&Utc),
        ));
    }
    if parsed.timestamp().is_some() {
        return Some(Parsed::Instant(
            parsed.to_datetime_with_timezone(&Utc).ok()?,
        ));
    }
    let date = parsed.to_naive_date().ok()?;
    let has_time = parsed.hour_div_12().is_some()
        || parsed.hour_mod_12().is_some()
        || parsed.minute().is_some()
        || parsed.second().is_some()
        || parsed.nanosecond().is_some();
    if has_time {
        Some(Parsed::Local(date.and_time(parsed.to_naive_time().ok()?)))
    } else {
        Some(Parsed::Date(date))
    }
}

/// What to do with a local time in the repeated hour of the autumn change (it happens
/// twice, first in summer time, then in standard time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AmbiguousPolicy {
    /// Take the first occurrence (still summer time, EEST in Helsinki).
    Earlier,
    /// Take the second occurrence (standard time, EET in Helsinki).
    Later,
    /// Refuse the value.
    Reject,
}

/// What to do with a local time in the hour skipped in spring (it does not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NonexistentPolicy {
    /// Read it with the offset in force just before the gap, which moves it forward by the
    /// length of the gap: 03:30 on the spring-change night becomes 04:30 summer time, the
    /// way a clock that was not turned forward would have meant it.
    ShiftForward,
    /// Refuse the value.
    Reject,
}

/// How to turn wall-clock local times into instants.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocalTimePolicy {
    /// The time zone local times are in.
    pub tz: chrono_tz::Tz,
    /// What to do in the repeated autumn hour.
    pub ambiguous: AmbiguousPolicy,
    /// What to do in the skipped spring hour.
    pub nonexistent: NonexistentPolicy,
}

impl Default for LocalTimePolicy {
    /// Europe/Helsinki, rejecting both ambiguous and nonexistent local times.
    fn default() -> Self {
        Self {
            tz: HELSINKI,
            ambiguous: AmbiguousPolicy::Reject,
            nonexistent: NonexistentPolicy::Reject,
        }
    }
}

/// `2025-03-30 03:30`, with `:ss` only when the seconds are not zero.
fn show_local(naive: NaiveDateTime) -> String {
    if naive.format("%S%.f").to_string() == "00" {
        naive.format("%Y-%m-%d %H:%M").to_string()
    } else {
        naive.format("%Y-%m-%d %H:%M:%S%.f").to_string()
    }
}

/// Converts a local wall-clock time in `policy.tz` to UTC.
///
/// Errors name the time and the reason, e.g. "expected a Europe/Helsinki local time that
/// exists (2025-03-30 03:30 falls in the spring-forward gap)" or "expected a
/// Europe/Helsinki local time that is not ambiguous (2025-10-26 03:30 is ambiguous: it
/// happens twice on 2025-10-26, at 00:30 UTC and at 01:30 UTC)".
pub fn local_to_utc(
    naive: NaiveDateTime,
    policy: &LocalTimePolicy,
) -> Result<DateTime<Utc>, ValueError> {
    let tz = policy.tz;
    if let Some(offset) = day_offset(tz, naive.date()) {
        return Ok(Utc.from_utc_datetime(&(naive - TimeDelta::seconds(i64::from(offset)))));
    }
    match tz.from_local_datetime(&naive) {
        LocalResult::Single(dt) => Ok(dt.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.with_timezone(&Utc), b.with_timezone(&Utc));
            let (earlier, later) = if a <= b { (a, b) } else { (b, a) };
            match policy.ambiguous {
                AmbiguousPolicy::Earlier => Ok(earlier),
                AmbiguousPolicy::Later => Ok(later),
                AmbiguousPolicy::Reject => Err(ValueError::new(format!(
                    "a {} local time that is not ambiguous ({} is ambiguous: it happens \
                     twice on {}, at {} UTC and at {} UTC)",
                    tz.name(),
                    show_local(naive),
                    naive.date(),
                    earlier.format("%H:%M"),
                    later.format("%H:%M"),
                ))),
            }
        }
        LocalResult::None => {
            let gap_error = || {
                ValueError::new(format!(
                    "a {} local time that exists ({} falls in the spring-forward gap)",
                    tz.name(),
                    show_local(naive)
                ))
            };
            match policy.nonexistent {
                NonexistentPolicy::Reject => Err(gap_error()),
                NonexistentPolicy::ShiftForward => shift_forward(naive, tz).ok_or_else(gap_error),
            }
        }
    }
}

/// Helsinki midnight at the start of `date`, as an instant. Midnight always exists in
/// Helsinki: the clocks change at 03:00 and 04:00.
pub fn local_midnight(date: NaiveDate) -> DateTime<Utc> {
    HELSINKI
        .from_local_datetime(&date.and_time(NaiveTime::MIN))
        .earliest()
        .expect("midnight exists in Helsinki")
        .with_timezone(&Utc)
}

/// `num_days_from_ce` of 1970-01-01, the first day Arrow's `Date32` counts from.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

/// Days since 1970-01-01 (Arrow's `Date32`, Parquet's `DATE`): 0 for the epoch itself,
/// negative before it.
pub fn epoch_days(date: NaiveDate) -> i32 {
    date.num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// The date `days` days after 1970-01-01 (before it when negative); `None` outside the
/// dates chrono can hold.
pub fn from_epoch_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days.checked_add(EPOCH_DAYS_FROM_CE)?)
}

/// The UTC offset (seconds) in force for the whole local day `date` in `tz`, when the
/// offset does not change that day. Remembered per thread for the last day asked, so a file
/// of times in order consults the zone database about once a day instead of once a value.
fn day_offset(tz: chrono_tz::Tz, date: NaiveDate) -> Option<i32> {
    use std::cell::Cell;
    thread_local! {
        static LAST: Cell<Option<(chrono_tz::Tz, NaiveDate, Option<i32>)>> = const { Cell::new(None) };
    }
    if let Some((t, d, offset)) = LAST.get()
        && t == tz
        && d == date
    {
        return offset;
    }
    let at = |time: NaiveTime| {
        tz.from_local_datetime(&date.and_time(time))
            .single()
            .map(|dt| dt.offset().fix().local_minus_utc())
    };
    let first = at(NaiveTime::MIN);
    let last = NaiveTime::from_hms_opt(23, 59, 59).and_then(at);
    let offset = match (first, last) {
        (Some(a), Some(b)) if a == b => Some(a),
        _ => None,
    };
    LAST.set(Some((tz, date, offset)));
    offset
}

/// Reads a local time that falls in a gap with the offset in force before the gap.
fn shift_forward(naive: NaiveDateTime, tz: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    // Gaps are normally an hour; a zone that skipped a whole day (Samoa, 2011) needs 24.
    let offset_before = (1..=48).find_map(|hours| {
        let probe = naive.checked_sub_signed(TimeDelta::hours(hours))?;
        match tz.from_local_datetime(&probe) {
            LocalResult::Single(dt) | LocalResult::Ambiguous(_, dt) => {
                Some(dt.offset().fix().local_minus_utc())
            }
            LocalResult::None => None,
        }
    })?;
    let utc = naive.checked_sub_signed(TimeDelta::seconds(i64::from(offset_before)))?;
    Some(Utc.from_utc_datetime(&utc))
}

/// A [`Parsed`] value as a UTC instant: a date is local midnight, a local time goes
/// through [`local_to_utc`], an instant is returned as is.
pub fn to_utc(p: Parsed, policy: &LocalTimePolicy) -> Result<DateTime<Utc>, ValueError> {
    match p {
        Parsed::Date(date) => local_to_utc(date.and_time(NaiveTime::MIN), policy),
        Parsed::Local(naive) => local_to_utc(naive, policy),
        Parsed::Instant(instant) => Ok(instant),
    }
}

/// A [`Parsed`] value as a calendar date: a date as is, a local time its date, an instant
/// its date in `tz`. Never fails: every instant has exactly one local date.
pub fn to_local_date(p: Parsed, tz: chrono_tz::Tz) -> NaiveDate {
    match p {
        Parsed::Date(date) => date,
        Parsed::Local(naive) => naive.date(),
        Parsed::Instant(instant) => instant.with_timezone(&tz).date_naive(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn dt(y: i32, m: u32, day: u32, h: u32, min: u32, s: u32) -> NaiveDateTime {
        d(y, m, day).and_hms_opt(h, min, s).unwrap()
    }

    fn utc(y: i32, m: u32, day: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
        Utc.from_utc_datetime(&dt(y, m, day, h, min, s))
    }

    fn parse(s: &str, fmt: &str) -> Result<Parsed, ValueError> {
        parse_time(s, &fmt.parse().unwrap())
    }

    #[test]
    fn periods_read_as_their_first_or_last_day() {
        for (text, first, last) in [
            ("2024", d(2024, 1, 1), d(2024, 12, 31)),
            ("2024-03", d(2024, 3, 1), d(2024, 3, 31)),
            ("2024-2", d(2024, 2, 1), d(2024, 2, 29)),
            ("2023/02", d(2023, 2, 1), d(2023, 2, 28)),
            ("3/2024", d(2024, 3, 1), d(2024, 3, 31)),
            ("04/2024", d(2024, 4, 1), d(2024, 4, 30)),
            ("12.2025", d(2025, 12, 1), d(2025, 12, 31)),
            ("2024M11", d(2024, 11, 1), d(2024, 11, 30)),
            ("2025-Q2", d(2025, 4, 1), d(2025, 6, 30)),
            ("2025Q1", d(2025, 1, 1), d(2025, 3, 31)),
            ("2025 Q4", d(2025, 10, 1), d(2025, 12, 31)),
            ("Q3/2025", d(2025, 7, 1), d(2025, 9, 30)),
            ("q3 2025", d(2025, 7, 1), d(2025, 9, 30)),
            ("Q1-2024", d(2024, 1, 1), d(2024, 3, 31)),
            (" 1987 ", d(1987, 1, 1), d(1987, 12, 31)),
        ] {
            assert_eq!(
                parse(text, "period_start"),
                Ok(Parsed::Date(first)),
                "{text}"
            );
            assert_eq!(parse(text, "period_end"), Ok(Parsed::Date(last)), "{text}");
        }
        for bad in [
            "24",
            "2024-13",
            "13/2024",
            "2024-03-01",
            "maaliskuu 2024",
            "",
            "20245",
            "2025-Q5",
            "Q0/2025",
            "Q2/25",
            "Q22025",
            "2025-Q",
        ] {
            let err = parse(bad, "period_end").unwrap_err().to_string();
            assert!(err.contains("a year, a quarter or a month"), "{bad}: {err}");
        }
        assert_eq!(
            "period_end".parse::<TimeFormat>().unwrap().to_string(),
            "period_end"
        );
    }

    #[test]
    fn spreadsheet_dates_are_written_as_the_format_reads_them() {
        let t = dt(2025, 3, 4, 8, 5, 0);
        for (fmt, written) in [
            ("d.m.yyyy", Some("4.3.2025")),
            ("d.m.yyyy H:mm", Some("4.3.2025 8:05:00")),
            ("iso8601", Some("2025-03-04T08:05:00")),
            ("strftime:%Y%m%d %H%M", Some("20250304 0805")),
            ("period_end", Some("2025-03")),
            ("epoch_seconds", None),
            ("strftime:%Y-%m-%d %H:%M %z", None),
        ] {
            let fmt: TimeFormat = fmt.parse().unwrap();
            let out = fmt.write_local(t);
            assert_eq!(out.as_deref(), written, "{fmt}");
            if let Some(text) = out
                && !matches!(fmt, TimeFormat::PeriodEnd)
            {
                let back = parse_time(&text, &fmt).unwrap();
                assert!(
                    matches!(back, Parsed::Local(x) if x == t)
                        || back == Parsed::Date(t.date()) && fmt == TimeFormat::FinnishDate,
                    "{fmt}: {back:?}"
                );
            }
        }
        let midnight = dt(2025, 3, 4, 0, 0, 0);
        assert_eq!(
            TimeFormat::Iso8601.write_local(midnight).as_deref(),
            Some("2025-03-04")
        );
    }

    #[test]
    fn epoch_days_count_from_1970_both_ways() {
        for (date, days) in [
            (d(1970, 1, 1), 0),
            (d(1970, 1, 2), 1),
            (d(1969, 12, 31), -1),
            (d(1970, 12, 31), 364),
            (d(1971, 1, 1), 365),
            (d(1972, 2, 29), 789), // a leap day
            (d(1972, 3, 1), 790),
            (d(2000, 2, 29), 11_016),
            (d(2024, 2, 29), 19_782),
            (d(1968, 2, 29), -672),
            (d(1900, 1, 1), -25_567),
        ] {
            assert_eq!(epoch_days(date), days, "{date}");
            assert_eq!(from_epoch_days(days), Some(date), "{days}");
            assert_eq!((date - d(1970, 1, 1)).num_days(), i64::from(days));
        }
        assert_eq!(from_epoch_days(i32::MAX), None);
        assert_eq!(from_epoch_days(i32::MIN), None);
    }

    #[test]
    fn remembered_day_offsets_agree_with_the_zone_database() {
        let strict = policy(AmbiguousPolicy::Reject, NonexistentPolicy::Reject);
        let mut t = dt(2024, 1, 1, 0, 0, 0);
        let end = dt(2026, 1, 1, 0, 0, 0);
        while t < end {
            let expected = match HELSINKI.from_local_datetime(&t) {
                LocalResult::Single(x) => Some(x.with_timezone(&Utc)),
                _ => None,
            };
            assert_eq!(local_to_utc(t, &strict).ok(), expected, "{t}");
            t += TimeDelta::minutes(17);
        }
    }

    fn policy(ambiguous: AmbiguousPolicy, nonexistent: NonexistentPolicy) -> LocalTimePolicy {
        LocalTimePolicy {
            tz: HELSINKI,
            ambiguous,
            nonexistent,
        }
    }

    // ---- TimeFormat strings ----

    #[test]
    fn time_format_round_trips() {
        for f in [
            TimeFormat::FinnishDate,
            TimeFormat::FinnishDateTime,
            TimeFormat::Iso8601,
            TimeFormat::EpochSeconds,
            TimeFormat::EpochMillis,
            TimeFormat::Strftime("%Y%m%d %H%M".to_owned()),
            TimeFormat::Strftime("%d/%m/%Y".to_owned()),
        ] {
            assert_eq!(f.to_string().parse::<TimeFormat>(), Ok(f.clone()));
        }
        assert_eq!("d.m.yyyy H:mm".parse(), Ok(TimeFormat::FinnishDateTime));
        assert_eq!("d.m.yyyy H:mm:ss".parse(), Ok(TimeFormat::FinnishDateTime));
        assert_eq!(" iso8601 ".parse(), Ok(TimeFormat::Iso8601));
    }

    #[test]
    fn time_format_errors_list_allowed_values() {
        let err = "dd/mm/yyyy".parse::<TimeFormat>().unwrap_err();
        for allowed in [
            "d.m.yyyy",
            "d.m.yyyy H:mm",
            "iso8601",
            "epoch_seconds",
            "epoch_millis",
            "strftime:",
        ] {
            assert!(err.contains(allowed), "{err}");
        }
        assert!("strftime:".parse::<TimeFormat>().is_err());
        assert!("strftime:%Q".parse::<TimeFormat>().is_err());
    }

    #[test]
    fn time_format_serde_is_the_string() {
        let json = serde_json::to_string(&TimeFormat::FinnishDateTime).unwrap();
        assert_eq!(json, "\"d.m.yyyy H:mm\"");
        let f: TimeFormat = serde_json::from_str("\"strftime:%Y%m%d\"").unwrap();
        assert_eq!(f, TimeFormat::Strftime("%Y%m%d".to_owned()));
        assert!(serde_json::from_str::<TimeFormat>("\"nope\"").is_err());
    }

    // ---- Finnish dates ----

    #[test]
    fn finnish_dates() {
        assert_eq!(
            parse("25.3.2025", "d.m.yyyy"),
            Ok(Parsed::Date(d(2025, 3, 25)))
        );
        assert_eq!(
            parse("05.03.2025", "d.m.yyyy"),
            Ok(Parsed::Date(d(2025, 3, 5)))
        );
        assert_eq!(
            parse(" 1.1.2024 ", "d.m.yyyy"),
            Ok(Parsed::Date(d(2024, 1, 1)))
        );
        assert_eq!(
            parse("29.2.2024", "d.m.yyyy"),
            Ok(Parsed::Date(d(2024, 2, 29)))
        );
        for bad in [
            "",
            "29.2.2025",
            "32.1.2025",
            "1.13.2025",
            "1.1.25",
            "1.1.2025.",
            "2025-01-01",
            "1.1.2025 10:00",
            "001.1.2025",
            "a.1.2025",
            "1..2025",
            "+1.1.2025",
        ] {
            assert!(parse(bad, "d.m.yyyy").is_err(), "{bad:?}");
        }
        let e = parse("2025-01-01", "d.m.yyyy").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a date as d.m.yyyy (e.g. 25.3.2025)"
        );
    }

    #[test]
    fn finnish_date_times() {
        let f = "d.m.yyyy H:mm";
        assert_eq!(
            parse("25.3.2025 14:05", f),
            Ok(Parsed::Local(dt(2025, 3, 25, 14, 5, 0)))
        );
        assert_eq!(
            parse("25.03.2025 04:05:09", f),
            Ok(Parsed::Local(dt(2025, 3, 25, 4, 5, 9)))
        );
        assert_eq!(
            parse("1.1.2025 0:00", f),
            Ok(Parsed::Local(dt(2025, 1, 1, 0, 0, 0)))
        );
        assert_eq!(
            parse("25.3.2025 14.05", f),
            Ok(Parsed::Local(dt(2025, 3, 25, 14, 5, 0)))
        );
        assert_eq!(
            parse("25.3.2025   14:05:59", f),
            Ok(Parsed::Local(dt(2025, 3, 25, 14, 5, 59)))
        );
        for bad in [
            "25.3.2025",
            "25.3.2025 24:00",
            "25.3.2025 14:5",
            "25.3.2025 14:60",
            "25.3.2025 14:05:60",
            "25.3.2025 14:05:00:00",
            "25.3.2025 klo 14:05",
            "25.3.2025T14:05",
            "30.2.2025 14:05",
        ] {
            assert!(parse(bad, f).is_err(), "{bad:?}");
        }
    }

    // ---- ISO 8601 ----

    #[test]
    fn iso_dates_and_local_times() {
        let f = "iso8601";
        assert_eq!(parse("2025-03-25", f), Ok(Parsed::Date(d(2025, 3, 25))));
        assert_eq!(
            parse("2025-03-25T14:05", f),
            Ok(Parsed::Local(dt(2025, 3, 25, 14, 5, 0)))
        );
        assert_eq!(
            parse("2025-03-25 14:05:09", f),
            Ok(Parsed::Local(dt(2025, 3, 25, 14, 5, 9)))
        );
        let with_fraction = d(2025, 3, 25).and_hms_milli_opt(14, 5, 9, 250).unwrap();
        assert_eq!(
            parse("2025-03-25T14:05:09.25", f),
            Ok(Parsed::Local(with_fraction))
        );
        assert_eq!(
            parse("2025-03-25T14:05:09,250", f),
            Ok(Parsed::Local(with_fraction))
        );
        let nanos = d(2025, 3, 25)
            .and_hms_nano_opt(14, 5, 9, 123_456_789)
            .unwrap();
        assert_eq!(
            parse("2025-03-25T14:05:09.1234567891", f),
            Ok(Parsed::Local(nanos))
        );
    }

    #[test]
    fn iso_instants() {
        let f = "iso8601";
        let expect = Ok(Parsed::Instant(utc(2025, 3, 25, 12, 5, 0)));
        assert_eq!(parse("2025-03-25T12:05:00Z", f), expect);
        assert_eq!(parse("2025-03-25T12:05Z", f), expect);
        assert_eq!(parse("2025-03-25 12:05:00z", f), expect);
        assert_eq!(parse("2025-03-25T14:05:00+02:00", f), expect);
        assert_eq!(parse("2025-03-25T14:05:00+0200", f), expect);
        assert_eq!(parse("2025-03-25T14:05:00+02", f), expect);
        assert_eq!(parse("2025-03-25T10:05:00-02:00", f), expect);
        assert_eq!(parse("2025-03-26T01:05:00+13:00", f), expect);
        assert_eq!(
            parse("2025-03-25T12:05:00.5Z", f),
            Ok(Parsed::Instant(
                utc(2025, 3, 25, 12, 5, 0) + TimeDelta::milliseconds(500)
            ))
        );
    }

    #[test]
    fn iso_rejects() {
        for bad in [
            "",
            "2025-3-25",
            "2025-02-30",
            "25.3.2025",
            "2025-03-25T",
            "2025-03-25X14:05",
            "2025-03-25T14",
            "2025-03-25T14:05:09.",
            "2025-03-25T14:05+2:00",
            "2025-03-25T14:05+24:00",
            "2025-03-25T14:05Z+02:00",
            "2025-03-25T14:05:00ZZ",
            "2025-03-25T25:00",
            "2025-03-25T14:05 CET",
            "2025-03-25Ttwo",
            "2025-03-25Tää:05",
        ] {
            assert!(parse(bad, "iso8601").is_err(), "{bad:?}");
        }
    }

    // ---- epoch ----

    #[test]
    fn epoch_seconds() {
        let f = "epoch_seconds";
        assert_eq!(
            parse("1742904300", f),
            Ok(Parsed::Instant(utc(2025, 3, 25, 12, 5, 0)))
        );
        assert_eq!(
            parse("1742904300.25", f),
            Ok(Parsed::Instant(
                utc(2025, 3, 25, 12, 5, 0) + TimeDelta::milliseconds(250)
            ))
        );
        assert_eq!(
            parse("1.7429043e9", f),
            Ok(Parsed::Instant(utc(2025, 3, 25, 12, 5, 0)))
        );
        assert_eq!(parse("0", f), Ok(Parsed::Instant(DateTime::UNIX_EPOCH)));
        assert_eq!(
            parse("-1.5", f),
            Ok(Parsed::Instant(
                DateTime::UNIX_EPOCH - TimeDelta::milliseconds(1500)
            ))
        );
        for bad in [
            "",
            "1,5",
            "1.",
            ".5",
            "abc",
            "NaN",
            "inf",
            "1e400",
            "99999999999999999999",
            "123456789012345678901",
            "1 742 904 300",
            "--1",
        ] {
            assert!(parse(bad, f).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn epoch_millis() {
        let f = "epoch_millis";
        assert_eq!(
            parse("1742904300250", f),
            Ok(Parsed::Instant(
                utc(2025, 3, 25, 12, 5, 0) + TimeDelta::milliseconds(250)
            ))
        );
        assert_eq!(
            parse("1742904300250.5", f),
            Ok(Parsed::Instant(
                utc(2025, 3, 25, 12, 5, 0) + TimeDelta::microseconds(250_500)
            ))
        );
        assert!(parse("17429043002x", f).is_err());
    }

    // ---- strftime ----

    #[test]
    fn strftime_patterns() {
        assert_eq!(
            parse("20250325", "strftime:%Y%m%d"),
            Ok(Parsed::Date(d(2025, 3, 25)))
        );
        assert_eq!(
            parse("25/03/2025 14:05", "strftime:%d/%m/%Y %H:%M"),
            Ok(Parsed::Local(dt(2025, 3, 25, 14, 5, 0)))
        );
        assert_eq!(
            parse("2025-03-25 14:05:00 +0200", "strftime:%Y-%m-%d %H:%M:%S %z"),
            Ok(Parsed::Instant(utc(2025, 3, 25, 12, 5, 0)))
        );
        assert_eq!(
            parse("1742904300", "strftime:%s"),
            Ok(Parsed::Instant(utc(2025, 3, 25, 12, 5, 0)))
        );
        // An hour without minutes is not enough for a time and must not become a date.
        assert!(parse("20250325 14", "strftime:%Y%m%d %H").is_err());
        assert!(parse("2025-03-25", "strftime:%Y%m%d").is_err());
        let e = parse("x", "strftime:%Y%m%d").unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a date or time matching the pattern \"%Y%m%d\""
        );
    }

    // ---- local time to UTC ----

    #[test]
    fn default_policy_is_helsinki_reject_reject() {
        let p = LocalTimePolicy::default();
        assert_eq!(p.tz, HELSINKI);
        assert_eq!(p.ambiguous, AmbiguousPolicy::Reject);
        assert_eq!(p.nonexistent, NonexistentPolicy::Reject);
    }

    #[test]
    fn ordinary_winter_and_summer_times() {
        let p = LocalTimePolicy::default();
        assert_eq!(
            local_to_utc(dt(2025, 1, 15, 12, 0, 0), &p),
            Ok(utc(2025, 1, 15, 10, 0, 0))
        );
        assert_eq!(
            local_to_utc(dt(2025, 7, 15, 12, 0, 0), &p),
            Ok(utc(2025, 7, 15, 9, 0, 0))
        );
        // Just around the spring gap.
        assert_eq!(
            local_to_utc(dt(2025, 3, 30, 2, 59, 59), &p),
            Ok(utc(2025, 3, 30, 0, 59, 59))
        );
        assert_eq!(
            local_to_utc(dt(2025, 3, 30, 4, 0, 0), &p),
            Ok(utc(2025, 3, 30, 1, 0, 0))
        );
    }

    #[test]
    fn spring_gap_rejected() {
        let naive = dt(2025, 3, 30, 3, 30, 0);
        let e = local_to_utc(naive, &LocalTimePolicy::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a Europe/Helsinki local time that exists \
             (2025-03-30 03:30 falls in the spring-forward gap)"
        );
        let e = local_to_utc(dt(2025, 3, 30, 3, 0, 15), &LocalTimePolicy::default()).unwrap_err();
        assert!(e.to_string().contains("2025-03-30 03:00:15 falls"), "{e}");
    }

    #[test]
    fn spring_gap_shift_forward() {
        let p = policy(AmbiguousPolicy::Reject, NonexistentPolicy::ShiftForward);
        let instant = local_to_utc(dt(2025, 3, 30, 3, 30, 0), &p).unwrap();
        assert_eq!(instant, utc(2025, 3, 30, 1, 30, 0));
        assert_eq!(
            instant.with_timezone(&HELSINKI).naive_local(),
            dt(2025, 3, 30, 4, 30, 0)
        );
        assert_eq!(
            local_to_utc(dt(2025, 3, 30, 3, 0, 0), &p),
            Ok(utc(2025, 3, 30, 1, 0, 0))
        );
    }

    #[test]
    fn autumn_repeated_hour() {
        let naive = dt(2025, 10, 26, 3, 30, 0);
        let earlier = policy(AmbiguousPolicy::Earlier, NonexistentPolicy::Reject);
        let later = policy(AmbiguousPolicy::Later, NonexistentPolicy::Reject);
        assert_eq!(
            local_to_utc(naive, &earlier),
            Ok(utc(2025, 10, 26, 0, 30, 0))
        );
        assert_eq!(local_to_utc(naive, &later), Ok(utc(2025, 10, 26, 1, 30, 0)));
        let e = local_to_utc(naive, &LocalTimePolicy::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected a Europe/Helsinki local time that is not ambiguous (2025-10-26 03:30 \
             is ambiguous: it happens twice on 2025-10-26, at 00:30 UTC and at 01:30 UTC)"
        );
        // The hours around it are unambiguous.
        assert_eq!(
            local_to_utc(dt(2025, 10, 26, 2, 59, 0), &LocalTimePolicy::default()),
            Ok(utc(2025, 10, 25, 23, 59, 0))
        );
        assert_eq!(
            local_to_utc(dt(2025, 10, 26, 4, 0, 0), &LocalTimePolicy::default()),
            Ok(utc(2025, 10, 26, 2, 0, 0))
        );
    }

    #[test]
    fn other_time_zones() {
        let p = LocalTimePolicy {
            tz: chrono_tz::UTC,
            ..LocalTimePolicy::default()
        };
        assert_eq!(
            local_to_utc(dt(2025, 3, 30, 3, 30, 0), &p),
            Ok(utc(2025, 3, 30, 3, 30, 0))
        );
        // Samoa skipped 30 December 2011 entirely.
        let samoa = LocalTimePolicy {
            tz: chrono_tz::Pacific::Apia,
            ambiguous: AmbiguousPolicy::Reject,
            nonexistent: NonexistentPolicy::ShiftForward,
        };
        let shifted = local_to_utc(dt(2011, 12, 30, 12, 0, 0), &samoa).unwrap();
        assert_eq!(
            shifted
                .with_timezone(&chrono_tz::Pacific::Apia)
                .naive_local(),
            dt(2011, 12, 31, 12, 0, 0)
        );
    }

    #[test]
    fn to_utc_and_to_local_date() {
        let p = LocalTimePolicy::default();
        assert_eq!(
            to_utc(Parsed::Date(d(2025, 1, 1)), &p),
            Ok(utc(2024, 12, 31, 22, 0, 0))
        );
        assert_eq!(
            to_utc(Parsed::Local(dt(2025, 6, 1, 12, 0, 0)), &p),
            Ok(utc(2025, 6, 1, 9, 0, 0))
        );
        assert!(to_utc(Parsed::Local(dt(2025, 3, 30, 3, 30, 0)), &p).is_err());
        let instant = utc(2025, 6, 30, 22, 30, 0);
        assert_eq!(to_utc(Parsed::Instant(instant), &p), Ok(instant));

        assert_eq!(
            to_local_date(Parsed::Date(d(2025, 1, 1)), HELSINKI),
            d(2025, 1, 1)
        );
        assert_eq!(
            to_local_date(Parsed::Local(dt(2025, 1, 1, 23, 59, 0)), HELSINKI),
            d(2025, 1, 1)
        );
        // 22:30 UTC on 30 June is already 1 July in Helsinki (EEST, UTC+3).
        assert_eq!(
            to_local_date(Parsed::Instant(instant), HELSINKI),
            d(2025, 7, 1)
        );
        assert_eq!(
            to_local_date(Parsed::Instant(instant), chrono_tz::UTC),
            d(2025, 6, 30)
        );
    }

    #[test]
    fn policy_enums_serde_snake_case() {
        assert_eq!(
            serde_json::to_string(&AmbiguousPolicy::Earlier).unwrap(),
            "\"earlier\""
        );
        assert_eq!(
            serde_json::from_str::<NonexistentPolicy>("\"shift_forward\"").unwrap(),
            NonexistentPolicy::ShiftForward
        );
        assert_eq!(
            serde_json::from_str::<AmbiguousPolicy>("\"reject\"").unwrap(),
            AmbiguousPolicy::Reject
        );
    }
}
