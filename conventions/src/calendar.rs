//! Finnish public holidays and working days (arkipäivät) for statutory deadlines.
//!
//! Deadlines such as "decision within 7 working days" count Monday–Friday days that are
//! not public holidays or eves treated as holidays, and do not count the starting day
//! (Act 150/1930 on the computation of time limits). The holiday rules are the ones in
//! force since 1991 and are applied to every year; they are not meant for dates before
//! that (Epiphany and Ascension Day were moved to Saturdays in 1973–1990).

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// Easter Sunday of `year` in the Gregorian calendar (anonymous Gregorian computus).
///
/// # Panics
///
/// If `year` is outside the range chrono's `NaiveDate` supports (about ±262 000);
/// every year of a `NaiveDate` is fine.
pub fn easter_sunday(year: i32) -> NaiveDate {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let d = b.div_euclid(4);
    let e = b.rem_euclid(4);
    let f = (b + 8).div_euclid(25);
    let g = (b - f + 1).div_euclid(3);
    let h = (19 * a + b - d - g + 15).rem_euclid(30);
    let i = c.div_euclid(4);
    let k = c.rem_euclid(4);
    let l = (32 + 2 * e + 2 * i - h - k).rem_euclid(7);
    let m = (a + 11 * h + 22 * l).div_euclid(451);
    let month = (h + l - 7 * m + 114).div_euclid(31);
    let day = (h + l - 7 * m + 114).rem_euclid(31) + 1;
    // month is 3 or 4 and day 1..=31 by construction.
    ymd(year, month as u32, day as u32)
}

/// A date known to exist, for the fixed rules below.
fn ymd(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day)
        .unwrap_or_else(|| panic!("year {year} is outside the supported date range"))
}

/// The first `weekday` on or after `year-month-day`.
fn first_on_or_after(year: i32, month: u32, day: u32, weekday: Weekday) -> NaiveDate {
    let start = ymd(year, month, day);
    let ahead = (7 + weekday.num_days_from_monday() - start.weekday().num_days_from_monday()) % 7;
    start + Days::new(u64::from(ahead))
}

/// Number of entries [`holidays`] returns.
const HOLIDAY_COUNT: usize = 15;

/// The holidays of `year`, sorted by date without allocating. Two can share a date:
/// Ascension Day is 1 May when Easter is 23 March (2008, 2160).
fn holidays(year: i32) -> [(NaiveDate, &'static str); HOLIDAY_COUNT] {
    let easter = easter_sunday(year);
    let mut all = [
        (ymd(year, 1, 1), "Uudenvuodenpäivä"),
        (ymd(year, 1, 6), "Loppiainen"),
        (easter - Days::new(2), "Pitkäperjantai"),
        (easter, "Pääsiäispäivä"),
        (easter + Days::new(1), "2. pääsiäispäivä"),
        (ymd(year, 5, 1), "Vappu"),
        (easter + Days::new(39), "Helatorstai"),
        (easter + Days::new(49), "Helluntaipäivä"),
        (
            first_on_or_after(year, 6, 19, Weekday::Fri),
            "Juhannusaatto",
        ),
        (
            first_on_or_after(year, 6, 20, Weekday::Sat),
            "Juhannuspäivä",
        ),
        (first_on_or_after(year, 10, 31, Weekday::Sat), "Pyhäinpäivä"),
        (ymd(year, 12, 6), "Itsenäisyyspäivä"),
        (ymd(year, 12, 24), "Jouluaatto"),
        (ymd(year, 12, 25), "Joulupäivä"),
        (ymd(year, 12, 26), "Tapaninpäivä"),
    ];
    // Stable: on a shared date the order above decides (Vappu before Helatorstai).
    all.sort_by_key(|&(date, _)| date);
    all
}

/// Finnish public holidays and the eves treated as holidays in `year`, with their Finnish
/// names, sorted by date.
///
/// Uudenvuodenpäivä 1.1, Loppiainen 6.1, Pitkäperjantai (Good Friday), Pääsiäispäivä
/// (Easter Sunday), 2. pääsiäispäivä (Easter Monday), Vappu 1.5, Helatorstai (Easter + 39),
/// Helluntaipäivä (Pentecost, a Sunday), Juhannusaatto (Friday 19–25.6), Juhannuspäivä
/// (Saturday 20–26.6), Pyhäinpäivä (Saturday 31.10–6.11), Itsenäisyyspäivä 6.12,
/// Jouluaatto 24.12, Joulupäivä 25.12, Tapaninpäivä 26.12. In a year where Ascension Day
/// falls on 1 May, that date appears twice, once for each name.
///
/// # Panics
///
/// As [`easter_sunday`], only for years outside chrono's range.
pub fn finnish_holidays(year: i32) -> Vec<(NaiveDate, &'static str)> {
    holidays(year).to_vec()
}

/// The Finnish name of the holiday on `date`, if it is one of [`finnish_holidays`]
/// (the first name when two holidays share the date).
pub fn holiday_name(date: NaiveDate) -> Option<&'static str> {
    holidays(date.year())
        .iter()
        .find(|&&(d, _)| d == date)
        .map(|&(_, name)| name)
}

