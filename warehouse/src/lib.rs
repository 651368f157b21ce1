//! The warehouse: where landed exports, curated tables and tile snapshots live.
//!
//! All storage goes through the [`object_store`] crate. The embedded default is a folder on
//! local disk; an S3 bucket or an Azure Blob container stands behind the same [`ObjectStore`]
//! trait without touching pipeline code.
//!
//! Layout under the warehouse root:
//!
//! | path | what |
//! |---|---|
//! | `raw/<source>/<sha256>/<file name>` | landed exports, byte for byte as delivered |
//! | `curated/<table>/period=YYYY-MM/<load>.parquet` | typed tables, zstd Parquet, partitioned by reporting period |
//! | `quarantine/<source>/<load>.parquet` | rejected rows with file, line, column, raw value and reason |
//! | `tiles/<snapshot>/tiles.parquet`, `tiles.json`, `raw.json` | computed KPI tiles, one folder per published snapshot (with the query rows the next publish reuses) |
//! | `_log/<version>.json`, `_log/<version>.checkpoint.json` | the commit log and its checkpoints; see [`log`] |
//!
//! Nothing is visible to readers until a committed version lists it, which is what makes
//! loads atomic and idempotent. The store is a local folder or a bucket; see [`location`].

pub mod catalog;
pub mod checkins;
pub mod error;
pub mod location;
pub mod log;
pub mod manifest;
mod parquet_io;
mod retention;
mod sql;
mod state;

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};

pub use checkins::{CheckIn, CheckInRating, NewCheckIn};
pub use error::{Error, Result};
pub use location::{Location, StoreSettings};
pub use manifest::{
    Covered, DataFile, LoadRecord, LoadStatus, Manifest, Pin, SnapshotRecord, TableState,
};
pub use parquet_io::{ParquetSink, read_parquet_bytes, write_parquet, writer_properties};
pub use retention::ORPHAN_GRACE_HOURS;
pub use sql::{QUARANTINE_TABLE, Rows, SHIPPED_ROWS, quarantine_schema};

/// Handle to one warehouse. Cheap to clone.
#[derive(Clone)]
pub struct Warehouse {
    /// Rooted at the warehouse: every path the warehouse names is relative to it.
    store: Arc<dyn ObjectStore>,
    /// The whole bucket (or the local file system), as DataFusion reads it by URL.
    bucket: Arc<dyn ObjectStore>,
    bucket_url: url::Url,
    root_url: String,
    location: Location,
    /// Set once the store was seen to honour create-only writes; see
    /// [`Warehouse::verify_create_only`].
    create_only_verified: Arc<tokio::sync::OnceCell<()>>,
    /// The newest state this handle (and its clones) read or committed.
    known: Arc<std::sync::Mutex<Option<Arc<state::Known>>>>,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("location", &self.location.to_string())
            .finish_non_exhaustive()
    }
}

impl Warehouse {
    /// Opens (and creates when missing) a warehouse in a local folder.
    pub fn open_local(root: impl AsRef<Path>) -> Result<Self> {
        Self::open(
            &Location::Folder(root.as_ref().to_path_buf()),
            &StoreSettings::default(),
        )
    }

    /// Opens the warehouse at `location`: a local folder (created when missing) or a bucket
    /// prefix, whose credentials come from the cloud's environment variables. Nothing is
    /// sent to a remote store until the first read or write.
    pub fn open(location: &Location, settings: &StoreSettings) -> Result<Self> {
        let opened = location::open(location, settings)?;
        Ok(Self {
            store: opened.store,
            bucket: opened.bucket,
            bucket_url: opened.bucket_url,
            root_url: opened.root_url,
            location: opened.location,
            create_only_verified: Arc::default(),
            known: Arc::default(),
        })
    }

    /// The object store behind the warehouse, rooted at the warehouse.
    pub fn store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    /// Where the warehouse is (a local folder, canonical, or a store URL).
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// URL of an object, as DataFusion addresses it.
    pub fn object_url(&self, path: &str) -> String {
        format!("{}/{}", self.root_url, path)
    }

    /// Lets DataFusion in `ctx` read the warehouse's objects by [`Warehouse::object_url`].
    pub fn register_store(&self, ctx: &datafusion::execution::context::SessionContext) {
        self.register_store_in(ctx.runtime_env().as_ref());
    }

