//! The board report: one published snapshot as a printable HTML document (A4, print CSS,
//! charts as inline SVG, nothing fetched), in Finnish, Swedish or English.
//!
//! Everything in it comes from the snapshot: figures, definitions, owners, sources and the
//! strategy structure of the period shown. Nothing depends on when it is generated, so the
//! report of a pinned snapshot is the same document next year, byte for byte.

pub mod chart;

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

use tilannekuva_warehouse::{CheckIn, CheckInRating};

use crate::definition::Text;
use crate::strategy::Goal;
use crate::{Grain, PeriodFigure, Status, Tile, TilesDoc};
use chart::ChartWords;

/// The print style, bundled: inlined into a report file, or served beside it.
pub const CSS: &str = include_str!("report.css");

/// The report's languages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Finnish.
    #[default]
    Fi,
    /// Swedish.
    Sv,
    /// English.
    En,
}

impl std::str::FromStr for Lang {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "fi" => Ok(Lang::Fi),
            "sv" => Ok(Lang::Sv),
            "en" => Ok(Lang::En),
            other => Err(format!("`{other}` is not a report language (fi, sv, en)")),
        }
    }
}

impl Lang {
    /// `fi`, `sv` or `en`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Fi => "fi",
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }

    /// A text in this language (Swedish falls back to Finnish where not given).
    pub fn text(self, t: &Text) -> &str {
        match self {
            Lang::Fi => &t.fi,
            Lang::Sv => t.sv.as_deref().unwrap_or(&t.fi),
            Lang::En => &t.en,
        }
    }

    /// A number with `decimals`, with a decimal comma in Finnish and Swedish.
    pub fn number(self, v: Option<f64>, decimals: u32) -> String {
        match v {
            None => "–".into(),
            Some(v) => {
                let s = format!("{:.*}", decimals as usize, v);
                let s = if s.starts_with('-') && s.trim_start_matches(['-', '0', '.']).is_empty() {
                    s[1..].to_string()
                } else {
                    s
                };
                match self {
                    Lang::En => s,
                    Lang::Fi | Lang::Sv => s.replace('.', ",").replace('-', "−"),
                }
            }
        }
    }

    /// A time in Helsinki.
    fn time(self, t: DateTime<Utc>) -> String {
        let local = t.with_timezone(&tilannekuva_conventions::datetime::HELSINKI);
        match self {
            Lang::Fi => local.format("%-d.%-m.%Y klo %H.%M").to_string(),
            Lang::Sv => local.format("%-d.%-m.%Y kl. %H.%M").to_string(),
            Lang::En => local.format("%-d %B %Y, %H:%M").to_string(),
        }
    }

    fn words(self) -> &'static Words {
        match self {
            Lang::Fi => &FI,
            Lang::Sv => &SV,
            Lang::En => &EN,
        }
    }
}

