//! Charts as inline SVG, drawn from a tile's figures with no script and nothing fetched:
//! a tile's series as a line with its target line and the period in progress marked, its
//! breakdown as bars. Each chart is an image with a title and a text description (what a
//! screen reader reads), and the shapes differ by more than colour: the target line is
//! dashed, a period in progress is a hollow point, a bar carries its status symbol.

use std::fmt::Write as _;

use super::{escape, excerpt};
use crate::{Cell, PeriodFigure, Status};

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 48.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 28.0;

/// A status as a symbol, so colour is not the only sign.
pub fn symbol(s: Status) -> &'static str {
    match s {
        Status::Green => "●",
        Status::Yellow => "▲",
        Status::Red => "■",
        Status::Grey => "○",
        Status::None => "·",
    }
}

/// The range the axis covers: the values and targets, with zero when it is near.
fn range<'a>(values: impl Iterator<Item = &'a f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values {
        lo = lo.min(*v);
        hi = hi.max(*v);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if lo > 0.0 && lo < hi * 0.6 {
        lo = 0.0;
    }
    if (hi - lo).abs() < f64::EPSILON {
        hi = lo + 1.0;
    }
    let pad = (hi - lo) * 0.08;
    (if lo == 0.0 { 0.0 } else { lo - pad }, hi + pad)
}

