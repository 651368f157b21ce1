//! Reading and committing the warehouse's state through the commit log (see [`crate::log`]).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};

use crate::log::{
    CHECKPOINT_EVERY, LAST_CHECKPOINT, LOG_DIR, LogEntry, Replay, checkpoint_path, entry_path,
    version_of,
};
use crate::{Error, Manifest, Result, Warehouse, error};

/// How often a commit is tried again after losing the race for its version.
const COMMIT_ATTEMPTS: usize = 20;
/// How many entries a reader asks for at once when catching up.
const READ_AHEAD: u64 = 16;
/// The layout before the log: a whole manifest per version, and a hint of the newest.
const LEGACY_DIR: &str = "_manifest";
const LEGACY_HINT: &str = "_manifest/_latest";

/// A state this handle knows, and the checkpoint it was read from.
#[derive(Debug)]
pub(crate) struct Known {
    pub manifest: Arc<Manifest>,
    pub checkpoint: u64,
    /// When the log was last asked whether a newer entry exists.
    pub checked_at: std::time::Instant,
}

/// What reading the state cost, for tests and for people wondering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadCost {
    /// The checkpoint the read started from (0: the empty state).
    pub checkpoint: u64,
    /// How many log entries were read after it.
    pub entries: u64,
}

impl Warehouse {
    /// The newest committed state; the empty one when nothing was ever committed.
    ///
    /// A handle keeps what it read: the next call reads only the entries committed since,
    /// which is one request when there are none.
    pub async fn manifest(&self) -> Result<Manifest> {
        Ok(Manifest::clone(&self.state().await?.0.manifest))
    }

    /// The newest committed state as this handle last saw it, when it asked the log less
    /// than `max_age` ago; else as [`Warehouse::manifest`]. What a server answering many
    /// requests reads: the log once per `max_age`, whatever the number of requests.
    pub async fn manifest_recent(&self, max_age: std::time::Duration) -> Result<Arc<Manifest>> {
        let cached = self.known.lock().expect("state lock").clone();
        if let Some(k) = cached
            && k.checked_at.elapsed() < max_age
        {
            return Ok(k.manifest.clone());
        }
        Ok(self.state().await?.0.manifest.clone())
    }

    /// The newest state read without what this handle knew, and what the read cost.
    pub async fn manifest_read_cold(&self) -> Result<(Manifest, ReadCost)> {
        let base = self.base().await?;
        let checkpoint = base.checkpoint;
        let (known, entries) = self.catch_up(Arc::new(base)).await?;
        Ok((
            Manifest::clone(&known.manifest),
            ReadCost {
                checkpoint,
                entries,
            },
        ))
    }

    async fn state(&self) -> Result<(Arc<Known>, u64)> {
        let cached = self.known.lock().expect("state lock").clone();
        let start = match cached {
            Some(k) => k,
            None => Arc::new(self.base().await?),
        };
        let (known, read) = self.catch_up(start).await?;
        self.remember(&known);
        Ok((known, read))
    }

    fn remember(&self, known: &Arc<Known>) {
        let mut slot = self.known.lock().expect("state lock");
        if slot
            .as_ref()
            .is_none_or(|k| k.manifest.version <= known.manifest.version)
        {
            *slot = Some(known.clone());
        }
    }

    /// Where a read without a known state starts: the newest checkpoint, found by its hint
    /// (or, with no hint, by listing the log), or the state of a warehouse of the layout
    /// before the log, migrated into a first checkpoint.
    async fn base(&self) -> Result<Known> {
        if let Some(c) = self.read_hint(LAST_CHECKPOINT).await? {
            return self.checkpoint(c).await;
        }
        let mut newest = None;
        let mut entries = false;
        let prefix = ObjectPath::from(LOG_DIR);
        let mut listing = self.store.list(Some(&prefix));
        while let Some(meta) = listing
            .try_next()
            .await
            .map_err(error::store_err(&prefix))?
        {
            match version_of(meta.location.as_ref()) {
                Some((v, true)) => newest = newest.max(Some(v)),
                Some((_, false)) => entries = true,
                None => {}
            }
        }
        if let Some(c) = newest {
            return self.checkpoint(c).await;
        }
        if !entries && let Some(legacy) = self.legacy_manifest().await? {
            return self.migrate(legacy).await;
        }
        Ok(Known {
            manifest: Arc::default(),
            checkpoint: 0,
            checked_at: std::time::Instant::now(),
        })
    }

    async fn checkpoint(&self, version: u64) -> Result<Known> {
        let path = checkpoint_path(version);
        let manifest: Manifest = serde_json::from_slice(&self.get(&path).await?)
            .map_err(|source| Error::Manifest { path, source })?;
        Ok(Known {
            manifest: Arc::new(manifest),
            checkpoint: version,
            checked_at: std::time::Instant::now(),
        })
    }

