//! THL Sotkanet open REST API: indicator values for every region, as JSON or CSV.
//!
//! One request per run fetches every configured indicator and year:
//!
//! ```text
//! GET {base_url}/json?indicator=127&indicator=171&years=2023&years=2024&genders=total
//! ```
//!
//! (`/csv?…` for the CSV variant, `;`-separated with decimal commas). The parameters repeat
//! rather than take comma lists, as the API expects. The answer becomes one [`Delivery`]
//! named `sotkanet_<indicators>_<years>.<format>`, for example
//! `sotkanet_127-171_2023-2024.json`; years that are not one unbroken range are listed one
//! by one (`sotkanet_127_2019_2023.json`).
//!
//! The API returns every region; the body is landed exactly as received. `regions` does
//! not filter anything (landed bytes are never rewritten, and normalising keeps every row):
//! it lists the regions the tiles need, the fetch warns when the answer has no row for one
//! of them, and the tile SQL selects them (`WHERE region IN (963, 975, 658)`).
//!
//! Re-fetching unchanged statistics yields the same bytes, which the load ledger recognises,
//! so a daily schedule loads only what THL actually revised.
//!
//! ```toml
//! [fetch]
//! kind = "sotkanet"
//! indicators = [127, 171]
//! years = { from = 2023, to = "current" }   # or a list: years = [2023, 2024]
//! genders = "total"                         # or a list: ["male", "female", "total"]
//! format = "json"                           # or "csv"
//! regions = [963, 975, 658]                 # checked for, not filtered
//! [fetch.http]
//! requests_per_minute = 30
//! ```

use std::collections::BTreeSet;

use chrono::{Datelike, Utc};
use serde::Deserialize;
use tilannekuva_warehouse::Covered;

use super::http::{HttpClient, HttpSettings, display_url, parse_url};
use super::{Content, Delivery};
use crate::Result;
use crate::config::{Problems, SourceRef};

/// Default API root.
pub const DEFAULT_BASE_URL: &str = "https://sotkanet.fi/rest/1.1";

/// Config of a Sotkanet fetch.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sotkanet {
    /// API root, without the trailing `/json` or `/csv`.
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// Indicator ids, such as 127 (population 31.12.) and 171 (share aged 75+).
    pub indicators: Vec<u32>,
    /// Statistical years: a list, or a range whose end may be `"current"`.
    pub years: Years,
    /// Gender breakdowns: `total`, `male`, `female`; one or a list.
    #[serde(default = "default_genders")]
    pub genders: OneOrMany,
    /// Answer format.
    #[serde(default)]
    pub format: SotkanetFormat,
    /// Sotkanet region ids the tiles need; checked for in the answer, not filtered.
    #[serde(default)]
    pub regions: Vec<u32>,
    /// Timeouts, retries and rate limit.
    #[serde(default)]
    pub http: HttpSettings,
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.into()
}

fn default_genders() -> OneOrMany {
    OneOrMany::One("total".into())
}

/// Format of the answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SotkanetFormat {
    /// A JSON array of flat objects (`format = { kind = "json_array" }` reads it).
    #[default]
    Json,
    /// `;`-separated text with decimal commas (`format = { kind = "csv" }` reads it).
    Csv,
}

impl SotkanetFormat {
    fn path(self) -> &'static str {
        match self {
            SotkanetFormat::Json => "json",
            SotkanetFormat::Csv => "csv",
        }
    }
}

/// One string or a list of them.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// A single value.
    One(String),
    /// Several values.
    Many(Vec<String>),
}

impl OneOrMany {
    fn values(&self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// Which statistical years to ask for.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Years {
    /// These years.
    List(Vec<i32>),
    /// Every year from `from` to `to`, both included.
    Range(YearRange),
}

/// `{ from = 2023, to = "current" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct YearRange {
    /// First year.
    pub from: i32,
    /// Last year: a number or `"current"` (the current year in Helsinki; THL publishes
    /// with a lag, so the newest year may still be empty). Default `"current"`.
    #[serde(default)]
    pub to: YearEnd,
}

