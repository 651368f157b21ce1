//! The documentation in `docs/` against the definitions it describes, so that it cannot
//! drift silently:
//!
//! - `docs/tables.md` has a section per canonical table (and the quarantine) with a row per
//!   column giving its type and nullability, and names the sources that fill the table and
//!   the tiles that read it;
//! - `docs/sources.md` names every key (and every enumerated value) a source config accepts;
//!   the key lists are read from the config types themselves, so a new key fails here until
//!   it is documented;
//! - `docs/tiles.md` names every tile metadata key and every shipped tile;
//! - `docs/cluster.md` names every option of the cluster's scheduler and executor;
//! - the complete examples in the docs parse (and a source example validates).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::DeserializeOwned;
use tilannekuva_conventions::boolean::BoolVocabulary;
use tilannekuva_conventions::datetime::TimeFormat;
use tilannekuva_conventions::number::NumberFormat;
use tilannekuva_pipelines::compile_sources;
use tilannekuva_pipelines::config::{
    ColumnMapping, FormatConfig, LoadPolicy, SourceConfig, TimeConfig, load_lookups, load_sources,
};
use tilannekuva_pipelines::fetch::FetchConfig;
use tilannekuva_pipelines::fetch::http::HttpSettings;
use tilannekuva_pipelines::fetch::sotkanet::YearRange;
use tilannekuva_tiles::definition::{Owner, Placement, Target, Text, Thresholds, TileMeta};
use tilannekuva_warehouse::catalog::{
    ColumnType, LINEAGE_FILE, LINEAGE_LINE, LINEAGE_SOURCE, PERIOD, load_tables,
};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn doc(name: &str) -> String {
    let path = repo().join("docs").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The `## ` section of `text` whose heading names `` `name` ``, up to the next `## `.
fn section<'a>(text: &'a str, name: &str) -> Option<&'a str> {
    let wanted = format!("`{name}`");
    let mut start = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("## ") {
            if let Some(s) = start {
                return Some(&text[s..offset]);
            }
            if line.contains(&wanted) {
                start = Some(offset);
            }
        }
        offset += line.len();
    }
    start.map(|s| &text[s..])
}

/// The Markdown table row documenting `` `column` `` in `section`, as trimmed cells.
fn column_row(section: &str, column: &str) -> Option<Vec<String>> {
    let lead = format!("| `{column}` |");
    section
        .lines()
        .find(|l| l.trim_start().starts_with(&lead))
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split('|')
                .map(|c| c.trim().to_string())
                .collect()
        })
}

/// The names serde accepts where `probe` puts an unknown one, read from its refusal
/// ("unknown field `x`, expected one of `a`, `b`" or "unknown variant ..."). This reads the
/// keys from the config types themselves rather than from a list kept by hand.
fn accepted<T: DeserializeOwned + std::fmt::Debug>(probe: &str) -> Vec<String> {
    let err = toml::from_str::<T>(probe)
        .expect_err("the probe uses an unknown name and must be refused")
        .to_string();
    let marker = "zzz_probe`";
    let tail = err
        .find(marker)
        .map(|i| &err[i + marker.len()..])
        .and_then(|rest| rest.split_once("expected").map(|(_, t)| t))
        .unwrap_or_else(|| panic!("cannot read the accepted names from: {err}"));
    let names: Vec<String> = tail
        .lines()
        .next()
        .unwrap_or_default()
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    assert!(!names.is_empty(), "no accepted names in: {err}");
    names
}

/// Every fenced code block of `lang` in `text`.
fn code_blocks(text: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match &mut current {
            None if line.trim() == open => current = Some(String::new()),
            None => {}
            Some(_) if line.trim() == "```" => out.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
        }
    }
    out
}

/// The first line of a block that is not a comment or blank.
fn first_line(block: &str) -> &str {
    block
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or_default()
}

fn type_name(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::String => "string",
        ColumnType::Int64 => "int64",
        ColumnType::Float64 => "float64",
        ColumnType::Bool => "bool",
        ColumnType::Timestamp => "timestamp",
        ColumnType::Date => "date",
    }
}

fn nullability(nullable: bool) -> &'static str {
    if nullable { "yes" } else { "no" }
}

