//! The status of a figure: attainment of the target and the colour rule, and the order in
//! which a total is greyed instead of judged. One place, so that everything showing a
//! status (the engine, the desktop's test fixtures) applies the same rule.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tilannekuva_conventions::datetime::HELSINKI;

use crate::definition::{Direction, Thresholds};
use crate::suppression::TotalHidden;

/// Colour of a tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Over the green threshold.
    Green,
    /// Over the yellow threshold.
    Yellow,
    /// Under it.
    Red,
    /// No value, suppressed, or incomplete data.
    Grey,
    /// No target: followed, not judged.
    None,
}

impl Status {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Green => "green",
            Status::Yellow => "yellow",
            Status::Red => "red",
            Status::Grey => "grey",
            Status::None => "none",
        }
    }
}

/// Attainment of a target (1.0 = reached):
/// - higher is better: `value / target` (none when the target is 0);
/// - lower is better: `target / value`, 1.0 or more once the value is at or under target
///   (1.0 when the value is 0 or below);
/// - with a `baseline`, either way: `(value − baseline) / (target − baseline)`, the share
///   of the planned change achieved (the direction rule when target equals baseline).
///
/// Floored at 0, not capped.
pub fn attainment(
    direction: Direction,
    value: f64,
    target: f64,
    baseline: Option<f64>,
) -> Option<f64> {
    let a = match baseline {
        Some(b) if (target - b).abs() > f64::EPSILON => (value - b) / (target - b),
        _ => match direction {
            Direction::HigherIsBetter if target != 0.0 => value / target,
            Direction::LowerIsBetter if value > 0.0 => target / value,
            Direction::LowerIsBetter => 1.0,
            _ => return None,
        },
    };
    Some(a.max(0.0))
}

/// The colour of an attainment: green when **over** `green_above`, yellow when over
/// `yellow_above`, red otherwise (the county's annual-report rule with the default 0.9
/// and 0.5).
pub fn colour(attainment: f64, thresholds: &Thresholds) -> Status {
    if attainment > thresholds.green_above {
        Status::Green
    } else if attainment > thresholds.yellow_above {
        Status::Yellow
    } else {
        Status::Red
    }
}

/// The status of a value against a target: its colour, or `none` when attainment cannot
/// be computed. Breakdown cells get this status.
pub fn judge(
    direction: Direction,
    value: f64,
    target: f64,
    baseline: Option<f64>,
    thresholds: &Thresholds,
) -> Status {
    attainment(direction, value, target, baseline).map_or(Status::None, |a| colour(a, thresholds))
}

/// What decides the status of a period's total.
#[derive(Debug, Clone)]
pub struct TotalFacts<'a> {
    /// Whether the total is suppressed, and why.
    pub suppressed: Option<TotalHidden>,
    /// The tile's `min_n`, for the reason.
    pub min_n: i64,
    /// The tile's `min_cell_n`, for the reason.
    pub min_cell_n: i64,
    /// The value, none when there is none (or it is suppressed).
    pub value: Option<f64>,
    /// Deliveries due for the period that are missing.
    pub missing: &'a [String],
    /// Whether the period had not ended.
    pub in_progress: bool,
    /// How far the input data reaches.
    pub data_through: Option<DateTime<Utc>>,
    /// Attainment of the target in force, when both exist.
    pub attainment: Option<f64>,
    /// The tile's thresholds.
    pub thresholds: &'a Thresholds,
}

