//! What range of days an export declares it covers, read from its file name
//! (`[load] covered_range_from_name`). The tiles count a declared month as delivered under
//! `complete_when = "declared_range"`, and a declared month with no rows as an explicit "no
//! events" delivery under any rule. API fetch kinds declare the range they asked for
//! themselves.

use chrono::{Datelike, NaiveDate};
use regex::Regex;
use tilannekuva_conventions::datetime::{Parsed, TimeFormat, parse_time};
use tilannekuva_warehouse::Covered;

/// A compiled `covered_range_from_name` pattern. It names its parts with groups: `month`
/// (`2025-06`, `202506`, `06-2025`), `quarter` (`2025-Q2`, `Q2/2025`, `2025Q2`), `year`
/// (`2025`), or `from` and `to` (days as `2025-06-01`, `20250601` or `1.6.2025`).
#[derive(Debug, Clone)]
pub struct NamePattern {
    regex: Regex,
}

impl NamePattern {
    /// Compiles a pattern, or says what is wrong with it.
    pub fn compile(pattern: &str) -> Result<Self, String> {
        let regex = Regex::new(pattern).map_err(|e| format!("not a regular expression: {e}"))?;
        let names: Vec<&str> = regex.capture_names().flatten().collect();
        let has = |n: &str| names.contains(&n);
        let shapes = [
            has("month"),
            has("quarter"),
            has("year"),
            has("from") && has("to"),
        ];
        if shapes.iter().filter(|s| **s).count() != 1 || (has("from") != has("to")) {
            return Err(format!(
                "`{pattern}` must name exactly one of: a group `month`, a group `quarter`, a \
                 group `year`, or groups `from` and `to`, as in `(?P<month>\\d{{4}}-\\d{{2}})`"
            ));
        }
        Ok(Self { regex })
    }

    /// The range a file name declares, or why it declares none (the name does not match,
    /// or a part is not a date).
    pub fn covered(&self, name: &str) -> Result<Covered, String> {
        let caps = self
            .regex
            .captures(name)
            .ok_or_else(|| format!("`{name}` does not match `{}`", self.regex.as_str()))?;
        let part = |g: &str| caps.name(g).map(|m| m.as_str());
        let bad = |what: &str, v: &str| format!("`{v}` in `{name}` is not a {what}");
        if let Some(m) = part("month") {
            let first = month(m).ok_or_else(|| bad("month (YYYY-MM)", m))?;
            return Ok(Covered {
                from: first,
                to: last_of_month(first),
            });
        }
        if let Some(q) = part("quarter") {
            let day = |format: TimeFormat| match parse_time(q, &format) {
                Ok(Parsed::Date(d)) if q.contains(['Q', 'q']) => Some(d),
                _ => None,
            };
            let (Some(from), Some(to)) = (day(TimeFormat::PeriodStart), day(TimeFormat::PeriodEnd))
            else {
                return Err(bad("quarter (YYYY-Qn)", q));
            };
            return Ok(Covered { from, to });
        }
        if let Some(y) = part("year") {
            let first = y
                .parse::<i32>()
                .ok()
                .and_then(|y| NaiveDate::from_ymd_opt(y, 1, 1))
                .ok_or_else(|| bad("year", y))?;
            return Ok(Covered {
                from: first,
                to: NaiveDate::from_ymd_opt(first.year(), 12, 31).expect("valid"),
            });
        }
        let (Some(f), Some(t)) = (part("from"), part("to")) else {
            return Err(format!(
                "`{name}` matched without its `from` and `to` groups"
            ));
        };
        let from = day(f).ok_or_else(|| bad("day", f))?;
        let to = day(t).ok_or_else(|| bad("day", t))?;
        if to < from {
            return Err(format!(
                "`{name}` declares a range that ends before it starts"
            ));
        }
        Ok(Covered { from, to })
    }
}

