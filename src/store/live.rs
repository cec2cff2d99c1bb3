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
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// A folder ddmsim owns and updates in place. Any number of ddmsim processes may have it open at once (shards of
/// one sweep, a `ddmsim report` gathering it): each holds a shared lock on it for as long as it is open, which a
/// single run into the same folder (an exclusive lock) is refused against, and every change to its top level is
/// made under the folder's publish lock, taken for the moment of the change ([`LiveFolder::begin`]).
#[derive(Debug)]
pub struct LiveFolder {
    dir: PathBuf,
    kind: FolderKind,
    /// The shared lock on the folder's lock file (`None` only while dropping).
    shared: Option<File>,
    shared_path: PathBuf,
    publish_path: PathBuf,
    alone: bool,
}

/// Files staged inside a [`LiveFolder`] for [`LiveFolder::publish`]; removed if dropped unpublished.
#[derive(Debug)]
pub struct LiveStaging {
    dir: tempfile::TempDir,
    _live: FileLock,
    _forced: crate::interrupt::ForcedExitAction,
}

impl LiveStaging {
    /// The folder to write into.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// The publish lock of a [`LiveFolder`], held while a process changes the folder's top level.
#[derive(Debug)]
pub struct Publishing {
    _lock: FileLock,
}

/// Files ddmsim writes into a sweep's or study's folder outside publishes (cells, the claim log, the Slurm
/// scripts and the logs Slurm writes for them): never removed as stale by a publish.
fn written_outside_publishes(rel: &str) -> bool {
    rel.starts_with("cells/") || rel.starts_with("slurm/") || rel == super::claim::CLAIM_LOG
}

impl LiveFolder {
    /// Opens (creating it if needed) the `kind` folder `target`. When no other process has it open, a marked
    /// folder of another kind, or an unmarked output of an older ddmsim of another kind, is cleared of ddmsim's
    /// files first (the user's notes stay); anything ddmsim did not write is refused. When others have it open,
    /// it must already be a `kind` folder. `what` names the folder in messages.
    pub fn open(target: &Path, kind: FolderKind, protected: &Protected, what: &str) -> Result<Self> {
        let (folder, publishing) = Self::open_publishing(target, kind, protected, what)?;
        drop(publishing);
        Ok(folder)
    }

    /// [`LiveFolder::open`], still holding the publish lock taken to open it: what the caller checks and
    /// publishes before dropping it is seen by every process that opens the folder later.
    pub fn open_publishing(
        target: &Path,
        kind: FolderKind,
        protected: &Protected,
        what: &str,
    ) -> Result<(Self, Publishing)> {
        check_target(target, protected, what)?;
        let parent = super::parent_of(target);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("creating", &parent, e))?;
        let (shared_path, publish_path) = lock_paths(target);
        let publishing = take_publish_lock(&publish_path)?;
        let (shared, alone) = join_shared(&shared_path, what)?;
        let folder = LiveFolder {
            dir: target.to_path_buf(),
            kind,
            shared: Some(shared),
            shared_path,
            publish_path,
            alone,
        };
        // The publish lock is released before the folder on failure: dropping the folder takes it again.
        if let Err(e) = folder.prepare(alone, what) {
            drop(publishing);
            return Err(e);
        }
        Ok((folder, publishing))
    }

    /// Readies the folder for this process (see [`LiveFolder::open`]); under the publish lock.
    fn prepare(&self, alone: bool, what: &str) -> Result<()> {
        let (target, kind) = (self.dir.as_path(), self.kind);
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
            Existing::Marked(_) | Existing::Legacy if !alone => {
                return Err(Error::Refused(format!(
                    "{what}: another ddmsim process is writing this folder as another kind of output; wait for it \
                     to finish or choose another folder"
                )));
            }
            Existing::Marked(_) | Existing::Legacy => {
                let notes = notes_to_keep(target, &existing, what)?;
                clear_except(target, &notes)?;
                BTreeSet::new()
            }
        };
        std::fs::create_dir_all(target).map_err(|e| Error::io("creating", target, e))?;
        remove_abandoned(target, STAGING_INFIX)?;
        self.write_marker(&files)
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
            Ok(Existing::Absent) => {
                return Err(Error::Refused(format!("{what}: no such folder")));
            }
            Ok(Existing::Empty) => return Err(not_ours()),
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

    /// Whether no other process had the folder open when this one opened it.
    pub fn was_alone(&self) -> bool {
        self.alone
    }

