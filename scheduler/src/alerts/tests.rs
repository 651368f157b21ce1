//! The rules, de-duplication and config checks, without a network.

use chrono::TimeZone;

use std::collections::BTreeMap;

use super::*;
use crate::freshness::LateSource;
use crate::history::{RunOutcome, RunRecord, Trigger, WorkDone};

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
}

fn run(job: &str, h: u32, outcome: RunOutcome) -> RunRecord {
    RunRecord {
        job: job.into(),
        scheduled_for: at(h),
        trigger: Trigger::Schedule,
        started_at: Some(at(h)),
        finished_at: at(h),
        outcome,
        attempts: 4,
        work: WorkDone::default(),
        input_version: None,
        error: Some("loading source `nps_roidu`: connection refused".into()),
        note: None,
        holder: "test".into(),
    }
}

fn rule(when: Condition) -> AlertRule {
    AlertRule {
        name: "r".into(),
        when,
        jobs: Vec::new(),
        sources: Vec::new(),
        tiles: Vec::new(),
        above: None,
        statuses: super::config::default_statuses(),
        send_to: vec!["hook".into()],
    }
}

fn keys(f: &[Firing]) -> Vec<&str> {
    f.iter().map(|f| f.key.as_str()).collect()
}

#[test]
fn a_job_fails_while_its_latest_run_failed_skipped_runs_do_not_count() {
    let observed = Observations {
        runs: vec![
            run("load_feedback", 2, RunOutcome::Failed),
            run("load_feedback", 3, RunOutcome::Skipped),
            run("load_chat", 2, RunOutcome::Failed),
            run("load_chat", 3, RunOutcome::Succeeded),
            run("compute", 4, RunOutcome::TimedOut),
        ],
        ..Observations::default()
    };
    let all = firing(&[rule(Condition::JobFailed)], &observed);
    assert_eq!(
        keys(&all),
        ["job_failed/compute", "job_failed/load_feedback"]
    );
    assert!(
        all[1].summary.contains("failed after 4 attempt(s)"),
        "{all:?}"
    );
    assert!(all[1].details.contains("connection refused"));
    let only = AlertRule {
        jobs: vec!["load_chat".into(), "compute".into()],
        ..rule(Condition::JobFailed)
    };
    assert_eq!(keys(&firing(&[only], &observed)), ["job_failed/compute"]);
}

#[test]
fn late_sources_rejects_and_tiles_by_their_filters() {
    let observed = Observations {
        late: vec![LateSource {
            source: "nps_roidu".into(),
            last_loaded_at: Some(at(1)),
            expected_every_hours: 26.0,
            overdue_hours: Some(30.0),
        }],
        loads: vec![
            LoadSignal {
                source: "rescue_pronto".into(),
                file: "a.csv".into(),
                loaded_at: at(2),
                rows: 100,
                rejects: 6,
            },
            LoadSignal {
                source: "ems_tasks".into(),
                file: "b.csv".into(),
                loaded_at: at(2),
                rows: 100,
                rejects: 5,
            },
        ],
        tiles: vec![
            TileSignal {
                tile: "rescue_response".into(),
                title: "Pelastustoimen toimintavalmius".into(),
                period: "2026-Q1".into(),
                status: "grey".into(),
                reason: Some("rescue_pronto 2026-03 missing".into()),
            },
            TileSignal {
                tile: "nps".into(),
                title: "NPS".into(),
                period: "2026-Q1".into(),
                status: "yellow".into(),
                reason: None,
            },
        ],
        ..Observations::default()
    };
    let late = firing(&[rule(Condition::SourceLate)], &observed);
    assert_eq!(keys(&late), ["source_late/nps_roidu"]);
    assert!(
        late[0].details.contains("30 h later than every 26 h"),
        "{late:?}"
    );
    let rejects = AlertRule {
        above: Some(0.05),
        ..rule(Condition::RejectShare)
    };
    let r = firing(&[rejects], &observed);
    assert_eq!(
        keys(&r),
        ["reject_share/rescue_pronto"],
        "5 % is not above 5 %"
    );
    assert!(r[0].summary.starts_with("6.0 %"), "{r:?}");
    let tiles = firing(&[rule(Condition::TileStatus)], &observed);
    assert_eq!(keys(&tiles), ["tile_status/rescue_response"]);
    assert!(tiles[0].details.contains("2026-03 missing"));
    let yellow = AlertRule {
        statuses: vec!["yellow".into()],
        ..rule(Condition::TileStatus)
    };
    assert_eq!(keys(&firing(&[yellow], &observed)), ["tile_status/nps"]);
}

fn alert(key: &str) -> Firing {
    Firing {
        rule: "r".into(),
        condition: Condition::JobFailed,
        key: key.into(),
        summary: key.into(),
        details: String::new(),
    }
}

#[test]
fn an_alert_is_sent_once_until_it_clears_then_resolved_once() {
    let mut open = state::OpenAlerts::default();
    let first = open.update(vec![alert("a")], at(1));
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].status, AlertStatus::Firing);
    // Not delivered: tried again at the next check.
    let again = open.update(vec![alert("a")], at(2));
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].since, at(1), "it holds since the first check");
    open.delivered(&again[0]);
    assert!(open.update(vec![alert("a"), alert("b")], at(3)).len() == 1);
    let gone = open.update(vec![], at(4));
    let statuses: Vec<_> = gone
        .iter()
        .map(|n| (n.alert.key.as_str(), n.status))
        .collect();
    // `b` was never delivered: forgotten without a resolution.
    assert_eq!(statuses, [("a", AlertStatus::Resolved)]);
    assert_eq!(gone[0].since, at(1));
    assert_eq!(gone[0].at, at(4));
    // The resolution is retried until delivered, then nothing more.
    assert_eq!(open.update(vec![], at(5)).len(), 1);
    open.delivered(&gone[0]);
    assert!(open.update(vec![], at(6)).is_empty());
}

#[test]
fn config_problems_name_the_rule_and_key() {
    let config = AlertConfig {
        rules: vec![
            AlertRule {
                above: Some(1.5),
                ..rule(Condition::RejectShare)
            },
            AlertRule {
                name: "r".into(),
                send_to: vec!["nowhere".into()],
                ..rule(Condition::JobFailed)
            },
        ],
        channels: BTreeMap::from([(
            "hook".to_string(),
            ChannelConfig::Smtp {
                host: "smtp.example.fi".into(),
                port: None,
                security: SmtpSecurity::Starttls,
                ca_file: None,
                username_env: None,
                password_env: None,
                from: "not an address".into(),
                to: vec![],
            },
        )]),
        settings: AlertSettings::default(),
    };
    let p = config.problems().join("\n");
    for expected in [
        "`above` = 1.5 is not a share",
        "another rule has the same name",
        "no [alert_channels.nowhere]",
        "`to` names no recipient",
        "`not an address` is not an e-mail address",
    ] {
        assert!(p.contains(expected), "{expected}: {p}");
    }
}
