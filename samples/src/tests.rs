//! Whole-generator tests: determinism, layouts, encodings, planted faults, plausibility.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use super::*;
use crate::calendar::{helsinki, ymd};

fn small(from: NaiveDate, to: NaiveDate) -> SampleConfig {
    SampleConfig {
        from,
        to,
        scale: 0.05,
        ..SampleConfig::default()
    }
}

fn one_year_small() -> SampleConfig {
    small(ymd(2024, 1, 1), ymd(2024, 12, 31))
}

/// Reads a CSV file the way the pipeline would: BOM stripped, decoded, CRLF records, `"`
/// quoting. Returns the header and the data rows.
fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let text = match std::str::from_utf8(&bytes) {
        Ok(text)
            if !path.to_string_lossy().contains("genesys")
                && !path.to_string_lossy().contains("avosairaanhoito") =>
        {
            text.strip_prefix('\u{feff}').unwrap_or(text).to_owned()
        }
        _ => encoding_rs::WINDOWS_1252.decode(&bytes).0.into_owned(),
    };
    assert!(text.ends_with("\r\n"), "{}", path.display());
    assert!(
        !text.replace("\r\n", "").contains('\n'),
        "bare LF in {}",
        path.display()
    );
    let delimiter = if text.starts_with("\"conversationId\"") || text.starts_with("session_id") {
        ','
    } else {
        ';'
    };
    let mut records = Vec::new();
    for line in text.split_terminator("\r\n") {
        let mut fields = Vec::new();
        let mut field = String::new();
        let mut quoted = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => quoted = !quoted,
                c if c == delimiter && !quoted => fields.push(std::mem::take(&mut field)),
                c => field.push(c),
            }
        }
        fields.push(field);
        records.push(fields);
    }
    let header = records.remove(0);
    for row in &records {
        assert_eq!(row.len(), header.len(), "{}: {row:?}", path.display());
    }
    (header, records)
}

fn files_of<'a>(generated: &'a Generated, source: &str) -> Vec<&'a GeneratedFile> {
    generated
        .files
        .iter()
        .filter(|f| f.source == source)
        .collect()
}

fn parse_fi_datetime(text: &str) -> Option<NaiveDateTime> {
    let fmt = if text.matches(':').count() == 2 {
        "%d.%m.%Y %H:%M:%S"
    } else {
        "%d.%m.%Y %H:%M"
    };
    NaiveDateTime::parse_from_str(text, fmt).ok()
}

#[test]
fn same_seed_same_bytes_and_subsets_match() {
    let cfg = small(ymd(2024, 10, 1), ymd(2024, 11, 30));
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let first = generate(a.path(), &cfg).unwrap();
    let second = generate(b.path(), &cfg).unwrap();
    let subset = generate_sources(c.path(), &cfg, &["ems_tasks", "callbacks_genesys"]).unwrap();
    assert_eq!(first.files.len(), second.files.len());
    for (x, y) in first.files.iter().zip(&second.files) {
        assert_eq!(
            std::fs::read(&x.path).unwrap(),
            std::fs::read(&y.path).unwrap(),
            "{}",
            x.path.display()
        );
    }
    assert_eq!(subset.files.len(), 4);
    for file in &subset.files {
        let relative = file.path.strip_prefix(c.path()).unwrap();
        assert_eq!(
            std::fs::read(&file.path).unwrap(),
            std::fs::read(a.path().join(relative)).unwrap()
        );
    }
    assert_eq!(subset.truth.ems, first.truth.ems);
    assert_eq!(
        subset.truth.contacts,
        first
            .truth
            .contacts
            .iter()
            .filter(|c| c.source == "callbacks_genesys")
            .cloned()
            .collect::<Vec<_>>()
    );

    let other_seed = SampleConfig { seed: 7, ..cfg };
    let d = tempfile::tempdir().unwrap();
    let other = generate_sources(d.path(), &other_seed, &["ems_tasks"]).unwrap();
    assert_ne!(
        std::fs::read(&other.files[0].path).unwrap(),
        std::fs::read(&subset.files[2].path).unwrap()
    );
}