/// The status of a total and why it is grey, in this order: suppressed, no value,
/// incomplete data, period in progress; then the colour, or `none` without attainment.
pub fn total_status(f: &TotalFacts<'_>) -> (Status, Option<String>) {
    let grey = |reason: String| (Status::Grey, Some(reason));
    match f.suppressed {
        Some(TotalHidden::BelowMinN) => {
            return grey(format!("suppressed: n is below the minimum {}", f.min_n));
        }
        Some(TotalHidden::ProtectsCell) => {
            return grey(format!(
                "suppressed: shown, it would reveal a breakdown cell with fewer than {} observations",
                f.min_cell_n
            ));
        }
        None => {}
    }
    if f.value.is_none() {
        return grey("no data for the period".to_string());
    }
    if !f.missing.is_empty() {
        let shown: Vec<&str> = f.missing.iter().take(4).map(String::as_str).collect();
        let more = if f.missing.len() > 4 {
            format!(" and {} more", f.missing.len() - 4)
        } else {
            String::new()
        };
        return grey(format!(
            "incomplete data: missing {}{more}",
            shown.join(", ")
        ));
    }
    if f.in_progress {
        let through = f
            .data_through
            .map(|t| {
                format!(
                    ": data through {}",
                    t.with_timezone(&HELSINKI).format("%-d.%-m.%Y")
                )
            })
            .unwrap_or_default();
        return grey(format!("period in progress{through}"));
    }
    match f.attainment {
        Some(a) => (colour(a, f.thresholds), None),
        None => (Status::None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attainment_follows_the_documented_rules() {
        assert_eq!(
            attainment(Direction::HigherIsBetter, 45.0, 50.0, None),
            Some(0.9)
        );
        assert_eq!(attainment(Direction::HigherIsBetter, 45.0, 0.0, None), None);
        assert_eq!(
            attainment(Direction::LowerIsBetter, 8.0, 6.0, None),
            Some(0.75)
        );
        assert_eq!(
            attainment(Direction::LowerIsBetter, 5.0, 6.0, None),
            Some(1.2)
        );
        assert_eq!(
            attainment(Direction::LowerIsBetter, 0.0, 6.0, None),
            Some(1.0)
        );
        // Baseline 1.9 → target 1.6, now 1.75: half of the planned change.
        let a = attainment(Direction::LowerIsBetter, 1.75, 1.6, Some(1.9)).unwrap();
        assert!((a - 0.5).abs() < 1e-9);
        // Moving the wrong way is 0, not negative.
        assert_eq!(
            attainment(Direction::LowerIsBetter, 2.0, 1.6, Some(1.9)),
            Some(0.0)
        );
        // Target equal to the baseline: the direction rule.
        assert_eq!(
            attainment(Direction::HigherIsBetter, 45.0, 50.0, Some(50.0)),
            Some(0.9)
        );
    }

    #[test]
    fn colours_are_strictly_over_the_thresholds() {
        let t = Thresholds::default();
        assert_eq!(colour(0.9001, &t), Status::Green);
        assert_eq!(colour(0.9, &t), Status::Yellow);
        assert_eq!(colour(0.5001, &t), Status::Yellow);
        assert_eq!(colour(0.5, &t), Status::Red);
        assert_eq!(colour(0.0, &t), Status::Red);
        let custom = Thresholds {
            green_above: 0.95,
            yellow_above: 0.8,
        };
        assert_eq!(colour(0.93, &custom), Status::Yellow);
        assert_eq!(colour(0.8, &custom), Status::Red);
    }

    #[test]
    fn grey_reasons_come_in_order() {
        let t = Thresholds::default();
        let missing = vec!["a 2025-01".to_string()];
        let all = TotalFacts {
            suppressed: Some(TotalHidden::BelowMinN),
            min_n: 30,
            min_cell_n: 5,
            value: None,
            missing: &missing,
            in_progress: true,
            data_through: None,
            attainment: Some(1.0),
            thresholds: &t,
        };
        let reason = |f: &TotalFacts<'_>| total_status(f).1.unwrap();
        assert_eq!(reason(&all), "suppressed: n is below the minimum 30");
        let f = TotalFacts {
            suppressed: None,
            ..all.clone()
        };
        assert_eq!(reason(&f), "no data for the period");
        let f = TotalFacts {
            value: Some(1.0),
            ..f
        };
        assert_eq!(reason(&f), "incomplete data: missing a 2025-01");
        let f = TotalFacts { missing: &[], ..f };
        assert_eq!(reason(&f), "period in progress");
        let f = TotalFacts {
            in_progress: false,
            ..f
        };
        assert_eq!(total_status(&f), (Status::Green, None));
        let f = TotalFacts {
            attainment: None,
            ..f
        };
        assert_eq!(total_status(&f), (Status::None, None));
    }
}
