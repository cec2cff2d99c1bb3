//! A folder that grows while ddmsim works in it (a sweep's or study's top level, or a run folder whose report is
//! rebuilt): its own files are built in a hidden staging folder inside it and published by renames, and its
//! marker always lists every file ddmsim put there.

use super::guard::{Protected, check_target};
use super::lock::{FileLock, mark_live, remove_abandoned};
use super::marker::{Existing, FolderKind, MARKER, Marker, contents, inspect, notes_to_keep};
use super::staging::{STAGING_INFIX, TargetLock};
use crate::atomic::temp_dir_in;
use crate::error::{Error, Result};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// A folder ddmsim owns and updates in place, locked against other ddmsim processes while open.
#[derive(Debug)]
pub struct LiveFolder {
    dir: PathBuf,
    kind: FolderKind,
    files: BTreeSet<String>,
    _lock: TargetLock,
}

/// Files staged inside a [`LiveFolder`] for [`LiveFolder::publish`]; removed if dropped unpublished.
#[derive(Debug)]
pub struct LiveStaging {
    dir: tempfile::TempDir,
    _live: FileLock,
}

impl LiveStaging {
    /// The folder to write into.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl LiveFolder {
    /// Opens (creating it if needed) the `kind` folder `target`. A marked folder of another kind, or an
    /// unmarked output of an older ddmsim of another kind, is cleared of ddmsim's files first (the user's notes
    /// stay); anything ddmsim did not write is refused. `what` names the folder in messages.
    pub fn open(target: &Path, kind: FolderKind, protected: &Protected, what: &str) -> Result<Self> {
        check_target(target, protected, what)?;
        let lock = TargetLock::take(target, what)?;
        let existing = inspect(target, what)?;
        let files = match &existing {
            Existing::Absent | Existing::Empty => BTreeSet::new(),
            Existing::Marked(marker) if marker.kind == kind => marker.files.iter().cloned().collect(),
            Existing::Legacy if legacy_kind(target) == kind => {
                // The folder's own files only: its cells are runs of their own, reused or replaced one by one.
                let notes = notes_to_keep(target, &existing, what)?;
                let (files, _) = contents(target)?;
                files
                    .into_iter()
                    .filter(|f| !f.starts_with("cells/") && !notes.contains(&target.join(f)))
                    .collect()
            }
            Existing::Marked(_) | Existing::Legacy => {
                let notes = notes_to_keep(target, &existing, what)?;
                clear_except(target, &notes)?;
                BTreeSet::new()
            }
        };
        std::fs::create_dir_all(target).map_err(|e| Error::io("creating", target, e))?;
        remove_abandoned(target, STAGING_INFIX)?;
        let folder = LiveFolder {
            dir: target.to_path_buf(),
            kind,
            files,
            _lock: lock,
        };
        folder.write_marker(&folder.files)?;
        Ok(folder)
    }

    /// Opens an existing output folder of ddmsim (marked, or written by an older version) as the kind it is.
    pub fn open_existing(dir: &Path, what: &str) -> Result<Self> {
        let not_ours = || {
            Error::Refused(format!(
                "{what}: is not a ddmsim output folder (it has no {MARKER} marker)"
            ))
        };
        let kind = match inspect(dir, what) {
            Ok(Existing::Marked(marker)) => marker.kind,
            Ok(Existing::Legacy) => legacy_kind(dir),
            Ok(Existing::Absent | Existing::Empty) => return Err(not_ours()),
            Err(_) if dir.is_dir() && !dir.join(MARKER).exists() => return Err(not_ours()),
            Err(e) => return Err(e),
        };
        if kind == FolderKind::Cache {
            return Err(Error::Refused(format!(
                "{what}: is the model cache, not an output folder"
            )));
        }
        Self::open(dir, kind, &Protected::default(), what)
    }