#[test]
fn bad_row_rate_changes_only_broken_values() {
    let clean = SampleConfig {
        bad_row_rate: 0.0,
        ..small(ymd(2024, 3, 1), ymd(2024, 3, 31))
    };
    let dirty = SampleConfig {
        bad_row_rate: 0.05,
        ..clean.clone()
    };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let clean = generate_sources(a.path(), &clean, &["nps_roidu"]).unwrap();
    let dirty = generate_sources(b.path(), &dirty, &["nps_roidu"]).unwrap();
    assert!(clean.truth.feedback.iter().all(|f| f.valid));
    let stripped: Vec<_> = dirty
        .truth
        .feedback
        .iter()
        .map(|f| FeedbackTruth {
            valid: true,
            ..f.clone()
        })
        .collect();
    assert_eq!(stripped, clean.truth.feedback);
    assert!(dirty.truth.feedback.iter().any(|f| !f.valid));
}

#[test]
fn files_headers_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path(), &one_year_small()).unwrap();
    let expected: BTreeMap<&str, (&[&str], &str)> = BTreeMap::from([
        (
            "callbacks_ace",
            (callbacks::ACE_HEADER, "ace_contacts_2024-03.csv"),
        ),
        (
            "callbacks_genesys",
            (
                callbacks::GENESYS_HEADER,
                "genesys_conversations_2024-03.csv",
            ),
        ),
        (
            "chat_ninchat",
            (chat::NINCHAT_HEADER, "ninchat_sessions_2024-03.csv"),
        ),
        (
            "chat_digisote",
            (chat::DIGISOTE_HEADER, "digisote_chat_2024-03.csv"),
        ),
        (
            "nps_roidu",
            (feedback::HEADER, "roidu_responses_2024-03.csv"),
        ),
        (
            "sotkanet",
            (coverage::SOTKANET_CSV_HEADER, "sotkanet_127_171.csv"),
        ),
        (
            "care_register",
            (coverage::CARE_HEADER, "ymparivuorokautinen_2024-03.csv"),
        ),
        (
            "rescue_pronto",
            (rescue::HEADER, "pronto_tehtavat_2024-03.csv"),
        ),
        ("ems_tasks", (ems::HEADER, "ensihoito_2024-03.csv")),
        (
            "primary_care_visits",
            (visits::HEADER, "avosairaanhoito_2024-03.csv"),
        ),
    ]);
    // The OKR tracker starts in 2025 (see `okr_exports_have_the_interim_reports_counts`).
    for source in SOURCES.iter().filter(|s| !okr::SOURCES.contains(s)) {
        let (header, name) = expected[source];
        let files = files_of(&generated, source);
        let monthly = if *source == "sotkanet" { 1 } else { 12 };
        assert_eq!(
            files
                .iter()
                .filter(|f| f.path.extension().unwrap() == "csv")
                .count(),
            monthly,
            "{source}"
        );
        let path = dir.path().join(source).join(name);
        let (read_header, rows) = read_csv(&path);
        assert_eq!(
            read_header,
            header.iter().map(|h| h.to_string()).collect::<Vec<_>>(),
            "{source}"
        );
        let reported = files.iter().find(|f| f.path == path).unwrap().rows;
        assert_eq!(rows.len(), reported, "{source}");
        assert!(!rows.is_empty(), "{source}");
    }
    // The exact header lines, bytes and all.
    let ace = std::fs::read(dir.path().join("callbacks_ace/ace_contacts_2024-01.csv")).unwrap();
    assert!(ace.starts_with(b"\xEF\xBB\xBFYhteys-ID;Jono;Saapumisaika;Soittajan numero;Jonotusaika (s);Tulos;Takaisinsoitto pyydetty;Takaisinsoitto tavoitettu;Soittoyrityksi\xC3\xA4;Takaisinsoiton tila\r\n"));
    let visits = std::fs::read(
        dir.path()
            .join("primary_care_visits/avosairaanhoito_2024-01.csv"),
    )
    .unwrap();
    assert!(visits.starts_with(b"Kuukausi;Yksikk\xF6;Kanava;K\xE4yntej\xE4\r\n"));
    assert!(visits.contains(&0xE4), "ä as Windows-1252");
    assert!(std::str::from_utf8(&visits).is_err());
    let genesys = std::fs::read(
        dir.path()
            .join("callbacks_genesys/genesys_conversations_2024-01.csv"),
    )
    .unwrap();
    assert!(genesys.starts_with(b"\"conversationId\",\"queueName\",\"conversationStart\",\"ani\",\"waitMs\",\"disposition\",\"callbackRequested\",\"callbackRequestedAt\",\"callbackConnectedAt\",\"attempts\"\r\n"));
    assert!(!genesys.starts_with(b"\xEF\xBB\xBF"));
    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("sotkanet/sotkanet_127_171.json")).unwrap(),
    )
    .unwrap();
    let first = &json.as_array().unwrap()[0];
    assert_eq!(first["gender"], "total");
    assert!(first["absValue"].is_u64());
    let years: BTreeSet<_> = generated.truth.sotkanet.iter().map(|s| s.year).collect();
    assert_eq!(years, BTreeSet::from([2023, 2024]));
}

