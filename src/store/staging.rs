//! A run's output folder is built whole under a hidden staging name beside it, then swapped in by renames: a run
//! that fails or is killed never leaves half a folder, and never harms the folder it was to replace.

use super::guard::{Protected, check_target};
use super::lock::{FileLock, mark_live, remove_abandoned};
use super::marker::{Existing, FolderKind, Marker, contents, inspect, notes_to_keep};
use crate::atomic::temp_dir_in;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// Part of the names of staging folders (beside the output folder).
pub const STAGING_INFIX: &str = ".ddmsim-staging-";

/// The exclusive right to write the folder `target`: held from the first check to the commit, so two runs
/// into one folder cannot both go on.
#[derive(Debug)]
pub struct TargetLock {
    _lock: FileLock,
}

impl TargetLock {
    /// Takes the lock of `target` (a hidden file beside it), or refuses if another ddmsim process holds it.
    pub fn take(target: &Path, what: &str) -> Result<TargetLock> {
        let parent = parent_of(target);
        std::fs::create_dir_all(&parent).map_err(|e| Error::io("creating", &parent, e))?;
        let path = Self::path_of(target);
        FileLock::try_take(&path, true)?
            .map(|lock| TargetLock { _lock: lock })
            .ok_or_else(|| {
                Error::Refused(format!(
                    "{what}: another ddmsim process is writing this folder; wait for it to finish or choose \
                     another folder"
                ))
            })
    }
}

impl TargetLock {
    /// Whether another process holds the lock of `target` now (a run writing it).
    pub fn is_held(target: &Path) -> Result<bool> {
        let path = Self::path_of(target);
        Ok(FileLock::try_existing(&path)?.is_none() && path.exists())
    }

    /// The lock file of `target`, beside it.
    pub fn path_of(target: &Path) -> PathBuf {
        parent_of(target).join(format!(".{}.ddmsim-lock", unique_name(target)))
    }
}

/// The folder that holds `target` (`.` for a bare name).
pub fn parent_of(target: &Path) -> PathBuf {
    target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf()
}

/// The target's name as it is, or, when too long for the hidden names built from it, a prefix and a hash of the
/// whole name: two targets never share it (their lock files must differ).
fn unique_name(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    if name.len() <= 180 {
        return name;
    }
    let prefix: String = name.chars().take(60).collect();
    format!("{prefix}-{}", &crate::hash::sha256_hex(name.as_bytes())[..16])
}

/// The target's name, shortened for the prefix of hidden names that end in a random part (staging folders).
fn short_name(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    name.chars().take(60).collect()
}

/// A run's output folder under construction; dropped without [`Staging::commit`], it is removed.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    what: String,
    dir: Option<tempfile::TempDir>,
    live: Option<FileLock>,
    /// Removes the staging folder if a signal ends the process by force.
    forced: Option<crate::interrupt::ForcedExitAction>,
    _target_lock: TargetLock,
}

impl Staging {
    /// Checks that `target` may be written (see [`check_target`] and [`inspect`]), takes its lock, removes
    /// abandoned staging folders beside it and starts a new one. `what` names the target in messages.
    pub fn create(target: &Path, protected: &Protected, what: &str) -> Result<Self> {
        check_target(target, protected, what)?;
        let target_lock = TargetLock::take(target, what)?;
        let existing = inspect(target, what)?;
        if let Existing::Marked(m) = &existing
            && m.kind == FolderKind::Cache
        {
            return Err(Error::Refused(format!(
                "{what}: is a model cache; choose another folder"
            )));
        }
        for note in notes_to_keep(target, &existing, what)? {
            refuse_shadowed_note(&note, what)?;
        }
        let parent = parent_of(target);
        remove_abandoned(&parent, STAGING_INFIX)?;
        let dir = temp_dir_in(&parent, &format!(".{}{STAGING_INFIX}", short_name(target)))?;
        let live = mark_live(dir.path())?;
        let doomed = dir.path().to_path_buf();
        let forced = crate::interrupt::on_forced_exit(move || {
            let _ = std::fs::remove_dir_all(&doomed);
        });
        Ok(Staging {
            target: target.to_path_buf(),
            what: what.to_string(),
            dir: Some(dir),
            live: Some(live),
            forced: Some(forced),
            _target_lock: target_lock,
        })
    }