/// The report's own texts in one language.
struct Words {
    title: &'static str,
    snapshot: &'static str,
    computed: &'static str,
    pinned: &'static str,
    data_version: &'static str,
    strategy: &'static str,
    overview: &'static str,
    priority: &'static str,
    tile: &'static str,
    period: &'static str,
    value: &'static str,
    target: &'static str,
    status: &'static str,
    change: &'static str,
    owner: &'static str,
    definition: &'static str,
    breakdown: &'static str,
    series: &'static str,
    sources: &'static str,
    query: &'static str,
    data_through: &'static str,
    no_figure: &'static str,
    in_progress: &'static str,
    incomplete: &'static str,
    statuses: [&'static str; 5],
    checkin: &'static str,
    ratings: [&'static str; 3],
    goals: &'static str,
    goal_progress: &'static str,
    key_results: &'static str,
    kpis: &'static str,
}

const FI: Words = Words {
    title: "Tilannekuva: mittariraportti",
    snapshot: "Tilannekuva",
    computed: "Laskettu",
    pinned: "Kiinnitetty",
    data_version: "aineistoversio",
    strategy: "Strategiakausi",
    overview: "Yhteenveto",
    priority: "Painopiste",
    tile: "Mittari",
    period: "Jakso",
    value: "Arvo",
    target: "Tavoite",
    status: "Tila",
    change: "Muutos",
    owner: "Vastuu",
    definition: "Määritelmä",
    breakdown: "Erittely",
    series: "Kehitys",
    sources: "Lähteet",
    query: "Laskentakysely",
    data_through: "Aineisto asti",
    no_figure: "ei lukua",
    in_progress: "jakso kesken",
    incomplete: "aineisto puutteellinen",
    statuses: [
        "tavoitteessa",
        "lähellä tavoitetta",
        "tavoitteesta jäljessä",
        "ei arvioitavissa",
        "ei tavoitetta",
    ],
    checkin: "Omistajan arvio",
    ratings: ["Etenee", "Huomioitavaa", "Ei etene"],
    goals: "Valtuustotason sitovat tavoitteet",
    goal_progress: "Avaintuloksista etenee",
    key_results: "avaintulosta etenee",
    kpis: "Mittarit",
};

const SV: Words = Words {
    title: "Lägesbild: indikatorrapport",
    snapshot: "Lägesbild",
    computed: "Beräknad",
    pinned: "Fäst",
    data_version: "dataversion",
    strategy: "Strategiperiod",
    overview: "Sammanfattning",
    priority: "Prioritet",
    tile: "Indikator",
    period: "Period",
    value: "Värde",
    target: "Mål",
    status: "Läge",
    change: "Förändring",
    owner: "Ansvar",
    definition: "Definition",
    breakdown: "Fördelning",
    series: "Utveckling",
    sources: "Källor",
    query: "Beräkningsfråga",
    data_through: "Data till",
    no_figure: "inget värde",
    in_progress: "perioden pågår",
    incomplete: "data ofullständiga",
    statuses: [
        "målet nått",
        "nära målet",
        "efter målet",
        "kan inte bedömas",
        "inget mål",
    ],
    checkin: "Ägarens bedömning",
    ratings: ["Framskrider", "Kräver uppmärksamhet", "Framskrider inte"],
    goals: "Fullmäktiges bindande mål",
    goal_progress: "Nyckelresultat som framskrider",
    key_results: "nyckelresultat framskrider",
    kpis: "Mätare",
};

const EN: Words = Words {
    title: "Tilannekuva: KPI report",
    snapshot: "Snapshot",
    computed: "Computed",
    pinned: "Pinned",
    data_version: "data version",
    strategy: "Strategy period",
    overview: "Overview",
    priority: "Priority",
    tile: "KPI",
    period: "Period",
    value: "Value",
    target: "Target",
    status: "Status",
    change: "Change",
    owner: "Owner",
    definition: "Definition",
    breakdown: "Breakdown",
    series: "Trend",
    sources: "Sources",
    query: "Query",
    data_through: "Data through",
    no_figure: "no figure",
    in_progress: "period in progress",
    incomplete: "data incomplete",
    statuses: [
        "on target",
        "near target",
        "behind target",
        "cannot be judged",
        "no target",
    ],
    checkin: "Owner's assessment",
    ratings: ["Progressing", "Needs attention", "Not progressing"],
    goals: "The council's binding goals",
    goal_progress: "Key results progressing",
    key_results: "key results progressing",
    kpis: "KPIs",
};

impl Words {
    fn rating(&self, r: CheckInRating) -> &'static str {
        self.ratings[match r {
            CheckInRating::Progressing => 0,
            CheckInRating::Attention => 1,
            CheckInRating::NotProgressing => 2,
        }]
    }

    fn status(&self, s: Status) -> &'static str {
        self.statuses[match s {
            Status::Green => 0,
            Status::Yellow => 1,
            Status::Red => 2,
            Status::Grey => 3,
            Status::None => 4,
        }]
    }
}

/// What the report shows.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Language.
    pub lang: Lang,
    /// Grain of the figures and charts.
    pub grain: Grain,
    /// The pin's label and time, when the snapshot is pinned.
    pub pin: Option<(String, DateTime<Utc>)>,
    /// The owners' check-ins to show (those in force at the report's time: see
    /// [`checkins_at`]).
    pub checkins: Vec<CheckIn>,
    /// Link this stylesheet instead of inlining [`CSS`] (a page served under a policy that
    /// refuses inline styles); a file stands alone with `None`.
    pub stylesheet: Option<String>,
}

/// The check-ins a report of `record` shows: those in force when it was pinned, so the
/// report of a pinned snapshot carries the same words whenever it is written (check-ins are
/// never removed); for a snapshot not pinned, those in force now.
pub fn checkins_at(
    manifest: &tilannekuva_warehouse::Manifest,
    record: &tilannekuva_warehouse::SnapshotRecord,
) -> Vec<CheckIn> {
    let at = record
        .pin
        .as_ref()
        .map_or_else(chrono::Utc::now, |p| p.pinned_at);
    manifest.checkins_as_of(at).into_iter().cloned().collect()
}