#[test]
fn every_unit_and_queue_present_at_small_scale() {
    let dir = tempfile::tempdir().unwrap();
    let t = generate(dir.path(), &one_year_small()).unwrap().truth;
    let queues: BTreeSet<_> = t.contacts.iter().map(|c| c.queue.as_str()).collect();
    assert_eq!(
        queues.len(),
        callbacks::ACE_QUEUES.len() + callbacks::GENESYS_QUEUES.len()
    );
    let chats: BTreeSet<_> = t.chats.iter().map(|c| c.queue.as_str()).collect();
    assert_eq!(
        chats.len(),
        chat::NINCHAT_QUEUES.len() + chat::DIGISOTE_QUEUES.len()
    );
    let units: BTreeSet<_> = t.feedback.iter().map(|f| f.unit_code.as_str()).collect();
    assert_eq!(units.len(), feedback::UNITS.len());
    let homes: BTreeSet<_> = t.care.iter().map(|c| c.unit.as_str()).collect();
    assert_eq!(homes.len(), coverage::CARE_UNITS.len());
    let classes: BTreeSet<_> = t.rescue.iter().map(|r| r.risk_class.as_str()).collect();
    assert_eq!(classes.len(), 4);
    let ids: BTreeSet<_> = t.contacts.iter().map(|c| c.contact_id.as_str()).collect();
    assert_eq!(ids.len(), t.contacts.len());
    assert_eq!(
        t.visits.len(),
        12 * visits::UNITS.len() * visits::CHANNELS.len()
    );
}

/// Counts the rows of `source` that a strict reader rejects.
fn rejected_rows(generated: &Generated, source: &str) -> usize {
    let mut rejected = 0;
    for file in files_of(generated, source) {
        if file.path.extension().unwrap() != "csv" {
            continue;
        }
        let (_, rows) = read_csv(&file.path);
        for row in rows {
            let bad = match source {
                "callbacks_ace" => parse_fi_datetime(&row[2]).is_none() || row[4].starts_with('-'),
                "callbacks_genesys" => !row[8].is_empty() && row[8] < row[7],
                "chat_ninchat" => {
                    !row[4].is_empty()
                        && row[4].parse::<f64>().unwrap() < row[3].parse::<f64>().unwrap()
                }
                "nps_roidu" => !matches!(row[5].parse::<u8>(), Ok(0..=10)),
                "care_register" => row[2].parse::<u32>().is_err(),
                "rescue_pronto" => {
                    !rescue::RISK_CLASSES.contains(&row[2].as_str())
                        || (!row[6].is_empty()
                            && parse_fi_datetime(&row[6]) < parse_fi_datetime(&row[5]))
                }
                "ems_tasks" => !matches!(row[1].as_str(), "A" | "B" | "C" | "D"),
                _ => false,
            };
            rejected += usize::from(bad);
        }
    }
    rejected
}

