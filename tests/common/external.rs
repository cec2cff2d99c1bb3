//! The rule for tests that need a program outside the crate (a browser, ...): when the program is missing, a run
//! outside CI (`CI` unset or empty) prints one loud `SKIPPED:` line and the test returns; under CI the test fails,
//! so a CI image without the program never passes silently. Include it with
//! `#[path = "common/external.rs"] mod external;`.

use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// A program a test runs.
pub struct Program {
    /// What it is, in messages (`Chromium`).
    pub name: &'static str,
    /// Environment variable that names its path and replaces the search (`CHROMIUM`).
    pub env: &'static str,
    /// Names searched on `PATH` when the variable is unset.
    pub commands: &'static [&'static str],
    /// How to install it (`apt-get install chromium`).
    pub install: &'static str,
}

/// Whether `path` is a file someone may execute.
fn executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The program's path: `$env` if set (and executable), else the first of its commands found on `PATH`; `Err`
/// says what was looked for.
pub fn find(program: &Program) -> Result<PathBuf, String> {
    if let Some(path) = std::env::var_os(program.env) {
        let path = PathBuf::from(path);
        if executable(&path) {
            return Ok(path);
        }
        return Err(format!("no {} at {}={}", program.name, program.env, path.display()));
    }
    let dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    program
        .commands
        .iter()
        .flat_map(|command| dirs.iter().map(move |dir| dir.join(command)))
        .find(|path| executable(path))
        .ok_or_else(|| {
            format!(
                "no {} found ({} not on PATH)",
                program.name,
                program.commands.join(", ")
            )
        })
}

/// The program's path for the test named `test`. When it is missing: under CI (`CI` set and not empty) the test
/// fails; otherwise one `SKIPPED:` line goes to stderr (written past the test harness's capture, so it shows in
/// a plain `cargo test`) and `None` tells the test to return.
pub fn require(test: &str, program: &Program) -> Option<PathBuf> {
    let missing = match find(program) {
        Ok(path) => return Some(path),
        Err(missing) => missing,
    };
    let advice = format!("install it with `{}` (or set {}=/path)", program.install, program.env);
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{test}: {missing}, and CI is set, so the test may not be skipped; {advice}");
    }
    let line = format!("SKIPPED: {test}: {missing}; {advice}\n");
    std::io::stderr()
        .write_all(line.as_bytes())
        .expect("stderr is writable");
    None
}
