//! Backfills: a source's data for a range of days fetched again, and what that would do,
//! said before doing it (`tilannekuva backfill --dry-run`).
//!
//! - A `rest_api` source is asked again for exactly the whole months the range touches
//!   (`start_time` = the first month's first local midnight, `end_param` = the midnight
//!   after the last month), whatever cursor the manifest keeps, and the cursor does not
//!   move. The window's pages, their `items` arrays joined into one array, land as one
//!   export that replaces every row the source has in those months, in one commit: a month
//!   the API now has nothing for is left empty, and nothing is counted twice. Run again with
//!   nothing changed, the same bytes load nothing.
//! - A `sotkanet` source is asked for the range's years; the answer loads as any answer
//!   does (with `on_redelivery = "replace"`, it replaces those years).
//! - A drop folder cannot be asked for anything: its new files load as in any run, and the
//!   plan says which files those are and how many loaded exports cover the range.

use chrono::{Datelike, NaiveDate, Utc};
use tilannekuva_conventions::datetime::local_midnight;
use tilannekuva_warehouse::{Covered, LoadStatus};

use crate::completeness::last_of_month;
use crate::fetch::{Content, Delivery, Fetcher};
use crate::load::{self, LoadReport};
use crate::{Pipelines, Result, land};

/// The whole months a range of days touches: the first day of the first, the last day
/// of the last, and their labels (`YYYY-MM`).
pub fn whole_months(from: NaiveDate, to: NaiveDate) -> (NaiveDate, NaiveDate, Vec<String>) {
    let first = from.with_day(1).expect("valid");
    let last = last_of_month(to.with_day(1).expect("valid"));
    let mut labels = Vec::new();
    let mut d = first;
    while d <= last {
        labels.push(format!("{:04}-{:02}", d.year(), d.month()));
        d = last_of_month(d).succ_opt().expect("valid");
    }
    (first, last, labels)
}

/// The unix seconds of the window `first..=last` (Helsinki days): from the first day's
/// midnight to the midnight after the last day.
fn window(first: NaiveDate, last: NaiveDate) -> (i64, i64) {
    let until = last.succ_opt().expect("valid");
    (
        local_midnight(first).timestamp(),
        local_midnight(until).timestamp(),
    )
}