#[test]
fn planted_bad_rows_match_truth() {
    let cfg = SampleConfig {
        bad_row_rate: 0.02,
        ..one_year_small()
    };
    let dir = tempfile::tempdir().unwrap();
    let generated = generate(dir.path(), &cfg).unwrap();
    let t = &generated.truth;
    let invalid = |source: &str| -> usize {
        match source {
            "callbacks_ace" | "callbacks_genesys" => t
                .contacts
                .iter()
                .filter(|c| c.source == source && !c.valid)
                .count(),
            "chat_ninchat" | "chat_digisote" => t
                .chats
                .iter()
                .filter(|c| c.source == source && !c.valid)
                .count(),
            "nps_roidu" => t.feedback.iter().filter(|f| !f.valid).count(),
            "sotkanet" => t.sotkanet.iter().filter(|s| !s.valid).count(),
            "care_register" => t.care.iter().filter(|c| !c.valid).count(),
            "rescue_pronto" => t.rescue.iter().filter(|r| !r.valid).count(),
            "ems_tasks" => t.ems.iter().filter(|e| !e.valid).count(),
            _ => t.visits.iter().filter(|v| !v.valid).count(),
        }
    };
    for source in SOURCES.iter().filter(|s| !okr::SOURCES.contains(s)) {
        let planted = invalid(source);
        assert_eq!(rejected_rows(&generated, source), planted, "{source}");
        if !matches!(
            *source,
            "chat_digisote" | "sotkanet" | "primary_care_visits"
        ) {
            assert!(planted > 0, "{source}");
        }
    }
    // Row counts agree with the truth.
    let rows = |source: &str| {
        files_of(&generated, source)
            .iter()
            .map(|f| f.rows)
            .sum::<usize>()
    };
    assert_eq!(
        rows("callbacks_ace") + rows("callbacks_genesys"),
        t.contacts.len()
    );
    assert_eq!(rows("chat_ninchat") + rows("chat_digisote"), t.chats.len());
    assert_eq!(rows("rescue_pronto"), t.rescue.len());
    assert_eq!(rows("ems_tasks"), t.ems.len());
    assert_eq!(rows("care_register"), t.care.len());
    assert_eq!(rows("sotkanet"), 2 * t.sotkanet.len());
}

#[test]
fn local_times_in_files_match_truth_around_dst() {
    let cfg = small(ymd(2024, 10, 26), ymd(2024, 10, 28));
    let dir = tempfile::tempdir().unwrap();
    let generated = generate_sources(
        dir.path(),
        &cfg,
        &["rescue_pronto", "ems_tasks", "callbacks_ace"],
    )
    .unwrap();
    let t = &generated.truth;
    let repeated: Vec<_> = t
        .rescue
        .iter()
        .map(|r| r.alarm)
        .chain(t.ems.iter().map(|e| e.alarm))
        .filter(|a| helsinki(*a).date() == ymd(2024, 10, 27) && helsinki(*a).hour() == 3)
        .collect();
    assert!(repeated.len() >= 5, "{repeated:?}");
    assert!(
        repeated.iter().all(|a| a.hour() == 0),
        "the earlier instant (EEST) is used"
    );
    // Every alarm written in the file reads back to the truth instant under the
    // "earlier" policy.
    for file in files_of(&generated, "rescue_pronto") {
        let (_, rows) = read_csv(&file.path);
        let truth: BTreeMap<_, _> = t.rescue.iter().map(|r| (r.task_id.clone(), r)).collect();
        for row in rows {
            let r = truth[&row[0]];
            let local = parse_fi_datetime(&row[5]).unwrap();
            let instant =
                crate::calendar::local_instant(local.date(), local.num_seconds_from_midnight(), 0);
            assert_eq!(instant, r.alarm);
        }
    }
}

