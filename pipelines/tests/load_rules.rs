//! The load rules, each on a real file: quarantine, reject threshold, schema drift,
//! personal data, encodings, idempotency and corrected redeliveries.

use std::collections::BTreeMap;
use std::path::Path;

use tilannekuva_pipelines::config::{Lookup, SourceConfig};
use tilannekuva_pipelines::fetch::FetchContext;
use tilannekuva_pipelines::{Error, LoadReport, Outcome, Pipelines};
use tilannekuva_warehouse::Warehouse;
use tilannekuva_warehouse::catalog::TableDef;

const TABLE: &str = r#"
name = "visits"
description = "test table"
period_column = "at"
[[columns]]
name = "id"
type = "string"
nullable = false
description = "id"
[[columns]]
name = "at"
type = "timestamp"
nullable = false
description = "when"
[[columns]]
name = "minutes"
type = "float64"
description = "duration"
[[columns]]
name = "ok"
type = "bool"
description = "flag"
[[columns]]
name = "note"
type = "string"
description = "free text"
[[columns]]
name = "person"
type = "string"
description = "pseudonymised person"
"#;

fn source(extra: &str) -> String {
    format!(
        r#"
name = "src"
description = "test source"
table = "visits"
drop = ["Puhelin"]
{extra}
[fetch]
kind = "drop_folder"
path = "in"
glob = "*.csv"
settle_seconds = 0
[format]
kind = "csv"
delimiter = ";"
[time]
ambiguous = "earlier"
[load]
max_reject_share = 0.5
[columns]
id = {{ from = "Tunnus" }}
at = {{ from = "Aika", format = "d.m.yyyy H:mm" }}
minutes = {{ from = "Kesto", min = 0 }}
ok = {{ from = "Kunnossa" }}
note = {{ from = "Huom" }}
"#
    )
}

struct Fixture {
    _dir: tempfile::TempDir,
    root: std::path::PathBuf,
    pipelines: Pipelines,
}

impl Fixture {
    fn new(source_toml: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("in")).unwrap();
        let table: TableDef = toml::from_str(TABLE).unwrap();
        let mut src: SourceConfig = toml::from_str(source_toml).unwrap();
        src.file = root.join("src.toml");
        let tables = BTreeMap::from([(table.name.clone(), table)]);
        let lookups: BTreeMap<String, Lookup> = BTreeMap::new();
        let wh = Warehouse::open_local(root.join("warehouse")).unwrap();
        let fetch = FetchContext {
            inputs_root: root.clone(),
            settle_seconds: None,
        };
        let pipelines =
            Pipelines::new(wh, tables, &[src], &lookups, fetch, Some(b"test-key")).unwrap();
        Self {
            _dir: dir,
            root,
            pipelines,
        }
    }

    fn drop_file(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.root.join("in").join(name), bytes).unwrap();
    }

    fn remove_file(&self, name: &str) {
        std::fs::remove_file(self.root.join("in").join(name)).unwrap();
    }

    async fn load(&self) -> Vec<Result<LoadReport, Error>> {
        self.pipelines.load_source("src").await.unwrap()
    }

    async fn rows(&self) -> u64 {
        let m = self.pipelines.warehouse.manifest().await.unwrap();
        m.files("visits").iter().map(|f| f.rows).sum()
    }

    async fn quarantine(&self) -> u64 {
        let m = self.pipelines.warehouse.manifest().await.unwrap();
        m.files("quarantine").iter().map(|f| f.rows).sum()
    }

    /// The rows of a query over the warehouse, as an aligned text table.
    async fn query(&self, sql: &str) -> String {
        let ctx = datafusion::prelude::SessionContext::new();
        let m = self.pipelines.warehouse.manifest().await.unwrap();
        self.pipelines
            .warehouse
            .register_tables(
                &ctx,
                &m,
                &tilannekuva_warehouse::catalog::schemas(&self.pipelines.tables),
                tilannekuva_warehouse::Rows::InMemory,
            )
            .await
            .unwrap();
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    }
}