/// A text cut to at most `max` characters, an ellipsis marking the cut.
pub fn excerpt(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
        out.push('…');
        out
    }
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The figure a tile shows in the report: its latest of the grain.
fn shown(tile: &Tile, grain: Grain) -> Option<&PeriodFigure> {
    tile.latest(grain)
}

/// The report of a snapshot as one HTML document.
pub fn html(doc: &TilesDoc, options: &ReportOptions) -> String {
    let lang = options.lang;
    let w = lang.words();
    let grain = options.grain;
    let year = doc
        .tiles
        .iter()
        .filter_map(|t| shown(t, grain))
        .map(|f| f.end.year())
        .max()
        .unwrap_or_else(|| doc.computed_at.year());
    let period = doc.strategy.period_for_year(year);
    let mut s = String::new();
    let title = match &options.pin {
        Some((label, _)) => format!("{}: {}", w.title, label),
        None => w.title.to_string(),
    };
    let style = match &options.stylesheet {
        None => format!("<style>{CSS}</style>"),
        Some(href) => format!("<link rel=\"stylesheet\" href=\"{}\">", escape(href)),
    };
    let _ = write!(
        s,
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{}</title>{style}</head><body>\n",
        lang.code(),
        escape(&title)
    );
    // Cover: what the report is of.
    let _ = write!(s, "<header><h1>{}</h1><dl class=\"about\">", escape(&title));
    let mut about = |k: &str, v: String| {
        let _ = write!(s, "<dt>{}</dt><dd>{}</dd>", escape(k), escape(&v));
    };
    about(
        w.snapshot,
        format!(
            "{} ({} {})",
            doc.snapshot_id, w.data_version, doc.data_version
        ),
    );
    about(w.computed, lang.time(doc.computed_at));
    if let Some((_, at)) = &options.pin {
        about(w.pinned, lang.time(*at));
    }
    about(
        w.strategy,
        format!("{} ({}–{})", period.id, period.years[0], period.years[1]),
    );
    s.push_str("</dl></header>\n");

    // Overview: every tile on one table.
    let _ = writeln!(
        s,
        "<section class=\"overview\"><h2>{}</h2><table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th class=\"num\">{}</th><th class=\"num\">{}</th><th>{}</th><th class=\"num\">{}</th><th>{}</th><th>{}</th></tr></thead><tbody>",
        w.overview,
        w.priority,
        w.tile,
        w.period,
        w.value,
        w.target,
        w.status,
        w.change,
        w.series,
        w.owner
    );
    for tile in &doc.tiles {
        let m = &tile.meta;
        let f = shown(tile, grain);
        let fmt = |v: Option<f64>| unit(lang.number(v, m.decimals), &m.unit, v.is_some());
        let status = f.map_or(Status::Grey, |f| f.status);
        let _ = writeln!(
            s,
            "<tr data-tile=\"{id}\"><td>{}</td><td><a href=\"#tile-{id}\">{}</a></td><td>{}</td><td class=\"num value\">{}</td><td class=\"num\">{}</td><td class=\"status {}\">{} {}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
            escape(&priority_name(doc, tile, &period.id, lang)),
            escape(lang.text(&m.title)),
            escape(f.map_or("–", |f| f.period.as_str())),
            escape(&fmt(f.and_then(|f| f.value))),
            escape(&fmt(f.and_then(|f| f.target))),
            status.as_str(),
            chart::symbol(status),
            escape(w.status(status)),
            escape(&change(lang, f.and_then(|f| f.change), m.decimals)),
            tile.series
                .get(&grain)
                .map_or(String::new(), |v| chart::sparkline(v)),
            owner_cell(doc, tile, f, options),
            id = escape(&m.id),
        );
    }
    s.push_str("</tbody></table></section>\n");

    // The binding goals of the year shown: progress, KPIs and the owners' words.
    let goals: Vec<&Goal> = doc.strategy.goals_of(year).collect();
    if !goals.is_empty() {
        let _ = writeln!(s, "<section class=\"goals\"><h2>{}</h2>", w.goals);
        for goal in goals {
            goal_section(&mut s, doc, goal, options);
        }
        s.push_str("</section>\n");
    }

    // Each tile on a page of its own.
    for tile in &doc.tiles {
        tile_section(&mut s, doc, tile, options);
    }
    s.push_str("</body></html>\n");
    s
}

