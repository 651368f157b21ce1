//! Tile definitions: `sql/<id>.sql` plus `sql/<id>.toml` beside it. A tile needs no Rust.
//!
//! The SQL returns one row per period (and optionally per breakdown cell) with these
//! columns; the engine adds target, status, trend, completeness and freshness:
//!
//! | column | type | meaning |
//! |---|---|---|
//! | `period` | text | `fi_period(...)` of the rows, for the grain being computed |
//! | `value` | number | the KPI value, in the tile's unit |
//! | `numerator`, `denominator` | number, optional | what the value is a ratio of |
//! | `n` | integer | observations behind the value (responses, tasks, contacts) |
//! | `dimension`, `member` | text, optional | breakdown: `NULL` for the total row, else e.g. `service` / `Terveysasemat` |

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Grain;
use crate::roll_up::RollUp;

/// Text in the county's languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// Finnish (required: the desktop's default language).
    pub fi: String,
    /// English.
    pub en: String,
    /// Swedish, where given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sv: Option<String>,
}

/// Which way is good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Bigger values are better.
    HigherIsBetter,
    /// Smaller values are better.
    LowerIsBetter,
}

/// A target that holds from a year on (until a later entry).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// First year the target holds.
    pub from_year: i32,
    /// Target value, in the tile's unit.
    pub value: f64,
}

/// Status thresholds on attainment (1.0 = target reached).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    /// Green when attainment is over this.
    #[serde(default = "default_green")]
    pub green_above: f64,
    /// Yellow when over this; red otherwise.
    #[serde(default = "default_yellow")]
    pub yellow_above: f64,
}

fn default_green() -> f64 {
    0.9
}
fn default_yellow() -> f64 {
    0.5
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            green_above: default_green(),
            yellow_above: default_yellow(),
        }
    }
}

/// Who answers for the tile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Owner {
    /// Sector id from `config/strategy.toml`.
    pub sector: String,
    /// Role of the person who owns the goal.
    pub role: String,
}

/// Where the tile sits in the strategy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    /// Strategic priority id per strategy period id, e.g. `{ "2026-2029" = "asiakkuus" }`.
    pub priority: BTreeMap<String, String>,
    /// Perspective id.
    pub perspective: String,
}

/// A tile's metadata file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TileMeta {
    /// Id; must equal the file stem.
    pub id: String,
    /// Title.
    pub title: Text,
    /// What the figure is and how it is computed, in words.
    pub description: Text,
    /// Unit shown after the value: `%`, `min`, `h`, `NPS`.
    pub unit: String,
    /// Decimals shown.
    #[serde(default = "default_decimals")]
    pub decimals: u32,
    /// Which way is good.
    pub direction: Direction,
    /// Targets by year, oldest first. Empty: the tile is followed without a target.
    #[serde(default)]
    pub targets: Vec<Target>,
    /// Starting level of a baseline → target goal; changes how attainment is computed.
    #[serde(default)]
    pub baseline: Option<f64>,
    /// Status thresholds.
    #[serde(default)]
    pub thresholds: Thresholds,
    /// Owner.
    pub owner: Owner,
    /// Strategy placement.
    pub strategy: Placement,
    /// Below this n the value is suppressed (grey, with the reason).
    #[serde(default)]
    pub min_n: i64,
    /// A breakdown cell with fewer observations is never shown.
    #[serde(default = "default_min_cell")]
    pub min_cell_n: i64,
    /// Warehouse tables the SQL reads.
    pub inputs: Vec<String>,
    /// Grains computed.
    #[serde(default = "all_grains")]
    pub grains: Vec<Grain>,
    /// Whether the value is a point-in-time figure (coverage at period end), for people.
    #[serde(default)]
    pub point_in_time: bool,
    /// Whether a publish may recompute only the periods whose input files changed. Set it
    /// when every row's period is the period of its table's `period_column`, so the rows of
    /// a period all lie in the files filed under its months (see the `incremental` module).
    #[serde(default)]
    pub incremental: bool,
    /// For an incremental tile whose figures also depend on how far the data reaches (a
    /// callback is due only once its deadline is inside the data): the periods holding the
    /// last this many days before the earlier data end, up to the new end, are recomputed
    /// on every publish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback_days: Option<u32>,
    /// For a tile whose value is a ratio of two counts (`numerator`, `denominator`): its
    /// quarters and years are added up from its months instead of queried (see the
    /// `roll_up` module). Needs the month grain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roll_up: Option<RollUp>,
}