    /// The kind of the folder.
    pub fn kind(&self) -> FolderKind {
        self.kind
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Takes the folder's publish lock (waiting while another process publishes): hold it from reading the
    /// folder's state to publishing what was built from it.
    pub fn begin(&self) -> Result<Publishing> {
        take_publish_lock(&self.publish_path)
    }

    /// A new staging folder inside this folder, to build files in before [`LiveFolder::publish`].
    pub fn staging(&self) -> Result<LiveStaging> {
        let dir = temp_dir_in(&self.dir, STAGING_INFIX)?;
        let live = mark_live(dir.path())?;
        let path = dir.path().to_path_buf();
        let forced = crate::interrupt::on_forced_exit(move || {
            let _ = std::fs::remove_dir_all(&path);
        });
        Ok(LiveStaging {
            dir,
            _live: live,
            _forced: forced,
        })
    }

    /// Lists `rel` (a file ddmsim writes outside publishes, e.g. the claim log) in the folder's marker.
    pub fn list(&self, _publishing: &Publishing, rel: &str) -> Result<()> {
        let mut files = self.listed()?;
        if files.insert(rel.to_string()) {
            self.write_marker(&files)?;
        }
        Ok(())
    }

    /// Moves every file of `staged` into this folder (replacing files of the same name); ddmsim's files that are
    /// in `scope` but not in `staged` are removed (stale figures, an outdated report), so those files are exactly
    /// the new set. Cells, the claim log and the Slurm scripts are never removed here.
    pub fn publish(&self, _publishing: &Publishing, staged: LiveStaging, scope: &dyn Fn(&str) -> bool) -> Result<()> {
        let lock = staged.path().join(super::lock::LIVE_LOCK);
        std::fs::remove_file(&lock).map_err(|e| Error::io("removing", &lock, e))?;
        let (new, _) = contents(staged.path())?;
        let new: BTreeSet<String> = new.into_iter().collect();
        let files = self.listed()?;
        // A file of the user's where ddmsim is about to write one is refused before anything moves.
        if let Some(rel) = new
            .iter()
            .find(|rel| !files.contains(*rel) && self.dir.join(rel).exists())
        {
            return Err(Error::Refused(format!(
                "{}: holds `{rel}`, which ddmsim did not write but writes itself; rename or move it",
                self.dir.display()
            )));
        }
        // List the union first: a crash half-way leaves no file of ddmsim's unlisted.
        let union: BTreeSet<String> = files.union(&new).cloned().collect();
        self.write_marker(&union)?;
        for rel in &new {
            let (from, to) = (staged.path().join(rel), self.dir.join(rel));
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| Error::io("creating", parent, e))?;
            }
            std::fs::rename(&from, &to).map_err(|e| Error::io("renaming", &to, e))?;
        }
        let stale: Vec<String> = files
            .difference(&new)
            .filter(|f| scope(f) && !written_outside_publishes(f))
            .cloned()
            .collect();
        for rel in &stale {
            remove_file_and_empty_parents(&self.dir, rel)?;
        }
        let kept: BTreeSet<String> = union.into_iter().filter(|f| !stale.contains(f)).collect();
        self.write_marker(&kept)
    }

    /// The files the marker lists now (other processes may have published since this one last looked).
    fn listed(&self) -> Result<BTreeSet<String>> {
        match inspect(&self.dir, &self.dir.display().to_string())? {
            Existing::Marked(marker) => Ok(marker.files.into_iter().collect()),
            _ => Err(Error::Refused(format!(
                "{}: its {MARKER} marker disappeared while ddmsim was writing the folder; was it removed by hand?",
                self.dir.display()
            ))),
        }
    }

    fn write_marker(&self, files: &BTreeSet<String>) -> Result<()> {
        Marker::new(self.kind, files.iter().cloned().collect()).write(&self.dir)
    }
}

impl Drop for LiveFolder {
    fn drop(&mut self) {
        // The last process to leave removes the lock file, under the publish lock so no one joins meanwhile.
        let publishing = FileLock::take(&self.publish_path, true, || {});
        if let Some(file) = self.shared.take() {
            if publishing.is_ok() && file.try_lock().is_ok() {
                let _ = std::fs::remove_file(&self.shared_path);
            }
            let _ = file.unlock();
        }
    }
}

/// The folder's lock file (shared by the processes that have it open, exclusive for a single run) and its
/// publish lock file, both beside it.
fn lock_paths(target: &Path) -> (PathBuf, PathBuf) {
    let shared = TargetLock::path_of(target);
    let name = shared
        .file_name()
        .expect("a lock file name")
        .to_string_lossy()
        .into_owned();
    let publish = shared.with_file_name(name.replace(".ddmsim-lock", ".publish.ddmsim-lock"));
    (shared, publish)
}

/// Takes the publish lock at `path`, waiting while another process publishes (moments, not runs).
fn take_publish_lock(path: &Path) -> Result<Publishing> {
    Ok(Publishing {
        _lock: FileLock::take(path, true, || {})?,
    })
}

/// Joins the processes that have the folder open (called under its publish lock): its lock file locked shared,
/// and whether no other process had it open. Refused while a single run holds it exclusively.
fn join_shared(path: &Path, what: &str) -> Result<(File, bool)> {
    let busy = || {
        Error::Refused(format!(
            "{what}: another ddmsim process is writing this folder; wait for it to finish or choose another folder"
        ))
    };
    for _ in 0..100 {
        let file = super::lock::open(path)?;
        let alone = match file.try_lock() {
            Ok(()) => {
                // Downgraded at once: a single run may slip in between, and is then the one that holds it.
                file.unlock().map_err(|e| Error::io("locking", path, e))?;
                true
            }
            Err(TryLockError::WouldBlock) => false,
            Err(TryLockError::Error(e)) => return Err(Error::io("locking", path, e)),
        };
        match file.try_lock_shared() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Err(busy()),
            Err(TryLockError::Error(e)) => return Err(Error::io("locking", path, e)),
        }
        if super::lock::same_file(&file, path) {
            return Ok((file, alone));
        }
    }
    Err(Error::Refused(format!(
        "{}: the lock file keeps changing under ddmsim; is another program removing it?",
        path.display()
    )))
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
        let publishing = folder.begin().unwrap();
        let staged = folder.staging().unwrap();
        for (name, text) in files {
            crate::atomic::write_atomic(&staged.path().join(name), text.as_bytes()).unwrap();
        }
        folder.publish(&publishing, staged, &|_| replace_all).unwrap();
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
