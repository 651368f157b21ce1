//! Drop folder: a vendor writes export files into a folder; we pick up the ones matching a
//! glob. A file still being written is never picked up: temporary names (`.part`, `.tmp`,
//! `~`, hidden files) are skipped, and so is a file modified within `settle_seconds`.

use std::time::{Duration, SystemTime};

use chrono::Utc;
use globset::{Glob, GlobMatcher};
use serde::Deserialize;

use super::{Content, Delivery, FetchContext};
use crate::config::{Problems, SourceRef};
use crate::{Error, Result};

/// Config of a drop folder.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropFolder {
    /// The folder, relative to the inputs root unless absolute.
    pub path: String,
    /// File name pattern, such as `ace_contacts_*.csv`.
    pub glob: String,
    /// A file modified more recently than this is assumed to be still in writing.
    #[serde(default = "default_settle")]
    pub settle_seconds: u64,
}

fn default_settle() -> u64 {
    30
}

/// A drop folder ready to scan: its config, with the glob compiled.
#[derive(Debug, Clone)]
pub struct Watch {
    folder: DropFolder,
    matcher: GlobMatcher,
}

impl DropFolder {
    /// Checks the keys (`glob` must be a valid pattern) and compiles the glob; `None` after
    /// a problem.
    pub fn compile(&self, source: SourceRef<'_>, problems: &mut Problems) -> Option<Watch> {
        match Glob::new(&self.glob) {
            Ok(glob) => Some(Watch {
                folder: self.clone(),
                matcher: glob.compile_matcher(),
            }),
            Err(e) => {
                problems.error(source.file, "fetch.glob", e);
                None
            }
        }
    }
}

impl Watch {
    /// The complete export files present now, sorted by name.
    pub fn scan(&self, source: SourceRef<'_>, ctx: &FetchContext) -> Result<Vec<Delivery>> {
        self.scan_at(source, ctx, SystemTime::now())
    }

    fn scan_at(
        &self,
        source: SourceRef<'_>,
        ctx: &FetchContext,
        now: SystemTime,
    ) -> Result<Vec<Delivery>> {
        let (folder, matcher) = (&self.folder, &self.matcher);
        let dir = ctx.resolve(&folder.path);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(source = %source.name, folder = %dir.display(), "drop folder does not exist; nothing to load");
                return Ok(Vec::new());
            }
            Err(source_err) => {
                return Err(Error::Io {
                    context: format!("reading drop folder {}", dir.display()),
                    source: source_err,
                });
            }
        };
        let settle = Duration::from_secs(ctx.settle_seconds.unwrap_or(folder.settle_seconds));
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| Error::Io {
                context: format!("reading drop folder {}", dir.display()),
                source: e,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_temporary(&name) || !matcher.is_match(&name) {
                continue;
            }
            let meta = entry.metadata().map_err(|e| Error::Io {
                context: format!("inspecting {name}"),
                source: e,
            })?;
            if !meta.is_file() {
                continue;
            }
            let modified = meta.modified().unwrap_or(now);
            if now.duration_since(modified).unwrap_or_default() < settle {
                tracing::info!(source = %source.name, file = %name, "file changed less than {}s ago; leaving it for the next run", folder.settle_seconds);
                continue;
            }
            out.push(Delivery {
                name,
                fetched_at: Utc::now(),
                content: Content::File(entry.path()),
                covers: None,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn is_temporary(name: &str) -> bool {
    name.starts_with('.')
        || name.ends_with(".part")
        || name.ends_with(".tmp")
        || name.ends_with('~')
        || name.ends_with(".partial")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> SourceRef<'static> {
        SourceRef {
            name: "s",
            file: std::path::Path::new("config/sources/s.toml"),
        }
    }

    fn watch(folder: DropFolder) -> Watch {
        let mut problems = Problems::default();
        let watch = folder.compile(source(), &mut problems);
        assert!(problems.errors.is_empty(), "{problems:?}");
        watch.expect("compiles")
    }

    #[test]
    fn picks_complete_matching_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let inbox = dir.path().join("in");
        std::fs::create_dir(&inbox).unwrap();
        for n in ["b.csv", "a.csv", "c.csv.part", ".d.csv", "e.txt"] {
            std::fs::write(inbox.join(n), "x").unwrap();
        }
        let ctx = FetchContext {
            inputs_root: dir.path().to_path_buf(),
            settle_seconds: None,
        };
        let folder = watch(DropFolder {
            path: "in".into(),
            glob: "*.csv".into(),
            settle_seconds: 60,
        });
        let now = SystemTime::now();
        assert!(
            folder.scan_at(source(), &ctx, now).unwrap().is_empty(),
            "fresh files are left to settle"
        );
        let later = now + Duration::from_secs(120);
        let names: Vec<_> = folder
            .scan_at(source(), &ctx, later)
            .unwrap()
            .into_iter()
            .map(|d| d.name)
            .collect();
        assert_eq!(names, vec!["a.csv", "b.csv"]);
    }

    #[test]
    fn a_missing_folder_is_empty_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = FetchContext {
            inputs_root: dir.path().to_path_buf(),
            settle_seconds: None,
        };
        let folder = watch(DropFolder {
            path: "nope".into(),
            glob: "*".into(),
            settle_seconds: 0,
        });
        assert!(folder.scan(source(), &ctx).unwrap().is_empty());
    }

    #[test]
    fn a_bad_glob_is_named_with_file_and_key() {
        let folder = DropFolder {
            path: "in".into(),
            glob: "ace_[contacts.csv".into(),
            settle_seconds: 0,
        };
        let mut problems = Problems::default();
        assert!(folder.compile(source(), &mut problems).is_none());
        assert_eq!(problems.errors.len(), 1, "{problems:?}");
        assert!(
            problems.errors[0].starts_with("config/sources/s.toml: `fetch.glob`: "),
            "{problems:?}"
        );
    }
}
