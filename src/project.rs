//! The main config file and everything it points to, loaded and checked in one place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use tilannekuva_desktop::DesktopSettings;
use tilannekuva_pipelines::config::{self, Lookup, SourceConfig};
use tilannekuva_pipelines::fetch::FetchContext;
use tilannekuva_pipelines::{BrokenSource, CompiledSource, Pipelines, compile_each};
use tilannekuva_scheduler::alerts::{AlertConfig, AlertRule, AlertSettings, ChannelConfig};
use tilannekuva_sqlwire::SqlWireSettings;
use tilannekuva_tiles::{
    Engine, EngineSettings, ExpectedSource, LocalEngine, QueryEngine, ReferenceTable, Strategy,
    TileDef,
};
use tilannekuva_warehouse::catalog::{TableDef, load_tables};
use tilannekuva_warehouse::{Location, StoreSettings, Warehouse};

/// The default main config file.
pub const DEFAULT_CONFIG: &str = "config/tilannekuva.toml";

/// The pseudonymisation key of `tilannekuva demo`'s sample data only: public, so never a
/// fallback for real loads (see [`Project::use_demo_key`]).
const DEMO_KEY: &[u8] = b"tilannekuva-demo-key-not-secret";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct MainConfig {
    warehouse: WarehouseSection,
    inputs: PathSection,
    definitions: Definitions,
    pseudonymisation: Pseudonymisation,
    #[serde(default)]
    demo: Option<DemoSection>,
    #[serde(default)]
    desktop: Option<DesktopSettings>,
    #[serde(default)]
    sql_wire: Option<SqlWireSettings>,
    #[serde(default)]
    engine: EngineSettings,
    #[serde(default)]
    alerts: Vec<AlertRule>,
    #[serde(default)]
    alert_channels: BTreeMap<String, ChannelConfig>,
    #[serde(default)]
    alerting: Option<AlertSettings>,
}

/// `[warehouse]`: where it is, how to reach its store, and how long landed exports are kept.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct WarehouseSection {
    /// A local folder, relative to the config file.
    #[serde(default)]
    path: Option<PathBuf>,
    /// An object store instead: `s3://bucket/prefix` or `az://container/prefix`.
    #[serde(default)]
    url: Option<String>,
    /// Days a landed export (which may hold personal data) is kept under `raw/`; `gc`
    /// removes older copies. Unset: kept for ever.
    #[serde(default)]
    raw_retention_days: Option<u32>,
    /// Days `gc` keeps the commit log's history before the newest checkpoint (the state
    /// itself never needs it: only reads of old versions do).
    #[serde(default = "default_log_retention_days")]
    log_retention_days: u32,
    /// Days `gc` keeps published snapshots; older ones are removed except the pinned ones,
    /// the latest and the one in force at the cutoff. Unset: kept for ever.
    #[serde(default)]
    snapshot_retention_days: Option<u32>,
    /// Endpoint of an S3-compatible store, or of an Azure account elsewhere than Azure's
    /// public cloud.
    #[serde(default)]
    endpoint: Option<String>,
    /// Allow a plain `http://` endpoint.
    #[serde(default)]
    allow_http: bool,
    /// The S3 region.
    #[serde(default)]
    region: Option<String>,
}

fn default_log_retention_days() -> u32 {
    30
}

impl WarehouseSection {
    fn store_settings(&self) -> StoreSettings {
        StoreSettings {
            endpoint: self.endpoint.clone(),
            allow_http: self.allow_http,
            region: self.region.clone(),
        }
    }

