//! The warehouse on an S3 server against the local disk: the same history loaded and
//! published, and the tile API served, once into a folder and once into a bucket of moto's
//! S3 API server on 127.0.0.1 (from PyPI, in a venv the harness creates). Each run is its
//! own process (`store-once`), given the store's credentials and endpoint the way a
//! deployment gives them: as the cloud's environment variables.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::serve::ServeResult;

/// moto, as the object storage tests pin it.
const MOTO: &str = "moto[server]==5.2.5";

/// The bucket the runs write to, each under a prefix of its own.
pub const BUCKET: &str = "bench";

/// One run of load, publish and serving against one warehouse location.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoreRun {
    /// `local` or `s3`.
    pub store: String,
    /// Loading every benchmark source's history, seconds.
    pub load: f64,
    /// Computing and publishing every tile, seconds.
    pub publish: f64,
    /// Rows loaded.
    pub rows: u64,
    /// The tile API on this warehouse.
    pub serve: Vec<ServeResult>,
}

/// Local and S3 runs of one size.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StoreReport {
    /// moto's version.
    pub moto: String,
    /// Runs into a folder.
    pub local: Vec<StoreRun>,
    /// Runs into the S3 server.
    pub s3: Vec<StoreRun>,
}

/// moto's S3 API server on a free loopback port, with [`BUCKET`] made; stopped on drop.
pub struct S3Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// moto's version.
    pub version: String,
}

impl S3Server {
    /// Creates the venv (once) and starts the server.
    pub fn start(venv: &Path) -> Result<Self> {
        let python = venv.join("bin").join("python");
        let version = |python: &Path| {
            Command::new(python)
                .args(["-c", "import moto; print(moto.__version__)"])
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        };
        let version = match version(&python) {
            Some(v) => v,
            None => {
                eprintln!("creating the S3 server's venv in {}", venv.display());
                crate::peers::run(Command::new("python3").args(["-m", "venv"]).arg(venv))?;
                crate::peers::run(
                    Command::new(&python).args(["-m", "pip", "install", "-q", MOTO]),
                )?;
                version(&python).context("moto does not import after pip install")?
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new(&python)
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting moto's S3 server")?;
        let server = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            version,
        };
        server.create_bucket()?;
        Ok(server)
    }

    /// Makes the bucket (CreateBucket is a plain `PUT /bucket`), waiting for the server.
    fn create_bucket(&self) -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let url = format!("{}/{BUCKET}", self.endpoint);
        rt.block_on(async {
            let client = reqwest::Client::new();
            let started = Instant::now();
            loop {
                match client.put(&url).send().await {
                    Ok(r) if r.status().is_success() => return Ok(()),
                    Ok(r) => bail!("creating bucket {BUCKET}: {}", r.status()),
                    Err(_) if started.elapsed() < Duration::from_secs(60) => {
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                    Err(e) => bail!("moto's S3 server at {} does not answer: {e}", self.endpoint),
                }
            }
        })
    }

    /// The environment a process reaches the server with.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "bench".into()),
            ("AWS_SECRET_ACCESS_KEY", "bench".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one `store-once` process is asked to do.
#[derive(Debug, Clone)]
pub struct StoreOnce {
    /// The project's main config.
    pub config: PathBuf,
    /// The history's drop folders.
    pub inputs: PathBuf,
    /// A folder, or `s3://bench/<prefix>`.
    pub warehouse: String,
    /// Threads of the runtime and of the server.
    pub threads: usize,
    /// Seconds of load per API endpoint.
    pub serve_seconds: f64,
    /// Connections of the load generator.
    pub concurrency: usize,
}

/// The endpoints measured on each store.
pub const SERVED: &[&str] = &["/api/v1/tiles", "/api/v1/tiles/callback_share"];

impl StoreOnce {
    /// Loads and publishes into the (empty) warehouse, then serves it; in this process.
    pub fn run(&self, store: &str) -> Result<StoreRun> {
        let location = tilannekuva_warehouse::Location::parse(&self.warehouse)?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(self.threads.max(1))
            .enable_all()
            .build()?;
        let t = rt.block_on(crate::load_and_publish_at(
            &self.config,
            location.clone(),
            &self.inputs,
        ))?;
        drop(rt);
        let serve = crate::serve::bench_api(
            &location,
            self.threads,
            SERVED,
            self.serve_seconds,
            self.concurrency,
        )?;
        Ok(StoreRun {
            store: store.into(),
            load: t.load,
            publish: t.publish,
            rows: t.rows,
            serve,
        })
    }
}