    /// [`Warehouse::register_store`] for a runtime of its own: a cluster node's.
    pub fn register_store_in(&self, runtime: &datafusion::execution::runtime_env::RuntimeEnv) {
        runtime.register_object_store(&self.bucket_url, self.bucket.clone());
    }

    /// Checks once per handle that the store refuses a create-only write of an object that
    /// exists, which is what keeps two racing commits from overwriting each other. Some
    /// S3-compatible servers accept the `If-None-Match: *` header and ignore it; on such a
    /// store this refuses to go on, naming it. Commits call it before their first write.
    pub async fn verify_create_only(&self) -> Result<()> {
        self.create_only_verified
            .get_or_try_init(|| async {
                let probe = ObjectPath::from(format!(
                    "{}/_probe/{}",
                    log::LOG_DIR,
                    uuid::Uuid::new_v4().simple()
                ));
                let create = || PutOptions {
                    mode: PutMode::Create,
                    ..Default::default()
                };
                let refused = |reason: String| Error::CreateOnlyUnsupported {
                    location: self.location.to_string(),
                    reason,
                };
                let first = self
                    .store
                    .put_opts(&probe, PutPayload::from_static(b"1"), create())
                    .await;
                if let Err(e) = first {
                    return Err(match e {
                        object_store::Error::NotImplemented { .. } => {
                            refused(format!("the store has no create-only writes ({e})"))
                        }
                        source => Error::Store {
                            path: probe.to_string(),
                            source,
                        },
                    });
                }
                let second = self
                    .store
                    .put_opts(&probe, PutPayload::from_static(b"2"), create())
                    .await;
                let _ = self.store.delete(&probe).await;
                match second {
                    Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
                    Ok(_) => Err(refused(
                        "a second create-only write of the same object succeeded: the store \
                         ignores `If-None-Match: *`, so two writers could overwrite each \
                         other's commits"
                            .into(),
                    )),
                    Err(e) => Err(refused(format!(
                        "a second create-only write of the same object failed with {e} \
                         instead of \"already exists\""
                    ))),
                }
            })
            .await
            .map(|_| ())
    }

    /// Writes an object, replacing what was there.
    pub async fn put(&self, path: &str, bytes: Bytes) -> Result<()> {
        self.verify_create_only().await?;
        let p = ObjectPath::from(path);
        self.store
            .put(&p, PutPayload::from(bytes))
            .await
            .map_err(error::store_err(&p))?;
        Ok(())
    }

    /// Writes an object only when none exists; `Ok(false)` when one did.
    pub async fn put_new(&self, path: &str, bytes: Bytes) -> Result<bool> {
        self.verify_create_only().await?;
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

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
        wh.register_tables(&ctx, &m, &Default::default(), Rows::InMemory)
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
    async fn reading_the_state_costs_a_checkpoint_and_a_bounded_tail_after_10_000_commits() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        let mut costs = Vec::new();
        for i in 1..=10_000u64 {
            wh.commit("cursor", |m| {
                m.cursors.insert(format!("source_{}", i % 7), i.into());
                Ok(())
            })
            .await
            .unwrap();
            if i % 1_000 == 0 {
                let fresh = Warehouse::open_local(dir.path()).unwrap();
                let (m, cost) = fresh.manifest_read_cold().await.unwrap();
                assert_eq!(m.version, i);
                assert_eq!(m.cursors["source_0"], serde_json::json!(i - i % 7));
                costs.push(cost);
            }
        }
        for c in &costs {
            assert!(
                c.entries <= log::CHECKPOINT_EVERY && c.checkpoint > 0,
                "a read starts at a checkpoint and reads a bounded tail: {costs:?}"
            );
        }
        // An entry holds what its commit changed, not the history.
        let entry = wh.get(&log::entry_path(10_000)).await.unwrap();
        assert!(entry.len() < 400, "{}", String::from_utf8_lossy(&entry));
    }