    /// Applies the entries after `known`, asking for a few at a time; returns the newest
    /// state and how many entries it read.
    async fn catch_up(&self, known: Arc<Known>) -> Result<(Arc<Known>, u64)> {
        let mut replay: Option<Replay> = None;
        let mut version = known.manifest.version;
        let mut read = 0;
        // Most reads find nothing new: ask for one entry first, then for several.
        let mut ahead = 1;
        'reading: loop {
            let wanted: Vec<u64> = (version + 1..=version + ahead).collect();
            let got = futures::future::try_join_all(wanted.iter().map(|v| self.entry(*v))).await?;
            for entry in got {
                let Some(entry) = entry else {
                    break 'reading;
                };
                replay
                    .get_or_insert_with(|| Replay::new(&known.manifest))
                    .push(&entry)
                    .map_err(|reason| Error::Log {
                        path: entry_path(entry.version),
                        reason,
                    })?;
                version = entry.version;
                read += 1;
            }
            ahead = READ_AHEAD;
        }
        let state = match replay {
            None => None,
            Some(r) => Some(r.finish().map_err(|reason| Error::Log {
                path: entry_path(version),
                reason,
            })?),
        };
        // Asked just now, whether or not anything was new.
        let manifest = state.map_or_else(|| known.manifest.clone(), Arc::new);
        Ok((
            Arc::new(Known {
                manifest,
                checkpoint: known.checkpoint,
                checked_at: std::time::Instant::now(),
            }),
            read,
        ))
    }

    async fn entry(&self, version: u64) -> Result<Option<LogEntry>> {
        let path = entry_path(version);
        let p = ObjectPath::from(path.as_str());
        let bytes = match self.store.get(&p).await {
            Ok(got) => got.bytes().await.map_err(error::store_err(&p))?,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(source) => return Err(Error::Store { path, source }),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Manifest { path, source })
    }

    /// The state as of `version`: the newest checkpoint at or before it and the entries up
    /// to it. Fails for a version older than what `gc` kept of the log.
    pub async fn manifest_version(&self, version: u64) -> Result<Manifest> {
        let prefix = ObjectPath::from(LOG_DIR);
        let checkpoints: Vec<u64> = self
            .store
            .list(Some(&prefix))
            .try_collect::<Vec<_>>()
            .await
            .map_err(error::store_err(&prefix))?
            .into_iter()
            .filter_map(|m| version_of(m.location.as_ref()))
            .filter(|(v, checkpoint)| *checkpoint && *v <= version)
            .map(|(v, _)| v)
            .collect();
        let mut state = match checkpoints.into_iter().max() {
            Some(c) => Manifest::clone(&self.checkpoint(c).await?.manifest),
            None => Manifest::default(),
        };
        while state.version < version {
            let v = state.version + 1;
            let Some(entry) = self.entry(v).await? else {
                if let Some(legacy) = self.legacy_version(version).await? {
                    return Ok(legacy);
                }
                return Err(Error::Log {
                    path: entry_path(v),
                    reason: format!("version {version} is not in the log (removed by gc?)"),
                });
            };
            state = entry.apply(&state).map_err(|reason| Error::Log {
                path: entry_path(v),
                reason,
            })?;
        }
        Ok(state)
    }

    /// Applies `change` to the newest state and commits the result as the next version:
    /// one create-only write of its log entry.
    ///
    /// When another writer commits first, the change is re-applied to that writer's
    /// state, so `change` must decide from the manifest it is given (for example to
    /// refuse a load that is already in the ledger) and may run more than once.
    pub async fn commit<F>(&self, message: &str, change: F) -> Result<Manifest>
    where
        F: FnMut(&mut Manifest) -> Result<()>,
    {
        let committed = self.commit_inner(message, change, true).await?;
        Ok(committed.expect("an unconditional commit always writes"))
    }

    /// Like [`Warehouse::commit`], but writes nothing when `change` leaves the state as it
    /// was (for example a retention rule with nothing to remove): `None` then.
    pub async fn commit_if_changed<F>(&self, message: &str, change: F) -> Result<Option<Manifest>>
    where
        F: FnMut(&mut Manifest) -> Result<()>,
    {
        self.commit_inner(message, change, false).await
    }

    async fn commit_inner<F>(
        &self,
        message: &str,
        mut change: F,
        always: bool,
    ) -> Result<Option<Manifest>>
    where
        F: FnMut(&mut Manifest) -> Result<()>,
    {
        self.verify_create_only().await?;
        for _ in 0..COMMIT_ATTEMPTS {
            let (known, _) = self.state().await?;
            let before = &known.manifest;
            let mut next = Manifest::clone(before);
            change(&mut next)?;
            if !always && next == **before {
                return Ok(None);
            }
            next.version += 1;
            next.committed_at = Some(Utc::now());
            next.message = message.to_string();
            let entry = LogEntry::between(before, &next).ok_or_else(|| Error::Log {
                path: entry_path(next.version),
                reason: format!("the change of \"{message}\" does not replay as a log entry"),
            })?;
            let body = serde_json::to_vec(&entry).expect("log entry serialises");
            // A version another writer took: catch up and try on top of it.
            if !self.put_new(&entry_path(next.version), body.into()).await? {
                continue;
            }
            let mut checkpoint = known.checkpoint;
            if next.version - checkpoint >= CHECKPOINT_EVERY && self.write_checkpoint(&next).await {
                checkpoint = next.version;
            }
            self.remember(&Arc::new(Known {
                manifest: Arc::new(next.clone()),
                checkpoint,
                checked_at: std::time::Instant::now(),
            }));
            return Ok(Some(next));
        }
        Err(Error::CommitContention {
            attempts: COMMIT_ATTEMPTS,
        })
    }

    /// Writes the checkpoint of `state` and points the hint at it. Best effort: without
    /// it readers read more entries, and the next commit tries again.
    async fn write_checkpoint(&self, state: &Manifest) -> bool {
        let body = serde_json::to_vec(state).expect("manifest serialises");
        let path = ObjectPath::from(checkpoint_path(state.version));
        let hint = PutPayload::from(state.version.to_string().into_bytes());
        let written = async {
            self.store.put(&path, PutPayload::from(body)).await?;
            self.store
                .put(&ObjectPath::from(LAST_CHECKPOINT), hint)
                .await
        }
        .await;
        match written {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, version = state.version, "could not write a checkpoint");
                false
            }
        }
    }

    /// Removes the log entries and checkpoints older than the newest checkpoint and than
    /// `cutoff`, and the manifests of the layout before the log that a checkpoint replaced.
    /// The newest checkpoint and every entry after it stay, so the state reads as before.
    /// Returns the removed paths.
    pub async fn expire_log(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>> {
        let Some(newest) = self.read_hint(LAST_CHECKPOINT).await? else {
            return Ok(Vec::new());
        };
        let mut removed = Vec::new();
        for dir in [LOG_DIR, LEGACY_DIR] {
            let prefix = ObjectPath::from(dir);
            let metas: Vec<_> = self
                .store
                .list(Some(&prefix))
                .try_collect()
                .await
                .map_err(error::store_err(&prefix))?;
            for meta in metas {
                let path = meta.location.to_string();
                let version = if dir == LOG_DIR {
                    version_of(&path).map(|(v, _)| v)
                } else {
                    legacy_version_of(&path)
                };
                if version.is_some_and(|v| v < newest) && meta.last_modified < cutoff {
                    self.delete(&path).await?;
                    removed.push(path);
                }
            }
        }
        Ok(removed)
    }

    async fn read_hint(&self, path: &str) -> Result<Option<u64>> {
        let p = ObjectPath::from(path);
        match self.store.get(&p).await {
            Ok(got) => {
                let bytes = got.bytes().await.map_err(error::store_err(&p))?;
                Ok(std::str::from_utf8(&bytes)
                    .ok()
                    .and_then(|s| s.trim().parse().ok()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(source) => Err(Error::Store {
                path: path.into(),
                source,
            }),
        }
    }

    /// The newest manifest of the layout before the log, if the warehouse has one.
    async fn legacy_manifest(&self) -> Result<Option<Manifest>> {
        let mut version = self.read_hint(LEGACY_HINT).await?.unwrap_or(0);
        // The hint may lag behind a writer that died after committing.
        while self.exists(&legacy_path(version + 1)).await? {
            version += 1;
        }
        if version == 0 {
            return Ok(None);
        }
        self.legacy_version(version).await
    }

    async fn legacy_version(&self, version: u64) -> Result<Option<Manifest>> {
        let path = legacy_path(version);
        if !self.exists(&path).await? {
            return Ok(None);
        }
        let bytes = self.get(path.as_ref()).await?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| Error::Manifest {
                path: path.to_string(),
                source,
            })
    }

    /// Starts the log of a warehouse of the earlier layout: its newest manifest becomes
    /// the first checkpoint, and commits go on from the next version.
    async fn migrate(&self, legacy: Manifest) -> Result<Known> {
        let version = legacy.version;
        let body = serde_json::to_vec(&legacy).expect("manifest serialises");
        // Another process migrating at the same time may have written the same checkpoint.
        self.put_new(&checkpoint_path(version), body.into()).await?;
        self.put(LAST_CHECKPOINT, version.to_string().into())
            .await?;
        tracing::info!(
            version,
            "moved the warehouse's state to the commit log (_log/); the manifests in _manifest/ \
             are no longer read, and gc removes them"
        );
        Ok(Known {
            manifest: Arc::new(legacy),
            checkpoint: version,
            checked_at: std::time::Instant::now(),
        })
    }
}

fn legacy_path(version: u64) -> ObjectPath {
    ObjectPath::from(format!("{LEGACY_DIR}/{version:020}.json"))
}

fn legacy_version_of(path: &str) -> Option<u64> {
    path.strip_prefix(LEGACY_DIR)?
        .strip_prefix('/')?
        .strip_suffix(".json")?
        .parse()
        .ok()
}