#[test]
fn no_events_in_the_spring_gap() {
    let cfg = small(ymd(2025, 3, 30), ymd(2025, 3, 30));
    let dir = tempfile::tempdir().unwrap();
    let cfg = SampleConfig { scale: 3.0, ..cfg };
    let t = generate_sources(
        dir.path(),
        &cfg,
        &["rescue_pronto", "ems_tasks", "callbacks_ace"],
    )
    .unwrap()
    .truth;
    let locals = t
        .rescue
        .iter()
        .map(|r| r.alarm)
        .chain(t.ems.iter().map(|e| e.alarm))
        .chain(t.contacts.iter().map(|c| c.received));
    for instant in locals {
        let local = helsinki(instant);
        assert!(
            !(local.date() == ymd(2025, 3, 30) && local.hour() == 3),
            "{local}"
        );
    }
}

#[test]
fn rejects_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        generate_sources(dir.path(), &SampleConfig::default(), &["nope"]),
        Err(SampleError::UnknownSource { .. })
    ));
    let backwards = SampleConfig {
        from: ymd(2025, 1, 1),
        to: ymd(2024, 1, 1),
        ..SampleConfig::default()
    };
    assert!(matches!(
        generate(dir.path(), &backwards),
        Err(SampleError::InvalidConfig { field: "to", .. })
    ));
    let rate = SampleConfig {
        bad_row_rate: 1.5,
        ..SampleConfig::default()
    };
    assert!(matches!(
        generate(dir.path(), &rate),
        Err(SampleError::InvalidConfig {
            field: "bad_row_rate",
            ..
        })
    ));
}

fn nps(scores: impl Iterator<Item = u8>) -> (f64, usize) {
    let (mut n, mut promoters, mut detractors) = (0usize, 0usize, 0usize);
    for s in scores {
        n += 1;
        promoters += usize::from(s >= 9);
        detractors += usize::from(s <= 6);
    }
    ((promoters as f64 - detractors as f64) / n as f64 * 100.0, n)
}

