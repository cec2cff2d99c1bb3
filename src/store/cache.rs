//! The model cache: trained models stored under a key that hashes everything that affects training, so runs
//! that change only how models are used reuse them. An entry is a folder of named files and a manifest of their
//! SHA-256 hashes; it is verified on every load, and a bad entry is reported, retrained and overwritten, never
//! used. One lock per key makes a run that needs the same models as another wait for it instead of racing it.

use super::guard::absolute;
use super::lock::{FileLock, LIVE_LOCK, mark_live, remove_abandoned};
use super::marker::{Existing, FolderKind, MARKER, Marker, inspect};
use super::staging::swap_in;
use crate::atomic::{temp_dir_in, write_atomic};
use crate::error::{Error, Result};
use crate::hash::sha256_hex;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Version of the entry layout (bumped when an entry's files or the meaning of a key change).
pub const FORMAT: &str = "ddmsim-model-cache-4";

/// Part of the names of entries being written (hidden folders inside the cache).
pub const PARTIAL_INFIX: &str = ".ddmsim-partial-";

/// The manifest of an entry: its key and the hash of each of its files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    key: String,
    files: BTreeMap<String, String>,
}

/// What a lookup found.
#[derive(Debug)]
pub enum Lookup<T> {
    /// A verified entry.
    Hit(T),
    /// No entry under the key.
    Miss,
    /// An entry that failed verification, and why; it must be retrained and overwritten.
    Bad(String),
}

/// A folder of cached trainings, one subfolder per key.
#[derive(Debug, Clone)]
pub struct ModelCache {
    dir: PathBuf,
}

impl ModelCache {
    /// Opens (creating it if needed) the cache folder `dir` and removes entries that killed runs left
    /// half-written. A folder holding files ddmsim did not write is refused. Safe when several runs open the same
    /// new folder at once.
    pub fn open(dir: &Path) -> Result<Self> {
        let what = format!("model cache {}", dir.display());
        std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
        match inspect(dir, &what) {
            Ok(Existing::Marked(m)) if m.kind != FolderKind::Cache => {
                return Err(Error::Refused(format!(
                    "{what}: is an output folder of ddmsim, not a cache; pass --no-cache or move the folder"
                )));
            }
            Ok(Existing::Marked(_)) => {}
            Ok(_) => Marker::new(FolderKind::Cache, Vec::new()).write(dir)?,
            // Being created by another run right now (its marker not yet in place), or an older ddmsim's cache.
            Err(_) if is_cache_content(dir) => Marker::new(FolderKind::Cache, Vec::new()).write(dir)?,
            Err(e) => return Err(e),
        }
        remove_abandoned(dir, PARTIAL_INFIX)?;
        Ok(ModelCache { dir: absolute(dir)? })
    }

    /// The cache folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the lock of `key`, waiting while another run (process or sweep cell) holds it; `waiting` is called
    /// once if it has to wait.
    pub fn lock(&self, key: &str, waiting: impl FnOnce()) -> Result<FileLock> {
        FileLock::take(&self.dir.join(format!(".{key}.ddmsim-lock")), true, waiting)
    }