fn month(s: &str) -> Option<NaiveDate> {
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 6 {
        return None;
    }
    // `2025-06` / `202506`, or `06-2025` / `06.2025`.
    let (y, m) = if s.find(|c: char| !c.is_ascii_digit()) == Some(2) {
        (&digits[2..], &digits[..2])
    } else {
        (&digits[..4], &digits[4..])
    };
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

fn day(s: &str) -> Option<NaiveDate> {
    ["%Y-%m-%d", "%Y%m%d", "%d.%m.%Y"]
        .iter()
        .find_map(|f| NaiveDate::parse_from_str(s, f).ok())
}

/// The last day of the month that starts on `first`.
pub fn last_of_month(first: NaiveDate) -> NaiveDate {
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    };
    next.and_then(|d| d.pred_opt()).expect("valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_month_in_the_name_covers_that_month() {
        let p = NamePattern::compile(r"_(?P<month>\d{4}-\d{2})\.csv$").unwrap();
        let c = p.covered("ace_contacts_2024-02.csv").unwrap();
        assert_eq!((c.from, c.to), (d("2024-02-01"), d("2024-02-29")));
        let p = NamePattern::compile(r"raportti_(?P<month>\d{2}\.\d{4})").unwrap();
        let c = p.covered("raportti_12.2025.xlsx").unwrap();
        assert_eq!((c.from, c.to), (d("2025-12-01"), d("2025-12-31")));
    }

    #[test]
    fn a_quarter_in_the_name_covers_its_three_months() {
        let p = NamePattern::compile(r"_(?P<quarter>\d{4}-?Q\d)\.csv$").unwrap();
        let c = p.covered("okr_avaintulokset_2025-Q2.csv").unwrap();
        assert_eq!((c.from, c.to), (d("2025-04-01"), d("2025-06-30")));
        let c = p.covered("okr_avaintulokset_2025Q4.csv").unwrap();
        assert_eq!((c.from, c.to), (d("2025-10-01"), d("2025-12-31")));
        let err = p.covered("okr_avaintulokset_2025-Q5.csv").unwrap_err();
        assert!(
            err.contains("`2025-Q5`") && err.contains("not a quarter"),
            "{err}"
        );
        // A month is not a quarter.
        let p = NamePattern::compile(r"_(?P<quarter>[\d-]+)\.csv$").unwrap();
        assert!(p.covered("x_2025-06.csv").is_err());
    }

    #[test]
    fn a_range_in_the_name_covers_its_days() {
        let p = NamePattern::compile(r"(?P<from>\d{8})-(?P<to>\d{8})").unwrap();
        let c = p.covered("pronto_20250601-20250614.csv").unwrap();
        assert_eq!((c.from, c.to), (d("2025-06-01"), d("2025-06-14")));
        let p = NamePattern::compile(r"(?P<from>[\d.]+)_(?P<to>[\d.]+)\.csv").unwrap();
        let c = p.covered("chat_1.6.2025_30.6.2025.csv").unwrap();
        assert_eq!((c.from, c.to), (d("2025-06-01"), d("2025-06-30")));
        let err = p.covered("chat_30.6.2025_1.6.2025.csv").unwrap_err();
        assert!(err.contains("ends before it starts"), "{err}");
    }

    #[test]
    fn names_that_do_not_declare_say_why() {
        let p = NamePattern::compile(r"_(?P<month>\d{4}-\d{2})\.csv$").unwrap();
        let err = p.covered("ace_contacts_latest.csv").unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let err = p.covered("ace_contacts_2025-13.csv").unwrap_err();
        assert!(
            err.contains("`2025-13`") && err.contains("not a month"),
            "{err}"
        );
    }

    #[test]
    fn a_pattern_must_name_one_shape() {
        for bad in [
            r"\d+",
            r"(?P<from>\d+)",
            r"(?P<month>\d+)(?P<year>\d+)",
            r"(?P<month>",
        ] {
            assert!(NamePattern::compile(bad).is_err(), "{bad}");
        }
    }
}