fn default_decimals() -> u32 {
    1
}
fn default_min_cell() -> i64 {
    5
}
fn all_grains() -> Vec<Grain> {
    Grain::ALL.to_vec()
}

/// A tile: its SQL and metadata.
#[derive(Debug, Clone, PartialEq)]
pub struct TileDef {
    /// Metadata.
    pub meta: TileMeta,
    /// The SQL text.
    pub sql: String,
    /// Path of the SQL file.
    pub sql_path: PathBuf,
    /// Path of the metadata file.
    pub meta_path: PathBuf,
}

impl TileDef {
    /// Hash of the SQL and the metadata: the definition version shown with every value.
    pub fn version(&self) -> String {
        let mut h = Sha256::new();
        h.update(self.sql.as_bytes());
        h.update([0]);
        h.update(toml::to_string(&self.meta).unwrap_or_default().as_bytes());
        hex::encode(&h.finalize()[..8])
    }

    /// Whether the tile's SQL is run at `grain`: at each of its grains, except the quarters
    /// and years of a tile that adds them up from its months (`roll_up`).
    pub fn queried_at(&self, grain: Grain) -> bool {
        self.meta.grains.contains(&grain)
            && (grain == Grain::Month
                || self.meta.roll_up.is_none()
                || !self.meta.grains.contains(&Grain::Month))
    }

    /// Target in force in a year.
    pub fn target_for(&self, year: i32) -> Option<f64> {
        self.meta
            .targets
            .iter()
            .filter(|t| t.from_year <= year)
            .max_by_key(|t| t.from_year)
            .map(|t| t.value)
    }
}

/// Reads every `*.toml` + `*.sql` pair in a folder; reports every problem at once.
pub fn load_tiles(dir: &Path) -> Result<Vec<TileDef>, Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|e| vec![format!("{}: {e}", dir.display())])?;
    let mut metas: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    let sqls: Vec<PathBuf> = metas
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .cloned()
        .collect();
    metas.retain(|p| p.extension().is_some_and(|e| e == "toml"));
    metas.sort();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for meta_path in &metas {
        let sql_path = meta_path.with_extension("sql");
        let stem = meta_path
            .file_stem()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let meta: TileMeta = match std::fs::read_to_string(meta_path)
            .map_err(|e| e.to_string())
            .and_then(|t| toml::from_str(&t).map_err(|e| e.to_string()))
        {
            Ok(m) => m,
            Err(e) => {
                problems.push(format!("{}: {e}", meta_path.display()));
                continue;
            }
        };
        if meta.id != stem {
            problems.push(format!(
                "{}: `id`: is `{}` but the file is named `{stem}`",
                meta_path.display(),
                meta.id
            ));
        }
        if meta.thresholds.yellow_above >= meta.thresholds.green_above {
            problems.push(format!(
                "{}: `thresholds`: yellow_above must be below green_above",
                meta_path.display()
            ));
        }
        if meta.grains.is_empty() {
            problems.push(format!(
                "{}: `grains`: give at least one of month, quarter, year",
                meta_path.display()
            ));
        }
        if meta.roll_up.is_some() && !meta.grains.contains(&Grain::Month) {
            problems.push(format!(
                "{}: `roll_up`: quarters and years are added up from months, so `grains` \
                 must include month",
                meta_path.display()
            ));
        }
        match std::fs::read_to_string(&sql_path) {
            Ok(sql) => out.push(TileDef {
                meta,
                sql,
                sql_path,
                meta_path: meta_path.clone(),
            }),
            Err(e) => problems.push(format!(
                "{}: the tile's SQL file is missing ({e})",
                sql_path.display()
            )),
        }
    }
    for sql in sqls {
        if !metas.contains(&sql.with_extension("toml")) {
            problems.push(format!(
                "{}: no metadata file beside it ({})",
                sql.display(),
                sql.with_extension("toml").display()
            ));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}
