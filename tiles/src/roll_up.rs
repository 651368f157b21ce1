//! Quarters and years added up from their months, for tiles whose figure is a ratio of two
//! counts (`roll_up` in the tile's metadata).
//!
//! A share such as `100.0 * SUM(kept) / COUNT(*)` over a quarter is the same expression over
//! the sums of its months' numerators and denominators: counts add up exactly, and the value
//! is computed from them with the same floating-point steps the SQL takes. So the engine runs
//! such a tile's SQL at the month grain only and adds the months up into quarters and years,
//! cell by cell (the total and every breakdown member), instead of two more passes over the
//! data. Publishing after a new day then recomputes that day's month and adds up its quarter
//! and year from months it already has.
//!
//! The declaration is checked on every month row before it is used: numerator and
//! denominator present, whole numbers small enough to add up exactly in a double, no `note`,
//! and the value exactly (bit for bit) what the declared formula gives. A row that fails
//! says why, and the engine queries that tile's quarters and years instead.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Grain;
use crate::compute::QueryRow;

/// How a tile's value follows from its numerator and denominator, declared with
/// `roll_up = "percent"` or `roll_up = "ratio"` in its metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RollUp {
    /// `value = 100.0 * numerator / denominator`.
    Percent,
    /// `value = numerator / denominator`.
    Ratio,
}

/// Largest magnitude up to which every whole number is exact in a double (2^53).
const EXACT: f64 = 9_007_199_254_740_992.0;

impl RollUp {
    /// The value of a cell from its counts, as the SQL computes it (a non-finite result is
    /// no value, as when a query row is read).
    pub fn value(self, numerator: f64, denominator: f64) -> Option<f64> {
        let v = match self {
            RollUp::Percent => 100.0 * numerator / denominator,
            RollUp::Ratio => numerator / denominator,
        };
        v.is_finite().then_some(v)
    }

    /// Name as written in the metadata.
    pub fn as_str(self) -> &'static str {
        match self {
            RollUp::Percent => "percent",
            RollUp::Ratio => "ratio",
        }
    }

    /// Why a month row cannot be added up under this declaration, if it cannot.
    fn unfit(self, row: &QueryRow) -> Option<String> {
        let at = || {
            format!(
                "period {}{}",
                row.period,
                match (&row.dimension, &row.member) {
                    (Some(d), Some(m)) => format!(", {d} = {m}"),
                    _ => String::new(),
                }
            )
        };
        let whole = |x: Option<f64>| x.filter(|x| x.fract() == 0.0 && x.abs() <= EXACT);
        let (Some(numerator), Some(denominator)) = (whole(row.numerator), whole(row.denominator))
        else {
            return Some(format!(
                "{}: numerator {:?} and denominator {:?} are not both whole numbers",
                at(),
                row.numerator,
                row.denominator
            ));
        };
        if row.note.is_some() {
            return Some(format!("{}: a row with a note cannot be added up", at()));
        }
        let expected = self.value(numerator, denominator);
        if expected.map(f64::to_bits) != row.value.map(f64::to_bits) {
            return Some(format!(
                "{}: value {:?} is not the {} of {numerator} and {denominator} ({:?})",
                at(),
                row.value,
                self.as_str(),
                expected
            ));
        }
        None
    }
}