    /// The folder to write into.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().expect("present until committed").path()
    }

    /// The folder this staging will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Marks the finished folder as a `kind` folder listing every file in it, carries over the user's notes from
    /// the folder it replaces, and swaps it in. Returns the output folder.
    pub fn commit(mut self, kind: FolderKind) -> Result<PathBuf> {
        let work = self.path().to_path_buf();
        let live_lock = work.join(super::lock::LIVE_LOCK);
        std::fs::remove_file(&live_lock).map_err(|e| Error::io("removing", &live_lock, e))?;
        let (files, _) = contents(&work)?;
        Marker::new(kind, files).write(&work)?;
        let existing = inspect(&self.target, &self.what)?;
        for note in notes_to_keep(&self.target, &existing, &self.what)? {
            let to = work.join(note.file_name().expect("a file"));
            if to.exists() {
                refuse_shadowed_note(&note, &self.what)?;
            }
            std::fs::copy(&note, &to).map_err(|e| Error::io("copying", &note, e))?;
        }
        let replaces = matches!(existing, Existing::Marked(_) | Existing::Legacy | Existing::Empty);
        self.forced.take();
        let old = swap_in(&work, &self.target, replaces)?;
        // The staging folder is the output folder now: nothing of it may be removed on drop.
        let _ = self.dir.take().map(tempfile::TempDir::keep);
        self.live.take();
        if let Some(old) = old
            && let Err(e) = std::fs::remove_dir_all(&old)
        {
            crate::progress::warn(&format!(
                "the replaced folder was kept at {} ({e}); remove it yourself",
                old.display()
            ));
        }
        Ok(self.target.clone())
    }
}

/// Refuses a user's note that has the name of a file ddmsim writes (it would be replaced).
fn refuse_shadowed_note(note: &Path, what: &str) -> Result<()> {
    let name = note
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    if name == "summary.md" {
        return Err(Error::Refused(format!(
            "{what}: holds `{name}`, which ddmsim did not write but writes itself; rename it (e.g. NOTES.md) so it \
             is kept"
        )));
    }
    Ok(())
}

/// Renames the finished folder `new` to `target`; when `replaces`, the folder there is first renamed aside and
/// returned, for the caller to remove once `new` is in place. On failure nothing has moved.
pub(super) fn swap_in(new: &Path, target: &Path, replaces: bool) -> Result<Option<PathBuf>> {
    let old = if replaces {
        // Renaming a folder onto an empty folder replaces it, so a unique empty folder gives the hidden name.
        let parent = parent_of(target);
        let holder = temp_dir_in(&parent, &format!(".{}.ddmsim-old-", short_name(target)))?.keep();
        if let Err(e) = std::fs::rename(target, &holder) {
            let _ = std::fs::remove_dir(&holder);
            return Err(Error::io("renaming", target, e));
        }
        Some(holder)
    } else {
        None
    };
    if let Err(e) = std::fs::rename(new, target) {
        if let Some(old) = &old {
            let _ = std::fs::rename(old, target);
        }
        return Err(Error::io("renaming", new, e));
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn staged(target: &Path, files: &[(&str, &str)]) -> Staging {
        let staging = Staging::create(target, &Protected::default(), "--out").unwrap();
        for (name, text) in files {
            crate::atomic::write_atomic(&staging.path().join(name), text.as_bytes()).unwrap();
        }
        staging
    }

    #[test]
    fn failed_run_leaves_the_previous_folder_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        staged(&target, &[("a.txt", "first")]).commit(FolderKind::Run).unwrap();
        drop(staged(&target, &[("a.txt", "second")]));
        assert_eq!(std::fs::read(target.join("a.txt")).unwrap(), b"first");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "something was left beside the output"
        );
    }

    #[test]
    fn a_rerun_keeps_notes_but_not_stale_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let first = [
            ("results.csv", "old"),
            ("stale.csv", "old"),
            ("summary.md", "old summary"),
        ];
        staged(&target, &first).commit(FolderKind::Run).unwrap();
        std::fs::write(target.join("FINDINGS.md"), "my notes").unwrap();
        let second = [("results.csv", "new"), ("summary.md", "new summary")];
        staged(&target, &second).commit(FolderKind::Run).unwrap();
        assert_eq!(std::fs::read(target.join("FINDINGS.md")).unwrap(), b"my notes");
        assert_eq!(std::fs::read(target.join("summary.md")).unwrap(), b"new summary");
        assert!(!target.join("stale.csv").exists());
        // A third run without summary.md does not keep the old one: it was ddmsim's, not a note.
        staged(&target, &[("results.csv", "third")])
            .commit(FolderKind::Run)
            .unwrap();
        assert!(!target.join("summary.md").exists());
        assert!(target.join("FINDINGS.md").exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_second_writer_of_one_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let first = staged(&target, &[]);
        let err = Staging::create(&target, &Protected::default(), "--out out")
            .unwrap_err()
            .to_string();
        assert!(err.contains("another ddmsim process is writing"), "{err}");
        first.commit(FolderKind::Run).unwrap();
        staged(&target, &[]).commit(FolderKind::Run).unwrap();
    }

    #[test]
    fn a_user_file_in_the_old_folder_stops_the_replacement() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        staged(&target, &[("results.csv", "old")])
            .commit(FolderKind::Run)
            .unwrap();
        std::fs::write(target.join("mine.txt"), "mine").unwrap();
        let err = Staging::create(&target, &Protected::default(), "--out out")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mine.txt`"), "{err}");
        assert_eq!(std::fs::read(target.join("mine.txt")).unwrap(), b"mine");
    }
}
