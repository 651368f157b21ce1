//! What `gc` removes and what it always keeps: files no committed state refers to, landed
//! exports past the raw retention rule, snapshots past the snapshot retention rule; never a
//! pinned snapshot, the latest one, or a file a load still running may commit.

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;

use crate::{Error, Pin, Result, Warehouse, error};

/// How many hours old an unreferenced file must be before `gc` removes it, unless told
/// otherwise: a younger one may belong to a load that has written its Parquet files and not
/// yet committed them.
pub const ORPHAN_GRACE_HOURS: u32 = 6;

impl Warehouse {
    /// Deletes files under `curated/`, `quarantine/` and `tiles/` that no committed state
    /// lists and that were last written before `written_before`: leftovers of loads that
    /// died before committing, and the folders of expired snapshots. Returns the deleted
    /// paths. Pass `now -` [`ORPHAN_GRACE_HOURS`] unless no load can be running.
    pub async fn remove_orphans(&self, written_before: DateTime<Utc>) -> Result<Vec<String>> {
        let manifest = self.manifest().await?;
        let referenced: std::collections::HashSet<String> = manifest
            .tables
            .values()
            .flat_map(|t| t.files.iter().map(|f| f.path.clone()))
            .collect();
        // Everything in a published snapshot's folder belongs to it (the tiles and the rows
        // kept for the next incremental publish), until the retention rule expires it.
        let snapshot_folders: Vec<String> = manifest
            .snapshots
            .iter()
            .filter(|s| s.expired_at.is_none())
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
                if meta.last_modified < written_before
                    && !referenced.contains(&path)
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

    /// The snapshot retention rule: marks the snapshots computed before `cutoff` expired,
    /// except the pinned ones, the latest and the one in force at `cutoff`, and returns
    /// their ids. Their entries stay (an `--as-of` time they were in force says they were
    /// removed); their folders go with the next [`Warehouse::remove_orphans`].
    pub async fn expire_snapshots(&self, cutoff: DateTime<Utc>) -> Result<Vec<String>> {
        let now = Utc::now();
        let mut expired = Vec::new();
        self.commit_if_changed("snapshot retention", |m| {
            expired.clear();
            let kept: std::collections::BTreeSet<String> = m
                .snapshots_kept(cutoff)
                .into_iter()
                .map(str::to_string)
                .collect();
            for s in m.snapshots.iter_mut() {
                if s.expired_at.is_none() && !kept.contains(&s.id) {
                    s.expired_at = Some(now);
                    expired.push(s.id.clone());
                }
            }
            Ok(())
        })
        .await?;
        Ok(expired)
    }

    /// Pins a snapshot (by id) with a label, so the retention rule never removes it and
    /// `--snapshot LABEL` finds it. Pinning it again with the same label changes nothing;
    /// a label another snapshot carries, or a second label, is refused.
    pub async fn pin_snapshot(&self, id: &str, label: &str) -> Result<Pin> {
        let label = label.trim();
        if label.is_empty() {
            return Err(Error::Rejected("a pin needs a label".into()));
        }
        let now = Utc::now();
        let mut pin = None;
        self.commit_if_changed(&format!("pin snapshot {id} as {label}"), |m| {
            if let Some(other) = m
                .snapshots
                .iter()
                .find(|s| s.id != id && s.pin.as_ref().is_some_and(|p| p.label == label))
            {
                return Err(Error::Rejected(format!(
                    "the label `{label}` already pins snapshot {}; unpin it first",
                    other.id
                )));
            }
            let Some(s) = m.snapshots.iter_mut().find(|s| s.id == id) else {
                return Err(Error::Rejected(format!("no snapshot {id}")));
            };
            if let Some(expired) = s.expired_at {
                return Err(Error::Rejected(format!(
                    "snapshot {id} was removed by the snapshot retention rule on {}",
                    expired.format("%Y-%m-%d")
                )));
            }
            match &s.pin {
                // Already pinned with this label: nothing changes.
                Some(p) if p.label == label => {
                    pin = Some(p.clone());
                    Ok(())
                }
                Some(p) => Err(Error::Rejected(format!(
                    "snapshot {id} is already pinned as `{}`; unpin it first",
                    p.label
                ))),
                None => {
                    let p = Pin {
                        label: label.to_string(),
                        pinned_at: now,
                    };
                    s.pin = Some(p.clone());
                    pin = Some(p);
                    Ok(())
                }
            }
        })
        .await?;
        Ok(pin.expect("set by every successful change"))
    }

    /// Removes the pin with `label` and returns the snapshot id it was on. The snapshot
    /// stays until the retention rule reaches it.
    pub async fn unpin_snapshot(&self, label: &str) -> Result<String> {
        let mut id = String::new();
        self.commit(&format!("unpin {label}"), |m| {
            let Some(s) = m
                .snapshots
                .iter_mut()
                .find(|s| s.pin.as_ref().is_some_and(|p| p.label == label))
            else {
                return Err(Error::Rejected(format!(
                    "no snapshot is pinned as `{label}`"
                )));
            };
            s.pin = None;
            id = s.id.clone();
            Ok(())
        })
        .await?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SnapshotRecord;

    fn record(id: &str, at: &str) -> SnapshotRecord {
        SnapshotRecord {
            id: id.into(),
            computed_at: at.parse().unwrap(),
            data_version: 1,
            path: format!("tiles/{id}"),
            rows: 0,
            definitions: Default::default(),
            pin: None,
            expired_at: None,
        }
    }

    async fn published(wh: &Warehouse, snapshots: &[(&str, &str)]) {
        for (id, at) in snapshots {
            wh.put(&format!("tiles/{id}/tiles.json"), "{}".into())
                .await
                .unwrap();
            let r = record(id, at);
            wh.commit("publish", |m| {
                m.snapshots.push(r.clone());
                Ok(())
            })
            .await
            .unwrap();
        }
    }

    #[tokio::test]
    async fn retention_keeps_pinned_latest_and_the_one_in_force_at_the_cutoff() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        published(
            &wh,
            &[
                ("jan", "2025-01-31T10:00:00Z"),
                ("feb", "2025-02-28T10:00:00Z"),
                ("mar", "2025-03-31T10:00:00Z"),
                ("apr", "2025-04-30T10:00:00Z"),
                ("may", "2025-05-31T10:00:00Z"),
            ],
        )
        .await;
        wh.pin_snapshot("jan", "Aluevaltuusto 16.2.2025")
            .await
            .unwrap();
        let cutoff: DateTime<Utc> = "2025-04-15T00:00:00Z".parse().unwrap();
        let expired = wh.expire_snapshots(cutoff).await.unwrap();
        // jan is pinned, mar was in force at the cutoff, apr and may are after it.
        assert_eq!(expired, vec!["feb".to_string()]);
        let removed = wh
            .remove_orphans(Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(removed, vec!["tiles/feb/tiles.json".to_string()]);
        // Running it again changes nothing and commits nothing.
        let version = wh.manifest().await.unwrap().version;
        assert!(wh.expire_snapshots(cutoff).await.unwrap().is_empty());
        assert_eq!(wh.manifest().await.unwrap().version, version);

        // A cutoff past every snapshot still keeps the latest and the pinned one.
        let expired = wh
            .expire_snapshots("2026-01-01T00:00:00Z".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(expired, vec!["mar".to_string(), "apr".to_string()]);
        let m = wh.manifest().await.unwrap();
        let live: Vec<_> = m
            .snapshots
            .iter()
            .filter(|s| s.expired_at.is_none())
            .map(|s| s.id.as_str())
            .collect();
        assert_eq!(live, ["jan", "may"]);
        assert_eq!(m.latest_snapshot().unwrap().id, "may");
        assert_eq!(
            m.snapshot_by_label("Aluevaltuusto 16.2.2025").unwrap().id,
            "jan"
        );
    }

    #[tokio::test]
    async fn a_label_pins_one_snapshot_and_unpinning_frees_it() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        published(
            &wh,
            &[("a", "2025-01-31T10:00:00Z"), ("b", "2025-02-28T10:00:00Z")],
        )
        .await;
        let pin = wh.pin_snapshot("a", "Board Q1").await.unwrap();
        let version = wh.manifest().await.unwrap().version;
        // The same pin again is kept as it was, with no new commit.
        assert_eq!(wh.pin_snapshot("a", "Board Q1").await.unwrap(), pin);
        assert_eq!(wh.manifest().await.unwrap().version, version);
        let taken = wh
            .pin_snapshot("b", "Board Q1")
            .await
            .unwrap_err()
            .to_string();
        assert!(taken.contains("already pins snapshot a"), "{taken}");
        let second = wh.pin_snapshot("a", "Other").await.unwrap_err().to_string();
        assert!(second.contains("already pinned as `Board Q1`"), "{second}");
        let missing = wh.pin_snapshot("zz", "X").await.unwrap_err().to_string();
        assert!(missing.contains("no snapshot zz"), "{missing}");
        assert_eq!(wh.unpin_snapshot("Board Q1").await.unwrap(), "a");
        wh.pin_snapshot("b", "Board Q1").await.unwrap();
        let gone = wh.unpin_snapshot("nope").await.unwrap_err().to_string();
        assert!(gone.contains("no snapshot is pinned as `nope`"), "{gone}");
    }

    #[tokio::test]
    async fn a_young_unreferenced_file_may_be_a_running_load_and_stays() {
        let dir = tempfile::tempdir().unwrap();
        let wh = Warehouse::open_local(dir.path()).unwrap();
        wh.put("curated/t/period=2025-01/running.parquet", "x".into())
            .await
            .unwrap();
        let now = Utc::now();
        assert!(
            wh.remove_orphans(now - chrono::Duration::hours(ORPHAN_GRACE_HOURS.into()))
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            dir.path()
                .join("curated/t/period=2025-01/running.parquet")
                .exists()
        );
        let removed = wh
            .remove_orphans(now + chrono::Duration::seconds(1))
            .await
            .unwrap();
        assert_eq!(removed.len(), 1);
    }
}