fn unit(number: String, unit: &str, has_value: bool) -> String {
    if has_value && !unit.is_empty() {
        format!("{number} {unit}")
    } else {
        number
    }
}

fn change(lang: Lang, c: Option<f64>, decimals: u32) -> String {
    match c {
        None => String::new(),
        Some(c) => {
            let arrow = if c > 0.0 {
                "↑"
            } else if c < 0.0 {
                "↓"
            } else {
                "→"
            };
            let sign = if c > 0.0 { "+" } else { "" };
            format!("{arrow} {sign}{}", lang.number(Some(c), decimals))
        }
    }
}

fn priority_name(doc: &TilesDoc, tile: &Tile, strategy_period: &str, lang: Lang) -> String {
    let Some(id) = tile.meta.strategy.priority.get(strategy_period) else {
        return String::new();
    };
    doc.strategy
        .periods
        .iter()
        .find(|p| p.id == strategy_period)
        .and_then(|p| p.priorities.iter().find(|x| &x.id == id))
        .map_or_else(|| id.clone(), |x| lang.text(&x.name).to_string())
}

/// The check-ins of a subject (a tile's id, or `goal:<id>`), newest first.
fn checkins_of<'a>(subject: &str, options: &'a ReportOptions) -> Vec<&'a CheckIn> {
    let mut of: Vec<&CheckIn> = options
        .checkins
        .iter()
        .filter(|c| c.subject == subject)
        .collect();
    of.sort_by_key(|c| std::cmp::Reverse(c.written_at));
    of
}

/// The owner, and the start of the owner's assessment of the period shown.
fn owner_cell(
    doc: &TilesDoc,
    tile: &Tile,
    figure: Option<&PeriodFigure>,
    options: &ReportOptions,
) -> String {
    let lang = options.lang;
    let mut cell = escape(&owner(doc, tile, lang));
    let period = figure.map(|f| f.period.as_str());
    if let Some(c) = checkins_of(&tile.meta.id, options)
        .into_iter()
        .find(|c| Some(c.period.as_str()) == period)
    {
        let _ = write!(
            cell,
            "<br><span class=\"excerpt\">{}: “{}”</span>",
            escape(lang.words().rating(c.rating)),
            escape(&excerpt(&c.text, 90))
        );
    }
    cell
}

fn owner(doc: &TilesDoc, tile: &Tile, lang: Lang) -> String {
    let o = &tile.meta.owner;
    let sector = doc
        .strategy
        .sectors
        .iter()
        .find(|s| s.id == o.sector)
        .map_or(o.sector.as_str(), |s| lang.text(&s.name));
    format!("{sector}, {}", o.role)
}

/// One entry of a figure list (`<dl class="figure">`).
fn figure_item(s: &mut String, key: &str, value: &str, class: &str) {
    let _ = write!(
        s,
        "<div class=\"{class}\"><dt>{}</dt><dd>{}</dd></div>",
        escape(key),
        escape(value)
    );
}

/// The owner's words on a subject, newest first (the four latest).
fn checkin_list(s: &mut String, subject: &str, options: &ReportOptions) {
    let lang = options.lang;
    let w = lang.words();
    let checkins = checkins_of(subject, options);
    if checkins.is_empty() {
        return;
    }
    let _ = write!(s, "<div class=\"checkins\"><h3>{}</h3>", w.checkin);
    for c in checkins.iter().take(4) {
        let _ = write!(
            s,
            "<p><strong>{} ({}).</strong> {} <span class=\"by\">– {}, {}</span></p>",
            escape(w.rating(c.rating)),
            escape(&c.period),
            escape(&c.text),
            escape(&c.author),
            lang.time(c.written_at)
        );
    }
    s.push_str("</div>");
}