    /// The files `names` of the entry `key`, each verified against the entry's manifest.
    pub fn read(&self, key: &str, names: &[String]) -> Lookup<Vec<Vec<u8>>> {
        let entry = self.dir.join(key);
        if !entry.exists() {
            return Lookup::Miss;
        }
        let manifest: Manifest = match std::fs::read(entry.join("manifest.json")) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(m) => m,
                Err(e) => return Lookup::Bad(format!("its manifest.json is not readable ({e})")),
            },
            Err(e) => return Lookup::Bad(format!("its manifest.json cannot be read ({e})")),
        };
        if manifest.format != FORMAT || manifest.key != key {
            return Lookup::Bad("its manifest.json is for another key or format".into());
        }
        let mut files = Vec::with_capacity(names.len());
        for name in names {
            let Some(expected) = manifest.files.get(name) else {
                return Lookup::Bad(format!("its manifest does not list {name}"));
            };
            let bytes = match std::fs::read(entry.join(name)) {
                Ok(bytes) => bytes,
                Err(e) => return Lookup::Bad(format!("{name} cannot be read ({e})")),
            };
            if &sha256_hex(&bytes) != expected {
                return Lookup::Bad(format!("{name} does not match its hash in the manifest"));
            }
            files.push(bytes);
        }
        Lookup::Hit(files)
    }

    /// Stores `files` as the entry `key`: written into a hidden partial folder, its manifest last, then renamed
    /// into place (replacing a bad entry), so an entry is whole or absent.
    pub fn write(&self, key: &str, files: &[(String, Vec<u8>)]) -> Result<()> {
        let short: String = key.chars().take(24).collect();
        let partial = temp_dir_in(&self.dir, &format!(".{short}{PARTIAL_INFIX}"))?;
        let live = mark_live(partial.path())?;
        let mut manifest = Manifest {
            format: FORMAT.into(),
            key: key.into(),
            files: BTreeMap::new(),
        };
        for (name, bytes) in files {
            write_atomic(&partial.path().join(name), bytes)?;
            manifest.files.insert(name.clone(), sha256_hex(bytes));
        }
        let json = serde_json::to_vec_pretty(&manifest).expect("a manifest serialises");
        write_atomic(&partial.path().join("manifest.json"), &json)?;
        let lock = partial.path().join(LIVE_LOCK);
        std::fs::remove_file(&lock).map_err(|e| Error::io("removing", &lock, e))?;
        let target = self.dir.join(key);
        let partial = partial.keep();
        let old = swap_in(&partial, &target, target.exists())?;
        drop(live);
        if let Some(old) = old {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io("removing", &old, e))?;
        }
        Ok(())
    }
}

/// Whether everything in `dir` (which has no marker) is what a cache holds: entry folders named by hex keys
/// (an older ddmsim's cache), hidden partials, key locks and temporary files of a writer.
fn is_cache_content(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().all(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        let hex = |s: &str| s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit());
        // Entries (model and classifier keys), this version's marker and transient files, and an older
        // version's partial entries and classifier files.
        hex(&name)
            || name.strip_prefix("classifier-").is_some_and(hex)
            || name == MARKER
            || super::marker::is_transient(&name)
            || (name.starts_with('.') && name.contains(".partial-"))
            || (name.starts_with("classifier-") && name.ends_with(".safetensors"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_reads_back_and_any_change_to_it_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ModelCache::open(&dir.path().join(".ddmsim-cache")).unwrap();
        let names = vec!["a.bin".to_string(), "b.bin".to_string()];
        let files = vec![(names[0].clone(), vec![1u8; 10]), (names[1].clone(), vec![2u8; 10])];
        assert!(matches!(cache.read("k", &names), Lookup::Miss));
        cache.write("k", &files).unwrap();
        let Lookup::Hit(read) = cache.read("k", &names) else {
            panic!("not a hit")
        };
        assert_eq!(read, vec![vec![1u8; 10], vec![2u8; 10]]);
        // Swapped files, a missing file and an unknown name are all caught.
        let entry = cache.dir().join("k");
        std::fs::rename(entry.join("a.bin"), entry.join("t")).unwrap();
        std::fs::rename(entry.join("b.bin"), entry.join("a.bin")).unwrap();
        std::fs::rename(entry.join("t"), entry.join("b.bin")).unwrap();
        assert!(matches!(cache.read("k", &names), Lookup::Bad(m) if m.contains("hash")));
        std::fs::remove_file(entry.join("a.bin")).unwrap();
        assert!(matches!(cache.read("k", &names), Lookup::Bad(_)));
        assert!(matches!(cache.read("k", &["c.bin".to_string()]), Lookup::Bad(m) if m.contains("does not list")));
        // A bad entry is overwritten whole.
        cache.write("k", &files).unwrap();
        assert!(matches!(cache.read("k", &names), Lookup::Hit(_)));
        let left: Vec<String> = std::fs::read_dir(cache.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn a_folder_of_other_files_is_not_taken_for_a_cache() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("thesis.tex"), "x").unwrap();
        let err = ModelCache::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("ddmsim did not write"), "{err}");
    }
}
