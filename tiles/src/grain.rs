//! Reporting grains and their period labels: one parser for each, used by the command
//! line, the API and the web page.
//!
//! A period label says its grain: `2024-03` is a month, `2024-Q1` a quarter, `2024` a year.

use chrono::{Datelike, NaiveDate};

/// Reporting grain of a tile computation.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    /// Calendar month, `2024-03`.
    Month,
    /// Calendar quarter, `2024-Q1`.
    Quarter,
    /// Calendar year, `2024`.
    Year,
}

impl Grain {
    /// Every grain, finest first.
    pub const ALL: [Grain; 3] = [Grain::Month, Grain::Quarter, Grain::Year];

    /// The period label of a date.
    pub fn label(self, d: NaiveDate) -> String {
        match self {
            Grain::Month => format!("{:04}-{:02}", d.year(), d.month()),
            Grain::Quarter => format!("{:04}-Q{}", d.year(), (d.month() - 1) / 3 + 1),
            Grain::Year => format!("{:04}", d.year()),
        }
    }

    /// First and last day of a period label of this grain.
    pub fn bounds(self, label: &str) -> Option<(NaiveDate, NaiveDate)> {
        let year: i32 = label.get(..4)?.parse().ok()?;
        let (m0, m1) = match self {
            Grain::Year if label.len() == 4 => (1, 12),
            Grain::Quarter => {
                let q: u32 = label.strip_prefix(&format!("{year:04}-Q"))?.parse().ok()?;
                if !(1..=4).contains(&q) {
                    return None;
                }
                (3 * q - 2, 3 * q)
            }
            Grain::Month => {
                let m: u32 = label.get(5..)?.parse().ok()?;
                (m, m)
            }
            _ => return None,
        };
        let start = NaiveDate::from_ymd_opt(year, m0, 1)?;
        let next = if m1 == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, m1 + 1, 1)?
        };
        Some((start, next.pred_opt()?))
    }

    /// Name as written in config and output.
    pub fn as_str(self) -> &'static str {
        match self {
            Grain::Month => "month",
            Grain::Quarter => "quarter",
            Grain::Year => "year",
        }
    }
}

impl std::str::FromStr for Grain {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "month" => Ok(Grain::Month),
            "quarter" => Ok(Grain::Quarter),
            "year" => Ok(Grain::Year),
            other => Err(format!(
                "unknown grain `{other}`; use month, quarter or year"
            )),
        }
    }
}

impl Grain {
    /// The grain a period label is written in (`2024-Q1` → quarter, `2024` → year, else
    /// month); [`Grain::bounds`] then tells whether the label is valid.
    pub fn of_label(label: &str) -> Grain {
        if label.contains("-Q") {
            Grain::Quarter
        } else if label.len() == 4 {
            Grain::Year
        } else {
            Grain::Month
        }
    }

    /// An example label of this grain, for messages.
    pub fn example(self) -> &'static str {
        match self {
            Grain::Month => "2025-12",
            Grain::Quarter => "2025-Q4",
            Grain::Year => "2025",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_labels_and_bounds_agree() {
        let d = NaiveDate::from_ymd_opt(2024, 5, 17).unwrap();
        assert_eq!(Grain::Month.label(d), "2024-05");
        assert_eq!(Grain::Quarter.label(d), "2024-Q2");
        assert_eq!(Grain::Year.label(d), "2024");
        let (s, e) = Grain::Quarter.bounds("2024-Q4").unwrap();
        assert_eq!(
            (s.to_string(), e.to_string()),
            ("2024-10-01".into(), "2024-12-31".into())
        );
        let (s, e) = Grain::Month.bounds("2024-02").unwrap();
        assert_eq!(
            (s.to_string(), e.to_string()),
            ("2024-02-01".into(), "2024-02-29".into())
        );
        assert!(Grain::Quarter.bounds("2024-Q5").is_none());
    }

    #[test]
    fn a_label_tells_its_grain() {
        assert_eq!(Grain::of_label("2025-Q4"), Grain::Quarter);
        assert_eq!(Grain::of_label("2025"), Grain::Year);
        assert_eq!(Grain::of_label("2025-12"), Grain::Month);
        for g in Grain::ALL {
            assert!(g.bounds(g.example()).is_some());
            assert_eq!(g.example().parse::<Grain>().ok(), None);
            assert_eq!(g.as_str().parse::<Grain>(), Ok(g));
        }
        assert!(
            "week"
                .parse::<Grain>()
                .unwrap_err()
                .contains("month, quarter or year")
        );
    }
}
