//! The strategy structure: periods, their priorities, the perspectives, the sectors and the
//! council's binding goals. It is configuration (`config/strategy.toml`), because the county
//! reports history against an earlier strategy's priorities while the current one is in
//! force, and sets its binding goals for each year.

use serde::{Deserialize, Serialize};

use crate::definition::{Owner, Text, TileDef};

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

/// A council-level binding goal (valtuustotason sitova tavoite): set for one or more years,
/// owned by a sector director, measured by its key results in the OKR tracker and by KPIs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// The id the OKR tracker gives it (`SV1`): the key results name it.
    pub id: String,
    /// First and last year it is binding.
    pub years: [i32; 2],
    /// What it says.
    #[serde(flatten)]
    pub name: Text,
    /// Who answers for it: the owner writes its assessment each quarter.
    pub owner: Owner,
    /// Tiles that measure it, shown with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub kpis: Vec<String>,
}

impl Goal {
    /// Whether the goal is binding in `year`.
    pub fn binding_in(&self, year: i32) -> bool {
        self.years[0] <= year && year <= self.years[1]
    }

    /// Whether a breakdown member of the progress tile is this goal: the member is the id,
    /// or the id and the goal's text after a space (`SV1 Asiakas saa …`).
    pub fn is_member(&self, member: &str) -> bool {
        member == self.id
            || member
                .strip_prefix(self.id.as_str())
                .is_some_and(|rest| rest.starts_with(' '))
    }

    /// The subject a check-in on this goal is stored under.
    pub fn subject(&self) -> String {
        format!("goal:{}", self.id)
    }
}

/// Where a goal's progress is read: a tile whose breakdown has a cell per goal (the share of
/// its key results progressing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GoalProgress {
    /// The tile.
    pub tile: String,
    /// The breakdown dimension whose members are the goals.
    pub dimension: String,
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
    /// Where the goals' progress is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal_progress: Option<GoalProgress>,
    /// The council's binding goals, of every year.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub goals: Vec<Goal>,
}

impl Strategy {
    /// Reads and checks the file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, Vec<String>> {
        let text =
            std::fs::read_to_string(path).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        let s: Strategy =
            toml::from_str(&text).map_err(|e| vec![format!("{}: {e}", path.display())])?;
        let f = path.display();
        let mut problems = Vec::new();
        if !s.periods.iter().any(|p| p.id == s.current) {
            problems.push(format!("{f}: `current`: no period `{}`", s.current));
        }
        for (i, g) in s.goals.iter().enumerate() {
            let at = format!("{f}: goal `{}`", g.id);
            if s.goals[..i].iter().any(|o| o.id == g.id) {
                problems.push(format!("{at}: the id is given twice"));
            }
            if g.years[0] > g.years[1] {
                problems.push(format!(
                    "{at}: `years`: {} is after {}",
                    g.years[0], g.years[1]
                ));
            }
            if !s.sectors.iter().any(|x| x.id == g.owner.sector) {
                problems.push(format!(
                    "{at}: `owner.sector`: unknown sector `{}`",
                    g.owner.sector
                ));
            }
        }
        if !s.goals.is_empty() && s.goal_progress.is_none() {
            problems.push(format!(
                "{f}: goals are given but not `goal_progress`, the tile their progress is read from"
            ));
        }
        if problems.is_empty() {
            Ok(s)
        } else {
            Err(problems)
        }
    }

    /// The binding goal with `id`.
    pub fn goal(&self, id: &str) -> Option<&Goal> {
        self.goals.iter().find(|g| g.id == id)
    }

    /// The goals binding in `year`, in the order of the file.
    pub fn goals_of(&self, year: i32) -> impl Iterator<Item = &Goal> {
        self.goals.iter().filter(move |g| g.binding_in(year))
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
        let known = |id: &str| tiles.iter().any(|t| t.meta.id == id);
        if let Some(p) = &self.goal_progress
            && !known(&p.tile)
        {
            problems.push(format!(
                "the strategy file: `goal_progress.tile`: no tile `{}`",
                p.tile
            ));
        }
        for g in &self.goals {
            for k in g.kpis.iter().filter(|k| !known(k)) {
                problems.push(format!(
                    "the strategy file: goal `{}`: `kpis`: no tile `{k}`",
                    g.id
                ));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/strategy.toml")
    }

    #[test]
    fn the_shipped_goals_have_owners_of_known_sectors() {
        let s = Strategy::from_file(&shipped()).unwrap();
        let ids: Vec<&str> = s.goals_of(2025).map(|g| g.id.as_str()).collect();
        assert_eq!(ids, ["SV1", "SV2", "SV3", "SV4", "SV5"]);
        assert_eq!(s.goals_of(2024).count(), 0);
        assert_eq!(s.goal("SV1").unwrap().owner.sector, "pesova");
        assert_eq!(s.goal("SV1").unwrap().subject(), "goal:SV1");
    }

    #[test]
    fn a_goal_is_its_id_or_its_id_and_text() {
        let s = Strategy::from_file(&shipped()).unwrap();
        let g = s.goal("SV1").unwrap();
        assert!(g.is_member("SV1"));
        assert!(g.is_member("SV1 Asiakas saa helposti yhteyden"));
        assert!(!g.is_member("SV10 Toinen"));
        assert!(!g.is_member("SV"));
    }

    #[test]
    fn mistakes_in_goals_are_refused_naming_the_file_and_key() {
        let text = std::fs::read_to_string(shipped()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("strategy.toml");
        let broken = text
            .replace(
                "sector = \"pesova\", role = \"Toimialajohtaja",
                "sector = \"sosiaali\", role = \"Toimialajohtaja",
            )
            .replace("id = \"SV5\"", "id = \"SV4\"")
            .replacen("years = [2025, 2026]", "years = [2026, 2025]", 1);
        std::fs::write(&path, broken).unwrap();
        let problems = Strategy::from_file(&path).unwrap_err().join("\n");
        let f = path.display();
        assert!(
            problems.contains(&format!(
                "{f}: goal `SV1`: `owner.sector`: unknown sector `sosiaali`"
            )),
            "{problems}"
        );
        assert!(
            problems.contains(&format!("{f}: goal `SV4`: the id is given twice")),
            "{problems}"
        );
        assert!(
            problems.contains(&format!("{f}: goal `SV1`: `years`: 2026 is after 2025")),
            "{problems}"
        );

        let s = Strategy::from_file(&shipped()).unwrap();
        let problems = s.check_tiles(&[]).unwrap_err().join("\n");
        assert!(
            problems.contains("`goal_progress.tile`: no tile `key_results_progressing`"),
            "{problems}"
        );
        assert!(
            problems.contains("goal `SV2`: `kpis`: no tile `nps`"),
            "{problems}"
        );
    }
}