const HEADER: &str = "Tunnus;Aika;Kesto;Kunnossa;Huom;Puhelin\r\n";

fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push_str(r);
        s.push_str("\r\n");
    }
    s.into_bytes()
}

fn loaded(r: &Result<LoadReport, Error>) -> (u64, u64) {
    match r {
        Ok(LoadReport {
            outcome: Outcome::Loaded { rows, rejects, .. },
            ..
        }) => (*rows, *rejects),
        other => panic!("expected a load, got {other:?}"),
    }
}

#[tokio::test]
async fn bad_rows_are_quarantined_with_line_column_value_and_reason() {
    let f = Fixture::new(&source(""));
    f.drop_file(
        "a.csv",
        &csv(&[
            "1;5.3.2024 8:07;4,5;kyllä;;040 1234567",
            "2;31.2.2024 9:00;1,0;ei;;",
            "3;5.3.2024 9:00;-2,0;ei;;",
            "4;5.3.2024 9:00;1,0;ehkä;;",
            "5;5.3.2024 9:00;1 234,5;K;;",
            "6;5.3.2024 9:00;1;K;;",
        ]),
    );
    let r = f.load().await;
    assert_eq!(loaded(&r[0]), (3, 3));
    let text = f
        .query("SELECT line, \"column\", raw_value, reason FROM quarantine ORDER BY line")
        .await;
    assert!(
        text.contains("| 3    | Aika     | 31.2.2024 9:00"),
        "{text}"
    );
    assert!(text.contains("| 4    | Kesto    | -2,0"), "{text}");
    assert!(text.contains("at least 0"), "{text}");
    assert!(text.contains("| 5    | Kunnossa | ehkä"), "{text}");
    // The number with a thousands separator was read.
    let text = f.query("SELECT minutes FROM visits WHERE id = '5'").await;
    assert!(text.contains("1234.5"), "{text}");
}

/// A large export is normalised in chunks on several threads; the result is what one thread
/// gives: every row once, in file order within each month's file, every row and reject with
/// its exact line, a blank line skipped.
#[tokio::test]
async fn a_large_export_keeps_file_order_and_exact_lines_across_chunks() {
    let f = Fixture::new(&source(""));
    let bad = [2, 8_192, 8_193, 19_999];
    let mut rows: Vec<String> = (1..=20_000)
        .map(|i| {
            let day = if i <= 10_000 { "5.3.2024" } else { "5.4.2024" };
            let minutes = if bad.contains(&i) { "-1,0" } else { "1,5" };
            format!("{i};{day} 9:00;{minutes};K;;")
        })
        .collect();
    rows.insert(12_000, String::new());
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    f.drop_file("big.csv", &csv(&refs));
    let r = f.load().await;
    assert_eq!(loaded(&r[0]), (19_996, 4));
    // Data row i is on line i + 1, and on line i + 2 after the blank line.
    let line_of = |i: i64| if i <= 12_000 { i + 1 } else { i + 2 };
    let m = f.pipelines.warehouse.manifest().await.unwrap();
    let files = m.files("visits");
    assert_eq!(files.len(), 2, "one file per month");
    let mut seen = 0;
    for file in files {
        let bytes = f.pipelines.warehouse.get(&file.path).await.unwrap();
        let (_, batches) = tilannekuva_warehouse::read_parquet_bytes(&file.path, bytes).unwrap();
        let mut previous = 0;
        for b in &batches {
            let ids = b.column_by_name("id").unwrap();
            let ids = arrow::array::AsArray::as_string::<i32>(ids);
            let lines = b.column_by_name("_line").unwrap();
            let lines = arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(lines);
            for k in 0..b.num_rows() {
                let id: i64 = ids.value(k).parse().unwrap();
                assert_eq!(lines.value(k), line_of(id), "row {id}");
                assert!(
                    id > previous,
                    "row {id} after row {previous}: file order kept"
                );
                previous = id;
                seen += 1;
            }
        }
    }
    assert_eq!(seen, 19_996);
    let q = m.files("quarantine");
    let bytes = f.pipelines.warehouse.get(&q[0].path).await.unwrap();
    let (_, batches) = tilannekuva_warehouse::read_parquet_bytes(&q[0].path, bytes).unwrap();
    let lines: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            let c = b.column_by_name("line").unwrap();
            arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(c)
                .values()
                .to_vec()
        })
        .collect();
    let expected: Vec<i64> = bad.iter().map(|&i| line_of(i)).collect();
    assert_eq!(
        lines, expected,
        "rejects in line order with their exact lines"
    );
}