    #[tokio::test]
    async fn a_stale_checkpoint_hint_is_read_past_and_a_lost_one_found_by_listing() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        for i in 0..(log::CHECKPOINT_EVERY * 2 + 3) {
            wh.commit("n", |m| {
                m.cursors.insert("n".into(), i.into());
                Ok(())
            })
            .await
            .unwrap();
        }
        let newest = log::CHECKPOINT_EVERY * 2;
        wh.put(
            log::LAST_CHECKPOINT,
            Bytes::from(log::CHECKPOINT_EVERY.to_string()),
        )
        .await
        .unwrap();
        let (m, cost) = Warehouse::open_local(dir.path())
            .unwrap()
            .manifest_read_cold()
            .await
            .unwrap();
        assert_eq!(
            (m.version, cost.checkpoint),
            (newest + 3, log::CHECKPOINT_EVERY)
        );
        wh.delete(log::LAST_CHECKPOINT).await.unwrap();
        let (m, cost) = Warehouse::open_local(dir.path())
            .unwrap()
            .manifest_read_cold()
            .await
            .unwrap();
        assert_eq!(
            (m.version, cost.checkpoint, cost.entries),
            (newest + 3, newest, 3)
        );
        assert_eq!(wh.manifest_version(7).await.unwrap().cursors["n"], 6);
    }

    #[tokio::test]
    async fn a_warehouse_of_whole_manifests_moves_to_the_log_and_gc_expires_the_old_files() {
        let dir = tempfile::tempdir().unwrap();
        // The layout before the log: a whole manifest per version, a hint of the newest
        // that lags one version behind.
        let mut m = Manifest::default();
        std::fs::create_dir_all(dir.path().join("_manifest")).unwrap();
        for v in 1..=3u64 {
            m.version = v;
            m.committed_at = Some(Utc::now());
            m.message = format!("old {v}");
            m.cursors.insert("api".into(), v.into());
            std::fs::write(
                dir.path().join(format!("_manifest/{v:020}.json")),
                serde_json::to_vec_pretty(&m).unwrap(),
            )
            .unwrap();
        }
        std::fs::write(dir.path().join("_manifest/_latest"), "2").unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        assert_eq!(
            wh.manifest().await.unwrap(),
            m,
            "the newest old manifest, as it was"
        );
        let next = wh
            .commit("new", |m| {
                m.cursors.insert("api".into(), 4.into());
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(next.version, 4);
        assert!(
            dir.path()
                .join("_log/00000000000000000003.checkpoint.json")
                .exists()
        );
        assert!(dir.path().join("_log/00000000000000000004.json").exists());
        assert!(
            !dir.path()
                .join("_manifest/00000000000000000004.json")
                .exists()
        );
        let fresh = Warehouse::open_local(dir.path()).unwrap();
        assert_eq!(fresh.manifest().await.unwrap(), next);
        // gc: the old manifests a checkpoint replaced go; the state reads the same.
        let removed = fresh
            .expire_log(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(removed.len(), 2, "{removed:?}");
        let fresh = Warehouse::open_local(dir.path()).unwrap();
        assert_eq!(fresh.manifest().await.unwrap(), next);
    }

    #[tokio::test]
    async fn the_create_only_probe_passes_on_local_disk_and_leaves_nothing() {
        // The local store honours them; one that did not would let both probes through.
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        wh.verify_create_only().await.unwrap();
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("_log/_probe"))
            .map(|d| d.collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "the probe is removed");
    }

    #[tokio::test]
    async fn a_server_answers_from_memory_and_sees_other_writers_when_it_asks_the_log() {
        use std::time::Duration;
        let dir = tempfile::tempdir().unwrap();
        let server = Warehouse::open_local(dir.path()).unwrap();
        let writer = Warehouse::open_local(dir.path()).unwrap();
        writer.commit("one", |_| Ok(())).await.unwrap();
        let hour = Duration::from_secs(3600);
        assert_eq!(server.manifest_recent(hour).await.unwrap().version, 1);
        writer.commit("two", |_| Ok(())).await.unwrap();
        // Within its poll interval the server answers from what it read.
        assert_eq!(server.manifest_recent(hour).await.unwrap().version, 1);
        // Asking the log again shows the other writer's commit; its own show at once.
        assert_eq!(
            server
                .manifest_recent(Duration::ZERO)
                .await
                .unwrap()
                .version,
            2
        );
        server.commit("three", |_| Ok(())).await.unwrap();
        assert_eq!(server.manifest_recent(hour).await.unwrap().version, 3);
        assert_eq!(writer.manifest().await.unwrap().version, 3);
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