/// A binding goal: its progress in the period shown (its cell of the progress tile), the
/// owner, the owner's words, the progress over time and the KPIs measuring it.
fn goal_section(s: &mut String, doc: &TilesDoc, goal: &Goal, options: &ReportOptions) {
    let (lang, grain) = (options.lang, options.grain);
    let w = lang.words();
    let progress_tile = doc.goal_progress_tile();
    let (unit_of, decimals) =
        progress_tile.map_or(("%", 1), |t| (t.meta.unit.as_str(), t.meta.decimals));
    let fmt = |v: Option<f64>| unit(lang.number(v, decimals), unit_of, v.is_some());
    let now = progress_tile
        .and_then(|t| shown(t, grain))
        .and_then(|f| doc.goal_figure(goal, f));
    let id = escape(&goal.id);
    let _ = write!(
        s,
        "<article class=\"goal\" id=\"goal-{id}\"><h3>{id}: {}</h3><dl class=\"figure\">",
        escape(lang.text(&goal.name))
    );
    let mut item = |k: &str, v: String, class: &str| figure_item(s, k, &v, class);
    item(
        w.period,
        now.map_or("–".into(), |g| g.figure.period.clone()),
        "period",
    );
    item(
        w.goal_progress,
        fmt(now.and_then(|g| g.cell.value)),
        "value",
    );
    item(w.target, fmt(now.and_then(|g| g.figure.target)), "target");
    let status = now.map_or(Status::Grey, |g| g.cell.status);
    item(
        w.status,
        format!("{} {}", chart::symbol(status), w.status(status)),
        &format!("status {}", status.as_str()),
    );
    let sector = doc
        .strategy
        .sectors
        .iter()
        .find(|x| x.id == goal.owner.sector)
        .map_or(goal.owner.sector.as_str(), |x| lang.text(&x.name));
    item(w.owner, format!("{sector}, {}", goal.owner.role), "owner");
    s.push_str("</dl>");
    if let Some((n, all)) = now.and_then(|g| g.cell.numerator.zip(g.cell.denominator)) {
        let _ = write!(
            s,
            "<p class=\"key-results\">{}/{} {}</p>",
            lang.number(Some(n), 0),
            lang.number(Some(all), 0),
            w.key_results
        );
    }
    checkin_list(s, &goal.subject(), options);
    // The progress over time, drawn as a tile's series is.
    let series: Vec<PeriodFigure> = doc
        .goal_series(goal, grain)
        .iter()
        .map(|g| PeriodFigure {
            value: g.cell.value,
            status: g.cell.status,
            n: Some(g.cell.n),
            breakdown: Vec::new(),
            ..g.figure.clone()
        })
        .collect();
    if !series.is_empty() {
        let words = ChartWords {
            target: w.target,
            in_progress: w.in_progress,
            no_figure: w.no_figure,
        };
        let _ = write!(
            s,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            w.goal_progress,
            chart::line(
                &format!("goal-{}-series", goal.id),
                &format!("{} {}: {}", goal.id, w.goal_progress, w.series),
                &series,
                &fmt,
                &words
            )
        );
    }
    let kpis: Vec<String> = goal
        .kpis
        .iter()
        .filter_map(|k| doc.tile(k))
        .map(|t| {
            let f = shown(t, grain);
            let status = f.map_or(Status::Grey, |f| f.status);
            format!(
                "<a href=\"#tile-{}\">{}</a> {} ({} {})",
                escape(&t.meta.id),
                escape(lang.text(&t.meta.title)),
                escape(&unit(
                    lang.number(f.and_then(|f| f.value), t.meta.decimals),
                    &t.meta.unit,
                    f.and_then(|f| f.value).is_some()
                )),
                chart::symbol(status),
                escape(w.status(status))
            )
        })
        .collect();
    if !kpis.is_empty() {
        let _ = write!(
            s,
            "<p class=\"kpis\"><strong>{}:</strong> {}</p>",
            w.kpis,
            kpis.join(" · ")
        );
    }
    s.push_str("</article>\n");
}

