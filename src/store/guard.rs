//! Paths ddmsim refuses to write an output folder to, whatever is in them: the working folder and its parents,
//! a folder that holds the run's own inputs (the scenario file, its data), and the model cache.

use crate::error::{Error, Result};
use std::path::{Component, Path, PathBuf};

/// What an output folder must never be or contain.
#[derive(Debug, Clone, Default)]
pub struct Protected {
    /// Files the run reads (the scenario or study file, data files).
    pub inputs: Vec<PathBuf>,
    /// The model cache folder, if any.
    pub cache: Option<PathBuf>,
}

/// `path` made absolute with `.` and `..` resolved and symbolic links of its existing part followed.
pub fn absolute(path: &Path) -> Result<PathBuf> {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| Error::read(".", e))?.join(path)
    };
    let mut clean = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                clean.pop();
            }
            Component::CurDir => {}
            other => clean.push(other),
        }
    }
    // Follow links in the longest existing prefix, so two spellings of one folder compare equal.
    let mut existing = clean.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.file_name().map(|n| n.to_os_string()), existing.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                existing = parent.to_path_buf();
            }
            _ => break,
        }
    }
    let mut resolved = std::fs::canonicalize(&existing).unwrap_or(existing);
    resolved.extend(rest.into_iter().rev());
    Ok(resolved)
}

/// Refuses an output folder `target` that is the working folder or one of its parents, holds one of the
/// protected inputs, or is (or is inside) the model cache; `what` names the folder in messages (`--out x`).
pub fn check_target(target: &Path, protected: &Protected, what: &str) -> Result<()> {
    if std::fs::symlink_metadata(target).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::Refused(format!(
            "{what}: is a symbolic link; ddmsim replaces an output folder by renaming it, which would replace the \
             link: name the folder it points to instead"
        )));
    }
    let at = absolute(target)?;
    let cwd = absolute(Path::new("."))?;
    if cwd.starts_with(&at) {
        return Err(Error::Refused(format!(
            "{what}: is the working folder or one of its parents; ddmsim writes a whole folder there: name a \
             folder inside it instead, e.g. --out reports/NAME"
        )));
    }
    for input in &protected.inputs {
        if absolute(input)?.starts_with(&at) {
            return Err(Error::Refused(format!(
                "{what}: holds {}, an input of this run; choose an output folder that holds no inputs",
                input.display()
            )));
        }
    }
    if let Some(cache) = &protected.cache {
        let cache = absolute(cache)?;
        if at.starts_with(&cache) || cache.starts_with(&at) {
            return Err(Error::Refused(format!(
                "{what}: is or holds the model cache {}; choose another output folder",
                cache.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_the_cache_and_the_working_folder_are_protected() {
        let dir = tempfile::tempdir().unwrap();
        let d = absolute(dir.path()).unwrap();
        std::fs::create_dir_all(d.join("scenarios")).unwrap();
        std::fs::write(d.join("scenarios/s.yaml"), "name: s\n").unwrap();
        let protected = Protected {
            inputs: vec![d.join("scenarios/s.yaml")],
            cache: Some(d.join("reports/.ddmsim-cache")),
        };
        let refused = |p: PathBuf| check_target(&p, &protected, "--out").is_err();
        assert!(refused(d.join("scenarios")));
        assert!(refused(d.clone()));
        assert!(refused(d.join("reports/.ddmsim-cache")));
        assert!(refused(d.join("reports/.ddmsim-cache/x")));
        assert!(refused(d.join("reports/../scenarios/.")));
        assert!(!refused(d.join("reports/run")));
        let cwd = absolute(Path::new(".")).unwrap();
        assert!(check_target(&cwd, &Protected::default(), "--out .").is_err());
        assert!(check_target(cwd.parent().unwrap(), &Protected::default(), "--out ..").is_err());
    }
}