/// An export spanning more months than the files a load keeps open: every row lands once, a
/// month met again after its file was finished gets a further part file, and a corrected
/// redelivery replaces every part.
#[tokio::test]
async fn an_export_spanning_many_months_keeps_few_files_open() {
    let f = Fixture::new(&source(""));
    // January to December over and over: every chunk of the export holds every month.
    let rows: Vec<String> = (0..20_000)
        .map(|i| format!("{};5.{}.2024 9:00;1,0;K;;", i + 1, i % 12 + 1))
        .collect();
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    f.drop_file("a.csv", &csv(&refs));
    let r = f.load().await;
    assert_eq!(loaded(&r[0]), (20_000, 0));
    let m = f.pipelines.warehouse.manifest().await.unwrap();
    let files = m.files("visits");
    let periods: std::collections::BTreeSet<&str> =
        files.iter().map(|f| f.period.as_str()).collect();
    assert_eq!(periods.len(), 12);
    assert!(
        files.len() > 12,
        "months met again after their file was finished get another part: {}",
        files.len()
    );
    assert_eq!(f.rows().await, 20_000);
    assert_eq!(m.loads[0].periods.len(), 12, "{:?}", m.loads[0].periods);

    // A corrected export with one row a month replaces every part of every month.
    let rows: Vec<String> = (0..12)
        .map(|i| format!("k{};6.{}.2024 9:00;2,0;K;;", i + 1, i + 1))
        .collect();
    let refs: Vec<&str> = rows.iter().map(String::as_str).collect();
    f.drop_file("b.csv", &csv(&refs));
    f.load().await;
    assert_eq!(f.rows().await, 12);
    let m = f.pipelines.warehouse.manifest().await.unwrap();
    assert_eq!(m.files("visits").len(), 12);
}

#[tokio::test]
async fn too_many_rejects_commit_nothing() {
    let f = Fixture::new(&source(""));
    f.drop_file(
        "a.csv",
        &csv(&[
            "1;5.3.2024 8:07;x;kyllä;;",
            "2;5.3.2024 8:07;y;kyllä;;",
            "3;5.3.2024 8:07;1;kyllä;;",
        ]),
    );
    let r = f.load().await;
    let err = r[0].as_ref().unwrap_err().to_string();
    assert!(
        err.contains("2 of 3 rows") && err.contains("nothing was loaded"),
        "{err}"
    );
    assert!(
        err.contains("line 2, column 3 `Kesto`, value \"x\""),
        "names the first bad line, column and value: {err}"
    );
    assert_eq!(
        f.pipelines.warehouse.manifest().await.unwrap().version,
        0,
        "no commit"
    );
    assert_eq!(f.rows().await, 0);
}

#[tokio::test]
async fn schema_drift_names_the_missing_and_unexpected_columns() {
    let f = Fixture::new(&source(""));
    f.drop_file(
        "a.csv",
        b"Tunnus;Aikaleima;Kesto;Kunnossa;Huom;Puhelin\r\n1;5.3.2024 8:07;1;K;;\r\n",
    );
    let err = f.load().await.remove(0).unwrap_err().to_string();
    assert!(
        err.contains("missing [\"Aika\"]") && err.contains("unexpected [\"Aikaleima\"]"),
        "{err}"
    );
    assert_eq!(f.pipelines.warehouse.manifest().await.unwrap().version, 0);
}

