//! A smoke run of the harness's own engine path at a tiny scale, without peers: generation,
//! ingest, the full and incremental runs, tiles and the API under a short load.

use tilannekuva_bench::{COMPARED_TILES, compute_tiles, cross_check};
use tilannekuva_samples::SampleConfig;

#[test]
fn harness_runs_our_engine_at_tiny_scale() {
    let dir = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let config = root.join("config/tilannekuva.toml");
    let from = chrono::NaiveDate::from_ymd_opt(2024, 1, 25).unwrap();
    let cfg = SampleConfig {
        scale: 0.05,
        from,
        to: chrono::NaiveDate::from_ymd_opt(2024, 1, 31).unwrap(),
        ..SampleConfig::default()
    };
    let ds = tilannekuva_bench::prepare(dir.path(), &cfg).unwrap();
    assert!(ds.ingest_rows > 0 && ds.history_rows >= ds.ingest_rows && ds.new_day_rows > 0);
    // Reused, not regenerated.
    assert_eq!(
        tilannekuva_bench::prepare(dir.path(), &cfg)
            .unwrap()
            .history_rows,
        ds.history_rows
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let ingest = rt
        .block_on(tilannekuva_bench::ingest_ours(
            &config,
            &ds.ingest_inputs,
            &dir.path().join("wh-ingest"),
            tilannekuva_bench::INGEST_SOURCE,
            "contacts",
        ))
        .unwrap();
    assert!(ingest.rows > 0 && ingest.rows <= ds.ingest_rows);
    assert!(ingest.parquet_bytes > 0);

    let history = dir.path().join("wh-history");
    let h = rt
        .block_on(tilannekuva_bench::load_and_publish(
            &config,
            &history,
            &ds.history,
        ))
        .unwrap();
    assert!(h.rows > 0);
    let inc = dir.path().join("wh-inc");
    tilannekuva_bench::copy_tree(&history, &inc).unwrap();
    let i = rt
        .block_on(tilannekuva_bench::load_and_publish(
            &config,
            &inc,
            &ds.new_day,
        ))
        .unwrap();
    assert!(i.rows > 0 && i.rows < h.rows);

    let (secs, values) = rt
        .block_on(compute_tiles(&config, &history, Some(COMPARED_TILES), 1))
        .unwrap();
    assert_eq!(secs.len(), 1);
    assert!(values.contains_key("callback_share"), "{values:?}");
    let same = cross_check(&values, &values, COMPARED_TILES);
    assert!(same.compared > 0 && same.mismatches.is_empty() && same.missing.is_empty());

    let fixed = rt
        .block_on(tilannekuva_bench::fixed_cost::measure(&config, &history))
        .unwrap();
    assert!(fixed.session > 0.0 && fixed.plan > 0.0 && fixed.trivial_query > 0.0);
    assert!(fixed.slowest_plan.1 >= fixed.plan, "{fixed:?}");
    assert_eq!(fixed.sessions, 3);
    assert!(fixed.queries >= values.len(), "{fixed:?}");

    // The webhook log holds the chat_ninchat sessions: its load keeps exactly the sessions
    // the CSV export's load kept.
    let log = tilannekuva_bench::jsonl::prepare(&ds, &config).unwrap();
    assert!(log.full_rows > 0 && log.quarter_rows == log.full_rows.div_ceil(4));
    let from_log = rt
        .block_on(tilannekuva_bench::ingest_ours(
            &log.config,
            &log.full_inputs,
            &dir.path().join("wh-jsonl"),
            tilannekuva_bench::jsonl::JSONL_SOURCE,
            "chats",
        ))
        .unwrap();
    let m = rt
        .block_on(
            tilannekuva_warehouse::Warehouse::open_local(&history)
                .unwrap()
                .manifest(),
        )
        .unwrap();
    let from_csv: u64 = m
        .files("chats")
        .iter()
        .filter(|f| f.source == "chat_ninchat")
        .map(|f| f.rows)
        .sum();
    assert_eq!(from_log.rows, from_csv);

    let served = tilannekuva_bench::serve::bench_api(
        &tilannekuva_warehouse::Location::Folder(history.clone()),
        1,
        &["/api/v1/tiles"],
        0.2,
        2,
    )
    .unwrap();
    assert!(served[0].ok > 0 && served[0].errors == 0, "{served:?}");

    // The object storage phase's run, on a folder (the S3 server is not started here).
    let store = tilannekuva_bench::store::StoreOnce {
        config: config.clone(),
        inputs: ds.history.clone(),
        warehouse: dir.path().join("wh-store").display().to_string(),
        threads: 1,
        serve_seconds: 0.2,
        concurrency: 2,
    }
    .run("local")
    .unwrap();
    assert_eq!(store.rows, h.rows);
    assert_eq!(store.serve.len(), tilannekuva_bench::store::SERVED.len());
    assert!(
        store.serve.iter().all(|s| s.ok > 0 && s.errors == 0),
        "{store:?}"
    );
}
