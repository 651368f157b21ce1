//! The warehouse: where landed exports, curated tables and tile snapshots live.
//!
//! All storage goes through the [`object_store`] crate. The embedded default is a folder on
//! local disk; an S3 or Azure bucket plugs in behind the same [`ObjectStore`] trait without
//! touching pipeline code.
//!
//! Layout under the warehouse root:
//!
//! | path | what |
//! |---|---|
//! | `raw/<source>/<sha256>/<file name>` | landed exports, byte for byte as delivered |
//! | `curated/<table>/period=YYYY-MM/<load>.parquet` | typed tables, zstd Parquet, partitioned by reporting period |
//! | `quarantine/<source>/<load>.parquet` | rejected rows with file, line, column, raw value and reason |
//! | `tiles/<snapshot>/tiles.parquet`, `tiles.json`, `raw.json` | computed KPI tiles, one folder per published snapshot (with the query rows the next publish reuses) |
//! | `_manifest/<version>.json` | the committed state; see [`manifest`] |
//!
//! Nothing is visible to readers until a manifest version lists it, which is what makes
//! loads atomic and idempotent.

pub mod catalog;
pub mod error;
pub mod manifest;
mod parquet_io;
mod sql;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

pub use error::{Error, Result};
pub use manifest::{
    Covered, DataFile, LoadRecord, LoadStatus, Manifest, SnapshotRecord, TableState,
};
pub use parquet_io::{ParquetSink, read_parquet_bytes, write_parquet, writer_properties};
pub use sql::{QUARANTINE_TABLE, quarantine_schema};

const MANIFEST_DIR: &str = "_manifest";
const LATEST_HINT: &str = "_manifest/_latest";
const COMMIT_ATTEMPTS: usize = 20;

/// Handle to one warehouse. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Warehouse {
    store: Arc<dyn ObjectStore>,
    root: PathBuf,
}

impl Warehouse {
    /// Opens (and creates when missing) a warehouse in a local folder.
    pub fn open_local(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(|source| Error::Io {
            context: format!("creating warehouse folder {}", root.display()),
            source,
        })?;
        let root = root.canonicalize().map_err(|source| Error::Io {
            context: format!("resolving warehouse folder {}", root.display()),
            source,
        })?;
        let store = LocalFileSystem::new_with_prefix(&root).map_err(|source| Error::Location {
            location: root.display().to_string(),
            reason: source.to_string(),
        })?;
        Ok(Self {
            store: Arc::new(store),
            root,
        })
    }

    /// The object store behind the warehouse.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// The warehouse's root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// URL of an object, as DataFusion addresses it.
    pub fn object_url(&self, path: &str) -> String {
        format!("file://{}/{}", self.root.display(), path)
    }

    /// Reads the newest committed manifest; an empty one when nothing was ever committed.
    pub async fn manifest(&self) -> Result<Manifest> {
        let mut version = self.latest_hint().await?;
        // The hint is advisory: it may lag behind when a writer died after committing.
        while self.exists(&version_path(version + 1)).await? {
            version += 1;
        }
        if version == 0 {
            return Ok(Manifest::default());
        }
        self.manifest_version(version).await
    }