/// The series of a tile as a line chart. `label` formats a value for the axis and the
/// description; `words` are the chart's texts in the report's language.
pub fn line(
    id: &str,
    title: &str,
    series: &[PeriodFigure],
    label: &dyn Fn(Option<f64>) -> String,
    words: &ChartWords,
) -> String {
    let values: Vec<f64> = series
        .iter()
        .flat_map(|f| [f.value, f.target])
        .flatten()
        .collect();
    let (lo, hi) = range(values.iter());
    let n = series.len().max(1);
    let step = (WIDTH - LEFT - RIGHT) / (n.max(2) - 1) as f64;
    let x = |i: usize| LEFT + step * i as f64;
    let y = |v: f64| TOP + (HEIGHT - TOP - BOTTOM) * (1.0 - (v - lo) / (hi - lo));
    let mut s = String::new();
    let desc = describe(series, label, words);
    let _ = write!(
        s,
        r#"<svg class="chart line" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        escape(title),
        escape(&desc)
    );
    // Axis: the lowest and highest value of the range.
    for v in [lo, hi] {
        let _ = write!(
            s,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}"/><text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            LEFT - 4.0,
            y(v) + 4.0,
            escape(&label(Some(v))),
            y = y(v)
        );
    }
    // Target: a dashed step line over the periods that have one.
    let target: Vec<String> = series
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.target.map(|t| format!("{:.1},{:.1}", x(i), y(t))))
        .collect();
    if target.len() > 1 {
        let _ = write!(
            s,
            r#"<polyline class="target" points="{}"/>"#,
            target.join(" ")
        );
    }
    // Values: a line through the periods with one, a point on each.
    let points: Vec<String> = series
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.value.map(|v| format!("{:.1},{:.1}", x(i), y(v))))
        .collect();
    if points.len() > 1 {
        let _ = write!(
            s,
            r#"<polyline class="value" points="{}"/>"#,
            points.join(" ")
        );
    }
    for (i, f) in series.iter().enumerate() {
        if let Some(v) = f.value {
            let class = if f.in_progress {
                "point in-progress"
            } else {
                "point"
            };
            let _ = write!(
                s,
                r#"<circle class="{class} {}" cx="{:.1}" cy="{:.1}" r="3.5"/>"#,
                f.status.as_str(),
                x(i),
                y(v)
            );
        }
    }
    // Period labels: the first, the last and a few between, none crowding the last.
    let every = n.div_ceil(6).max(1);
    for (i, f) in series.iter().enumerate() {
        let last = i + 1 == n;
        if last || (i % every == 0 && i + every < n) {
            let anchor = if last && n > 1 { "end" } else { "middle" };
            let _ = write!(
                s,
                r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
                x(i),
                HEIGHT - 8.0,
                escape(&f.period)
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A small line of the series without axes, for the overview.
pub fn sparkline(series: &[PeriodFigure]) -> String {
    let values: Vec<f64> = series.iter().filter_map(|f| f.value).collect();
    if values.len() < 2 {
        return String::new();
    }
    let (lo, hi) = range(values.iter());
    let (w, h) = (96.0, 22.0);
    let n = series.len();
    let points: Vec<String> = series
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            f.value.map(|v| {
                format!(
                    "{:.1},{:.1}",
                    2.0 + (w - 4.0) * i as f64 / (n - 1) as f64,
                    2.0 + (h - 4.0) * (1.0 - (v - lo) / (hi - lo))
                )
            })
        })
        .collect();
    format!(
        r#"<svg class="spark" viewBox="0 0 {w} {h}" aria-hidden="true"><polyline class="value" points="{}"/></svg>"#,
        points.join(" ")
    )
}

/// A figure's breakdown as horizontal bars, one per cell, with the value and status symbol.
pub fn bars(
    id: &str,
    title: &str,
    cells: &[Cell],
    label: &dyn Fn(Option<f64>) -> String,
) -> String {
    let shown: Vec<&Cell> = cells.iter().filter(|c| c.value.is_some()).collect();
    if shown.is_empty() {
        return String::new();
    }
    let row = 18.0;
    let height = row * shown.len() as f64 + 4.0;
    let (lo, hi) = range(shown.iter().filter_map(|c| c.value.as_ref()));
    let lo = lo.min(0.0);
    let (name_w, value_w) = (170.0, 90.0);
    let span = WIDTH - name_w - value_w;
    let desc: Vec<String> = shown
        .iter()
        .map(|c| format!("{}: {}", c.member, label(c.value)))
        .collect();
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="chart bars" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-labelledby="{id}-t {id}-d"><title id="{id}-t">{}</title><desc id="{id}-d">{}</desc>"#,
        escape(title),
        escape(&desc.join("; "))
    );
    for (i, c) in shown.iter().enumerate() {
        let v = c.value.unwrap_or(0.0);
        let y = 2.0 + row * i as f64;
        let w = (span * (v - lo) / (hi - lo)).max(1.0);
        let _ = write!(
            s,
            r#"<text class="axis" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><rect class="bar {}" x="{name_w}" y="{:.1}" width="{w:.1}" height="{:.1}"/><text class="axis" x="{:.1}" y="{:.1}">{} {}</text>"#,
            name_w - 6.0,
            y + 12.0,
            escape(&excerpt(&c.member, 30)),
            c.status.as_str(),
            y + 2.0,
            row - 5.0,
            name_w + w + 6.0,
            y + 12.0,
            escape(&label(c.value)),
            symbol(c.status)
        );
    }
    s.push_str("</svg>");
    s
}

/// The texts a chart's description uses.
#[derive(Debug, Clone, Copy)]
pub struct ChartWords {
    /// "target".
    pub target: &'static str,
    /// "in progress".
    pub in_progress: &'static str,
    /// "no figure".
    pub no_figure: &'static str,
}

/// The series in words: every period's value, target and status.
fn describe(
    series: &[PeriodFigure],
    label: &dyn Fn(Option<f64>) -> String,
    words: &ChartWords,
) -> String {
    series
        .iter()
        .map(|f| {
            let mut part = match f.value {
                Some(_) => format!("{} {}", f.period, label(f.value)),
                None => format!("{} {}", f.period, words.no_figure),
            };
            if let Some(t) = f.target {
                let _ = write!(part, " ({} {})", words.target, label(Some(t)));
            }
            if f.in_progress {
                let _ = write!(part, ", {}", words.in_progress);
            }
            part
        })
        .collect::<Vec<_>>()
        .join("; ")
}