/// The rows of `grain` added up from the month rows `months`: per period of `grain`,
/// dimension and member, the sums of numerator, denominator and `n`, and the value from
/// them. An error says which month row the declaration does not fit.
pub fn from_months(
    how: RollUp,
    grain: Grain,
    months: &[QueryRow],
) -> Result<Vec<QueryRow>, String> {
    type Cell = (String, Option<String>, Option<String>);
    let mut sums: BTreeMap<Cell, (f64, f64, f64, i64)> = BTreeMap::new();
    for row in months {
        if let Some(why) = how.unfit(row) {
            return Err(why);
        }
        let Some((start, _)) = Grain::Month.bounds(&row.period) else {
            return Err(format!("period {} is not a month", row.period));
        };
        let cell = (
            grain.label(start),
            row.dimension.clone(),
            row.member.clone(),
        );
        let (numerator, denominator) =
            (row.numerator.unwrap_or(0.0), row.denominator.unwrap_or(0.0));
        let sum = sums.entry(cell).or_insert((0.0, 0.0, 0.0, 0));
        sum.0 += numerator;
        sum.1 += denominator;
        // Every partial sum stays exact while the magnitudes added stay within 2^53.
        sum.2 += numerator.abs().max(denominator.abs());
        sum.3 = sum
            .3
            .checked_add(row.n)
            .ok_or_else(|| format!("period {}: n overflows", row.period))?;
        if sum.2 > EXACT {
            return Err(format!(
                "period {}: the counts add up beyond what a double holds exactly",
                row.period
            ));
        }
    }
    Ok(sums
        .into_iter()
        .map(
            |((period, dimension, member), (numerator, denominator, _, n))| QueryRow {
                period,
                value: how.value(numerator, denominator),
                numerator: Some(numerator),
                denominator: Some(denominator),
                n,
                dimension,
                member,
                note: None,
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(period: &str, member: Option<&str>, num: f64, den: f64) -> QueryRow {
        QueryRow {
            period: period.into(),
            value: RollUp::Percent.value(num, den),
            numerator: Some(num),
            denominator: Some(den),
            n: den as i64,
            dimension: member.map(|_| "service".to_string()),
            member: member.map(str::to_string),
            note: None,
        }
    }

    #[test]
    fn quarters_and_years_are_the_sums_of_their_months() {
        let months = vec![
            row("2024-01", None, 1.0, 3.0),
            row("2024-02", None, 2.0, 3.0),
            row("2024-04", None, 5.0, 7.0),
            row("2024-01", Some("Neuvonta"), 1.0, 2.0),
            row("2024-03", Some("Neuvonta"), 0.0, 0.0),
            row("2025-01", None, 0.0, 0.0),
        ];
        let quarters = from_months(RollUp::Percent, Grain::Quarter, &months).unwrap();
        let cells: Vec<(&str, Option<&str>, Option<f64>, i64)> = quarters
            .iter()
            .map(|r| (r.period.as_str(), r.member.as_deref(), r.value, r.n))
            .collect();
        assert_eq!(
            cells,
            vec![
                ("2024-Q1", None, Some(100.0 * 3.0 / 6.0), 6),
                ("2024-Q1", Some("Neuvonta"), Some(100.0 * 1.0 / 2.0), 2),
                ("2024-Q2", None, Some(100.0 * 5.0 / 7.0), 7),
                // No observations: no value, as `100.0 * 0 / 0` reads in SQL.
                ("2025-Q1", None, None, 0),
            ]
        );
        let years = from_months(RollUp::Percent, Grain::Year, &months).unwrap();
        assert_eq!(years[0].period, "2024");
        assert_eq!(years[0].numerator, Some(8.0));
        assert_eq!(years[0].denominator, Some(13.0));
        assert_eq!(
            years[0].value.map(f64::to_bits),
            Some((800.0f64 / 13.0).to_bits())
        );
    }

    #[test]
    fn a_row_the_declaration_does_not_fit_is_named() {
        // A value that is not the percent of its counts (a mean, say).
        let mut mean = row("2024-05", Some("Kiireetön"), 7.0, 2.0);
        mean.value = Some(3.5);
        let err = from_months(RollUp::Percent, Grain::Year, &[mean]).unwrap_err();
        assert!(
            err.contains("period 2024-05, service = Kiireetön") && err.contains("3.5"),
            "{err}"
        );
        // A numerator that is not a whole number (a sum of minutes) does not add up exactly.
        let mut minutes = row("2024-05", None, 7.25, 2.0);
        minutes.value = RollUp::Ratio.value(7.25, 2.0);
        let err = from_months(RollUp::Ratio, Grain::Year, &[minutes]).unwrap_err();
        assert!(err.contains("not both whole numbers"), "{err}");
        // Missing counts.
        let mut bare = row("2024-05", None, 1.0, 2.0);
        bare.denominator = None;
        assert!(from_months(RollUp::Percent, Grain::Quarter, &[bare]).is_err());
        // A period that is not a month.
        let quarter = row("2024-Q2", None, 1.0, 2.0);
        let err = from_months(RollUp::Percent, Grain::Year, &[quarter]).unwrap_err();
        assert!(err.contains("not a month"), "{err}");
    }
}