fn tile_section(s: &mut String, doc: &TilesDoc, tile: &Tile, options: &ReportOptions) {
    let (lang, grain) = (options.lang, options.grain);
    let w = lang.words();
    let m = &tile.meta;
    let id = escape(&m.id);
    let fmt = |v: Option<f64>| unit(lang.number(v, m.decimals), &m.unit, v.is_some());
    let _ = write!(
        s,
        "<section class=\"tile\" id=\"tile-{id}\"><h2>{}</h2><p class=\"definition\"><strong>{}:</strong> {}</p>",
        escape(lang.text(&m.title)),
        w.definition,
        escape(lang.text(&m.description))
    );
    let f = shown(tile, grain);
    let _ = write!(s, "<dl class=\"figure\">");
    let mut item = |k: &str, v: String, class: &str| figure_item(s, k, &v, class);
    item(
        w.period,
        f.map_or("–".into(), |f| f.period.clone()),
        "period",
    );
    item(w.value, fmt(f.and_then(|f| f.value)), "value");
    item(w.target, fmt(f.and_then(|f| f.target)), "target");
    let status = f.map_or(Status::Grey, |f| f.status);
    item(
        w.status,
        format!("{} {}", chart::symbol(status), w.status(status)),
        &format!("status {}", status.as_str()),
    );
    item(
        w.change,
        change(lang, f.and_then(|f| f.change), m.decimals),
        "change",
    );
    item(w.owner, owner(doc, tile, lang), "owner");
    if let Some(t) = tile.data_through {
        item(w.data_through, lang.time(t), "through");
    }
    s.push_str("</dl>");
    if let Some(f) = f {
        let mut notes = Vec::new();
        if f.in_progress {
            notes.push(w.in_progress.to_string());
        }
        if !f.complete && !f.missing.is_empty() {
            notes.push(format!("{}: {}", w.incomplete, f.missing.join(", ")));
        }
        if let Some(r) = &f.status_reason {
            notes.push(r.clone());
        }
        if !notes.is_empty() {
            let _ = write!(s, "<p class=\"notes\">{}</p>", escape(&notes.join(" · ")));
        }
    }
    checkin_list(s, &m.id, options);
    let words = ChartWords {
        target: w.target,
        in_progress: w.in_progress,
        no_figure: w.no_figure,
    };
    if let Some(series) = tile.series.get(&grain) {
        let _ = write!(
            s,
            "<figure><figcaption>{}</figcaption>{}</figure>",
            w.series,
            chart::line(
                &format!("{}-series", m.id),
                &format!("{}: {}", lang.text(&m.title), w.series),
                series,
                &fmt,
                &words
            )
        );
    }
    if let Some(f) = f
        && !f.breakdown.is_empty()
    {
        let _ = write!(
            s,
            "<figure><figcaption>{} {}</figcaption>{}</figure>",
            w.breakdown,
            escape(&f.period),
            chart::bars(
                &format!("{}-breakdown", m.id),
                &format!("{}: {} {}", lang.text(&m.title), w.breakdown, f.period),
                &f.breakdown,
                &fmt
            )
        );
        // What a reader should know about a cell: a unit continuing through a merge.
        let mut notes: Vec<&str> = f
            .breakdown
            .iter()
            .filter_map(|c| c.note.as_deref())
            .collect();
        notes.sort_unstable();
        notes.dedup();
        for note in notes {
            let _ = write!(s, "<p class=\"cell-note\" lang=\"en\">{}</p>", escape(note));
        }
    }
    let _ = write!(
        s,
        "<div class=\"sources\"><h3>{} ({})</h3><ul>",
        w.sources,
        tile.sources.len()
    );
    // One line per source, every export named with the start of its hash.
    let mut by_source: Vec<(&str, Vec<String>)> = Vec::new();
    for src in &tile.sources {
        let file = format!(
            "{} <span class=\"hash\">{}</span>",
            escape(&src.file),
            escape(&src.sha256[..src.sha256.len().min(12)])
        );
        match by_source.iter_mut().find(|(name, _)| *name == src.source) {
            Some((_, files)) => files.push(file),
            None => by_source.push((&src.source, vec![file])),
        }
    }
    for (name, files) in &by_source {
        let _ = write!(
            s,
            "<li><code>{}</code> ({}): {}</li>",
            escape(name),
            files.len(),
            files.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "</ul></div><details class=\"query\"><summary>{} ({})</summary><pre>{}</pre></details></section>",
        w.query,
        escape(&tile.definition_version),
        escape(tile.sql.trim())
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_the_language() {
        assert_eq!(Lang::Fi.number(Some(1234.5), 1), "1234,5");
        assert_eq!(Lang::Sv.number(Some(-0.25), 2), "−0,25");
        assert_eq!(Lang::En.number(Some(-0.25), 2), "-0.25");
        // A negative zero rounds to zero, not to "−0,0".
        assert_eq!(Lang::Fi.number(Some(-0.01), 1), "0,0");
        assert_eq!(Lang::En.number(None, 1), "–");
        assert_eq!("sv".parse::<Lang>().unwrap(), Lang::Sv);
        assert!("de".parse::<Lang>().unwrap_err().contains("fi, sv, en"));
    }

    #[test]
    fn an_excerpt_is_cut_with_an_ellipsis_within_its_length() {
        assert_eq!(excerpt("lyhyt", 10), "lyhyt");
        assert_eq!(excerpt("Vastaajia oli vähän", 10), "Vastaajia…");
        assert_eq!(excerpt("Vastaajia oli vähän", 10).chars().count(), 10);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">K&R's</a>"),
            "&lt;a href=&quot;x&quot;&gt;K&amp;R&#39;s&lt;/a&gt;"
        );
    }
}