impl Pipelines {
    /// What a backfill of `source` over `from..=to` would fetch, replace and load, one
    /// line each; fetches nothing, changes nothing.
    pub async fn plan_backfill(
        &self,
        name: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<String>> {
        let source = self.source(name)?;
        let manifest = self.warehouse.manifest().await?;
        let mut out = Vec::new();
        match &source.fetch {
            Fetcher::RestApi(api) => {
                let (first, last, months) = whole_months(from, to);
                let (start, until) = window(first, last);
                // Refused here as in the backfill itself when the API cannot end a window.
                api.can_window(source.reference())?;
                out.push(format!(
                    "{name}: fetch {first} .. {last} again: GET {} and the pages after it",
                    api.window_url(start, until)
                ));
                let (rows, loads) = rows_in(&manifest, name, &months);
                out.push(format!(
                    "{name}: replace its rows of {} ({rows} rows from {loads} loads now) with what the API returns, in one commit; the cursor stays",
                    months.join(", ")
                ));
            }
            Fetcher::Sotkanet(q) => {
                let q = q.for_years(from.year(), to.year());
                out.push(format!(
                    "{name}: fetch the years {} .. {} again: GET {}",
                    from.year(),
                    to.year(),
                    q.shown_url()
                ));
                out.push(format!(
                    "{name}: an answer with new content {} (`on_redelivery = \"{}\"`); the same content loads nothing",
                    match source.config.load.on_redelivery {
                        crate::config::Redelivery::Replace =>
                            "replaces this source's rows for the years it holds",
                        crate::config::Redelivery::Append => "is added to this source's rows",
                    },
                    match source.config.load.on_redelivery {
                        crate::config::Redelivery::Replace => "replace",
                        crate::config::Redelivery::Append => "append",
                    }
                ));
            }
            Fetcher::DropFolder(_) => {
                let (_, _, months) = whole_months(from, to);
                let mut new = Vec::new();
                for d in crate::fetch::fetch(&source.fetch, source.reference(), &self.fetch).await?
                {
                    let (sha, _) = land::fingerprint(&d).await?;
                    if manifest.load_by_content(name, &sha).is_none() {
                        new.push(d.name);
                    }
                }
                let covering = manifest
                    .loads
                    .iter()
                    .filter(|l| l.source == name && l.status == LoadStatus::Loaded)
                    .filter(|l| l.periods.iter().any(|p| months.contains(p)))
                    .count();
                out.push(format!(
                    "{name}: a drop folder is not fetched again; {covering} loaded exports cover {} .. {}",
                    months.first().map_or("", String::as_str),
                    months.last().map_or("", String::as_str)
                ));
                if new.is_empty() {
                    out.push(format!(
                        "{name}: no file in the folder is new; nothing loads"
                    ));
                } else {
                    out.push(format!(
                        "{name}: load {} new file(s): {}",
                        new.len(),
                        new.join(", ")
                    ));
                }
            }
        }
        Ok(out)
    }

    /// Backfills `source` over `from..=to`; see the module docs for what each kind does.
    pub async fn backfill_source(
        &self,
        name: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<Result<LoadReport>>> {
        let source = self.source(name)?;
        match &source.fetch {
            Fetcher::RestApi(api) => {
                let (first, last, months) = whole_months(from, to);
                let (start, until) = window(first, last);
                let mut pager = api.window(source.reference(), start, until)?;
                let mut items: Vec<bytes::Bytes> = Vec::new();
                while let Some(page) = pager.next().await? {
                    if let Some(Delivery {
                        content: Content::Bytes(b),
                        ..
                    }) = page.delivery
                    {
                        items.push(b);
                    }
                }
                let d = Delivery {
                    name: format!("{name}_backfill_{first}_{last}.json"),
                    fetched_at: Utc::now(),
                    content: Content::Bytes(join_arrays(&items)),
                    covers: Some(Covered {
                        from: first,
                        to: last,
                    }),
                };
                Ok(vec![
                    load::load_replacing(&self.warehouse, source, d, &months).await,
                ])
            }
            Fetcher::Sotkanet(q) => {
                let q = q.for_years(from.year(), to.year());
                let mut out = Vec::new();
                for d in q.fetch(source.reference()).await? {
                    out.push(load::load_delivery(&self.warehouse, source, d).await);
                }
                Ok(out)
            }
            Fetcher::DropFolder(_) => self.load_source(name).await,
        }
    }
}

/// Rows and live loads of `source` in `months`.
fn rows_in(
    manifest: &tilannekuva_warehouse::Manifest,
    source: &str,
    months: &[String],
) -> (u64, usize) {
    let files: Vec<_> = manifest
        .tables
        .iter()
        .filter(|(t, _)| t.as_str() != tilannekuva_warehouse::QUARANTINE_TABLE)
        .flat_map(|(_, t)| &t.files)
        .filter(|f| f.source == source && months.contains(&f.period))
        .collect();
    let mut loads: Vec<&str> = files.iter().map(|f| f.load_id.as_str()).collect();
    loads.sort_unstable();
    loads.dedup();
    (files.iter().map(|f| f.rows).sum(), loads.len())
}

/// JSON arrays joined into one: `[a, b]` and `[c]` become `[a, b,\nc]`. Each part's
/// elements are kept byte for byte.
fn join_arrays(parts: &[bytes::Bytes]) -> bytes::Bytes {
    let mut out = b"[".to_vec();
    let mut first = true;
    for p in parts {
        let inner = p.trim_ascii();
        let inner = inner.strip_prefix(b"[").unwrap_or(inner);
        let inner = inner.strip_suffix(b"]").unwrap_or(inner).trim_ascii();
        if inner.is_empty() {
            continue;
        }
        if !first {
            out.extend_from_slice(b",\n");
        }
        out.extend_from_slice(inner);
        first = false;
    }
    out.push(b']');
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_range_is_widened_to_whole_months() {
        let (first, last, months) =
            whole_months("2024-12-15".parse().unwrap(), "2025-02-03".parse().unwrap());
        assert_eq!(first.to_string(), "2024-12-01");
        assert_eq!(last.to_string(), "2025-02-28");
        assert_eq!(months, ["2024-12", "2025-01", "2025-02"]);
    }

    #[test]
    fn the_window_runs_between_helsinki_midnights() {
        let (start, until) = window("2025-03-01".parse().unwrap(), "2025-03-31".parse().unwrap());
        assert_eq!(start, 1_740_780_000); // 2025-03-01 00:00 +02:00
        assert_eq!(until, 1_743_454_800); // 2025-04-01 00:00 +03:00
    }

    #[test]
    fn arrays_join_keeping_their_elements() {
        let parts = [
            bytes::Bytes::from_static(b" [ {\"a\": 1}, {\"a\": 2} ]\n"),
            bytes::Bytes::from_static(b"[]"),
            bytes::Bytes::from_static(b"[{\"a\": 3}]"),
        ];
        let joined = join_arrays(&parts);
        let v: serde_json::Value = serde_json::from_slice(&joined).unwrap();
        assert_eq!(v, serde_json::json!([{"a": 1}, {"a": 2}, {"a": 3}]));
        assert_eq!(&join_arrays(&[])[..], b"[]");
    }
}