#[tokio::test]
async fn a_personal_identity_code_never_reaches_a_curated_table() {
    let f = Fixture::new(&source(""));
    // 131052-308T has a valid check character.
    f.drop_file(
        "a.csv",
        &csv(&[
            "1;5.3.2024 8:07;1;K;soita 131052-308T;",
            "2;5.3.2024 8:07;1;K;;",
        ]),
    );
    let err = f.load().await.remove(0).unwrap_err().to_string();
    assert!(
        err.contains("line 2") && err.contains("`note`") && err.contains("henkilötunnus"),
        "{err}"
    );
    assert!(
        !err.contains("131052-308T"),
        "the error itself must not repeat the code: {err}"
    );
    assert_eq!(f.rows().await, 0);
    // An invalid check character is not a henkilötunnus.
    f.remove_file("a.csv");
    f.drop_file("b.csv", &csv(&["1;5.3.2024 8:07;1;K;viite 131052-308U;"]));
    assert_eq!(loaded(&f.load().await[0]), (1, 0));
}

#[tokio::test]
async fn a_phone_number_or_an_e_mail_address_never_reaches_a_curated_table() {
    for (i, (note, kind)) in [
        ("soittakaa numeroon +358 40 123 4567", "a phone number"),
        (
            "takaisinsoitto 040-1234567 klo 16 jälkeen",
            "a phone number",
        ),
        (
            "vastaus osoitteeseen liisa.virtanen@example.fi",
            "an e-mail address",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let f = Fixture::new(&source(""));
        let file = format!("p{i}.csv");
        f.drop_file(
            &file,
            &csv(&[
                "1;5.3.2024 8:07;1;K;ok;",
                &format!("2;5.3.2024 8:09;1;K;{note};"),
            ]),
        );
        let err = f.load().await.remove(0).unwrap_err().to_string();
        assert!(
            err.contains(&file)
                && err.contains("line 3")
                && err.contains("`note`")
                && err.contains(kind),
            "{err}"
        );
        assert!(
            !err.contains(note),
            "the error must not repeat the value: {err}"
        );
        assert_eq!(f.rows().await, 0, "nothing of the export was loaded");
    }
    // A dashed identifier with a zero group is no phone number; a bare `@` is no address.
    let f = Fixture::new(&source(""));
    f.drop_file(
        "ok.csv",
        &csv(&["1;5.3.2024 8:07;1;K;tiketti 55b164a3-0115-4847-abac-0401234567aa @ jono;"]),
    );
    assert_eq!(loaded(&f.load().await[0]), (1, 0));
}

#[tokio::test]
async fn a_personal_identifier_from_the_config_is_caught_too() {
    // The guard looks config values over once, then per row only where one could carry an
    // identifier: a map whose target holds a phone number still stops the load at the row
    // that takes it, while rows mapped to other targets load.
    let f = Fixture::new(&source("").replace(
        "note = { from = \"Huom\" }",
        "note = { from = \"Huom\", map = { \"a\" = \"soita 040 123 4567\", \"b\" = \"ok\" } }",
    ));
    f.drop_file(
        "ok.csv",
        &csv(&["1;5.3.2024 8:07;1;K;b;", "2;5.3.2024 8:08;1;K;;"]),
    );
    assert_eq!(loaded(&f.load().await[0]), (2, 0));
    f.remove_file("ok.csv");
    f.drop_file(
        "bad.csv",
        &csv(&["3;6.3.2024 8:07;1;K;b;", "4;6.3.2024 8:08;1;K;a;"]),
    );
    let err = f.load().await.remove(0).unwrap_err().to_string();
    assert!(
        err.contains("bad.csv")
            && err.contains("line 3")
            && err.contains("`note`")
            && err.contains("a phone number"),
        "{err}"
    );
    assert_eq!(f.rows().await, 2, "nothing of the second export was loaded");
}

#[tokio::test]
async fn pseudonymised_columns_store_a_keyed_hash() {
    let f = Fixture::new(
        &source("")
            .replace(
                "note = { from = \"Huom\" }",
                "note = { from = \"Huom\" }\nperson = { from = \"Puhelin\", hash = true }",
            )
            .replace("drop = [\"Puhelin\"]", ""),
    );
    f.drop_file("a.csv", &csv(&["1;5.3.2024 8:07;1;K;;131052-308T"]));
    assert_eq!(loaded(&f.load().await[0]), (1, 0));
    let text = f.query("SELECT person FROM visits").await;
    assert!(!text.contains("131052"), "{text}");
    assert!(
        text.lines().any(|l| l.trim_matches(['|', ' ']).len() == 64),
        "a 256-bit hex hash: {text}"
    );
}

#[tokio::test]
async fn windows_1252_and_bom_exports_read_the_same() {
    let cfg = source("").replace(
        "delimiter = \";\"",
        "delimiter = \";\"\nencoding = \"windows-1252\"",
    );
    let f = Fixture::new(&cfg);
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"1;5.3.2024 8:07;1;K;P\xE4ij\xE4t-H\xE4me;\r\n");
    f.drop_file("a.csv", &bytes);
    assert_eq!(loaded(&f.load().await[0]), (1, 0));

    let g = Fixture::new(&source(""));
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(&csv(&["1;5.3.2024 8:07;1;K;Päijät-Häme;"]));
    g.drop_file("a.csv", &bom);
    assert_eq!(
        loaded(&g.load().await[0]),
        (1, 0),
        "the BOM does not break the first header name"
    );

    // UTF-8 bytes read as invalid UTF-8 fail the load with a clear message, not garbage.
    let h = Fixture::new(&source(""));
    h.drop_file("a.csv", &bytes);
    let err = h.load().await.remove(0).unwrap_err().to_string();
    assert!(err.contains("a.csv"), "{err}");
    assert_eq!(h.rows().await, 0);
}

