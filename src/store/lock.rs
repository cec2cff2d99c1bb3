//! Advisory locks held by the live process (`flock`, released by the OS when the process dies, however it dies):
//! one run per output folder, one training per cache key, and a mark on every staging folder and cache partial
//! that says "still being written". A folder whose lock nobody holds was abandoned by a killed run and may be
//! removed; no process id or `/proc` is consulted, so this works on any system with file locks.

use crate::error::{Error, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Name of the lock file inside a staging folder or cache partial.
pub const LIVE_LOCK: &str = ".lock";

/// An exclusive lock on a file, held until dropped.
#[derive(Debug)]
pub struct FileLock {
    file: File,
    path: PathBuf,
    /// Remove the lock file when the lock is released (lock files beside an output folder or in the cache).
    remove: bool,
}

impl FileLock {
    /// Takes the lock on `path` (creating the file) if no other holder has it: `None` if one does. With
    /// `remove`, the file is removed on release; a taker then checks that the file it locked is still the one
    /// at `path`, so a lock file removed by its last holder is never locked by two processes at once.
    pub fn try_take(path: &Path, remove: bool) -> Result<Option<FileLock>> {
        for _ in 0..100 {
            let file = open(path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Ok(None),
                Err(TryLockError::Error(e)) => return Err(Error::io("locking", path, e)),
            }
            if !remove || same_file(&file, path) {
                return Ok(Some(FileLock {
                    file,
                    path: path.to_path_buf(),
                    remove,
                }));
            }
        }
        Err(Error::Refused(format!(
            "{}: the lock file keeps changing under ddmsim; is another program removing it?",
            path.display()
        )))
    }

    /// Takes the lock on the existing file `path` if no other holder has it: `None` if one does, or if the file
    /// is gone (its owner removed it: the folder it marks is being committed, not abandoned).
    pub fn try_existing(path: &Path) -> Result<Option<FileLock>> {
        let file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("locking", path, e)),
        };
        match file.try_lock() {
            Ok(()) => Ok(Some(FileLock {
                file,
                path: path.to_path_buf(),
                remove: false,
            })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(Error::io("locking", path, e)),
        }
    }

    /// Takes the lock on `path`, waiting for its holder to release it; `waiting` is called once if it has to.
    pub fn take(path: &Path, remove: bool, waiting: impl FnOnce()) -> Result<FileLock> {
        if let Some(lock) = Self::try_take(path, remove)? {
            return Ok(lock);
        }
        waiting();
        loop {
            let file = open(path)?;
            file.lock().map_err(|e| Error::io("locking", path, e))?;
            if !remove || same_file(&file, path) {
                return Ok(FileLock {
                    file,
                    path: path.to_path_buf(),
                    remove,
                });
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for FileLock {
    fn drop(&mut self) {
        if self.remove {
            // Removed while still held: a waiter that opened the old file sees it is gone and retries.
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// Opens (creating it if needed) the lock file at `path`.
pub(super) fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| Error::io("locking", path, e))
}

/// Whether the open `file` is the file now at `path`.
#[cfg(unix)]
pub(super) fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Whether the open `file` is the file now at `path` (without inode numbers: whether a file is there).
#[cfg(not(unix))]
pub(super) fn same_file(_: &File, path: &Path) -> bool {
    path.is_file()
}

/// Marks `dir` (a staging folder or cache partial) as being written by this process until the lock is dropped.
/// The lock file is locked under a temporary name and then renamed to [`LIVE_LOCK`], so no other process can
/// ever see an unlocked `.lock` in a live folder and take it for abandoned.
pub fn mark_live(dir: &Path) -> Result<FileLock> {
    let path = dir.join(LIVE_LOCK);
    let tmp = tempfile::Builder::new()
        .prefix(".lock-")
        .tempfile_in(dir)
        .map_err(|e| Error::io("locking", &path, e))?;
    match tmp.as_file().try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(Error::Refused(format!(
                "{}: already locked by another process",
                dir.display()
            )));
        }
        Err(TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
    }
    let file = tmp.persist(&path).map_err(|e| Error::io("locking", &path, e.error))?;
    Ok(FileLock {
        file,
        path,
        remove: false,
    })
}

/// How long a staging folder may exist without its lock file before it counts as abandoned (the moment between
/// creating the folder and its lock file).
const GRACE: Duration = Duration::from_secs(60);

/// Whether `entry` was last modified more than [`GRACE`] ago.
fn older_than_grace(entry: &std::fs::DirEntry) -> bool {
    let age = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_some_and(|a| a >= GRACE)
}

/// Removes every folder in `parent` whose name contains `infix` and whose live lock nobody holds (left by a killed
/// run); folders of live processes are left alone.
pub fn remove_abandoned(parent: &Path, infix: &str) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        // A folder a commit renamed aside and was killed before removing (never in use once the swap is done).
        let replaced = name.contains(".ddmsim-old-") && older_than_grace(&entry);
        if replaced && path.is_dir() {
            std::fs::remove_dir_all(&path).map_err(|e| Error::io("removing", &path, e))?;
            continue;
        }
        if !name.starts_with('.') || !name.contains(infix) || !path.is_dir() {
            continue;
        }
        // Looked at once: the owner removes its lock file just before it renames the folder into place.
        let lock = path.join(LIVE_LOCK);
        let abandoned = if lock.is_file() {
            match FileLock::try_existing(&lock)? {
                Some(free) => Some(free),
                None => continue,
            }
        } else if older_than_grace(&entry) {
            None
        } else {
            continue;
        };
        std::fs::remove_dir_all(&path).map_err(|e| Error::io("removing", &path, e))?;
        drop(abandoned);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_refuses_a_second_taker_and_is_free_after_release() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".out.ddmsim-lock");
        let first = FileLock::try_take(&path, true).unwrap().expect("free");
        assert!(FileLock::try_take(&path, true).unwrap().is_none(), "taken twice");
        drop(first);
        assert!(!path.exists(), "the lock file was left behind");
        assert!(FileLock::try_take(&path, true).unwrap().is_some());
    }

    #[test]
    fn only_folders_whose_lock_is_free_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join(".out.ddmsim-staging-live");
        let dead = dir.path().join(".out.ddmsim-staging-dead");
        let other = dir.path().join(".out.somebody-else");
        for d in [&live, &dead, &other] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join(LIVE_LOCK), b"").unwrap();
        }
        let held = mark_live(&live).unwrap();
        remove_abandoned(dir.path(), ".ddmsim-staging-").unwrap();
        assert!(live.exists(), "a live folder was removed");
        assert!(!dead.exists(), "an abandoned folder was kept");
        assert!(other.exists(), "a folder ddmsim did not name was removed");
        drop(held);
        remove_abandoned(dir.path(), ".ddmsim-staging-").unwrap();
        assert!(!live.exists());
    }
}
