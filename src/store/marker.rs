//! The `.ddmsim` marker: every folder ddmsim writes carries one, naming its kind and every file ddmsim put there.
//! A folder is replaced only if it is marked (or is an output of an older ddmsim that had no marker) and holds
//! nothing ddmsim did not write besides the user's top-level Markdown notes, which are kept.

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the marker.
pub const MARKER: &str = ".ddmsim";

/// Version of the marker's format.
const FORMAT: u32 = 1;

/// What a marked folder holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FolderKind {
    /// One run's output.
    Run,
    /// A sweep: its tables and report, and its cells (each a marked run folder) under `cells/`.
    Sweep,
    /// A study: the same, its cells under `cells/<setting>/seed-<seed>/`.
    Study,
    /// The model cache.
    Cache,
}

/// The content of a `.ddmsim` marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Marker {
    /// The marker format (bumped when its meaning changes).
    pub ddmsim_marker: u32,
    /// What the folder holds.
    pub kind: FolderKind,
    /// Every file ddmsim wrote, relative to the folder (`/`-separated), besides marked subfolders (a cache lists
    /// none: each entry carries its own manifest).
    #[serde(default)]
    pub files: Vec<String>,
}

impl Marker {
    /// A marker of `kind` listing `files`.
    pub fn new(kind: FolderKind, mut files: Vec<String>) -> Self {
        files.sort();
        files.dedup();
        Marker {
            ddmsim_marker: FORMAT,
            kind,
            files,
        }
    }

    /// Writes the marker into `dir` (atomically).
    pub fn write(&self, dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self).expect("a marker serialises");
        write_atomic(&dir.join(MARKER), json.as_bytes())
    }
}

/// What is at a path ddmsim is asked to write a folder to.
#[derive(Debug)]
pub enum Existing {
    /// Nothing.
    Absent,
    /// An empty folder.
    Empty,
    /// A folder ddmsim marked.
    Marked(Marker),
    /// An output folder of a ddmsim older than the marker (it has `run.json` with `ddmsim_version` and
    /// `scenario.resolved.yaml`).
    Legacy,
}

/// Looks at `dir`; a file, an unreadable marker or a non-empty folder ddmsim did not write is refused, with
/// `what` (e.g. `--out reports/x`) naming it in the message.
pub fn inspect(dir: &Path, what: &str) -> Result<Existing> {
    let meta = match std::fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::Absent),
        Err(e) => return Err(Error::read(dir, e)),
    };
    if !meta.is_dir() {
        return Err(Error::Refused(format!(
            "{what}: is a file, not a folder; ddmsim writes a folder there and never replaces a file: choose \
             another path"
        )));
    }
    let marker_path = dir.join(MARKER);
    if marker_path.exists() {
        let text = std::fs::read_to_string(&marker_path).map_err(|e| Error::read(&marker_path, e))?;
        let unreadable = |why: String| {
            Error::Refused(format!(
                "{what}: its {MARKER} marker is not one ddmsim can read ({why}); remove the folder yourself or \
                 choose another"
            ))
        };
        let marker: Marker = serde_json::from_str(&text).map_err(|e| unreadable(e.to_string()))?;
        // The listed files are what ddmsim may delete: only plain relative paths inside the folder.
        if let Some(bad) = marker.files.iter().find(|f| !is_plain_relative(f)) {
            return Err(unreadable(format!(
                "it lists {bad:?}, which is not a path inside the folder"
            )));
        }
        return Ok(Existing::Marked(marker));
    }
    let mut entries = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?;
    if entries.next().is_none() {
        return Ok(Existing::Empty);
    }
    if is_legacy(dir) {
        return Ok(Existing::Legacy);
    }
    Err(Error::Refused(format!(
        "{what}: the folder holds files ddmsim did not write (it has no {MARKER} marker); ddmsim replaces only \
         its own output folders: choose a new or empty folder"
    )))
}

