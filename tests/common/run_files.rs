//! Listing a run folder's files for byte-for-byte comparisons between runs (shared by end-to-end tests).

use std::path::{Path, PathBuf};

/// Every file of a run folder, relative to it, except those that hold times.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().to_path_buf());
            }
        }
    }
    out.retain(|p| !["run.json", "summary.md", "report.html"].contains(&p.to_str().unwrap()));
    out.sort();
    out
}