/// Whether `date` is a working day: Monday–Friday and not a holiday in [`finnish_holidays`].
pub fn is_working_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && holiday_name(date).is_none()
}

/// The `n`-th working day after `date`; the starting day is not counted (Act 150/1930),
/// whether or not it is a working day itself. `n = 0` returns `date` unchanged.
///
/// # Panics
///
/// If the result would be past the last date chrono supports (`n` in the tens of millions).
pub fn add_working_days(date: NaiveDate, n: u32) -> NaiveDate {
    let mut current = date;
    let mut remaining = n;
    while remaining > 0 {
        current = current.succ_opt().unwrap_or_else(|| {
            panic!("{n} working days after {date} is past the last supported date")
        });
        if is_working_day(current) {
            remaining -= 1;
        }
    }
    current
}

/// Weekdays (Monday–Friday) in `(start, end]`, for `start < end`.
fn weekdays_between(start: NaiveDate, end: NaiveDate) -> i64 {
    let days = (end - start).num_days();
    let mut count = days / 7 * 5;
    // The remaining days, one by one: at most six.
    let mut day = start + Days::new((days / 7 * 7) as u64);
    for _ in 0..days % 7 {
        day = day + Days::new(1);
        if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
            count += 1;
        }
    }
    count
}

/// Working days in `(start, end]`: the start day is not counted, the end day is.
/// Zero when `end <= start`.
///
/// Runs in time proportional to the number of years spanned, not days.
pub fn working_days_between(start: NaiveDate, end: NaiveDate) -> i64 {
    if end <= start {
        return 0;
    }
    let mut holidays_on_weekdays = 0;
    for year in start.year()..=end.year() {
        let mut previous = None;
        for (date, _) in holidays(year) {
            // Count each date once even when two holidays share it.
            if previous == Some(date) {
                continue;
            }
            previous = Some(date);
            if start < date && date <= end && !matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
            {
                holidays_on_weekdays += 1;
            }
        }
    }
    weekdays_between(start, end) - holidays_on_weekdays
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn date_of(year: i32, name: &str) -> NaiveDate {
        finnish_holidays(year)
            .into_iter()
            .find(|&(_, n)| n == name)
            .map(|(date, _)| date)
            .unwrap()
    }

    /// Day-by-day reference for `working_days_between`.
    fn slow_between(start: NaiveDate, end: NaiveDate) -> i64 {
        start
            .iter_days()
            .skip(1)
            .take_while(|&day| day <= end)
            .filter(|&day| is_working_day(day))
            .count() as i64
    }

    #[test]
    fn easter_dates() {
        assert_eq!(easter_sunday(2024), d(2024, 3, 31));
        assert_eq!(easter_sunday(2025), d(2025, 4, 20));
        assert_eq!(easter_sunday(2026), d(2026, 4, 5));
        // Extremes of the Gregorian range of Easter: 22 March and 25 April.
        assert_eq!(easter_sunday(1818), d(1818, 3, 22));
        assert_eq!(easter_sunday(2285), d(2285, 3, 22));
        assert_eq!(easter_sunday(1943), d(1943, 4, 25));
        assert_eq!(easter_sunday(2038), d(2038, 4, 25));
        assert_eq!(easter_sunday(2000), d(2000, 4, 23));
        assert_eq!(easter_sunday(2008), d(2008, 3, 23));
    }

    #[test]
    fn easter_is_always_a_sunday_in_range() {
        for year in 1583..=3000 {
            let e = easter_sunday(year);
            assert_eq!(e.weekday(), Weekday::Sun, "{year}");
            assert!(e >= d(year, 3, 22) && e <= d(year, 4, 25), "{year}");
        }
    }

    #[test]
    fn easter_does_not_panic_at_chrono_limits() {
        easter_sunday(NaiveDate::MIN.year());
        easter_sunday(NaiveDate::MAX.year());
        finnish_holidays(NaiveDate::MAX.year());
        assert!(!is_working_day(NaiveDate::MIN) || is_working_day(NaiveDate::MIN));
    }

    #[test]
    fn movable_holidays() {
        assert_eq!(date_of(2024, "Juhannusaatto"), d(2024, 6, 21));
        assert_eq!(date_of(2025, "Juhannusaatto"), d(2025, 6, 20));
        assert_eq!(date_of(2024, "Juhannuspäivä"), d(2024, 6, 22));
        assert_eq!(date_of(2025, "Juhannuspäivä"), d(2025, 6, 21));
        assert_eq!(date_of(2024, "Pyhäinpäivä"), d(2024, 11, 2));
        assert_eq!(date_of(2025, "Pyhäinpäivä"), d(2025, 11, 1));
        assert_eq!(date_of(2025, "Pitkäperjantai"), d(2025, 4, 18));
        assert_eq!(date_of(2025, "2. pääsiäispäivä"), d(2025, 4, 21));
        assert_eq!(date_of(2025, "Helatorstai"), d(2025, 5, 29));
        assert_eq!(date_of(2025, "Helluntaipäivä"), d(2025, 6, 8));
        assert_eq!(date_of(2024, "Helatorstai"), d(2024, 5, 9));
    }

    #[test]
    fn movable_holidays_stay_in_their_windows() {
        for year in 1991..=2100 {
            let eve = date_of(year, "Juhannusaatto");
            assert_eq!(eve.weekday(), Weekday::Fri);
            assert!(eve >= d(year, 6, 19) && eve <= d(year, 6, 25));
            assert_eq!(date_of(year, "Juhannuspäivä"), eve + Days::new(1));
            let all_saints = date_of(year, "Pyhäinpäivä");
            assert_eq!(all_saints.weekday(), Weekday::Sat);
            assert!(all_saints >= d(year, 10, 31) && all_saints <= d(year, 11, 6));
            assert_eq!(date_of(year, "Helatorstai").weekday(), Weekday::Thu);
            assert_eq!(date_of(year, "Pitkäperjantai").weekday(), Weekday::Fri);
            assert_eq!(date_of(year, "2. pääsiäispäivä").weekday(), Weekday::Mon);
            assert_eq!(date_of(year, "Helluntaipäivä").weekday(), Weekday::Sun);
        }
    }

    #[test]
    fn holidays_2025_in_order() {
        let names: Vec<(NaiveDate, &str)> = finnish_holidays(2025);
        assert_eq!(
            names,
            vec![
                (d(2025, 1, 1), "Uudenvuodenpäivä"),
                (d(2025, 1, 6), "Loppiainen"),
                (d(2025, 4, 18), "Pitkäperjantai"),
                (d(2025, 4, 20), "Pääsiäispäivä"),
                (d(2025, 4, 21), "2. pääsiäispäivä"),
                (d(2025, 5, 1), "Vappu"),
                (d(2025, 5, 29), "Helatorstai"),
                (d(2025, 6, 8), "Helluntaipäivä"),
                (d(2025, 6, 20), "Juhannusaatto"),
                (d(2025, 6, 21), "Juhannuspäivä"),
                (d(2025, 11, 1), "Pyhäinpäivä"),
                (d(2025, 12, 6), "Itsenäisyyspäivä"),
                (d(2025, 12, 24), "Jouluaatto"),
                (d(2025, 12, 25), "Joulupäivä"),
                (d(2025, 12, 26), "Tapaninpäivä"),
            ]
        );
    }

    #[test]
    fn sorted_every_year() {
        for year in 1991..=2100 {
            let h = finnish_holidays(year);
            assert_eq!(h.len(), HOLIDAY_COUNT);
            assert!(h.windows(2).all(|w| w[0].0 <= w[1].0), "{year}");
            assert!(h.iter().all(|(date, _)| date.year() == year));
        }
    }

    #[test]
    fn ascension_on_may_day() {
        // 2008: Easter 23 March, so Ascension Day was 1 May.
        let h = finnish_holidays(2008);
        let may_day: Vec<&str> = h
            .iter()
            .filter(|(date, _)| *date == d(2008, 5, 1))
            .map(|&(_, name)| name)
            .collect();
        assert_eq!(may_day, vec!["Vappu", "Helatorstai"]);
        assert_eq!(holiday_name(d(2008, 5, 1)), Some("Vappu"));
        // Counted once: Wed 30.4 -> Fri 2.5.2008 is one working day (Friday).
        assert_eq!(working_days_between(d(2008, 4, 30), d(2008, 5, 2)), 1);
        assert_eq!(
            working_days_between(d(2008, 1, 1), d(2008, 12, 31)),
            slow_between(d(2008, 1, 1), d(2008, 12, 31))
        );
    }

    #[test]
    fn holiday_names_and_working_days() {
        assert_eq!(holiday_name(d(2025, 12, 6)), Some("Itsenäisyyspäivä"));
        assert_eq!(holiday_name(d(2025, 4, 18)), Some("Pitkäperjantai"));
        assert_eq!(holiday_name(d(2025, 4, 22)), None);
        assert!(!is_working_day(d(2025, 4, 18))); // Good Friday
        assert!(!is_working_day(d(2025, 4, 21))); // Easter Monday
        assert!(is_working_day(d(2025, 4, 22))); // Tuesday after Easter
        assert!(!is_working_day(d(2025, 3, 29))); // Saturday
        assert!(!is_working_day(d(2025, 3, 30))); // Sunday
        assert!(is_working_day(d(2025, 3, 31))); // Monday
        assert!(!is_working_day(d(2024, 12, 24))); // Christmas Eve, Tuesday
        assert!(!is_working_day(d(2025, 6, 20))); // Midsummer Eve, Friday
        assert!(is_working_day(d(2025, 6, 19)));
    }

    #[test]
    fn add_over_christmas_2024() {
        // Mon 23.12.2024 + 1 = Fri 27.12.2024 (24–26.12 are holidays).
        assert_eq!(add_working_days(d(2024, 12, 23), 1), d(2024, 12, 27));
        assert_eq!(add_working_days(d(2024, 12, 23), 2), d(2024, 12, 30));
        assert_eq!(add_working_days(d(2024, 12, 23), 3), d(2024, 12, 31));
        // 1.1.2025 is a holiday.
        assert_eq!(add_working_days(d(2024, 12, 23), 4), d(2025, 1, 2));
    }

    #[test]
    fn add_over_easter_2025() {
        // Thu 17.4.2025 + 1: Good Friday, weekend and Easter Monday are skipped.
        assert_eq!(add_working_days(d(2025, 4, 17), 1), d(2025, 4, 22));
        // Wed 16.4.2025 + 2 = Tue 22.4.2025.
        assert_eq!(add_working_days(d(2025, 4, 16), 2), d(2025, 4, 22));
        // Seven working days from Mon 14.4.2025: 15, 16, 17, 22, 23, 24, 25.
        assert_eq!(add_working_days(d(2025, 4, 14), 7), d(2025, 4, 25));
    }

    #[test]
    fn add_zero_and_non_working_start() {
        assert_eq!(add_working_days(d(2025, 12, 25), 0), d(2025, 12, 25));
        // Starting on a Saturday: the first working day after it is Monday.
        assert_eq!(add_working_days(d(2025, 3, 29), 1), d(2025, 3, 31));
        // Friday + 1 = Monday.
        assert_eq!(add_working_days(d(2025, 3, 28), 1), d(2025, 3, 31));
        assert_eq!(add_working_days(d(2025, 3, 28), 5), d(2025, 4, 4));
    }

    #[test]
    fn between_basics() {
        assert_eq!(working_days_between(d(2025, 3, 28), d(2025, 3, 28)), 0);
        assert_eq!(working_days_between(d(2025, 3, 31), d(2025, 3, 28)), 0);
        // Fri -> Mon: only Monday counts.
        assert_eq!(working_days_between(d(2025, 3, 28), d(2025, 3, 31)), 1);
        // Mon -> next Mon: Tue..Fri + Mon.
        assert_eq!(working_days_between(d(2025, 3, 24), d(2025, 3, 31)), 5);
        // Over Christmas 2024.
        assert_eq!(working_days_between(d(2024, 12, 23), d(2024, 12, 27)), 1);
        assert_eq!(working_days_between(d(2024, 12, 20), d(2025, 1, 3)), 6);
        // Working days in 2025: 261 weekdays minus 10 weekday holidays.
        assert_eq!(working_days_between(d(2024, 12, 31), d(2025, 12, 31)), 251);
    }

    #[test]
    fn between_agrees_with_add_and_day_by_day() {
        let start = d(2023, 12, 1);
        for offset in 0..800 {
            let from = start + Days::new(offset);
            for n in [1_u32, 2, 7, 14] {
                let to = add_working_days(from, n);
                assert_eq!(working_days_between(from, to), i64::from(n), "{from} + {n}");
            }
        }
        for (a, b) in [
            (d(2020, 1, 1), d(2030, 12, 31)),
            (d(2024, 12, 29), d(2025, 1, 6)),
            (d(2025, 4, 17), d(2025, 4, 22)),
            (d(2025, 6, 19), d(2025, 6, 23)),
        ] {
            assert_eq!(working_days_between(a, b), slow_between(a, b), "{a}..{b}");
        }
    }
}
