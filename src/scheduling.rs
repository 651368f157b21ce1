//! The scheduler commands: `serve`, `runs`, `run JOB`, `backfill JOB`.
//!
//! The scheduler itself is the `tilannekuva-scheduler` crate; this module gives it the
//! project's pipelines and tile engine to run ([`ProjectRunner`]) and wires `serve`: the
//! scheduler loop and the desktop web server in one process, stopped together by SIGTERM
//! or Ctrl-C.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result};
use async_trait::async_trait;
use chrono::Utc;
use tilannekuva_pipelines::{Outcome, Pipelines};
use tilannekuva_scheduler::alerts::{Alerter, LoadSignal, Observations, TileSignal};
use tilannekuva_scheduler::{
    DayRange, EngineStatus, PipelineStatus, RunRecord, RunResult, Runner, Scheduler, SystemClock,
    WorkDone,
};
use tilannekuva_tiles::{Engine, EngineSettings, QueryEngine};
use tokio_util::sync::CancellationToken;

use crate::project::Project;

/// Loads with the project's pipelines and computes with its tile engine.
#[derive(Debug, Clone)]
pub struct ProjectRunner {
    pipelines: Pipelines,
    engine: Engine,
}

impl ProjectRunner {
    /// The runner of a project.
    pub fn new(project: &Project) -> Result<Self> {
        Ok(Self {
            pipelines: project.pipelines(None)?,
            engine: project.engine()?,
        })
    }
}

#[async_trait]
impl Runner for ProjectRunner {
    async fn load(&self, source: &str) -> anyhow::Result<WorkDone> {
        Ok(work_of(self.pipelines.load_source(source).await?))
    }

    async fn compute(&self) -> anyhow::Result<WorkDone> {
        let doc = self.engine.publish().await?;
        Ok(WorkDone {
            snapshot_id: Some(doc.snapshot_id),
            ..WorkDone::default()
        })
    }

    async fn backfill_load(&self, source: &str, range: DayRange) -> anyhow::Result<WorkDone> {
        Ok(work_of(
            self.pipelines
                .backfill_source(source, range.from, range.to)
                .await?,
        ))
    }

    async fn backfill_compute(&self, range: DayRange) -> anyhow::Result<WorkDone> {
        let (doc, recomputed) = self.engine.publish_forcing(&months_of(range)).await?;
        tracing::info!("backfill {} .. {}: {recomputed}", range.from, range.to);
        Ok(WorkDone {
            snapshot_id: Some(doc.snapshot_id),
            ..WorkDone::default()
        })
    }
}

/// What a source's loads did, as a run counts it.
fn work_of(
    results: Vec<tilannekuva_pipelines::Result<tilannekuva_pipelines::LoadReport>>,
) -> WorkDone {
    let mut work = WorkDone::default();
    for result in results {
        match result {
            Ok(report) => match report.outcome {
                Outcome::Loaded { rows, rejects, .. } => {
                    work.exports_loaded += 1;
                    work.rows_loaded += rows;
                    work.rows_rejected += rejects;
                }
                Outcome::AlreadyLoaded { .. } => work.exports_already_loaded += 1,
            },
            Err(e) => {
                if matches!(e, tilannekuva_pipelines::Error::PersonalData { .. }) {
                    work.personal_data.push(e.to_string());
                }
                work.failures.push(e.to_string());
            }
        }
    }
    work
}

/// The months (`YYYY-MM`) a range of days touches.
fn months_of(range: DayRange) -> BTreeSet<String> {
    tilannekuva_pipelines::backfill::whole_months(range.from, range.to)
        .2
        .into_iter()
        .collect()
}

/// A scheduler over the project with the system clock; `holder` names this process.
pub fn scheduler(project: &Project, jobs: Option<&Path>) -> Result<Scheduler> {
    let holder = format!(
        "pid{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    Ok(Scheduler::new(
        project.jobs(jobs)?,
        Arc::new(ProjectRunner::new(project)?),
        project.warehouse()?,
        Arc::new(SystemClock),
        holder,
    ))
}

