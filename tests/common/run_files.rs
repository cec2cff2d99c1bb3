//! Listing a folder's files for byte-for-byte comparisons between runs (shared by end-to-end tests). Include it
//! with `#[path = "common/run_files.rs"] mod run_files;`.
#![allow(dead_code)] // each test binary uses the part it needs

use std::path::{Path, PathBuf};

/// Every file below `dir`, relative to it, sorted (hidden names included).
pub fn all_files(dir: &Path) -> Vec<PathBuf> {
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
    out.sort();
    out
}

/// Every file of a run folder, relative to it, except those that hold times.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = all_files(dir);
    out.retain(|p| !["run.json", "summary.md", "report.html"].contains(&p.to_str().unwrap()));
    out
}