#[tokio::test]
async fn the_same_content_under_another_name_loads_nothing() {
    let f = Fixture::new(&source(""));
    let data = csv(&["1;5.3.2024 8:07;1;K;;", "2;6.3.2024 8:07;1;K;;"]);
    f.drop_file("a.csv", &data);
    assert_eq!(loaded(&f.load().await[0]), (2, 0));
    f.remove_file("a.csv");
    f.drop_file("a_copy.csv", &data);
    let again = f.load().await;
    assert!(
        matches!(
            again[0],
            Ok(LoadReport {
                outcome: Outcome::AlreadyLoaded { .. },
                ..
            })
        ),
        "{again:?}"
    );
    assert_eq!(f.rows().await, 2);
}

#[tokio::test]
async fn a_corrected_redelivery_replaces_the_period_or_appends_by_policy() {
    for (policy, expected) in [("replace", 3u64), ("append", 5u64)] {
        let cfg = source("").replace(
            "max_reject_share = 0.5",
            &format!("max_reject_share = 0.5\non_redelivery = \"{policy}\""),
        );
        let f = Fixture::new(&cfg);
        f.drop_file(
            "march.csv",
            &csv(&[
                "1;5.3.2024 8:07;1;K;;",
                "2;6.3.2024 8:07;1;K;;",
                "9;6.4.2024 8:07;-1;K;;",
            ]),
        );
        assert_eq!(loaded(&f.load().await[0]), (2, 1));
        f.drop_file(
            "march.csv",
            &csv(&[
                "1;5.3.2024 8:07;1;K;;",
                "2;6.3.2024 8:07;1;K;;",
                "3;7.3.2024 8:07;1;K;;",
            ]),
        );
        let r = f.load().await;
        let (rows, _) = loaded(&r[0]);
        assert_eq!(rows, 3);
        assert_eq!(f.rows().await, expected, "{policy}");
        if policy == "replace" {
            assert_eq!(
                f.quarantine().await,
                0,
                "the superseded load's rejects went with it"
            );
            let m = f.pipelines.warehouse.manifest().await.unwrap();
            assert_eq!(
                m.loads
                    .iter()
                    .filter(|l| l.status == tilannekuva_warehouse::LoadStatus::Superseded)
                    .count(),
                1
            );
        }
    }
}

