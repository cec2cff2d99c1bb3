//! Atomic file writes: every file is written under a unique temporary name in its own folder, flushed to disk
//! and renamed into place, so a reader sees the old file or the whole new one, never half of it, and two
//! writers (processes or threads) never share a temporary name.

use crate::error::{Error, Result};
use std::io::Write;
use std::path::Path;

/// Prefix of the temporary files of [`write_atomic`]; a folder's owner may remove leftovers of killed writers.
pub const TMP_PREFIX: &str = ".ddmsim-tmp-";

/// Writes `bytes` to `path` through a uniquely named temporary file in the same folder, then renames it into
/// place (creating the folder if needed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating", dir, e))?;
    let mut tmp = with_mode(tempfile::Builder::new().prefix(TMP_PREFIX), 0o666)
        .tempfile_in(dir)
        .map_err(|e| Error::write(path, e))?;
    tmp.as_file_mut().write_all(bytes).map_err(|e| Error::write(path, e))?;
    tmp.as_file().sync_all().map_err(|e| Error::write(path, e))?;
    tmp.persist(path).map_err(|e| Error::write(path, e.error))?;
    Ok(())
}

/// A new, uniquely named hidden folder in `parent` whose name starts with `prefix`, removed when dropped unless
/// kept. Its mode follows the user's umask (as for folders made by `mkdir`), not tempfile's private 0700.
pub fn temp_dir_in(parent: &Path, prefix: &str) -> Result<tempfile::TempDir> {
    with_mode(tempfile::Builder::new().prefix(prefix), 0o777)
        .tempdir_in(parent)
        .map_err(|e| Error::io("creating", parent, e))
}

/// Asks for `mode` (masked by the umask) on Unix, where tempfile would otherwise make private files and folders.
fn with_mode<'a, 'b>(builder: &'b mut tempfile::Builder<'a, 'a>, mode: u32) -> &'b mut tempfile::Builder<'a, 'a> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = mode;
        builder
    }
}

/// Writes a CSV file (header, then rows) atomically, quoting the fields that need it (the `csv` crate).
pub fn write_csv(path: &Path, header: &[String], rows: impl IntoIterator<Item = Vec<String>>) -> Result<()> {
    let fail = |e: csv::Error| Error::io("writing", path, std::io::Error::other(e.to_string()));
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header).map_err(fail)?;
    for row in rows {
        writer.write_record(&row).map_err(fail)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| Error::io("writing", path, std::io::Error::other(e.to_string())))?;
    write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writers_of_one_file_never_share_a_temporary_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::thread::scope(|s| {
            for i in 0..8u8 {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..50 {
                        write_atomic(path, &[i; 4096]).unwrap();
                    }
                });
            }
        });
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert!(bytes.iter().all(|&b| b == bytes[0]), "a torn write");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "temporary files were left"
        );
    }
}