    /// Reads one manifest version.
    pub async fn manifest_version(&self, version: u64) -> Result<Manifest> {
        let path = version_path(version);
        let bytes = self.get(path.as_ref()).await?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Manifest {
            path: path.to_string(),
            source,
        })
    }

    /// Applies `change` to the newest manifest and commits the result as the next version.
    ///
    /// When another writer commits first, the change is re-applied to that writer's
    /// manifest, so `change` must decide from the manifest it is given (for example to
    /// refuse a load that is already in the ledger) and may run more than once.
    pub async fn commit<F>(&self, message: &str, mut change: F) -> Result<Manifest>
    where
        F: FnMut(&mut Manifest) -> Result<()>,
    {
        for _ in 0..COMMIT_ATTEMPTS {
            let mut next = self.manifest().await?;
            change(&mut next)?;
            next.version += 1;
            next.committed_at = Some(Utc::now());
            next.message = message.to_string();
            let body = serde_json::to_vec_pretty(&next).expect("manifest serialises");
            let path = version_path(next.version);
            let opts = PutOptions {
                mode: PutMode::Create,
                ..Default::default()
            };
            match self
                .store
                .put_opts(&path, PutPayload::from(body), opts)
                .await
            {
                Ok(_) => {
                    let hint = PutPayload::from(next.version.to_string().into_bytes());
                    // Best effort: readers probe past a stale hint.
                    if let Err(e) = self.store.put(&ObjectPath::from(LATEST_HINT), hint).await {
                        tracing::warn!(error = %e, "could not update the manifest hint");
                    }
                    return Ok(next);
                }
                Err(object_store::Error::AlreadyExists { .. }) => continue,
                Err(source) => {
                    return Err(Error::Store {
                        path: path.to_string(),
                        source,
                    });
                }
            }
        }
        Err(Error::CommitContention {
            attempts: COMMIT_ATTEMPTS,
        })
    }

    /// Writes an object, replacing what was there.
    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        let p = ObjectPath::from(path);
        self.store
            .put(&p, PutPayload::from(bytes))
            .await
            .map_err(error::store_err(&p))?;
        Ok(())
    }

    /// Writes an object only when none exists; `Ok(false)` when one did.
    pub async fn put_new(&self, path: &str, bytes: Bytes) -> Result<bool> {
        let p = ObjectPath::from(path);
        let opts = PutOptions {
            mode: PutMode::Create,
            ..Default::default()
        };
        match self.store.put_opts(&p, PutPayload::from(bytes), opts).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(source) => Err(Error::Store {
                path: path.to_string(),
                source,
            }),
        }
    }

    /// Reads a whole object.
    pub async fn get(&self, path: &str) -> Result<Bytes> {
        let p = ObjectPath::from(path);
        let got = self.store.get(&p).await.map_err(error::store_err(&p))?;
        got.bytes().await.map_err(error::store_err(&p))
    }

    /// Whether an object exists.
    pub async fn exists(&self, path: &ObjectPath) -> Result<bool> {
        match self.store.head(path).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(source) => Err(Error::Store {
                path: path.to_string(),
                source,
            }),
        }
    }

    /// Size of an object in bytes.
    pub async fn size(&self, path: &str) -> Result<u64> {
        let p = ObjectPath::from(path);
        Ok(self
            .store
            .head(&p)
            .await
            .map_err(error::store_err(&p))?
            .size)
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, path: &str) -> Result<()> {
        let p = ObjectPath::from(path);
        match self.store.delete(&p).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(Error::Store {
                path: path.to_string(),
                source,
            }),
        }
    }

    /// Deletes files under `curated/`, `quarantine/` and `tiles/` that no manifest lists:
    /// leftovers of loads that died before committing. Returns the deleted paths.
    pub async fn remove_orphans(&self) -> Result<Vec<String>> {
        use futures::TryStreamExt;
        let manifest = self.manifest().await?;
        let referenced: std::collections::HashSet<String> = manifest
            .tables
            .values()
            .flat_map(|t| t.files.iter().map(|f| f.path.clone()))
            .collect();
        // Everything in a published snapshot's folder belongs to it (the tiles and the rows
        // kept for the next incremental publish).
        let snapshot_folders: Vec<String> = manifest
            .snapshots
            .iter()
            .map(|s| format!("{}/", s.path))
            .collect();
        let mut removed = Vec::new();
        for prefix in ["curated", "quarantine", "tiles"] {
            let p = ObjectPath::from(prefix);
            let metas: Vec<_> = self
                .store
                .list(Some(&p))
                .try_collect()
                .await
                .map_err(error::store_err(&p))?;
            for meta in metas {
                let path = meta.location.to_string();
                if !referenced.contains(&path)
                    && !snapshot_folders.iter().any(|f| path.starts_with(f))
                {
                    self.delete(&path).await?;
                    removed.push(path);
                }
            }
        }
        Ok(removed)
    }

    /// The raw retention rule: removes the landed copies of exports loaded before `cutoff`
    /// and returns their paths. The ledger keeps every entry (marked `raw_removed_at`), so a
    /// redelivery of the same bytes still loads nothing. The entries are marked in one
    /// commit before any file is removed; a copy left by an interrupted run is removed by
    /// the next one.
    pub async fn expire_raw(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>> {
        let now = Utc::now();
        let manifest = self.manifest().await?;
        if manifest
            .loads
            .iter()
            .any(|l| l.raw_removed_at.is_none() && l.loaded_at < cutoff)
        {
            self.commit("raw retention", |m| {
                for l in m.loads.iter_mut() {
                    if l.raw_removed_at.is_none() && l.loaded_at < cutoff {
                        l.raw_removed_at = Some(now);
                    }
                }
                Ok(())
            })
            .await?;
        }
        let manifest = self.manifest().await?;
        let mut removed = Vec::new();
        for l in manifest.loads.iter().filter(|l| l.raw_removed_at.is_some()) {
            if self.exists(&ObjectPath::from(l.raw_path.as_str())).await? {
                self.delete(&l.raw_path).await?;
                removed.push(l.raw_path.clone());
            }
        }
        Ok(removed)
    }

    async fn latest_hint(&self) -> Result<u64> {
        match self.store.get(&ObjectPath::from(LATEST_HINT)).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(|source| Error::Store {
                    path: LATEST_HINT.into(),
                    source,
                })?;
                Ok(std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.trim().parse().ok())
                    .unwrap_or(0))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(0),
            Err(source) => Err(Error::Store {
                path: LATEST_HINT.into(),
                source,
            }),
        }
    }
}

