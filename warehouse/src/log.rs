//! The commit log: one small entry per commit, saying what it changed, and now and then a
//! checkpoint holding the whole state, as Delta Lake and Iceberg keep theirs.
//!
//! | object | what |
//! |---|---|
//! | `_log/<version>.json` | a [`LogEntry`]: the commit's message, time and [`Change`]s; written create-only, which is the commit |
//! | `_log/<version>.checkpoint.json` | the whole [`Manifest`] at that version |
//! | `_log/_last_checkpoint` | the newest checkpoint's version (a hint: readers go on past a stale one) |
//!
//! Reading the state costs one checkpoint plus the entries after it (at most
//! [`CHECKPOINT_EVERY`] when writers keep up), whatever the history's length. A handle keeps
//! the state it read, so the next read asks only for the entries after it: one request
//! when nothing changed.
//!
//! A change is structural, on the manifest as JSON: set or remove a key, or append to an
//! array (the load ledger, a table's files, the snapshots), so an entry's size is that of
//! what the commit did, not of the history. Every entry is checked, before it is written,
//! to turn the state it was made from into exactly the new state.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Manifest;

/// Folder of the log.
pub const LOG_DIR: &str = "_log";
/// The hint naming the newest checkpoint.
pub const LAST_CHECKPOINT: &str = "_log/_last_checkpoint";
/// A commit writes a checkpoint when this many entries follow the last one.
pub const CHECKPOINT_EVERY: u64 = 50;

/// Fields of the manifest that every entry carries itself rather than as changes.
const ENTRY_FIELDS: [&str; 3] = ["version", "committed_at", "message"];

/// Object path of the entry of `version`.
pub fn entry_path(version: u64) -> String {
    format!("{LOG_DIR}/{version:020}.json")
}

/// Object path of the checkpoint at `version`.
pub fn checkpoint_path(version: u64) -> String {
    format!("{LOG_DIR}/{version:020}.checkpoint.json")
}

/// The version of a log object's path (entry or checkpoint), if it is one.
pub fn version_of(path: &str) -> Option<(u64, bool)> {
    let name = path.strip_prefix(LOG_DIR)?.strip_prefix('/')?;
    if let Some(v) = name.strip_suffix(".checkpoint.json") {
        return v.parse().ok().map(|v| (v, true));
    }
    name.strip_suffix(".json")?.parse().ok().map(|v| (v, false))
}

/// One commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// The version this commit made.
    pub version: u64,
    /// When.
    pub committed_at: chrono::DateTime<chrono::Utc>,
    /// What it did, for people reading the history.
    pub message: String,
    /// How the state changed.
    pub changes: Vec<Change>,
}

/// One structural change of the manifest, at a path of object keys and array indexes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Change {
    /// The value at `path` becomes `value`.
    Set {
        /// Where.
        path: Vec<String>,
        /// The new value.
        value: Value,
    },
    /// The key at `path` goes.
    Remove {
        /// Where.
        path: Vec<String>,
    },
    /// `values` are appended to the array at `path`.
    Append {
        /// Where.
        path: Vec<String>,
        /// The new elements, in order.
        values: Vec<Value>,
    },
}

impl LogEntry {
    /// The entry that turns `before` into `after`; `None` when `after` does not follow from
    /// `before` by its changes (which would be a bug: nothing is then written).
    pub fn between(before: &Manifest, after: &Manifest) -> Option<Self> {
        let (b, a) = (state_value(before), state_value(after));
        let mut changes = Vec::new();
        diff(&b, &a, &mut Vec::new(), &mut changes);
        let entry = Self {
            version: after.version,
            committed_at: after.committed_at?,
            message: after.message.clone(),
            changes,
        };
        (entry.apply(before).ok()? == *after).then_some(entry)
    }

    /// The state after this entry, from the state before it.
    pub fn apply(&self, before: &Manifest) -> Result<Manifest, String> {
        let mut replay = Replay::new(before);
        replay.push(self)?;
        replay.finish()
    }
}

/// Entries applied one after another to a state, kept as JSON in between: reading many
/// entries costs one conversion of the state, not one per entry.
#[derive(Debug)]
pub struct Replay {
    state: Value,
    version: u64,
    last: Option<(chrono::DateTime<chrono::Utc>, String)>,
}

impl Replay {
    /// Starts from `state`.
    pub fn new(state: &Manifest) -> Self {
        Self {
            state: serde_json::to_value(state).expect("manifest serialises"),
            version: state.version,
            last: None,
        }
    }

