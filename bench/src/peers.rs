//! The peers: DuckDB and Polars through their Python packages, in a venv the harness creates.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::de::DeserializeOwned;

/// A Python with `duckdb` and `polars` installed, and the peer scripts.
#[derive(Debug, Clone)]
pub struct Peers {
    /// The venv's interpreter.
    pub python: PathBuf,
    /// `bench/peers/`.
    pub scripts: PathBuf,
    /// Python version.
    pub python_version: String,
    /// DuckDB version.
    pub duckdb_version: String,
    /// Polars version.
    pub polars_version: String,
}

impl Peers {
    /// Creates the venv under `venv` with `python3 -m venv` and `pip install duckdb polars`
    /// unless it already has them.
    pub fn setup(venv: &Path, scripts: &Path) -> Result<Self> {
        let python = venv.join("bin").join("python");
        let probe = |python: &Path| {
            Command::new(python)
                .args([
                    "-c",
                    "import sys, duckdb, polars; print(sys.version.split()[0], duckdb.__version__, polars.__version__)",
                ])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let versions = match probe(python.as_path()) {
            Some(v) => v,
            None => {
                eprintln!("creating the peers' venv in {}", venv.display());
                run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
                run(Command::new(&python).args(["-m", "pip", "install", "-q", "duckdb", "polars"]))?;
                probe(python.as_path())
                    .context("duckdb and polars do not import after pip install")?
            }
        };
        let mut v = versions.split_whitespace().map(str::to_string);
        Ok(Self {
            python,
            scripts: scripts.to_path_buf(),
            python_version: v.next().unwrap_or_default(),
            duckdb_version: v.next().unwrap_or_default(),
            polars_version: v.next().unwrap_or_default(),
        })
    }

    /// Runs `script` with `args`; parses the last line of its output as JSON.
    pub fn run<T: DeserializeOwned>(&self, script: &str, args: &[&str]) -> Result<T> {
        let out = Command::new(&self.python)
            .arg(self.scripts.join(script))
            .args(args)
            .current_dir(&self.scripts)
            .output()
            .with_context(|| format!("running {script}"))?;
        if !out.status.success() {
            bail!(
                "{script} failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).with_context(|| format!("{script} printed {last:?}"))
    }
}

pub(crate) fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("{cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}
