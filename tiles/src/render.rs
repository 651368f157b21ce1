//! Tiles as a terminal table: one line per tile for a grain, with value, target, status,
//! change and freshness.

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{Cell, CellAlignment, Table};

use crate::{Grain, PeriodFigure, Status, TilesDoc};

/// Formats a number with the tile's decimals, Finnish style (decimal comma).
pub fn number(v: Option<f64>, decimals: u32) -> String {
    match v {
        Some(v) => format!("{:.*}", decimals as usize, v).replace('.', ","),
        None => "–".to_string(),
    }
}

fn status_text(s: Status) -> &'static str {
    match s {
        Status::Green => "● green",
        Status::Yellow => "▲ yellow",
        Status::Red => "■ red",
        Status::Grey => "○ grey",
        Status::None => "· no target",
    }
}

fn arrow(change: Option<f64>) -> &'static str {
    match change {
        Some(c) if c > 0.0 => "↑",
        Some(c) if c < 0.0 => "↓",
        Some(_) => "→",
        None => "",
    }
}

/// One table row per tile: its figure for `period`, or its latest figure of `grain`.
pub fn table(doc: &TilesDoc, grain: Grain, period: Option<&str>) -> String {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec![
        "Tile",
        "Period",
        "Value",
        "Target",
        "Status",
        "Change",
        "n",
        "Data through",
        "Notes",
    ]);
    for tile in &doc.tiles {
        let d = tile.meta.decimals;
        let figure: Option<&PeriodFigure> = match period {
            Some(p) => tile.figure(grain, p),
            None => tile.latest(grain),
        };
        let unit = &tile.meta.unit;
        let Some(f) = figure else {
            t.add_row(vec![
                Cell::new(&tile.meta.title.en),
                Cell::new(period.unwrap_or("–")),
                Cell::new("–"),
                Cell::new(""),
                Cell::new(status_text(Status::Grey)),
                Cell::new(""),
                Cell::new(""),
                Cell::new(""),
                Cell::new("no data"),
            ]);
            continue;
        };
        let change = f
            .change
            .map(|c| format!("{} {}", arrow(Some(c)), number(Some(c), d)))
            .unwrap_or_default();
        t.add_row(vec![
            Cell::new(&tile.meta.title.en),
            Cell::new(&f.period),
            Cell::new(format!("{} {unit}", number(f.value, d))).set_alignment(CellAlignment::Right),
            Cell::new(
                f.target
                    .map(|v| format!("{} {unit}", number(Some(v), d)))
                    .unwrap_or_default(),
            )
            .set_alignment(CellAlignment::Right),
            Cell::new(status_text(f.status)),
            Cell::new(change).set_alignment(CellAlignment::Right),
            Cell::new(f.n.map_or_else(|| "–".to_string(), |n| n.to_string()))
                .set_alignment(CellAlignment::Right),
            Cell::new(
                f.data_through
                    .map(|t| t.format("%Y-%m-%d").to_string())
                    .unwrap_or_default(),
            ),
            Cell::new(f.status_reason.clone().unwrap_or_default()),
        ]);
    }
    t.to_string()
}

/// A tile's breakdown for one figure.
pub fn breakdown(doc: &TilesDoc, id: &str, grain: Grain, period: Option<&str>) -> Option<String> {
    let tile = doc.tile(id)?;
    let f = match period {
        Some(p) => tile.figure(grain, p)?,
        None => tile.latest(grain)?,
    };
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED);
    t.set_header(vec!["By", "Member", "Value", "n", "Status"]);
    for c in &f.breakdown {
        t.add_row(vec![
            Cell::new(&c.dimension),
            Cell::new(&c.member),
            Cell::new(format!(
                "{} {}",
                number(c.value, tile.meta.decimals),
                tile.meta.unit
            ))
            .set_alignment(CellAlignment::Right),
            Cell::new(c.n).set_alignment(CellAlignment::Right),
            Cell::new(status_text(c.status)),
        ]);
    }
    Some(t.to_string())
}