/// The KPIs computed from the truth at full scale land where the county reported them.
#[test]
fn plausible_at_full_scale() {
    let cfg = SampleConfig {
        to: ymd(2024, 12, 31),
        ..SampleConfig::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let t = generate(dir.path(), &cfg).unwrap().truth;
    let in_quarter = |d: NaiveDate, q: u32| crate::calendar::quarter(d) == q;

    // Callbacks: share of first-line contacts handled as a callback.
    let first_line: Vec<_> = t
        .contacts
        .iter()
        .filter(|c| c.valid && c.first_line)
        .collect();
    let callbacks: Vec<_> = first_line
        .iter()
        .filter(|c| c.outcome == Outcome::Callback)
        .collect();
    let share = callbacks.len() as f64 / first_line.len() as f64;
    assert!((0.5..=0.7).contains(&share), "callback share {share}");
    let per_working_day = t
        .contacts
        .iter()
        .filter(|c| c.source == "callbacks_ace")
        .count() as f64
        / 251.0;
    assert!(
        (850.0..1000.0).contains(&per_working_day),
        "{per_working_day}"
    );
    // Reached by the next working day.
    let within = |month: Option<u32>| {
        let chosen: Vec<_> = callbacks
            .iter()
            .filter(|c| month.is_none_or(|m| helsinki(c.received).month() == m))
            .collect();
        let ok = chosen
            .iter()
            .filter(|c| match c.callback_reached {
                Some(reached) => {
                    helsinki(reached).date()
                        <= crate::calendar::add_working_days(
                            helsinki(c.callback_requested.unwrap()).date(),
                            1,
                        )
                }
                None => false,
            })
            .count();
        ok as f64 / chosen.len() as f64
    };
    let all_but_december: Vec<f64> = (1..=11).map(|m| within(Some(m))).collect();
    assert!(
        all_but_december.iter().all(|s| (0.95..=0.99).contains(s)),
        "{all_but_december:?}"
    );
    assert!(within(Some(12)) < 0.9, "December 2024 is worse");

    // Chat: nurse-chat resolution and the response-delay trend.
    let nurse: Vec<_> = t
        .chats
        .iter()
        .filter(|c| c.queue_id.as_deref() == Some("q-nurse") && c.valid)
        .collect();
    let resolved = nurse.iter().filter(|c| c.resolved == Some(true)).count() as f64
        / nurse.iter().filter(|c| c.resolved.is_some()).count() as f64;
    assert!((0.8..=0.9).contains(&resolved), "resolution {resolved}");
    assert!((21_000..25_000).contains(&nurse.len()), "{}", nurse.len());
    let delay = |q: u32| {
        let accepted: Vec<f64> = t
            .chats
            .iter()
            .filter(|c| c.valid && in_quarter(helsinki(c.requested).date(), q))
            .filter_map(|c| {
                c.accepted
                    .map(|a| (a - c.requested).num_milliseconds() as f64 / 60_000.0)
            })
            .collect();
        accepted.iter().sum::<f64>() / accepted.len() as f64
    };
    let (q1, q4) = (delay(1), delay(4));
    assert!(
        (3.8..=4.6).contains(&q1) && (1.3..=1.8).contains(&q4),
        "{q1} {q4}"
    );

    // NPS by quarter.
    for (q, reported) in [(1, 72.1), (2, 74.9), (3, 85.9), (4, 86.1)] {
        let (value, n) = nps(t
            .feedback
            .iter()
            .filter(|f| f.valid && in_quarter(helsinki(f.answered).date(), q))
            .map(|f| f.score));
        assert!((2500..=3500).contains(&n), "Q{q}: {n} responses");
        assert!((value - reported).abs() <= 4.0, "Q{q}: {value}");
        if q == 1 {
            assert!((68.0..=76.0).contains(&value), "{value}");
        }
    }
    let small_unit = t.feedback.iter().filter(|f| f.unit_code == "TA07").count();
    assert!((6..=40).contains(&small_unit), "{small_unit}");

    // Coverage at the end of 2024.
    let kh = |indicator| {
        t.sotkanet
            .iter()
            .find(|s| {
                s.indicator == indicator && s.region == coverage::KANTA_HAME && s.year == 2024
            })
            .unwrap()
            .value
    };
    let population_75 = kh(coverage::POPULATION) * kh(coverage::SHARE_75) / 100.0;
    let clients_75 = t
        .care
        .iter()
        .filter(|c| c.month_end == ymd(2024, 12, 31) && c.age >= 75)
        .count() as f64;
    let coverage = clients_75 / population_75 * 100.0;
    assert!((7.05..=7.25).contains(&coverage), "coverage {coverage}");

    // Rescue compliance by quarter.
    for (q, reported) in [(1, 0.71), (2, 0.73), (3, 0.87), (4, 0.83)] {
        let urgent: Vec<_> = t
            .rescue
            .iter()
            .filter(|r| {
                r.valid
                    && matches!(r.urgency.as_str(), "A" | "B")
                    && in_quarter(helsinki(r.alarm).date(), q)
            })
            .filter_map(|r| {
                Some((
                    rescue::target_minutes(&r.risk_class)?,
                    (r.arrival? - r.alarm).num_seconds(),
                ))
            })
            .collect();
        let ok = urgent
            .iter()
            .filter(|(target, s)| *s <= i64::from(*target) * 60)
            .count() as f64
            / urgent.len() as f64;
        assert!((ok - reported).abs() < 0.05, "Q{q}: {ok}");
    }
    assert!((5_500..6_500).contains(&t.rescue.len()));

    // EMS non-conveyance of C+D by quarter.
    for (q, reported) in [(1, 0.46), (2, 0.47), (3, 0.54), (4, 0.41)] {
        let non_urgent: Vec<_> = t
            .ems
            .iter()
            .filter(|e| {
                e.valid
                    && matches!(e.urgency.as_str(), "C" | "D")
                    && in_quarter(helsinki(e.alarm).date(), q)
            })
            .collect();
        let share =
            non_urgent.iter().filter(|e| !e.conveyed).count() as f64 / non_urgent.len() as f64;
        assert!((share - reported).abs() < 0.02, "Q{q}: {share}");
    }
    assert!((33_000..37_000).contains(&t.ems.len()));

    // Digital share of primary-care contacts.
    for q in 1..=4 {
        let in_q: Vec<_> = t.visits.iter().filter(|v| in_quarter(v.month, q)).collect();
        let all: u64 = in_q.iter().map(|v| v.visits).sum();
        let digital: u64 = in_q
            .iter()
            .filter(|v| matches!(v.channel.as_str(), "Chat" | "Digitaalinen sote-keskus"))
            .map(|v| v.visits)
            .sum();
        let share = digital as f64 / all as f64 * 100.0;
        assert!((3.0..=3.5).contains(&share), "Q{q}: {share}");
    }
}

#[test]
fn okr_exports_have_the_interim_reports_counts() {
    let cfg = small(
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
        NaiveDate::from_ymd_opt(2026, 2, 28).unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let generated = generate_sources(dir.path(), &cfg, okr::SOURCES).unwrap();
    let t = &generated.truth;
    // Four quarters of 2025 (Q4 rated on 20.2.2026; 2026-Q1 on 20.5.2026, after the period).
    let names: Vec<String> = files_of(&generated, okr::KEY_RESULTS)
        .iter()
        .map(|f| f.path.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "okr_avaintulokset_2025-Q1.csv",
            "okr_avaintulokset_2025-Q2.csv",
            "okr_avaintulokset_2025-Q3.csv",
            "okr_avaintulokset_2025-Q4.csv"
        ]
    );
    for (q, counts) in okr::RATINGS.iter().enumerate() {
        let end = okr::quarter_end(2025, q as u32 + 1);
        let rows: Vec<_> = t
            .key_results
            .iter()
            .filter(|k| k.quarter_end == end)
            .collect();
        let counted: Vec<_> = rows.iter().filter(|k| k.counted).collect();
        assert_eq!(counted.len(), 210, "Q{}", q + 1);
        for (r, n) in counts.iter().enumerate() {
            assert_eq!(counted.iter().filter(|k| k.rating == r).count(), *n);
        }
        // Q2 also lists the four replaced key results with their June ratings.
        assert_eq!(rows.len(), if q == 1 { 214 } else { 210 }, "Q{}", q + 1);
        let replacements = counted.iter().filter(|k| k.replaces.is_some()).count();
        assert_eq!(replacements, if q == 0 { 0 } else { okr::CHANGED.len() });
    }
    // Q2: 85 % progressing, none not progressing, as the interim report says.
    assert_eq!(okr::RATINGS[1], [179, 31, 0]);
    assert!((179.0_f64 / 210.0 - 0.85).abs() < 0.005);
    // Tasks: 717 a quarter; 54 % in progress, 35 % done, 11 % not started at Q2; a task
    // never goes back.
    for (q, [done, in_progress]) in okr::TASK_STATES.iter().enumerate() {
        let end = okr::quarter_end(2025, q as u32 + 1);
        let states: Vec<usize> = t
            .tasks
            .iter()
            .filter(|k| k.quarter_end == end)
            .map(|k| k.state)
            .collect();
        assert_eq!(states.len(), okr::TASK_COUNT);
        assert_eq!(states.iter().filter(|s| **s == 0).count(), *done);
        assert_eq!(states.iter().filter(|s| **s == 1).count(), *in_progress);
    }
    let share = |n: usize| (100.0 * n as f64 / 717.0).round();
    assert_eq!((share(387), share(251), share(79)), (54.0, 35.0, 11.0));
    for task in t
        .tasks
        .iter()
        .filter(|k| k.quarter_end == okr::quarter_end(2025, 1))
    {
        let later: Vec<usize> = t
            .tasks
            .iter()
            .filter(|k| k.task_id == task.task_id)
            .map(|k| k.state)
            .collect();
        // 0 = done, 1 = in progress, 2 = not started: never up again.
        assert!(
            later.windows(2).all(|w| w[1] <= w[0]),
            "{}: {later:?}",
            task.task_id
        );
    }
    // The file as the tracker writes it: BOM, `;`, CRLF, the quarter as `Q2/2025`.
    let bytes = std::fs::read(
        dir.path()
            .join("okr_key_results/okr_avaintulokset_2025-Q2.csv"),
    )
    .unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBFKvartaali;Sitova tavoite ID;"));
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\r\nQ2/2025;"));
    assert!(text.contains("KUN-03-b") && text.contains(okr::DECISION));
}