/// Whether `rel` is a plain relative path below a folder: no root, no `..` or `.`, not the marker itself.
fn is_plain_relative(rel: &str) -> bool {
    let path = Path::new(rel);
    rel != MARKER && !rel.is_empty() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Whether a file name is one ddmsim gives its transient files (lock files, staging folders, folders being
/// replaced, cache partials, temporary files): ddmsim's by their names, never a user's.
pub fn is_transient(name: &str) -> bool {
    name.starts_with(crate::atomic::TMP_PREFIX)
        || (name.starts_with('.')
            && (name.ends_with(".ddmsim-lock")
                || name.contains(".ddmsim-staging-")
                || name.contains(super::claim::CLAIM_INFIX)
                || name.contains(".ddmsim-old-")
                || name.contains(".ddmsim-partial-")))
}

/// Whether `dir` is an output folder of a ddmsim older than the marker.
fn is_legacy(dir: &Path) -> bool {
    let run_json = std::fs::read_to_string(dir.join("run.json")).ok();
    let versioned = run_json
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .is_some_and(|v| v.get("ddmsim_version").is_some());
    versioned && dir.join("scenario.resolved.yaml").is_file()
}

/// Top-level names an older ddmsim wrote into its output folders.
const LEGACY_NAMES: [&str; 14] = [
    "results.csv",
    "results.parquet",
    "scenario.resolved.yaml",
    "run.json",
    "client_cluster_counts.csv",
    "expert_purity.csv",
    "training_loss.csv",
    "stability_by_step.csv",
    "alignment_by_step.csv",
    "expert_error.csv",
    "routing_error_by_bin.csv",
    "routing_share_by_step.csv",
    "per_sample.csv",
    "class_counts.csv",
];

/// Whether an older ddmsim wrote the entry `rel` (relative path) of a legacy folder.
fn legacy_owned(rel: &str) -> bool {
    let top = rel.split('/').next().unwrap_or(rel);
    LEGACY_NAMES.contains(&rel)
        || matches!(top, "models" | "samples" | "figures" | "cells")
        || matches!(
            rel,
            "summary.md" | "report.html" | "study.csv" | "study.parquet" | "inputs.json"
        )
        || (!rel.contains('/') && rel.ends_with(".parquet"))
}

/// The user's notes in a folder ddmsim is about to replace: its top-level Markdown files that ddmsim did not
/// write. Anything else ddmsim did not write, here or in a marked subfolder (a sweep's cells), is refused,
/// naming it.
pub fn notes_to_keep(dir: &Path, existing: &Existing, what: &str) -> Result<Vec<PathBuf>> {
    if matches!(existing, Existing::Absent | Existing::Empty) {
        return Ok(Vec::new());
    }
    let owned = |rel: &str| match existing {
        Existing::Marked(marker) => rel == MARKER || marker.files.iter().any(|f| f == rel),
        Existing::Legacy => legacy_owned(rel),
        Existing::Absent | Existing::Empty => false,
    };
    let (files, marked) = contents(dir)?;
    let mut notes = Vec::new();
    for rel in files {
        if owned(&rel) {
            continue;
        }
        if !rel.contains('/') && rel.ends_with(".md") {
            notes.push(dir.join(&rel));
            continue;
        }
        return Err(not_ours(what, &rel));
    }
    for sub in marked {
        let inner = inspect(&dir.join(&sub), what)?;
        let kept = notes_to_keep(&dir.join(&sub), &inner, what)?;
        if let Some(note) = kept.first() {
            let rel = note.strip_prefix(dir).unwrap_or(note).to_string_lossy().into_owned();
            return Err(not_ours(what, &rel));
        }
    }
    Ok(notes)
}

fn not_ours(what: &str, rel: &str) -> Error {
    Error::Refused(format!(
        "{what}: holds `{rel}`, which ddmsim did not write; ddmsim will not delete it: move it out of the folder \
         or choose another"
    ))
}

/// The files below `dir` (`/`-separated relative paths, without ddmsim's transient files: see [`is_transient`]),
/// and its marked subfolders, whose own markers list their files.
pub fn contents(dir: &Path) -> Result<(Vec<String>, Vec<String>)> {
    let (mut files, mut marked) = (Vec::new(), Vec::new());
    walk(dir, "", &mut files, &mut marked)?;
    files.sort();
    marked.sort();
    Ok((files, marked))
}

fn walk(dir: &Path, prefix: &str, files: &mut Vec<String>, marked: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::read(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::read(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::read(&path, e))?;
        if is_transient(&name) {
            continue;
        } else if kind.is_dir() && path.join(MARKER).is_file() {
            marked.push(rel);
        } else if kind.is_dir() {
            walk(&path, &format!("{rel}/"), files, marked)?;
        } else {
            files.push(rel);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_without_marker_is_refused_unless_empty() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x");
        assert!(matches!(inspect(&target, "--out x").unwrap(), Existing::Absent));
        std::fs::create_dir(&target).unwrap();
        assert!(matches!(inspect(&target, "--out x").unwrap(), Existing::Empty));
        std::fs::write(target.join("data.csv"), "a\n1\n").unwrap();
        let err = inspect(&target, "--out x").unwrap_err().to_string();
        assert!(
            err.starts_with("--out x: the folder holds files ddmsim did not write"),
            "{err}"
        );
        let err = inspect(&target.join("data.csv"), "--out x/data.csv")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is a file"), "{err}");
    }

    #[test]
    fn notes_are_kept_and_unknown_files_refused() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir_all(d.join("models")).unwrap();
        for f in ["results.csv", "summary.md", "models/expert_0.safetensors", "NOTES.md"] {
            std::fs::write(d.join(f), "x").unwrap();
        }
        let marker = Marker::new(
            FolderKind::Run,
            vec![
                "results.csv".into(),
                "summary.md".into(),
                "models/expert_0.safetensors".into(),
            ],
        );
        marker.write(d).unwrap();
        let existing = inspect(d, "--out d").unwrap();
        assert_eq!(
            notes_to_keep(d, &existing, "--out d").unwrap(),
            vec![d.join("NOTES.md")]
        );
        std::fs::write(d.join("models/mine.bin"), "x").unwrap();
        let err = notes_to_keep(d, &existing, "--out d").unwrap_err().to_string();
        assert!(err.contains("`models/mine.bin`, which ddmsim did not write"), "{err}");
    }
}