#[test]
fn tables_md_documents_every_table_column_source_and_tile() {
    let text = doc("tables.md");
    let tables = load_tables(&repo().join("config/tables")).expect("table definitions load");
    let sources = load_sources(&repo().join("config/sources")).expect("source configs load");
    let tiles = tilannekuva_tiles::load_tiles(&repo().join("sql")).expect("tiles load");
    let mut problems = Vec::new();
    for (name, table) in &tables {
        let Some(sec) = section(&text, name) else {
            problems.push(format!("no `## ` section naming `{name}`"));
            continue;
        };
        for c in &table.columns {
            match column_row(sec, &c.name) {
                None => problems.push(format!("{name}: no row `| `{}` | ...`", c.name)),
                Some(cells) => {
                    let want = [type_name(c.kind), nullability(c.nullable)];
                    if cells.get(1).map(String::as_str) != Some(want[0])
                        || cells.get(2).map(String::as_str) != Some(want[1])
                    {
                        problems.push(format!(
                            "{name}.{}: the row says type {:?}, nullable {:?}; the definition says {}, {}",
                            c.name,
                            cells.get(1),
                            cells.get(2),
                            want[0],
                            want[1]
                        ));
                    }
                }
            }
        }
        for s in sources.iter().filter(|s| &s.table == name) {
            if !sec.contains(&format!("`{}`", s.name)) {
                problems.push(format!("{name}: does not name its source `{}`", s.name));
            }
        }
        for t in tiles.iter().filter(|t| t.meta.inputs.contains(name)) {
            if !sec.contains(&format!("`{}`", t.meta.id)) {
                problems.push(format!("{name}: does not name the tile `{}`", t.meta.id));
            }
        }
    }
    let quarantine = tilannekuva_warehouse::QUARANTINE_TABLE;
    match section(&text, quarantine) {
        None => problems.push(format!("no `## ` section naming `{quarantine}`")),
        Some(sec) => {
            for f in tilannekuva_warehouse::quarantine_schema().fields() {
                let kind = match f.data_type() {
                    arrow::datatypes::DataType::Utf8 => "string",
                    arrow::datatypes::DataType::Int64 => "int64",
                    arrow::datatypes::DataType::Timestamp(..) => "timestamp",
                    other => panic!("quarantine column {} has type {other}", f.name()),
                };
                match column_row(sec, f.name()) {
                    Some(cells)
                        if cells.get(1).map(String::as_str) == Some(kind)
                            && cells.get(2).map(String::as_str)
                                == Some(nullability(f.is_nullable())) => {}
                    other => problems.push(format!(
                        "{quarantine}.{}: expected a row with {kind}, {}; found {other:?}",
                        f.name(),
                        nullability(f.is_nullable())
                    )),
                }
            }
        }
    }
    for lineage in [PERIOD, LINEAGE_SOURCE, LINEAGE_FILE, LINEAGE_LINE] {
        if !text.contains(&format!("`{lineage}`")) {
            problems.push(format!("the lineage column `{lineage}` is not described"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/tables.md is out of date:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn sources_md_documents_every_config_key_and_value() {
    let text = doc("sources.md");
    let mut keys: Vec<(&str, Vec<String>)> = vec![
        ("top level", accepted::<SourceConfig>("zzz_probe = 1")),
        (
            "fetch.kind",
            accepted::<FetchConfig>("kind = \"zzz_probe\""),
        ),
        (
            "fetch (drop_folder)",
            accepted::<FetchConfig>("kind = \"drop_folder\"\nzzz_probe = 1"),
        ),
        (
            "fetch (sotkanet)",
            accepted::<FetchConfig>("kind = \"sotkanet\"\nzzz_probe = 1"),
        ),
        (
            "fetch (sotkanet) format",
            accepted::<FetchConfig>(
                "kind = \"sotkanet\"\nindicators = [127]\nyears = [2024]\nformat = \"zzz_probe\"",
            ),
        ),
        ("fetch.years range", accepted::<YearRange>("zzz_probe = 1")),
        (
            "fetch (rest_api)",
            accepted::<FetchConfig>("kind = \"rest_api\"\nzzz_probe = 1"),
        ),
        ("fetch.http", accepted::<HttpSettings>("zzz_probe = 1")),
        (
            "format.kind",
            accepted::<FormatConfig>("kind = \"zzz_probe\""),
        ),
        (
            "format (csv)",
            accepted::<FormatConfig>("kind = \"csv\"\nzzz_probe = 1"),
        ),
        (
            "format (csv) encoding",
            accepted::<FormatConfig>("kind = \"csv\"\nencoding = \"zzz_probe\""),
        ),
        (
            "format (json_array)",
            accepted::<FormatConfig>("kind = \"json_array\"\nzzz_probe = 1"),
        ),
        (
            "format (json)",
            accepted::<FormatConfig>("kind = \"json\"\nzzz_probe = 1"),
        ),
        (
            "format (excel)",
            accepted::<FormatConfig>("kind = \"excel\"\nzzz_probe = 1"),
        ),
        (
            "format.skip_when",
            accepted::<tilannekuva_pipelines::config::SkipRule>("zzz_probe = 1"),
        ),
        ("time", accepted::<TimeConfig>("zzz_probe = 1")),
        (
            "time.ambiguous",
            accepted::<TimeConfig>("ambiguous = \"zzz_probe\""),
        ),
        (
            "time.nonexistent",
            accepted::<TimeConfig>("nonexistent = \"zzz_probe\""),
        ),
        ("load", accepted::<LoadPolicy>("zzz_probe = 1")),
        (
            "load.on_redelivery",
            accepted::<LoadPolicy>("on_redelivery = \"zzz_probe\""),
        ),
        (
            "load.cadence",
            accepted::<LoadPolicy>("cadence = \"zzz_probe\""),
        ),
        ("columns.<name>", accepted::<ColumnMapping>("zzz_probe = 1")),
    ];
    // These two types accept unknown keys, so their keys cannot be probed: the list is
    // checked by parsing a value that uses exactly these keys.
    toml::from_str::<NumberFormat>("decimal = ','\nthousands = [' ']").expect("numbers keys");
    toml::from_str::<BoolVocabulary>("true_values = ['k']\nfalse_values = ['e']")
        .expect("booleans keys");
    keys.push((
        "format.numbers / format.booleans",
        ["decimal", "thousands", "true_values", "false_values"]
            .map(String::from)
            .to_vec(),
    ));
    let formats = [
        "d.m.yyyy",
        "d.m.yyyy H:mm",
        "d.m.yyyy H:mm:ss",
        "iso8601",
        "epoch_seconds",
        "epoch_millis",
        "period_start",
        "period_end",
        "strftime:%Y%m%d %H%M",
    ];
    for f in formats {
        f.parse::<TimeFormat>()
            .unwrap_or_else(|e| panic!("time format {f}: {e}"));
    }
    keys.push((
        "columns.<name>.format",
        formats
            .map(|f| f.split('%').next().unwrap_or(f).to_string())
            .to_vec(),
    ));
    let mut missing = Vec::new();
    for (place, names) in &keys {
        for n in names {
            if !text.contains(&format!("`{n}`")) {
                missing.push(format!("{place}: `{n}`"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "docs/sources.md does not mention these config keys or values:\n  - {}",
        missing.join("\n  - ")
    );
}

#[test]
fn examples_in_sources_md_parse_and_validate() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct FetchOnly {
        fetch: FetchConfig,
    }
    let text = doc("sources.md");
    let tables = load_tables(&repo().join("config/tables")).expect("tables load");
    let lookups = load_lookups(&repo().join("config/lookups")).expect("lookups load");
    let mut complete = 0;
    for block in code_blocks(&text, "toml") {
        let first = first_line(&block);
        if first.starts_with("name = ") {
            let mut source: SourceConfig = toml::from_str(&block)
                .unwrap_or_else(|e| panic!("an example source config does not parse: {e}"));
            source.file = PathBuf::from("docs/sources.md");
            if let Err(p) = compile_sources(std::slice::from_ref(&source), &tables, &lookups) {
                panic!(
                    "the example source `{}` does not validate:\n  - {}",
                    source.name,
                    p.join("\n  - ")
                );
            }
            complete += 1;
        } else if first == "[fetch]" {
            toml::from_str::<FetchOnly>(&block)
                .unwrap_or_else(|e| panic!("an example `[fetch]` table does not parse: {e}"));
        }
    }
    assert!(complete > 0, "docs/sources.md has no complete example");
}

#[test]
fn tiles_md_documents_every_metadata_key_and_tile() {
    let text = doc("tiles.md");
    let keys = [
        ("tile", accepted::<TileMeta>("zzz_probe = 1")),
        ("title / description", accepted::<Text>("zzz_probe = 1")),
        ("targets", accepted::<Target>("zzz_probe = 1")),
        ("thresholds", accepted::<Thresholds>("zzz_probe = 1")),
        ("owner", accepted::<Owner>("zzz_probe = 1")),
        ("strategy", accepted::<Placement>("zzz_probe = 1")),
    ];
    let mut missing = Vec::new();
    for (place, names) in &keys {
        for n in names {
            if !text.contains(&format!("`{n}`")) {
                missing.push(format!("{place}: `{n}`"));
            }
        }
    }
    for value in [
        "higher_is_better",
        "lower_is_better",
        "month",
        "quarter",
        "year",
    ] {
        if !text.contains(&format!("`{value}`")) {
            missing.push(format!("value `{value}`"));
        }
    }
    let tiles = tilannekuva_tiles::load_tiles(&repo().join("sql")).expect("tiles load");
    for t in &tiles {
        if !text.contains(&format!("`{}`", t.meta.id)) {
            missing.push(format!("tile `{}`", t.meta.id));
        }
    }
    for block in code_blocks(&text, "toml") {
        if first_line(&block).starts_with("id = ") {
            toml::from_str::<TileMeta>(&block)
                .unwrap_or_else(|e| panic!("an example tile metadata file does not parse: {e}"));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/tiles.md does not mention:\n  - {}",
        missing.join("\n  - ")
    );
}

fn doc_type(t: &arrow::datatypes::DataType) -> &'static str {
    use arrow::datatypes::DataType;
    match t {
        DataType::Utf8 => "string",
        DataType::Int64 => "int",
        DataType::Float64 => "float",
        DataType::Boolean => "bool",
        DataType::Date32 => "date",
        DataType::Timestamp(..) => "timestamp",
        other => panic!("no documented name for {other}"),
    }
}

#[test]
fn bi_md_documents_the_tile_tables_and_every_sql_wire_key() {
    use tilannekuva_tiles::reading::{
        TILE_CELLS_TABLE, TILE_SOURCES_TABLE, TILES_TABLE, tile_sources_schema, tiles_schema,
    };
    let text = doc("bi.md");
    let mut problems = Vec::new();
    for (table, schema) in [
        (TILES_TABLE, tiles_schema()),
        (TILE_CELLS_TABLE, tilannekuva_tiles::tile_rows_schema()),
        (TILE_SOURCES_TABLE, tile_sources_schema()),
    ] {
        let Some(sec) = section(&text, table) else {
            problems.push(format!("no `## ` section naming `{table}`"));
            continue;
        };
        for f in schema.fields() {
            let want = [doc_type(f.data_type()), nullability(f.is_nullable())];
            match column_row(sec, f.name()) {
                Some(cells) if cells.get(1..3) == Some(&want.map(String::from)[..]) => {}
                other => problems.push(format!(
                    "{table}.{}: expected a row with {want:?}; found {other:?}",
                    f.name()
                )),
            }
        }
        let documented = sec.lines().filter(|l| l.starts_with("| `")).count();
        if documented != schema.fields().len() {
            problems.push(format!(
                "{table}: {documented} columns documented, the table has {}",
                schema.fields().len()
            ));
        }
    }
    for key in accepted::<tilannekuva_sqlwire::SqlWireSettings>("zzz_probe = 1") {
        if !text.contains(&format!("{key} = ")) {
            problems.push(format!("[sql_wire] `{key}` is not in the example"));
        }
    }
    assert!(
        problems.is_empty(),
        "docs/bi.md is out of date:\n  - {}",
        problems.join("\n  - ")
    );
}

#[test]
fn deploy_md_documents_every_alert_key_condition_and_channel() {
    use tilannekuva_scheduler::alerts::{AlertRule, AlertSettings, ChannelConfig};
    let text = doc("deploy.md");
    let Some(sec) = section(&text, "[[alerts]]") else {
        panic!("docs/deploy.md has no `## ` section naming `[[alerts]]`");
    };
    let mut names: Vec<(&str, Vec<String>)> = vec![
        ("rule key", accepted::<AlertRule>("zzz_probe = 1")),
        ("condition", accepted::<AlertRule>("when = \"zzz_probe\"")),
        (
            "channel kind",
            accepted::<ChannelConfig>("kind = \"zzz_probe\""),
        ),
        ("[alerting] key", accepted::<AlertSettings>("zzz_probe = 1")),
    ];
    for kind in ["webhook", "smtp"] {
        names.push((
            "channel key",
            accepted::<ChannelConfig>(&format!("kind = \"{kind}\"\nzzz_probe = 1")),
        ));
    }
    let problems: Vec<String> = names
        .iter()
        .flat_map(|(what, keys)| {
            keys.iter()
                .filter(|k| !sec.contains(&format!("`{k}`")))
                .map(move |k| format!("{what} `{k}`"))
        })
        .collect();
    assert!(
        problems.is_empty(),
        "the alerts section of docs/deploy.md does not name: {}",
        problems.join(", ")
    );
}

/// `docs/cluster.md` names every option of `tilannekuva cluster scheduler` and `executor`
/// (read from the command line definition itself) and the `[engine]` keys.
#[test]
fn cluster_md_documents_every_option_of_the_cluster_nodes() {
    use clap::CommandFactory;
    let text = doc("cluster.md");
    let cli = tilannekuva::cli::Cli::command();
    let cluster = cli.find_subcommand("cluster").expect("a cluster command");
    let mut missing = Vec::new();
    for node in ["scheduler", "executor"] {
        let node_cmd = cluster.find_subcommand(node).expect(node);
        assert!(
            text.contains(&format!("tilannekuva cluster {node}")),
            "{node}"
        );
        for arg in node_cmd.get_arguments() {
            if let Some(long) = arg.get_long().filter(|l| *l != "help")
                && !text.contains(&format!("`--{long}"))
            {
                missing.push(format!("{node} --{long}"));
            }
        }
    }
    for key in [
        "kind = \"ballista\"",
        "scheduler = \"df://",
        "--ballista",
        "TILANNEKUVA_BALLISTA",
    ] {
        if !text.contains(key) {
            missing.push(key.to_string());
        }
    }
    assert!(missing.is_empty(), "not in docs/cluster.md: {missing:?}");
}