#[tokio::test]
async fn local_times_follow_the_declared_dst_policy() {
    let f = Fixture::new(&source(""));
    // 26.10.2025 03:30 happens twice (earlier = 00:30Z); 30.3.2025 03:30 does not exist.
    f.drop_file(
        "a.csv",
        &csv(&[
            "1;26.10.2025 3:30;1;K;;",
            "2;30.3.2025 3:30;1;K;;",
            "3;30.3.2025 4:30;1;K;;",
        ]),
    );
    assert_eq!(loaded(&f.load().await[0]), (2, 1));
    let text = f
        .query("SELECT id, CAST(at AS VARCHAR) AS at FROM visits ORDER BY id")
        .await;
    assert!(text.contains("2025-10-26T00:30:00Z"), "{text}");
    assert!(text.contains("2025-03-30T01:30:00Z"), "{text}");
    let text = f.query("SELECT reason FROM quarantine").await;
    assert!(text.contains("gap"), "{text}");
}

#[allow(dead_code)]
fn _path(_: &Path) {}

/// [`source`] with `extra` top-level keys, another `[format]` and other `[columns]`.
fn source_with(extra: &str, format: &str, columns: &str) -> String {
    let base = source(extra);
    let columns_at = base.find("id = {").unwrap();
    format!("{}{columns}", &base[..columns_at])
        .replace("[format]\nkind = \"csv\"\ndelimiter = \";\"", format)
}

#[tokio::test]
async fn title_lines_totals_and_empty_rows_are_skipped_and_counted() {
    let f = Fixture::new(&source_with(
        "ignore = [\"Tunnus\"]",
        "[format]\nkind = \"csv\"\ndelimiter = \";\"\nskip_rows = 2\nskip_when = [{ column = \"Huom\", starts_with = \"yhteensä\" }, { mapped_empty = true }]",
        "id = { line = true }\nat = { from = \"Aika\", format = \"d.m.yyyy H:mm\" }\nminutes = { from = \"Kesto\", min = 0 }\nok = { from = \"Kunnossa\" }\nnote = { from = \"Huom\" }\n",
    ));
    f.drop_file(
        "a.csv",
        b"Raportti \"kaikki k\xc3\xa4ynnit;;\r\nAjettu 1.4.2024\r\n\
          Tunnus;Aika;Kesto;Kunnossa;Huom;Puhelin\r\n\
          ;5.3.2024 8:07;4,5;K;;\r\n\
          ;;;;;\r\n\
          ;6.3.2024 9:00;ei;K;;\r\n\
          ;;10,5;;Yhteens\xc3\xa4 2;\r\n",
    );
    let r = f.load().await;
    let Ok(LoadReport {
        outcome:
            Outcome::Loaded {
                rows,
                rejects,
                skipped,
                ..
            },
        ..
    }) = &r[0]
    else {
        panic!("{r:?}")
    };
    // Two title lines, the empty row and the total; one row read, one rejected.
    assert_eq!((*rows, *rejects, *skipped), (1, 1, 4));
    let ids = f.query("SELECT id, _line FROM visits").await;
    assert!(ids.contains("a.csv:4 | 4"), "{ids}");
    let q = f
        .query("SELECT line || ' ' || \"column\" || ' ' || raw_value AS r FROM quarantine")
        .await;
    assert!(q.contains("| 6 Kesto ei |"), "{q}");
    let m = f.pipelines.warehouse.manifest().await.unwrap();
    assert_eq!(m.loads[0].skipped, 4, "the ledger keeps the count");
}