    /// Applies the entry of the next version.
    pub fn push(&mut self, entry: &LogEntry) -> Result<(), String> {
        if entry.version != self.version + 1 {
            return Err(format!(
                "entry {} does not follow version {}",
                entry.version, self.version
            ));
        }
        for change in &entry.changes {
            apply(&mut self.state, change)?;
        }
        self.version = entry.version;
        self.last = Some((entry.committed_at, entry.message.clone()));
        Ok(())
    }

    /// The state after the entries pushed.
    pub fn finish(self) -> Result<Manifest, String> {
        let mut next: Manifest = serde_json::from_value(self.state).map_err(|e| e.to_string())?;
        if let Some((at, message)) = self.last {
            next.version = self.version;
            next.committed_at = Some(at);
            next.message = message;
        }
        Ok(next)
    }
}

fn state_value(m: &Manifest) -> Value {
    let mut v = serde_json::to_value(m).expect("manifest serialises");
    if let Value::Object(o) = &mut v {
        for f in ENTRY_FIELDS {
            o.remove(f);
        }
    }
    v
}

fn diff(before: &Value, after: &Value, path: &mut Vec<String>, out: &mut Vec<Change>) {
    if before == after {
        return;
    }
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for key in b.keys().filter(|k| !a.contains_key(*k)) {
                path.push(key.clone());
                out.push(Change::Remove { path: path.clone() });
                path.pop();
            }
            for (key, value) in a {
                path.push(key.clone());
                match b.get(key) {
                    Some(old) => diff(old, value, path, out),
                    None => out.push(Change::Set {
                        path: path.clone(),
                        value: value.clone(),
                    }),
                }
                path.pop();
            }
        }
        // An array that grew at its end (the ledger, the snapshots, a table's files) gets
        // its new elements and the changes of the old ones; one that shrank is set whole.
        (Value::Array(b), Value::Array(a)) if a.len() >= b.len() => {
            for (i, (old, new)) in b.iter().zip(a).enumerate() {
                path.push(i.to_string());
                diff(old, new, path, out);
                path.pop();
            }
            if a.len() > b.len() {
                out.push(Change::Append {
                    path: path.clone(),
                    values: a[b.len()..].to_vec(),
                });
            }
        }
        _ => out.push(Change::Set {
            path: path.clone(),
            value: after.clone(),
        }),
    }
}

