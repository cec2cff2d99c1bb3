//! Safe writing: files are written to a temporary name and renamed, and a run builds its folder under a hidden
//! staging name that replaces the output folder only when the whole run succeeded.

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

    /// Replaces the target folder with the finished staging folder.
    pub fn commit(mut self) -> Result<PathBuf> {
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
}