fn version_path(version: u64) -> ObjectPath {
    ObjectPath::from(format!("{MANIFEST_DIR}/{version:020}.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn commits_are_numbered_and_racing_writers_both_land() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        assert_eq!(wh.manifest().await.unwrap().version, 0);
        let a = wh.clone();
        let b = wh.clone();
        let (ra, rb) = tokio::join!(
            a.commit("a", |m| {
                m.cursors.insert("a".into(), 1.into());
                Ok(())
            }),
            b.commit("b", |m| {
                m.cursors.insert("b".into(), 2.into());
                Ok(())
            })
        );
        ra.unwrap();
        rb.unwrap();
        let m = wh.manifest().await.unwrap();
        assert_eq!(m.version, 2);
        assert_eq!(
            m.cursors.len(),
            2,
            "neither commit was lost: {:?}",
            m.cursors
        );
    }

    #[tokio::test]
    async fn quarantine_files_written_before_the_sheet_column_read_it_as_empty() {
        use arrow::array::{
            Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
        };
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        // The quarantine's columns as the first releases wrote them: no `sheet`.
        let current = quarantine_schema();
        let old = Arc::new(arrow::datatypes::Schema::new(
            current.fields()[..10].to_vec(),
        ));
        let text = |v: &str| Arc::new(StringArray::from(vec![v])) as ArrayRef;
        let batch = RecordBatch::try_new(
            old.clone(),
            vec![
                text("callbacks_ace"),
                text("ace_contacts_2024-01.csv"),
                text("ab12"),
                Arc::new(Int64Array::from(vec![7])),
                text("Jono"),
                Arc::new(Int64Array::from(vec![2])),
                text("?"),
                text("an unknown code"),
                text("load-1"),
                Arc::new(TimestampMicrosecondArray::from(vec![0]).with_timezone("UTC")),
            ],
        )
        .unwrap();
        let path = "quarantine/callbacks_ace/load-1.parquet";
        let (rows, bytes) = write_parquet(&wh, path, old, &[batch]).await.unwrap();
        wh.commit("old quarantine", |m| {
            m.tables
                .entry(QUARANTINE_TABLE.to_string())
                .or_default()
                .files
                .push(DataFile {
                    path: path.into(),
                    source: "callbacks_ace".into(),
                    load_id: "load-1".into(),
                    period: String::new(),
                    rows,
                    bytes,
                    min_time: None,
                    max_time: None,
                });
            Ok(())
        })
        .await
        .unwrap();
        let ctx = datafusion::prelude::SessionContext::new();
        let m = wh.manifest().await.unwrap();
        wh.register_tables(&ctx, &m, &Default::default())
            .await
            .unwrap();
        let got = ctx
            .sql("SELECT line, sheet FROM quarantine")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        assert_eq!(got[0].num_rows(), 1);
        assert!(got[0].column(1).is_null(0), "{got:?}");
    }

    #[tokio::test]
    async fn a_stale_hint_is_probed_past() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        wh.commit("one", |_| Ok(())).await.unwrap();
        wh.commit("two", |_| Ok(())).await.unwrap();
        wh.put(LATEST_HINT, Bytes::from_static(b"1")).await.unwrap();
        assert_eq!(wh.manifest().await.unwrap().version, 2);
    }

    #[tokio::test]
    async fn a_refused_change_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        let err = wh
            .commit("no", |_| Err(Error::Rejected("duplicate".into())))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("duplicate"));
        assert_eq!(wh.manifest().await.unwrap().version, 0);
    }
}