/// End of a year range.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum YearEnd {
    /// `"current"`: the current calendar year, Europe/Helsinki.
    #[default]
    Current,
    /// A fixed year.
    Year(i32),
}

impl<'de> Deserialize<'de> for YearEnd {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum YearOrWord {
            Year(i32),
            Word(String),
        }
        match YearOrWord::deserialize(d)? {
            YearOrWord::Year(y) => Ok(YearEnd::Year(y)),
            YearOrWord::Word(w) if w == "current" => Ok(YearEnd::Current),
            YearOrWord::Word(w) => Err(serde::de::Error::custom(format!(
                "expected a year or \"current\", got \"{w}\""
            ))),
        }
    }
}

impl Years {
    /// The years, ascending and without repeats, with `"current"` resolved for `this_year`.
    pub fn resolve(&self, this_year: i32) -> Vec<i32> {
        let set: BTreeSet<i32> = match self {
            Years::List(v) => v.iter().copied().collect(),
            Years::Range(YearRange { from, to }) => {
                let to = match to {
                    YearEnd::Current => this_year,
                    YearEnd::Year(y) => *y,
                };
                (*from..=to).collect()
            }
        };
        set.into_iter().collect()
    }
}

/// The current calendar year in Helsinki, which `to = "current"` stands for.
fn current_year() -> i32 {
    Utc::now()
        .with_timezone(&chrono_tz::Europe::Helsinki)
        .year()
}

/// A Sotkanet fetch ready to run: its config, with the endpoint URL built.
#[derive(Debug, Clone)]
pub struct Query {
    config: Sotkanet,
    endpoint: reqwest::Url,
}

impl Sotkanet {
    /// The days a request covers: its years, when they are one unbroken range (the
    /// statistics of a year asked for and not in the answer are truly not there).
    pub fn covered(&self, this_year: i32) -> Option<Covered> {
        let years = self.years.resolve(this_year);
        let (first, last) = (*years.first()?, *years.last()?);
        if (last - first) as usize + 1 != years.len() {
            return None;
        }
        Some(Covered {
            from: chrono::NaiveDate::from_ymd_opt(first, 1, 1)?,
            to: chrono::NaiveDate::from_ymd_opt(last, 12, 31)?,
        })
    }

    /// Checks the keys (some indicator, some year, known genders, an http(s) `base_url` that
    /// can take a path, the `[fetch.http]` values) and builds the endpoint; `None` after a
    /// problem.
    pub fn compile(&self, source: SourceRef<'_>, problems: &mut Problems) -> Option<Query> {
        self.compile_for(source, current_year(), problems)
    }

    fn compile_for(
        &self,
        source: SourceRef<'_>,
        this_year: i32,
        problems: &mut Problems,
    ) -> Option<Query> {
        let before = problems.errors.len();
        let file = source.file;
        if self.indicators.is_empty() {
            problems.error(file, "fetch.indicators", "lists no indicator");
        }
        if self.years.resolve(this_year).is_empty() {
            problems.error(file, "fetch.years", "gives no year (is `from` after `to`?)");
        }
        for g in self.genders.values() {
            if !matches!(g.as_str(), "total" | "male" | "female") {
                problems.error(
                    file,
                    "fetch.genders",
                    format!("`{g}` is not one of total, male, female"),
                );
            }
        }
        let endpoint = match self.endpoint() {
            Ok(url) => Some(url),
            Err(e) => {
                problems.error(file, "fetch.base_url", e);
                None
            }
        };
        self.http.validate(source, problems);
        let endpoint = endpoint.filter(|_| problems.errors.len() == before)?;
        Some(Query {
            config: self.clone(),
            endpoint,
        })
    }

    /// `base_url` with the format's path (`…/json`) appended.
    fn endpoint(&self) -> std::result::Result<reqwest::Url, String> {
        let mut url = parse_url(self.base_url.trim_end_matches('/'))?;
        url.path_segments_mut()
            .map_err(|_| "cannot take a path".to_string())?
            .pop_if_empty()
            .push(self.format.path());
        Ok(url)
    }
}