    /// The configured location; a folder as written (relative to the config file).
    fn location(&self, config_path: &Path) -> Result<Location> {
        let at = |key: &str| format!("{} [warehouse] {key}", config_path.display());
        match (&self.path, &self.url) {
            (Some(_), Some(_)) => bail!("{}: set either path or url, not both", at("url")),
            (None, None) => bail!(
                "{}: the warehouse needs a path (a local folder) or a url (s3://, az://)",
                at("path")
            ),
            (Some(path), None) if self.store_settings() == StoreSettings::default() => {
                Ok(Location::Folder(path.clone()))
            }
            (Some(_), None) => bail!(
                "{}: endpoint, allow_http and region are for a warehouse at a url",
                at("endpoint")
            ),
            (None, Some(url)) => {
                if self.store_settings() != StoreSettings::default()
                    && Location::parse(url)?.is_local()
                {
                    bail!(
                        "{}: endpoint, allow_http and region are for object stores",
                        at("url")
                    );
                }
                Location::parse(url).with_context(|| at("url"))
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathSection {
    path: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Definitions {
    tables: PathBuf,
    sources: PathBuf,
    lookups: PathBuf,
    tiles: PathBuf,
    strategy: PathBuf,
    /// The scheduler's jobs file; optional so that configs without a scheduler still load.
    #[serde(default)]
    jobs: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Pseudonymisation {
    key_env: String,
    /// No longer honoured: a public key must never stand in for a missing one. Kept only to
    /// say so clearly.
    #[serde(default)]
    allow_demo_key: Option<bool>,
}

/// Settings of the demo's sample exports.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DemoSection {
    /// Random seed.
    pub seed: u64,
    /// First day.
    pub from: chrono::NaiveDate,
    /// Last day; when not given, the last day of the previous month in Helsinki, so that
    /// the demo's data is as fresh as a real monthly export would be.
    #[serde(default)]
    pub to: Option<chrono::NaiveDate>,
    /// Volume (1.0 = one county).
    pub scale: f64,
}

/// Paths that a command line may override.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// Warehouse (a folder or a store URL) instead of the config's.
    pub warehouse: Option<Location>,
    /// Inputs folder instead of the config's.
    pub inputs: Option<PathBuf>,
    /// A Ballista scheduler to run tile SQL on instead of the config's `[engine]`.
    pub ballista: Option<String>,
}

/// A loaded project: config, definitions and the warehouse.
#[derive(Debug, Clone)]
pub struct Project {
    /// The command line's overrides of config paths, kept for [`Project::reload`].
    pub overrides: Overrides,
    /// The main config file.
    pub config_path: PathBuf,
    /// Where the warehouse is.
    pub warehouse_location: Location,
    /// How to reach the warehouse's object store.
    pub store_settings: StoreSettings,
    /// The warehouse once opened: one handle per project, so every part of a process
    /// (the scheduler's loads, the desktop) shares what it knows of the committed state.
    opened: std::sync::Arc<std::sync::OnceLock<Warehouse>>,
    /// Days landed exports are kept (`[warehouse] raw_retention_days`); `None`: for ever.
    pub raw_retention_days: Option<u32>,
    /// Days `gc` keeps commit log entries older than the newest checkpoint
    /// (`[warehouse] log_retention_days`).
    pub log_retention_days: u32,
    /// Days published snapshots are kept (`[warehouse] snapshot_retention_days`); `None`:
    /// for ever. Pinned snapshots are always kept.
    pub snapshot_retention_days: Option<u32>,
    /// Inputs folder.
    pub inputs_path: PathBuf,
    /// Canonical tables.
    pub tables: BTreeMap<String, TableDef>,
    /// Sources.
    pub sources: Vec<SourceConfig>,
    /// The sources, validated and compiled once.
    pub compiled: Vec<CompiledSource>,
    /// What validating the sources only warned about, each naming the file and key.
    pub warnings: Vec<String>,
    /// Sources whose config files have problems: every command but `check` goes on
    /// without them, and loading one fails with its problems.
    pub broken_sources: Vec<BrokenSource>,
    /// Lookups.
    pub lookups: BTreeMap<String, Lookup>,
    /// Tile definitions.
    pub tiles: Vec<TileDef>,
    /// Strategy structure.
    pub strategy: Strategy,
    /// Demo settings.
    pub demo: Option<DemoSection>,
    /// The scheduler's jobs file (`[definitions] jobs`), when configured.
    pub jobs_path: Option<PathBuf>,
    /// The desktop's settings.
    pub desktop: DesktopSettings,
    /// The PostgreSQL protocol's settings (`[sql_wire]`).
    pub sql_wire: SqlWireSettings,
    /// Where tile SQL runs (`[engine]`, or the command line's `--ballista`).
    pub engine: EngineSettings,
    /// The alert rules and channels (`[[alerts]]`, `[alert_channels.*]`, `[alerting]`).
    pub alerts: AlertConfig,
    key: Option<Vec<u8>>,
    /// The environment variable the pseudonymisation key is read from.
    key_env: String,
}

fn problems(list: Vec<String>) -> anyhow::Error {
    anyhow::anyhow!("configuration problems:\n  - {}", list.join("\n  - "))
}

impl Project {
    /// Loads the main config and every definition it points to; reports every problem.
    pub fn load(config_path: &Path, overrides: &Overrides) -> Result<Self> {
        let text = std::fs::read_to_string(config_path)
            .with_context(|| format!("reading the main config {}", config_path.display()))?;
        let main: MainConfig =
            toml::from_str(&text).with_context(|| format!("{}", config_path.display()))?;
        let base = config_path.parent().unwrap_or(Path::new("."));
        // Relative paths start from the config file's folder; `..` is resolved for messages.
        let at = |p: &Path| {
            let joined = if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            };
            joined.canonicalize().unwrap_or(joined)
        };
        let mut all = Vec::new();
        let tables = load_tables(&at(&main.definitions.tables)).unwrap_or_else(|p| {
            all.extend(p);
            BTreeMap::new()
        });
        let (sources, mut broken_sources) =
            config::load_each_source(&at(&main.definitions.sources)).unwrap_or_else(|p| {
                all.extend(p);
                Default::default()
            });
        let lookups = config::load_lookups(&at(&main.definitions.lookups)).unwrap_or_else(|p| {
            all.extend(p);
            BTreeMap::new()
        });
        let tiles =
            tilannekuva_tiles::load_tiles(&at(&main.definitions.tiles)).unwrap_or_else(|p| {
                all.extend(p);
                Vec::new()
            });
        let strategy = Strategy::from_file(&at(&main.definitions.strategy));
        // A source with problems is set aside; the others load (see `broken_sources`).
        let compiled = if all.is_empty() {
            compile_each(&sources, &tables, &lookups)
        } else {
            Default::default()
        };
        broken_sources.extend(compiled.broken.iter().cloned());
        let strategy = match strategy {
            Ok(s) => {
                if let Err(p) = s.check_tiles(&tiles) {
                    all.extend(p);
                }
                s
            }
            Err(p) => {
                all.extend(p);
                bail!(problems(all))
            }
        };
        let mut channels = main.alert_channels;
        for c in channels.values_mut() {
            if let ChannelConfig::Smtp {
                ca_file: Some(ca), ..
            } = c
            {
                *ca = at(ca);
            }
        }
        let alerts = AlertConfig {
            rules: main.alerts,
            channels,
            settings: main.alerting.unwrap_or_default(),
        };
        let source_names: Vec<&str> = sources
            .iter()
            .map(|s| s.name.as_str())
            .chain(broken_sources.iter().map(|b| b.name.as_str()))
            .collect();
        let mut alert_problems = alerts.problems();
        for r in &alerts.rules {
            for s in r
                .sources
                .iter()
                .filter(|s| !source_names.contains(&s.as_str()))
            {
                alert_problems.push(format!(
                    "[[alerts]] `{}`: `sources`: no source `{s}`; sources are {source_names:?}",
                    r.name
                ));
            }
            for t in r
                .tiles
                .iter()
                .filter(|t| !tiles.iter().any(|d| &d.meta.id == *t))
            {
                alert_problems.push(format!("[[alerts]] `{}`: `tiles`: no tile `{t}`", r.name));
            }
        }
        all.extend(
            alert_problems
                .into_iter()
                .map(|p| format!("{}: {p}", config_path.display())),
        );
        let engine = match &overrides.ballista {
            Some(scheduler) => EngineSettings::Ballista {
                scheduler: scheduler.clone(),
            },
            None => main.engine.clone(),
        };
        if let EngineSettings::Ballista { scheduler } = &engine
            && let Err(e) = tilannekuva_cluster::scheduler_address(scheduler)
        {
            all.push(format!("{}: [engine]: {e}", config_path.display()));
        }
        if !all.is_empty() {
            return Err(problems(all));
        }
        if main.pseudonymisation.allow_demo_key.is_some() {
            bail!(
                "{}: [pseudonymisation] `allow_demo_key` is no longer supported: a public key must \
                 not stand in for a missing one. Set the key in the environment variable `{}`; \
                 `tilannekuva demo` uses its own key for its sample data",
                config_path.display(),
                main.pseudonymisation.key_env
            );
        }
        for b in &broken_sources {
            tracing::error!(
                source = %b.name,
                file = %b.file.display(),
                "source set aside, the others load: {}",
                b.problems.join("; ")
            );
        }
        let key = match std::env::var(&main.pseudonymisation.key_env) {
            Ok(k) if !k.is_empty() => Some(k.into_bytes()),
            _ => None,
        };
        Ok(Self {
            config_path: config_path.to_path_buf(),
            warehouse_location: match &overrides.warehouse {
                Some(l) => l.clone(),
                None => match main.warehouse.location(config_path)? {
                    Location::Folder(p) => Location::Folder(at(&p)),
                    remote => remote,
                },
            },
            store_settings: main.warehouse.store_settings(),
            opened: Default::default(),
            raw_retention_days: main.warehouse.raw_retention_days,
            log_retention_days: main.warehouse.log_retention_days,
            snapshot_retention_days: main.warehouse.snapshot_retention_days,
            inputs_path: overrides
                .inputs
                .clone()
                .unwrap_or_else(|| at(&main.inputs.path)),
            tables,
            sources,
            compiled: compiled.sources,
            warnings: compiled.warnings,
            broken_sources,
            lookups,
            tiles,
            strategy,
            demo: main.demo,
            jobs_path: main.definitions.jobs.as_deref().map(at),
            desktop: main.desktop.unwrap_or_default(),
            engine,
            sql_wire: {
                let mut s = main.sql_wire.unwrap_or_default();
                s.tls_cert_file = s.tls_cert_file.as_deref().map(at);
                s.tls_key_file = s.tls_key_file.as_deref().map(at);
                s
            },
            alerts,
            key,
            key_env: main.pseudonymisation.key_env,
            overrides: overrides.clone(),
        })
    }

    /// The project as its config files say now: what `serve` switches to on SIGHUP.
    pub fn reload(&self) -> Result<Self> {
        Self::load(&self.config_path, &self.overrides)
    }

    /// Opens the warehouse (once per project; then the same handle).
    pub fn warehouse(&self) -> Result<Warehouse> {
        if let Some(w) = self.opened.get() {
            return Ok(w.clone());
        }
        let opened = Warehouse::open(&self.warehouse_location, &self.store_settings)?;
        Ok(self.opened.get_or_init(|| opened).clone())
    }

    /// The pipelines, compiled.
    pub fn pipelines(&self, settle_seconds: Option<u64>) -> Result<Pipelines> {
        let key_env = &self.key_env;
        Pipelines::from_compiled(
            self.warehouse()?,
            self.tables.clone(),
            self.compiled.clone(),
            FetchContext {
                inputs_root: self.inputs_path.clone(),
                settle_seconds,
            },
            self.key.as_deref(),
        )
        .map(|p| p.with_broken(self.broken_sources.clone()))
        .with_context(|| {
            format!(
                "set the pseudonymisation key in the environment variable `{key_env}` \
                 ([pseudonymisation] key_env in {})",
                self.config_path.display()
            )
        })
    }

    /// Uses the demo's public pseudonymisation key when none is set: for the generated
    /// sample data of `tilannekuva demo` (and the benchmarks) only. Tells whether it did.
    pub fn use_demo_key(&mut self) -> bool {
        if self.key.is_some() {
            return false;
        }
        self.key = Some(DEMO_KEY.to_vec());
        true
    }

    /// The tile engine.
    pub fn engine(&self) -> Result<Engine> {
        let mut expected: BTreeMap<String, Vec<ExpectedSource>> = BTreeMap::new();
        for s in &self.sources {
            expected
                .entry(s.table.clone())
                .or_default()
                .push(ExpectedSource {
                    source: s.name.clone(),
                    cadence: s.load.cadence,
                    complete_when: s.load.complete_when,
                    end_within_days: s.load.end_within_days,
                });
        }
        let mut references = Vec::new();
        for (name, lookup) in &self.lookups {
            for (table, batch) in lookup.tables(name).map_err(anyhow::Error::msg)? {
                references.push(ReferenceTable::new(table, batch)?);
            }
        }
        Ok(Engine {
            warehouse: self.warehouse()?,
            tables: self.tables.clone(),
            tiles: self.tiles.clone(),
            strategy: self.strategy.clone(),
            expected,
            references,
            query_engine: self.query_engine()?,
        })
    }

    /// The engine of `[engine]`: this process, or a Ballista cluster.
    pub fn query_engine(&self) -> Result<std::sync::Arc<dyn QueryEngine>> {
        Ok(match &self.engine {
            EngineSettings::Local => std::sync::Arc::new(LocalEngine),
            EngineSettings::Ballista { scheduler } => {
                std::sync::Arc::new(tilannekuva_cluster::BallistaEngine::new(scheduler)?)
            }
        })
    }
}

impl Project {
    /// The scheduler's jobs: from `path` when given (`--jobs`), else from the config's
    /// `[definitions] jobs`; checked against the configured sources.
    pub fn jobs(&self, path: Option<&Path>) -> Result<tilannekuva_scheduler::Jobs> {
        let path = match (path, &self.jobs_path) {
            (Some(p), _) => p.to_path_buf(),
            (None, Some(p)) => p.clone(),
            (None, None) => bail!(
                "{} has no `jobs` under [definitions] and no --jobs was given",
                self.config_path.display()
            ),
        };
        // A job may name a source set aside for its config problems: its runs then fail
        // with them, and the job's other sources still load.
        let mut sources: Vec<String> = self.sources.iter().map(|s| s.name.clone()).collect();
        sources.extend(self.broken_sources.iter().map(|b| b.name.clone()));
        Ok(tilannekuva_scheduler::Jobs::load(&path, &sources)?)
    }

    /// The sources set aside for config problems, as the pipeline status reports them.
    pub fn broken_source_status(&self) -> Vec<tilannekuva_scheduler::BrokenSourceStatus> {
        self.broken_sources
            .iter()
            .map(|b| tilannekuva_scheduler::BrokenSourceStatus {
                source: b.name.clone(),
                file: b.file.display().to_string(),
                table: b.table.clone(),
                problems: b.problems.clone(),
            })
            .collect()
    }

    /// Each source's `[load] expected_every_hours`, for the late-source report.
    pub fn expected_every_hours(&self) -> BTreeMap<String, f64> {
        self.sources
            .iter()
            .filter_map(|s| Some((s.name.clone(), s.load.expected_every_hours?)))
            .collect()
    }
}