fn apply(state: &mut Value, change: &Change) -> Result<(), String> {
    let path = match change {
        Change::Set { path, .. } | Change::Remove { path } | Change::Append { path, .. } => path,
    };
    let at = |p: &[String]| format!("/{}", p.join("/"));
    let (parent, last) = match change {
        Change::Append { .. } => (path.as_slice(), None),
        _ => match path.split_last() {
            Some((last, parent)) => (parent, Some(last)),
            None => return Err("a change without a path".into()),
        },
    };
    let mut node = state;
    for (depth, key) in parent.iter().enumerate() {
        node = match node {
            Value::Object(o) => o.get_mut(key),
            Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| format!("no {} in the state", at(&parent[..=depth])))?;
    }
    match (change, last, node) {
        (Change::Append { values, .. }, _, Value::Array(a)) => a.extend(values.iter().cloned()),
        (Change::Set { value, .. }, Some(key), Value::Object(o)) => {
            o.insert(key.clone(), value.clone());
        }
        (Change::Set { value, .. }, Some(key), Value::Array(a)) => {
            let slot = key
                .parse::<usize>()
                .ok()
                .and_then(|i| a.get_mut(i))
                .ok_or_else(|| format!("no {} in the state", at(path)))?;
            *slot = value.clone();
        }
        (Change::Remove { .. }, Some(key), Value::Object(o)) => {
            o.remove(key)
                .ok_or_else(|| format!("no {} in the state", at(path)))?;
        }
        _ => return Err(format!("{} cannot take this change", at(path))),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DataFile, LoadRecord, LoadStatus, SnapshotRecord};

    fn file(path: &str) -> DataFile {
        DataFile {
            path: path.into(),
            source: "callbacks_ace".into(),
            load_id: "l".into(),
            period: "2025-01".into(),
            rows: 3,
            bytes: 100,
            min_time: None,
            max_time: None,
        }
    }

    fn load(id: &str) -> LoadRecord {
        LoadRecord {
            load_id: id.into(),
            source: "callbacks_ace".into(),
            sha256: format!("{id}-sha"),
            original_name: format!("{id}.csv"),
            raw_path: format!("raw/{id}"),
            bytes: 10,
            fetched_at: chrono::Utc::now(),
            loaded_at: chrono::Utc::now(),
            rows: 3,
            rejects: 0,
            skipped: 0,
            periods: vec!["2025-01".into()],
            policy: "append".into(),
            replaced: vec![],
            status: LoadStatus::Loaded,
            raw_removed_at: None,
            covers: None,
        }
    }

    fn next(m: &Manifest, message: &str, change: impl FnOnce(&mut Manifest)) -> Manifest {
        let mut n = m.clone();
        change(&mut n);
        n.version += 1;
        n.committed_at = Some(chrono::Utc::now());
        n.message = message.into();
        n
    }

    #[test]
    fn entries_carry_what_a_commit_did_and_apply_to_the_state_before_it() {
        let mut m = Manifest::default();
        let mut entries = Vec::new();
        type Step = Box<dyn FnOnce(&mut Manifest)>;
        let steps: Vec<(&str, Step)> = vec![
            (
                "load a",
                Box::new(|m: &mut Manifest| {
                    m.loads.push(load("a"));
                    m.tables
                        .entry("contacts".into())
                        .or_default()
                        .files
                        .push(file("c/a"));
                }),
            ),
            (
                "load b",
                Box::new(|m: &mut Manifest| {
                    m.loads.push(load("b"));
                    m.tables
                        .get_mut("contacts")
                        .unwrap()
                        .files
                        .push(file("c/b"));
                    m.cursors
                        .insert("api".into(), serde_json::json!({"start_time": 5}));
                }),
            ),
            (
                "supersede a",
                Box::new(|m: &mut Manifest| {
                    m.loads[0].status = LoadStatus::Superseded;
                    m.tables.get_mut("contacts").unwrap().files.remove(0);
                }),
            ),
            (
                "publish",
                Box::new(|m: &mut Manifest| {
                    m.snapshots.push(SnapshotRecord {
                        id: "s1".into(),
                        computed_at: chrono::Utc::now(),
                        data_version: 3,
                        path: "tiles/s1".into(),
                        rows: 9,
                        definitions: Default::default(),
                        pin: None,
                        expired_at: None,
                    });
                    m.cursors.remove("api");
                }),
            ),
        ];
        for (message, change) in steps {
            let after = next(&m, message, change);
            let entry = LogEntry::between(&m, &after).expect("an entry");
            assert_eq!(entry.apply(&m).unwrap(), after, "{message}");
            // Through JSON, as it is stored.
            let stored: LogEntry =
                serde_json::from_slice(&serde_json::to_vec(&entry).unwrap()).unwrap();
            assert_eq!(stored, entry);
            entries.push(entry);
            m = after;
        }
        // The second load appends to the ledger and the table: it does not repeat them.
        let text = serde_json::to_string(&entries[1]).unwrap();
        assert!(!text.contains("a-sha"), "{text}");
        assert!(
            entries[1]
                .changes
                .iter()
                .any(|c| matches!(c, Change::Append { path, values } if path == &["loads"] && values.len() == 1)),
            "{text}"
        );
        // Replaying every entry from the empty state gives the last state.
        let mut replayed = Manifest::default();
        for e in &entries {
            replayed = e.apply(&replayed).unwrap();
        }
        assert_eq!(replayed, m);
    }

    #[test]
    fn an_entry_applies_only_to_the_version_before_it() {
        let m = Manifest::default();
        let after = next(&m, "one", |m| {
            m.cursors.insert("x".into(), 1.into());
        });
        let entry = LogEntry::between(&m, &after).unwrap();
        let err = entry.apply(&after).unwrap_err();
        assert!(err.contains("does not follow version 1"), "{err}");
        let bad = LogEntry {
            changes: vec![Change::Remove {
                path: vec!["cursors".into(), "missing".into()],
            }],
            ..entry
        };
        assert_eq!(
            bad.apply(&m).unwrap_err(),
            "no /cursors/missing in the state"
        );
    }

    #[test]
    fn log_paths_read_back_as_versions() {
        assert_eq!(version_of(&entry_path(42)), Some((42, false)));
        assert_eq!(version_of(&checkpoint_path(50)), Some((50, true)));
        assert_eq!(version_of(LAST_CHECKPOINT), None);
        assert_eq!(version_of("_log/_probe/x"), None);
    }
}