    /// The kind of the folder.
    pub fn kind(&self) -> FolderKind {
        self.kind
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// A new staging folder inside this folder, to build files in before [`LiveFolder::publish`].
    pub fn staging(&self) -> Result<LiveStaging> {
        let dir = temp_dir_in(&self.dir, STAGING_INFIX)?;
        let live = mark_live(dir.path())?;
        Ok(LiveStaging { dir, _live: live })
    }

    /// Moves every file of `staged` into this folder (replacing files of the same name); ddmsim's files that are
    /// in `scope` but not in `staged` are removed (stale figures, an outdated report), so those files are exactly
    /// the new set.
    pub fn publish(&mut self, staged: LiveStaging, scope: &dyn Fn(&str) -> bool) -> Result<()> {
        let lock = staged.path().join(super::lock::LIVE_LOCK);
        std::fs::remove_file(&lock).map_err(|e| Error::io("removing", &lock, e))?;
        let (new, _) = contents(staged.path())?;
        let new: BTreeSet<String> = new.into_iter().collect();
        // A file of the user's where ddmsim is about to write one is refused before anything moves.
        if let Some(rel) = new
            .iter()
            .find(|rel| !self.files.contains(*rel) && self.dir.join(rel).exists())
        {
            return Err(Error::Refused(format!(
                "{}: holds `{rel}`, which ddmsim did not write but writes itself; rename or move it",
                self.dir.display()
            )));
        }
        // List the union first: a crash half-way leaves no file of ddmsim's unlisted.
        let union: BTreeSet<String> = self.files.union(&new).cloned().collect();
        self.write_marker(&union)?;
        for rel in &new {
            let (from, to) = (staged.path().join(rel), self.dir.join(rel));
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| Error::io("renaming", &to, e))?;
        }
        let stale: Vec<String> = self
            .files
            .difference(&new)
            .filter(|f| scope(f) && !f.starts_with("cells/"))
            .cloned()
            .collect();
        for rel in &stale {
            remove_file_and_empty_parents(&self.dir, rel)?;
        }
        self.files = union.into_iter().filter(|f| !stale.contains(f)).collect();
        self.write_marker(&self.files)
    }

    fn write_marker(&self, files: &BTreeSet<String>) -> Result<()> {
        Marker::new(self.kind, files.iter().cloned().collect()).write(&self.dir)
    }
}

/// The kind of an unmarked output folder of an older ddmsim.
fn legacy_kind(dir: &Path) -> FolderKind {
    if dir.join("study.csv").is_file() {
        FolderKind::Study
    } else if dir.join("cells").is_dir() {
        FolderKind::Sweep
    } else {
        FolderKind::Run
    }
}

/// Removes everything in `dir` except the files `keep` (already checked to be ddmsim's or notes).
fn clear_except(dir: &Path, keep: &[PathBuf]) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::read(dir, e))?;
        let path = entry.path();
        if keep.contains(&path) {
            continue;
        }
        let removed = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| Error::io("removing", &path, e))?;
    }
    Ok(())
}

/// Removes `dir/rel` (if there) and the folders above it inside `dir` that it leaves empty.
fn remove_file_and_empty_parents(dir: &Path, rel: &str) -> Result<()> {
    let path = dir.join(rel);
    match std::fs::remove_file(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("removing", &path, e)),
    }
    let mut parent = path.parent();
    while let Some(p) = parent.filter(|p| *p != dir && p.starts_with(dir)) {
        if std::fs::remove_dir(p).is_err() {
            break;
        }
        parent = p.parent();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(folder: &mut LiveFolder, files: &[(&str, &str)], replace_all: bool) {
        let staged = folder.staging().unwrap();
        for (name, text) in files {
            crate::atomic::write_atomic(&staged.path().join(name), text.as_bytes()).unwrap();
        }
        folder.publish(staged, &|_| replace_all).unwrap();
    }

    #[test]
    fn published_files_replace_the_old_set_and_the_marker_lists_them() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sweep");
        let mut folder = LiveFolder::open(&target, FolderKind::Sweep, &Protected::default(), "--out").unwrap();
        publish(&mut folder, &[("results.csv", "1"), ("figures/a.svg", "a")], true);
        publish(&mut folder, &[("results.csv", "2")], true);
        assert_eq!(std::fs::read(target.join("results.csv")).unwrap(), b"2");
        assert!(
            !target.join("figures").exists(),
            "a stale figure (and its folder) was kept"
        );
        let Existing::Marked(marker) = inspect(&target, "x").unwrap() else {
            panic!("not marked")
        };
        assert_eq!(marker.files, vec!["results.csv".to_string()]);
        let (files, _) = contents(&target).unwrap();
        assert_eq!(files, vec![".ddmsim".to_string(), "results.csv".to_string()]);
    }

    #[test]
    fn a_run_folder_opened_as_a_sweep_loses_ddmsims_files_but_keeps_notes() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        std::fs::create_dir_all(target.join("models")).unwrap();
        std::fs::write(target.join("models/expert_0.safetensors"), "w").unwrap();
        std::fs::write(target.join("NOTES.md"), "mine").unwrap();
        Marker::new(FolderKind::Run, vec!["models/expert_0.safetensors".into()])
            .write(&target)
            .unwrap();
        drop(LiveFolder::open(&target, FolderKind::Sweep, &Protected::default(), "--out").unwrap());
        assert!(!target.join("models").exists());
        assert_eq!(std::fs::read(target.join("NOTES.md")).unwrap(), b"mine");
    }
}
