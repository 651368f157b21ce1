//! The strategy structure: periods, their priorities, the perspectives and the sectors.
//! It is configuration (`config/strategy.toml`), because the county reports history against
//! an earlier strategy's priorities while the current one is in force.

use serde::{Deserialize, Serialize};

use crate::definition::{Text, TileDef};

/// A named item of the strategy with its texts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// Stable id referred to by tiles.
    pub id: String,
    /// Names.
    #[serde(flatten)]
    pub name: Text,
}

/// One strategy period and its priorities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategyPeriod {
    /// Id, e.g. `2026-2029`.
    pub id: String,
    /// First and last year.
    pub years: [i32; 2],
    /// When the council approved it.
    #[serde(default)]
    pub approved: Option<String>,
    /// Priorities (painopisteet).
    pub priorities: Vec<Item>,
}

/// The whole structure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Period the desktop shows by default.
    pub current: String,
    /// All periods.
    pub periods: Vec<StrategyPeriod>,
    /// Perspectives: the columns of the metric matrix.
    pub perspectives: Vec<Item>,
    /// Sectors (toimialat).
    pub sectors: Vec<Item>,
}

impl Strategy {
    /// Reads and checks the file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, Vec<String>> {
        let text =
            std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        let s: Strategy =
            toml::from_str(&text).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        if !s.periods.iter().any(|p| p.id == s.current) {
            return Err(vec![format!(
                "{}: `current`: no period `{}`",
                path.display(),
                s.current
            )]);
        }
        Ok(s)
    }

    /// Checks that every tile refers to known priorities, perspectives and sectors.
    pub fn check_tiles(&self, tiles: &[TileDef]) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        for t in tiles {
            let f = t.meta_path.display();
            if !self
                .perspectives
                .iter()
                .any(|p| p.id == t.meta.strategy.perspective)
            {
                problems.push(format!(
                    "{f}: `strategy.perspective`: unknown perspective `{}`",
                    t.meta.strategy.perspective
                ));
            }
            if !self.sectors.iter().any(|s| s.id == t.meta.owner.sector) {
                problems.push(format!(
                    "{f}: `owner.sector`: unknown sector `{}`",
                    t.meta.owner.sector
                ));
            }
            if !t.meta.strategy.priority.contains_key(&self.current) {
                problems.push(format!(
                    "{f}: `strategy.priority`: no priority for the current strategy period `{}`",
                    self.current
                ));
            }
            for (period, prio) in &t.meta.strategy.priority {
                match self.periods.iter().find(|p| &p.id == period) {
                    None => problems.push(format!(
                        "{f}: `strategy.priority`: unknown strategy period `{period}`"
                    )),
                    Some(p) if !p.priorities.iter().any(|x| &x.id == prio) => problems.push(
                        format!("{f}: `strategy.priority.{period}`: unknown priority `{prio}`"),
                    ),
                    _ => {}
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }

    /// The strategy period covering a year, falling back to the current one.
    pub fn period_for_year(&self, year: i32) -> &StrategyPeriod {
        self.periods
            .iter()
            .find(|p| p.years[0] <= year && year <= p.years[1])
            .or_else(|| self.periods.iter().find(|p| p.id == self.current))
            .expect("current period exists")
    }
}