/// `tilannekuva run JOB`.
pub async fn run_job(project: &Project, jobs: Option<&Path>, job: &str) -> Result<ExitCode> {
    let s = scheduler(project, jobs)?;
    report(s.run_now(job).await?, job)
}

/// `tilannekuva backfill JOB --from --to [--dry-run]`.
pub async fn backfill(
    project: &Project,
    jobs: Option<&Path>,
    job: &str,
    range: DayRange,
    dry_run: bool,
) -> Result<ExitCode> {
    anyhow::ensure!(
        range.from <= range.to,
        "--from {} is after --to {}",
        range.from,
        range.to
    );
    let s = scheduler(project, jobs)?;
    if dry_run {
        for line in plan_backfill(project, &s, job, range).await? {
            println!("{line}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    report(s.backfill(job, range.from, range.to).await?, job)
}

/// What a backfill of `job` would fetch, replace, load and recompute, one line each.
async fn plan_backfill(
    project: &Project,
    s: &Scheduler,
    job: &str,
    range: DayRange,
) -> Result<Vec<String>> {
    let job = s.jobs().get(job)?;
    let mut out = vec![format!(
        "dry run: backfill of `{}` over {} .. {}; nothing is fetched or changed",
        job.name(),
        range.from,
        range.to
    )];
    if job.is_compute() {
        let plan = project.engine()?.plan_forcing(&months_of(range)).await?;
        for (tile, months) in &plan.partial {
            out.push(format!(
                "recompute {tile}: the periods of {}",
                months.join(", ")
            ));
        }
        for (tile, why) in &plan.full {
            out.push(format!("recompute {tile} in full ({why})"));
        }
        for tile in &plan.reused {
            out.push(format!("reuse {tile}"));
        }
        out.push("publish a new snapshot".into());
    } else {
        let pipelines = project.pipelines(None)?;
        for source in &job.config.run.load {
            out.extend(
                pipelines
                    .plan_backfill(source, range.from, range.to)
                    .await?,
            );
        }
    }
    Ok(out)
}

fn report(result: RunResult, job: &str) -> Result<ExitCode> {
    match result {
        RunResult::Recorded(r) => {
            print_runs(std::slice::from_ref(&r), crate::output::Format::Table)?;
            Ok(
                if r.outcome == tilannekuva_scheduler::RunOutcome::Succeeded {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                },
            )
        }
        RunResult::Busy => {
            eprintln!("job `{job}` is running in another process (its lease is held); not started");
            Ok(ExitCode::FAILURE)
        }
        RunResult::AlreadyRecorded | RunResult::Stopped => {
            eprintln!("job `{job}` was not run");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `tilannekuva runs`: the history, newest first, and the late sources.
pub async fn runs(
    project: &Project,
    job: Option<&str>,
    limit: usize,
    format: crate::output::Format,
) -> Result<ExitCode> {
    let wh = project.warehouse()?;
    let status = PipelineStatus::read(&wh, job, limit, &project.expected_every_hours(), Utc::now())
        .await?
        .with_broken(project.broken_source_status())
        .with_engine(engine_status(project.query_engine()?.as_ref()).await);
    match format {
        crate::output::Format::Json => {
            println!("{}", serde_json::to_string_pretty(&status)?);
        }
        f => {
            print_runs(&status.runs, f)?;
            if let Some(e) = status
                .engine
                .as_ref()
                .filter(|_| project.engine != EngineSettings::Local)
            {
                match &e.problem {
                    None => eprintln!("engine: {}: reachable", e.engine),
                    Some(p) => eprintln!("engine: {}: not reachable: {p}", e.engine),
                }
            }
            for b in &status.broken_sources {
                eprintln!(
                    "not loaded: {} until its config {} is fixed",
                    b.source, b.file
                );
            }
            for l in &status.late_sources {
                match l.last_loaded_at {
                    Some(t) => eprintln!(
                        "late: {} last loaded {} (expected every {} h)",
                        l.source,
                        t.format("%Y-%m-%d %H:%M UTC"),
                        l.expected_every_hours
                    ),
                    None => eprintln!(
                        "late: {} never loaded (expected every {} h)",
                        l.source, l.expected_every_hours
                    ),
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Asks `engine` whether it can take queries now.
pub async fn engine_status(engine: &dyn QueryEngine) -> EngineStatus {
    let checked = engine.check().await;
    EngineStatus {
        engine: engine.describe(),
        reachable: checked.is_ok(),
        problem: checked.err(),
        checked_at: Utc::now(),
    }
}

/// `tilannekuva alerts`: the alerts sent, newest first, with every attempt.
pub async fn alerts(
    project: &Project,
    limit: usize,
    format: crate::output::Format,
) -> Result<ExitCode> {
    let wh = project.warehouse()?;
    let mut sent = tilannekuva_scheduler::alerts::sent_alerts(&wh).await?;
    sent.reverse();
    sent.truncate(limit);
    let out = std::io::stdout();
    let mut out = out.lock();
    if format == crate::output::Format::Json {
        serde_json::to_writer_pretty(&mut out, &sent)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let sep = if format == crate::output::Format::Csv {
        ","
    } else {
        "  "
    };
    writeln!(
        out,
        "{}",
        ["at", "status", "rule", "alert", "delivered", "attempts"].join(sep)
    )?;
    for s in &sent {
        let attempts: Vec<String> = s
            .attempts
            .iter()
            .map(|a| match &a.error {
                None => format!("{} ok", a.channel),
                Some(e) => format!("{} failed: {e}", a.channel),
            })
            .collect();
        writeln!(
            out,
            "{}",
            [
                s.notice.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                s.notice.status.as_str().to_string(),
                s.notice.alert.rule.clone(),
                s.notice.alert.key.clone(),
                if s.delivered { "yes" } else { "no" }.to_string(),
                attempts.join("; "),
            ]
            .join(sep)
        )?;
    }
    if sent.is_empty() && project.alerts.rules.is_empty() {
        eprintln!(
            "no alert rules are configured ([[alerts]] in {})",
            project.config_path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn print_runs(runs: &[RunRecord], format: crate::output::Format) -> Result<()> {
    let out = std::io::stdout();
    let mut out = out.lock();
    if format == crate::output::Format::Json {
        serde_json::to_writer_pretty(&mut out, runs)?;
        writeln!(out)?;
        return Ok(());
    }
    let sep = if format == crate::output::Format::Csv {
        ","
    } else {
        "  "
    };
    let header = [
        "job",
        "scheduled_for",
        "trigger",
        "outcome",
        "tries",
        "started",
        "took_s",
        "rows",
        "rejected",
        "error/note",
    ];
    writeln!(out, "{}", header.join(sep))?;
    for r in runs {
        let took = r
            .started_at
            .map(|s| {
                format!(
                    "{:.1}",
                    (r.finished_at - s).num_milliseconds() as f64 / 1000.0
                )
            })
            .unwrap_or_default();
        let text = r.error.clone().or(r.note.clone()).unwrap_or_default();
        writeln!(
            out,
            "{}",
            [
                r.job.clone(),
                r.scheduled_for.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                format!("{:?}", r.trigger).to_lowercase(),
                r.outcome.as_str().to_string(),
                r.attempts.to_string(),
                r.started_at
                    .map(|s| s.format("%H:%M:%S").to_string())
                    .unwrap_or_default(),
                took,
                r.work.rows_loaded.to_string(),
                r.work.rows_rejected.to_string(),
                text.replace('\n', " "),
            ]
            .join(sep)
        )?;
    }
    Ok(())
}

/// Resolves when SIGTERM or Ctrl-C arrives.
async fn termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// `tilannekuva serve`: the scheduler loop and the desktop in one process.
///
/// SIGTERM or Ctrl-C stops both: the desktop finishes open requests, the scheduler starts
/// nothing new and gives running jobs `shutdown_grace_seconds` to finish (a load abandoned
/// after that commits nothing); then the process exits 0.
///
/// Who may sign in comes from `[desktop]` in the config (token hashes) and the token in
/// its `token_env` (default `TILANNEKUVA_DESKTOP_TOKEN`). With `demo`, when neither gives a
/// token, a one-off token is made and printed, and a taken port falls back to a free one.
///
/// SIGHUP reloads the config files: a new config that loads and checks replaces the running
/// one (the scheduler finishes its running jobs and starts again with the new jobs and
/// sources; the desktop takes the new tokens for the requests that start from then on,
/// without closing a connection). A config that does not load is refused, saying why, and
/// the running one stays.
///
/// With `sql_bind` (or `[sql_wire] bind`) it also serves the warehouse to PostgreSQL
/// clients, read-only, signing in with the desktop's tokens (reloaded on SIGHUP too).
pub async fn serve(
    project: &Project,
    jobs: Option<&Path>,
    bind: Option<SocketAddr>,
    sql_bind: Option<SocketAddr>,
    demo: bool,
) -> Result<ExitCode> {
    let bind = project.desktop.address(bind);
    let demo_token = demo.then(|| uuid::Uuid::new_v4().simple().to_string());
    let desktop_config = desktop_config(project, bind, demo_token.as_deref())?;
    let demo_token = demo_token.filter(|t| {
        desktop_config
            .tokens
            .iter()
            .any(|c| c.sha256 == tilannekuva_desktop::TokenConfig::hash(t))
    });
    let wh = project.warehouse()?;
    let shutdown = CancellationToken::new();
    {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            termination().await;
            tracing::info!("stop requested");
            eprintln!("stopping: no new runs; waiting for running jobs");
            shutdown.cancel();
        });
    }

    // The desktop's pipeline status: refreshed after each scheduler wake-up, read by the
    // desktop's synchronous hook.
    let status = Arc::new(Mutex::new(Arc::new(PipelineStatus::default())));
    let listener = match tokio::net::TcpListener::bind(bind).await {
        Ok(l) => l,
        Err(e) if demo && e.kind() == std::io::ErrorKind::AddrInUse => {
            eprintln!("{bind} is in use; serving the desktop on a free port instead");
            tokio::net::TcpListener::bind(SocketAddr::new(bind.ip(), 0))
                .await
                .with_context(|| format!("binding the desktop to {}", bind.ip()))?
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("binding the desktop to {bind} (choose another address with --bind)")
            });
        }
    };
    let hook_status = status.clone();
    let state = tilannekuva_desktop::AppState::new(wh.clone(), desktop_config)
        .with_pipeline_status(Arc::new(move || {
            hook_status.lock().map(|s| s.clone()).unwrap_or_default()
        }));
    let address = listener.local_addr().unwrap_or(bind);
    let mut scheduler = Arc::new(scheduler(project, jobs)?);
    eprintln!(
        "serving: desktop on http://{address}/, {} scheduled jobs; Ctrl-C stops, SIGHUP reloads the config",
        scheduler.jobs().jobs.len()
    );
    if let Some(token) = &demo_token {
        // Written, not printed: a reader that went away must not stop the server.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(
            out,
            "\nThe desktop is open at http://{address}/\nSign in with the token {token}\n\
             (a one-off demo token; configure real ones under [desktop] in the config)"
        );
        let _ = out.flush();
    }
    let desktop = tokio::spawn(tilannekuva_desktop::serve(
        listener,
        state.clone(),
        shutdown.clone().cancelled_owned(),
    ));
    let sql_wire = match sql_bind.or(project.sql_wire.bind) {
        None => None,
        Some(addr) => {
            let tls = project
                .sql_wire
                .tls()
                .map_err(|e| anyhow::anyhow!("{}: {e}", project.config_path.display()))?;
            let listener = tokio::net::TcpListener::bind(addr).await.with_context(|| {
                format!(
                    "binding the PostgreSQL protocol to {addr} (choose another address with --sql-bind)"
                )
            })?;
            eprintln!(
                "serving: PostgreSQL protocol on {} ({}read-only; the password is an access token)",
                listener.local_addr().unwrap_or(addr),
                if tls.is_some() { "TLS, " } else { "" }
            );
            let signed_in = state.clone();
            let tokens: tilannekuva_sqlwire::TokenLookup = Arc::new(move |presented| {
                tilannekuva_desktop::TokenConfig::find(&signed_in.config().tokens, presented)
                    .cloned()
            });
            Some(tokio::spawn(tilannekuva_sqlwire::serve(
                listener,
                Arc::new(project.engine()?),
                tokens,
                project.sql_wire.clone(),
                tls,
                shutdown.clone().cancelled_owned(),
            )))
        }
    };
    let mut hangups = Hangups::new();
    let mut current = project.clone();
    loop {
        // One generation of the scheduler and the status refresh, under one config.
        let generation = shutdown.child_token();
        let next = {
            let run = async {
                let (ran, (), ()) = tokio::join!(
                    scheduler.serve(generation.clone()),
                    refresh_status(&current, &scheduler, &wh, &status, generation.clone()),
                    check_alerts(&current, &wh, generation.clone()),
                );
                ran
            };
            tokio::pin!(run);
            let next = loop {
                tokio::select! {
                    ran = &mut run => {
                        ran?;
                        break None;
                    }
                    () = hangups.next() => match reloaded(&current, jobs, bind, demo_token.as_deref()) {
                        Ok(next) => break Some(next),
                        Err(e) => {
                            tracing::error!(error = %format!("{e:#}"), "config reload refused");
                            eprintln!("config reload refused; the running config stays: {e:#}");
                        }
                    },
                }
            };
            if next.is_some() {
                // Running jobs finish under the old config; no new run starts meanwhile.
                generation.cancel();
                (&mut run).await?;
            }
            next
        };
        let Some((project, next_scheduler, config)) = next else {
            break;
        };
        for key in state.reload_config(config) {
            eprintln!("config reloaded, but [desktop] {key} changes only on a restart");
        }
        scheduler = Arc::new(next_scheduler);
        current = project;
        tracing::info!(config = %current.config_path.display(), "config reloaded");
        eprintln!(
            "config reloaded: {} scheduled jobs, {} sources",
            scheduler.jobs().jobs.len(),
            current.compiled.len()
        );
    }
    desktop
        .await
        .context("desktop server")?
        .context("desktop server")?;
    if let Some(sql_wire) = sql_wire {
        sql_wire.await.context("PostgreSQL protocol server")?;
    }
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// The desktop's settings of `project` for `bind`, with the demo's one-off token when there
/// is no other; warns when nobody can sign in.
fn desktop_config(
    project: &Project,
    bind: SocketAddr,
    demo_token: Option<&str>,
) -> Result<tilannekuva_desktop::DesktopConfig> {
    let mut config = project
        .desktop
        .resolve(bind)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("[desktop] in {}", project.config_path.display()))?;
    if let Some(token) = demo_token
        && config.tokens.is_empty()
    {
        config
            .tokens
            .push(tilannekuva_desktop::TokenConfig::from_secret(
                "demo",
                token,
                Vec::new(),
            ));
    }
    if config.tokens.is_empty() {
        eprintln!(
            "warning: no desktop tokens configured: nobody can sign in. Set {} or add \
             [[desktop.tokens]] to {}",
            project.desktop.token_env,
            project.config_path.display()
        );
    }
    Ok(config)
}

/// The project, scheduler and desktop settings as the config files say now; an error when
/// they do not load or check.
fn reloaded(
    current: &Project,
    jobs: Option<&Path>,
    bind: SocketAddr,
    demo_token: Option<&str>,
) -> Result<(Project, Scheduler, tilannekuva_desktop::DesktopConfig)> {
    let project = current.reload()?;
    let scheduler = scheduler(&project, jobs)?;
    let config = desktop_config(&project, bind, demo_token)?;
    Ok((project, scheduler, config))
}

/// Keeps the desktop's view of the pipeline (runs, late and broken sources) fresh until
/// `stop`.
async fn refresh_status(
    project: &Project,
    scheduler: &Scheduler,
    wh: &tilannekuva_warehouse::Warehouse,
    status: &Mutex<Arc<PipelineStatus>>,
    stop: CancellationToken,
) {
    let expected = project.expected_every_hours();
    let broken = project.broken_source_status();
    let jobs = scheduler.jobs().clone();
    let engine = project.query_engine();
    loop {
        match PipelineStatus::read(wh, None, 50, &expected, Utc::now()).await {
            Ok(now) => {
                let mut now = now.with_jobs(&jobs).with_broken(broken.clone());
                if let Ok(engine) = &engine {
                    now = now.with_engine(engine_status(engine.as_ref()).await);
                }
                if let Ok(mut s) = status.lock() {
                    *s = Arc::new(now);
                }
            }
            Err(e) => tracing::warn!(error = %e, "pipeline status not refreshed"),
        }
        tokio::select! {
            () = tokio::time::sleep(std::time::Duration::from_secs(15)) => {}
            () = stop.cancelled() => break,
        }
    }
}

/// Checks the alert rules of `project` against the pipeline status every
/// `[alerting] check_every_seconds` until `stop`, sending what started or stopped holding.
async fn check_alerts(
    project: &Project,
    wh: &tilannekuva_warehouse::Warehouse,
    stop: CancellationToken,
) {
    if project.alerts.rules.is_empty() {
        return;
    }
    let alerter = Alerter::new(project.alerts.clone(), wh.clone());
    loop {
        tokio::select! {
            () = tokio::time::sleep(project.alerts.settings.check_every()) => {}
            () = stop.cancelled() => break,
        }
        let checked = async {
            let expected = project.expected_every_hours();
            let status = PipelineStatus::read(wh, None, 0, &expected, Utc::now()).await?;
            let observed = observations(wh, &status).await?;
            anyhow::Ok(alerter.check(&observed, Utc::now()).await?)
        };
        let sent = tokio::select! {
            sent = checked => sent,
            () = stop.cancelled() => break,
        };
        match sent {
            Ok(sent) => {
                for s in sent {
                    tracing::info!(
                        rule = s.notice.alert.rule,
                        alert = s.notice.alert.key,
                        status = s.notice.status.as_str(),
                        delivered = s.delivered,
                        attempts = s.attempts.len(),
                        "alert sent"
                    );
                }
            }
            Err(e) => tracing::warn!(error = %format!("{e:#}"), "alerts not checked"),
        }
    }
}

/// What the alert rules are judged on: the status just read, each source's latest load and
/// each published tile's latest figure.
async fn observations(
    wh: &tilannekuva_warehouse::Warehouse,
    status: &PipelineStatus,
) -> Result<Observations> {
    let manifest = wh.manifest().await?;
    let mut latest = BTreeMap::new();
    for load in &manifest.loads {
        latest.insert(load.source.as_str(), load);
    }
    let loads = latest
        .into_values()
        .map(|l| LoadSignal {
            source: l.source.clone(),
            file: l.original_name.clone(),
            loaded_at: l.loaded_at,
            rows: l.rows,
            rejects: l.rejects,
        })
        .collect();
    let tiles = match manifest.latest_snapshot() {
        None => Vec::new(),
        Some(record) => tilannekuva_tiles::snapshot::read(wh, record)
            .await?
            .tiles
            .iter()
            .filter_map(|t| {
                let figure = t.latest(*t.meta.grains.first()?)?;
                Some(TileSignal {
                    tile: t.meta.id.clone(),
                    title: t.meta.title.fi.clone(),
                    period: figure.period.clone(),
                    status: figure.status.as_str().to_string(),
                    reason: figure.status_reason.clone(),
                })
            })
            .collect(),
    };
    Ok(Observations {
        runs: status.latest_runs.clone(),
        late: status.late_sources.clone(),
        loads,
        tiles,
    })
}

/// SIGHUPs, one at a time; never, where the platform has none.
struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    fn new() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .inspect_err(|e| tracing::warn!(error = %e, "cannot listen for SIGHUP"))
                .ok();
            Self { signal }
        }
        #[cfg(not(unix))]
        Self {}
    }

    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some(s) = &mut self.signal
            && s.recv().await.is_some()
        {
            return;
        }
        std::future::pending::<()>().await;
    }
}