impl Sotkanet {
    /// The delivery's file name: `sotkanet_<indicators>_<years>[_<genders>].<format>`.
    pub fn file_name(&self, this_year: i32) -> String {
        let indicators: Vec<String> = self.indicators.iter().map(u32::to_string).collect();
        let years = self.years.resolve(this_year);
        let years = match (years.first(), years.last()) {
            (Some(a), Some(b)) if a == b => a.to_string(),
            (Some(a), Some(b)) if (b - a) as usize + 1 == years.len() => format!("{a}-{b}"),
            _ => years
                .iter()
                .map(i32::to_string)
                .collect::<Vec<_>>()
                .join("_"),
        };
        let genders = self.genders.values();
        let genders = if genders == ["total"] {
            String::new()
        } else {
            format!("_{}", genders.join("-"))
        };
        format!(
            "sotkanet_{}_{years}{genders}.{}",
            indicators.join("-"),
            self.format.path()
        )
    }

    /// Warns about configured regions the answer has no row for. Never fails: the tiles
    /// show such a region as missing data, which is the truth.
    fn check_regions(&self, source: &str, url: &str, body: &[u8]) {
        if self.regions.is_empty() {
            return;
        }
        let Some(found) = regions_in(self.format, body) else {
            tracing::warn!(source = %source, url = %url, "could not read the answer's regions to check them; it is landed as is");
            return;
        };
        let missing: Vec<u32> = self
            .regions
            .iter()
            .copied()
            .filter(|r| !found.contains(r))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(source = %source, url = %url, ?missing, "the answer has no rows for these configured regions");
        }
    }
}

impl Query {
    /// The same query for the years `first..=last` instead of the configured ones: what a
    /// backfill of those years fetches again.
    pub fn for_years(&self, first: i32, last: i32) -> Query {
        let mut q = self.clone();
        q.config.years = Years::List((first..=last).collect());
        q
    }

    /// The request URL, shown with any secret masked, for a dry run.
    pub fn shown_url(&self) -> String {
        display_url(&self.url(current_year()))
    }

    /// Fetches the configured indicators and years as one delivery.
    pub async fn fetch(&self, source: SourceRef<'_>) -> Result<Vec<Delivery>> {
        let this_year = current_year();
        let url = self.url(this_year);
        let client = HttpClient::new(source.name, &self.config.http, None)?;
        let response = client.get(&url).await?;
        self.config
            .check_regions(source.name, &display_url(&url), &response.body);
        Ok(vec![Delivery {
            name: self.config.file_name(this_year),
            fetched_at: Utc::now(),
            content: Content::Bytes(response.body),
            covers: self.config.covered(this_year),
        }])
    }

    /// The request URL, with repeated query parameters.
    pub fn url(&self, this_year: i32) -> reqwest::Url {
        let mut url = self.endpoint.clone();
        {
            let mut q = url.query_pairs_mut();
            for i in &self.config.indicators {
                q.append_pair("indicator", &i.to_string());
            }
            for y in &self.config.years.resolve(this_year) {
                q.append_pair("years", &y.to_string());
            }
            for g in &self.config.genders.values() {
                q.append_pair("genders", g);
            }
        }
        url
    }
}

