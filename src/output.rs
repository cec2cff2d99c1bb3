//! Safe writing: files are written to a temporary name and renamed, and a run builds its folder under a hidden
//! staging name that replaces the output folder only when the whole run succeeded. The researcher's own notes in
//! the old folder (top-level Markdown files the run does not write, such as `FINDINGS.md`) are carried over.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` through a temporary file in the same folder, then renames it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
    file.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
    file.sync_all().map_err(|e| Error::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
}

/// Writes a CSV file (header, then rows) atomically.
pub fn write_csv(path: &Path, header: &[String], rows: impl IntoIterator<Item = Vec<String>>) -> Result<()> {
    let mut text = header.join(",");
    text.push('\n');
    for row in rows {
        text.push_str(&row.join(","));
        text.push('\n');
    }
    write_atomic(path, text.as_bytes())
}

/// A run's output folder under construction; dropped without [`Staging::commit`], it is removed.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    work: PathBuf,
    committed: bool,
}

impl Staging {
    /// Starts a hidden staging folder beside `target`.
    pub fn create(target: &Path) -> Result<Self> {
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "out".into());
        remove_abandoned_staging(parent, &name)?;
        let work = parent.join(format!(".{name}.partial-{}", std::process::id()));
        if work.exists() {
            std::fs::remove_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        }
        std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
        Ok(Staging {
            target: target.to_path_buf(),
            work,
            committed: false,
        })
    }

    /// The folder to write into.
    pub fn path(&self) -> &Path {
        &self.work
    }

    /// Replaces the target folder with the finished staging folder, keeping the old folder's notes.
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.target.is_dir() {
            self.carry_over_notes()?;
        }
        let old = self.work.with_file_name(format!(
            ".{}.old-{}",
            self.target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            std::process::id()
        ));
        if self.target.exists() {
            std::fs::rename(&self.target, &old).map_err(|e| Error::io(&self.target, e))?;
        }
        std::fs::rename(&self.work, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.committed = true;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(self.target.clone())
    }

    /// Copies each top-level `*.md` file of the old target that the new run did not write into the staging folder.
    fn carry_over_notes(&self) -> Result<()> {
        let entries = std::fs::read_dir(&self.target).map_err(|e| Error::io(&self.target, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::io(&self.target, e))?;
            let from = entry.path();
            let is_note = from.is_file() && from.extension().is_some_and(|ext| ext == "md");
            let to = self.work.join(entry.file_name());
            if is_note && !to.exists() {
                std::fs::copy(&from, &to).map_err(|e| Error::io(&from, e))?;
            }
        }
        Ok(())
    }
}

/// Removes the staging folders `.{name}.partial-<pid>` beside the target whose process is gone (a run killed
/// before it could clean up); those of live processes are left alone.
fn remove_abandoned_staging(parent: &Path, name: &str) -> Result<()> {
    let prefix = format!(".{name}.partial-");
    let entries = std::fs::read_dir(parent).map_err(|e| Error::io(parent, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(parent, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        if !alive && pid != std::process::id() {
            let path = entry.path();
            std::fs::remove_dir_all(&path).map_err(|e| Error::io(&path, e))?;
        }
    }
    Ok(())
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.work);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_run_leaves_the_previous_folder_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let first = Staging::create(&target).unwrap();
        write_atomic(&first.path().join("a.txt"), b"first").unwrap();
        first.commit().unwrap();
        {
            let second = Staging::create(&target).unwrap();
            write_atomic(&second.path().join("a.txt"), b"second").unwrap();
            // Dropped without commit: a failure.
        }
        assert_eq!(std::fs::read(target.join("a.txt")).unwrap(), b"first");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_rerun_keeps_notes_but_not_stale_outputs() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let first = Staging::create(&target).unwrap();
        write_atomic(&first.path().join("results.csv"), b"old").unwrap();
        write_atomic(&first.path().join("stale.csv"), b"old").unwrap();
        write_atomic(&first.path().join("summary.md"), b"old summary").unwrap();
        first.commit().unwrap();
        write_atomic(&target.join("FINDINGS.md"), b"my notes").unwrap();
        let second = Staging::create(&target).unwrap();
        write_atomic(&second.path().join("results.csv"), b"new").unwrap();
        write_atomic(&second.path().join("summary.md"), b"new summary").unwrap();
        second.commit().unwrap();
        assert_eq!(std::fs::read(target.join("FINDINGS.md")).unwrap(), b"my notes");
        assert_eq!(std::fs::read(target.join("summary.md")).unwrap(), b"new summary");
        assert_eq!(std::fs::read(target.join("results.csv")).unwrap(), b"new");
        assert!(!target.join("stale.csv").exists());
    }

    #[test]
    fn staging_of_a_killed_run_is_removed_by_the_next() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        // No process has pid 4194305 (above Linux's pid_max).
        let abandoned = dir.path().join(".out.partial-4194305");
        std::fs::create_dir_all(&abandoned).unwrap();
        let live = dir.path().join(format!(".out.partial-{}", std::process::id()));
        let run = Staging::create(&target).unwrap();
        assert!(!abandoned.exists());
        assert_eq!(run.path(), live.as_path());
        run.commit().unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