#[tokio::test]
async fn skip_rules_and_derived_ids_are_checked_with_the_config() {
    let bad = source_with(
        "",
        "[format]\nkind = \"csv\"\nskip_when = [{ equals = \"Yhteensä\", mapped_empty = true }, { column = \"Nimi\", equals = \"x\" }]",
        "id = { key = [\"Aika\"], from = \"Tunnus\" }\nat = { from = \"Aika\", format = \"d.m.yyyy H:mm\" }\nminutes = { key = [\"Kesto\"] }\nnote = { key = [] }\n",
    );
    let mut src: SourceConfig = toml::from_str(&bad).unwrap();
    src.file = "src.toml".into();
    let table: TableDef = toml::from_str(TABLE).unwrap();
    let tables = BTreeMap::from([(table.name.clone(), table)]);
    let Err(problems) = tilannekuva_pipelines::compile_sources(&[src], &tables, &BTreeMap::new())
    else {
        panic!("the config was accepted");
    };
    let err = problems.join("\n");
    for expected in [
        "`format.skip_when[0]`: needs exactly one of `equals`, `starts_with` and `mapped_empty`",
        "`format.skip_when[1].column`: `Nimi` is not a column the source reads",
        "`columns.id`: give one of `from`, `value`, `key` and `line`",
        "`columns.minutes`: a derived id (`key`, `line`) fills a string column",
        "`columns.note.key`: needs at least one source column",
    ] {
        assert!(err.contains(expected), "{expected}\n in\n{err}");
    }
}

fn json_source(format: &str) -> String {
    source_with(
        "",
        &format!("[format]\n{format}"),
        "id = { from = \"id\" }\nat = { from = \"at\", format = \"iso8601\" }\nminutes = { from = \"minutes\" }\nnote = { from = \"note\" }\n",
    )
    .replace("glob = \"*.csv\"", "glob = \"*.json\"")
    .replace("drop = [\"Puhelin\"]", "")
}

#[tokio::test]
async fn a_flat_json_array_checks_its_keys_as_a_header() {
    let f = Fixture::new(&json_source("kind = \"json_array\""));
    f.drop_file(
        "a.json",
        br#"[{"id": "1", "at": "2024-03-05T08:07:00", "minutes": 4.5, "note": null},
             {"id": "2", "at": "2024-03-05T09:00:00", "minutes": 1, "notes": "renamed"}]"#,
    );
    let err = f.load().await.remove(0).unwrap_err().to_string();
    assert!(err.contains("unexpected [\"notes\"]"), "{err}");
    assert_eq!(f.pipelines.warehouse.manifest().await.unwrap().version, 0);
}

#[tokio::test]
async fn a_json_document_without_its_records_or_cut_short_loads_nothing() {
    let f = Fixture::new(&json_source("kind = \"json\"\nrecords = \"data.items\""));
    f.drop_file("a.json", br#"{"data": {"rows": []}, "meta": {}}"#);
    let err = f.load().await.remove(0).unwrap_err().to_string();
    assert!(err.contains("no records at `data.items`"), "{err}");
    f.remove_file("a.json");
    // Cut off in the middle of the second record.
    f.drop_file(
        "b.json",
        b"{\"data\": {\"items\": [\n  {\"id\": \"1\", \"at\": \"2024-03-05T08:07:00\", \"minutes\": 4.5},\n  {\"id\": \"2\", \"at\": \"2024-03-05T0",
    );
    let err = f.load().await.remove(0).unwrap_err().to_string();
    assert!(
        err.contains("expected an array of records at `data.items` (line 3, column"),
        "{err}"
    );
    assert_eq!(f.rows().await, 0);
    // The records array holding something else.
    f.remove_file("b.json");
    f.drop_file("c.json", br#"{"data": {"items": {"id": "1"}}}"#);
    let err = f.load().await.remove(0).unwrap_err().to_string();
    assert!(err.contains("expected an array of records"), "{err}");
    assert_eq!(f.pipelines.warehouse.manifest().await.unwrap().version, 0);
}