/// The region ids an answer has rows for; `None` when it cannot be read as expected.
pub fn regions_in(format: SotkanetFormat, body: &[u8]) -> Option<BTreeSet<u32>> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    match format {
        SotkanetFormat::Json => {
            let rows: Vec<serde_json::Map<String, serde_json::Value>> =
                serde_json::from_slice(body).ok()?;
            Some(
                rows.iter()
                    .filter_map(|r| r.get("region")?.as_u64())
                    .filter_map(|r| u32::try_from(r).ok())
                    .collect(),
            )
        }
        SotkanetFormat::Csv => {
            let text = std::str::from_utf8(body).ok()?;
            let mut lines = text.lines();
            let header = lines.next()?;
            let at = header
                .split(';')
                .position(|h| h.trim().trim_matches('"').eq_ignore_ascii_case("region"))?;
            Some(
                lines
                    .filter_map(|l| l.split(';').nth(at))
                    .filter_map(|v| v.trim().trim_matches('"').parse().ok())
                    .collect(),
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Sotkanet {
        toml::from_str(&format!("indicators = [127, 171]\n{extra}")).unwrap()
    }

    fn source() -> SourceRef<'static> {
        SourceRef {
            name: "s",
            file: std::path::Path::new("config/sources/s.toml"),
        }
    }

    fn query(s: &Sotkanet) -> Query {
        s.compile_for(source(), 2025, &mut Problems::default())
            .expect("compiles")
    }

    #[test]
    fn parameters_repeat_and_years_resolve() {
        let s = config("years = { from = 2023, to = \"current\" }");
        let url = query(&s).url(2025);
        assert_eq!(
            url.as_str(),
            "https://sotkanet.fi/rest/1.1/json?indicator=127&indicator=171&years=2023&years=2024&years=2025&genders=total"
        );
        assert_eq!(s.file_name(2025), "sotkanet_127-171_2023-2025.json");
        let s = config(
            "years = [2024, 2019, 2024]\nformat = \"csv\"\ngenders = [\"male\", \"female\"]\nbase_url = \"http://127.0.0.1:9/api/\"",
        );
        assert_eq!(
            query(&s).url(2025).as_str(),
            "http://127.0.0.1:9/api/csv?indicator=127&indicator=171&years=2019&years=2024&genders=male&genders=female"
        );
        assert_eq!(
            s.file_name(2025),
            "sotkanet_127-171_2019_2024_male-female.csv"
        );
        let s = config("years = { from = 2024, to = 2024 }");
        assert_eq!(s.file_name(2030), "sotkanet_127-171_2024.json");
    }

    fn problems(s: &Sotkanet) -> Problems {
        let mut problems = Problems::default();
        let query = s.compile_for(source(), 2025, &mut problems);
        assert_eq!(query.is_some(), problems.errors.is_empty());
        problems
    }

    #[test]
    fn bad_settings_are_named() {
        let err = problems(&config(
            "years = { from = 2026, to = 2024 }\ngenders = \"both\"",
        ))
        .errors
        .join("\n");
        assert!(err.contains("fetch.years"), "{err}");
        assert!(err.contains("`both`"), "{err}");
        assert!(problems(&config("years = [2024]")).errors.is_empty());
        let bad: std::result::Result<Sotkanet, _> =
            toml::from_str("indicators = [1]\nyears = { from = 2020, to = \"latest\" }");
        assert!(bad.is_err());
    }

    #[test]
    fn regions_are_read_from_both_formats() {
        let json = br#"[{"indicator":127,"region":963,"year":2024,"gender":"total","value":1.0},{"indicator":127,"region":5,"year":2024,"gender":"total","value":2.0}]"#;
        assert_eq!(
            regions_in(SotkanetFormat::Json, json),
            Some(BTreeSet::from([5, 963]))
        );
        let csv =
            "\u{feff}indicator;region;year;gender;value;absValue\r\n171;975;2024;total;14,2;\r\n";
        assert_eq!(
            regions_in(SotkanetFormat::Csv, csv.as_bytes()),
            Some(BTreeSet::from([975]))
        );
        assert_eq!(regions_in(SotkanetFormat::Json, b"{"), None);
    }

    #[test]
    fn a_bad_url_or_number_names_file_and_key() {
        let p = problems(&config(
            "years = [2024]\nbase_url = \"sotkanet.fi/rest\"\n[http]\ntimeout_seconds = -1",
        ));
        assert_eq!(p.errors.len(), 2, "{p:?}");
        assert!(
            p.errors[0].starts_with(
                "config/sources/s.toml: `fetch.base_url`: `sotkanet.fi/rest` is not a URL"
            ),
            "{p:?}"
        );
        assert!(
            p.errors[1].starts_with("config/sources/s.toml: `fetch.http.timeout_seconds`"),
            "{p:?}"
        );
        let p = problems(&config("years = [2024]\nbase_url = \"ftp://sotkanet.fi/\""));
        assert!(p.errors[0].contains("only http and https"), "{p:?}");
    }
}
