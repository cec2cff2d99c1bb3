//! Helpers shared by the safety tests: the binary under test, the tiny scenario with overrides, runs in their own
//! temporary folder with a timeout and captured output, tree snapshots, cache-entry surgery, lock holders, and the
//! contract every failure meets (exit 1, `error: ` on the last line, one line for single runs, no panic text).

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// The timeout of every spawned command unless a test states another.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// Address-space cap (KiB) of the resource tests, so that a binary that does allocate what a huge value asks for
/// fails alone instead of pushing the machine into the OOM killer.
const MEMORY_CAP_KIB: u64 = 6 * 1024 * 1024;

/// Text that must never appear on stderr: a panic, a backtrace hint, an allocation abort.
const FORBIDDEN: [&str; 4] = ["panicked", "RUST_BACKTRACE", "memory allocation", "SIGABRT"];

/// The binary under test: `DDMSIM_BIN` if set, else the crate's own `ddmsim`.
pub fn bin() -> PathBuf {
    match std::env::var_os("DDMSIM_BIN") {
        Some(path) => PathBuf::from(path),
        None => assert_cmd::cargo::cargo_bin("ddmsim"),
    }
}

/// The tiny scenario of the spec (about a second per run in release), as a value that tests override by path.
pub fn tiny() -> Value {
    json!({
        "name": "tiny",
        "seed": 0,
        "data": { "kind": "gmm", "components": 4, "dim": 2, "samples": 600, "test_fraction": 0.25 },
        "clusters": { "method": "kmeans", "k": 4 },
        "clients": { "count": 6, "partition": { "kind": "dirichlet", "alpha": 0.3, "min_partition_size": 0 } },
        "federation": { "rounds": 2, "local_steps": 3, "batch_size": 32 },
        "model": { "hidden": [16], "time_embedding": 4 },
        "router": { "hidden": [8], "time_embedding": 4, "rounds": 2, "local_steps": 3 },
        "sampling": { "steps": 4, "samples": 60 },
        "metrics": { "max_reference": 100, "stability": false, "alignment": false },
        "routing": [ { "policy": "top_k", "k": 1 }, { "policy": "full" }, { "policy": "monolith" } ],
    })
}

/// Sets `path` (dotted, e.g. `clients.partition.alpha`) in `value`, creating missing mappings; `null` removes it.
pub fn set(value: &mut Value, path: &str, new: Value) {
    let mut node = value;
    let parts: Vec<&str> = path.split('.').collect();
    for part in &parts[..parts.len() - 1] {
        let map = node.as_object_mut().expect("a mapping on the path");
        node = map.entry(part.to_string()).or_insert_with(|| json!({}));
    }
    let map = node.as_object_mut().expect("a mapping on the path");
    let last = parts[parts.len() - 1].to_string();
    if new.is_null() {
        map.remove(&last);
    } else {
        map.insert(last, new);
    }
}

/// The tiny scenario with `overrides` applied, as YAML text.
pub fn scenario(overrides: &[(&str, Value)]) -> String {
    let mut value = tiny();
    for (path, new) in overrides {
        set(&mut value, path, new.clone());
    }
    to_yaml(&value)
}

/// A mapping as YAML: one top-level key per line in block style, each value in flow style (JSON is flow YAML).
pub fn to_yaml(value: &Value) -> String {
    let map = value.as_object().expect("a mapping");
    map.iter()
        .map(|(key, value)| format!("{key}: {}\n", serde_json::to_string(value).unwrap()))
        .collect()
}

/// What one finished (or killed) command did.
pub struct Out {
    pub what: String,
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    pub timed_out: bool,
}

impl Out {
    fn from_output(what: String, output: std::process::Output, elapsed: Duration, timeout: Duration) -> Out {
        Out {
            what,
            code: output.status.code(),
            signal: output.status.signal(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            timed_out: output.status.code().is_none() && elapsed >= timeout,
            elapsed,
        }
    }

    /// Everything a failing assertion should show.
    pub fn describe(&self) -> String {
        let status = match (self.code, self.signal) {
            _ if self.timed_out => format!("TIMED OUT after {:.1} s and killed", self.elapsed.as_secs_f64()),
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("killed by signal {signal}"),
            (None, None) => "no exit status".to_string(),
        };
        let stderr: String = self.stderr.chars().take(3000).collect();
        format!(
            "`{}`: {status} after {:.1} s\n--- stderr ---\n{stderr}\n--------------",
            self.what,
            self.elapsed.as_secs_f64()
        )
    }

    /// No panic, backtrace hint or allocation abort on stderr.
    #[track_caller]
    pub fn clean_stderr(&self) -> &Out {
        for text in FORBIDDEN {
            assert!(
                !self.stderr.contains(text),
                "stderr contains {text:?}: {}",
                self.describe()
            );
        }
        self
    }

    /// Exit 0 with nothing alarming on stderr.
    #[track_caller]
    pub fn ok(&self) -> &Out {
        assert_eq!(self.code, Some(0), "expected success: {}", self.describe());
        self.clean_stderr()
    }

    /// A failure as the contract has it: exit exactly 1, the last stderr line starts with `error: ` and contains
    /// every needle (anywhere in stderr), no panic text. For sweeps and studies, whose stderr may list cells.
    #[track_caller]
    pub fn error_last_line(&self, needles: &[&str]) -> &Out {
        assert_eq!(self.code, Some(1), "expected exit code 1: {}", self.describe());
        let last = self.stderr.trim_end().lines().last().unwrap_or("");
        assert!(
            last.starts_with("error: "),
            "last stderr line is not `error: ...`: {}",
            self.describe()
        );
        for needle in needles {
            assert!(
                self.stderr.contains(needle),
                "stderr does not contain {needle:?}: {}",
                self.describe()
            );
        }
        self.clean_stderr()
    }

    /// The failure of a single run: as `error_last_line`, and stderr is exactly one line.
    #[track_caller]
    pub fn error(&self, needles: &[&str]) -> &Out {
        self.error_last_line(needles);
        assert_eq!(
            self.stderr.trim_end().lines().count(),
            1,
            "stderr is not one line: {}",
            self.describe()
        );
        self
    }

    /// A stderr line starting `warning: ` that mentions the cache.
    #[track_caller]
    pub fn warned_about_cache(&self) -> &Out {
        let warned = self
            .stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("cache"));
        assert!(warned, "no `warning: ...cache...` line: {}", self.describe());
        self
    }
}

/// One test's world: a temporary folder (`root`) and the working folder of every command (`work`, inside it).
pub struct Env {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub work: PathBuf,
}

impl Env {
    /// The working folder is the temporary folder itself.
    pub fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        Env {
            work: root.clone(),
            root,
            _dir: dir,
        }
    }

    /// The working folder is `root/a/b/work`, so that `..` and `../..` are still inside the temporary folder.
    pub fn nested() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let work = root.join("a/b/work");
        std::fs::create_dir_all(&work).unwrap();
        Env { work, root, _dir: dir }
    }

    /// A path relative to the working folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.work.join(rel)
    }

    /// Writes a file (relative to the working folder), creating its parents.
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Writes the tiny scenario with `overrides`.
    pub fn scenario(&self, rel: &str, overrides: &[(&str, Value)]) -> PathBuf {
        self.write(rel, scenario(overrides))
    }

    fn command(&self, program: &Path) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::new(program);
        cmd.current_dir(&self.work)
            .env_remove("RUST_BACKTRACE")
            .env_remove("RUST_LIB_BACKTRACE");
        cmd
    }

    fn finish(&self, mut cmd: assert_cmd::Command, what: String, timeout: Duration) -> Out {
        cmd.timeout(timeout);
        let start = Instant::now();
        let output = cmd.output().unwrap_or_else(|e| panic!("could not run `{what}`: {e}"));
        Out::from_output(what, output, start.elapsed(), timeout)
    }

    /// `ddmsim ARGS` (no `--quiet` added: `validate` and `report` have none).
    pub fn ddmsim(&self, args: &[&str]) -> Out {
        self.ddmsim_timeout(args, TIMEOUT)
    }

    /// `ddmsim ARGS` with another timeout.
    pub fn ddmsim_timeout(&self, args: &[&str], timeout: Duration) -> Out {
        let mut cmd = self.command(&bin());
        cmd.args(args);
        self.finish(cmd, format!("ddmsim {}", args.join(" ")), timeout)
    }

    /// `ddmsim run --quiet --out OUT EXTRA... SCENARIO`.
    pub fn run(&self, scenario: &str, out: &str, extra: &[&str]) -> Out {
        let mut args = vec!["run", "--quiet", "--out", out];
        args.extend_from_slice(extra);
        args.push(scenario);
        self.ddmsim(&args)
    }

    /// `sh -c SCRIPT ddmsim ARGS...`: in SCRIPT, `"$0"` is the binary and `"$@"` the arguments.
    pub fn sh(&self, script: &str, args: &[&str]) -> Out {
        let mut cmd = self.command(Path::new("sh"));
        cmd.arg("-c").arg(script).arg(bin()).args(args);
        self.finish(cmd, format!("sh -c '{script}' ddmsim {}", args.join(" ")), TIMEOUT)
    }

    /// `ddmsim ARGS` under an address-space cap (see `MEMORY_CAP_KIB`).
    pub fn ddmsim_capped(&self, args: &[&str]) -> Out {
        let script = format!("ulimit -v {MEMORY_CAP_KIB}; exec \"$0\" \"$@\"");
        self.sh(&script, args)
    }

    /// `ddmsim ARGS` whose stdout is a pipe closed before ddmsim writes anything (`| head -0`, the limit of
    /// `| head -1`): every write to stdout meets EPIPE.
    pub fn ddmsim_closed_stdout(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(bin());
        cmd.current_dir(&self.work)
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = cmd.spawn().unwrap();
        drop(child.stdout.take());
        let mut stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            text
        });
        let (status, timed_out) = wait_timeout(&mut child, TIMEOUT);
        let stderr = reader.join().unwrap();
        Out {
            what: format!("ddmsim {} | (closed)", args.join(" ")),
            code: status.code(),
            signal: status.signal(),
            stdout: String::new(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            elapsed: start.elapsed(),
            timed_out,
        }
    }

    /// Starts `ddmsim ARGS` in the background (stdout and stderr go to files outside `root`).
    pub fn spawn(&self, args: &[&str]) -> Background {
        let logs = tempfile::tempdir().unwrap();
        let stdout = std::fs::File::create(logs.path().join("stdout")).unwrap();
        let stderr = std::fs::File::create(logs.path().join("stderr")).unwrap();
        let child = Command::new(bin())
            .current_dir(&self.work)
            .args(args)
            .env_remove("RUST_BACKTRACE")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        Background {
            child,
            what: format!("ddmsim {} (background)", args.join(" ")),
            started: Instant::now(),
            logs,
        }
    }

    /// Every path under `root` with its kind, size and contents hash.
    pub fn snapshot(&self) -> Snapshot {
        snapshot(&self.root)
    }
}

/// Waits for `child` at most `timeout`, killing it then; returns its status and whether it was killed.
fn wait_timeout(child: &mut Child, timeout: Duration) -> (std::process::ExitStatus, bool) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return (status, false);
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            return (child.wait().unwrap(), true);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A ddmsim started in the background; killed if the test ends before it does.
pub struct Background {
    child: Child,
    what: String,
    started: Instant,
    logs: tempfile::TempDir,
}

impl Background {
    /// Still running?
    pub fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// Waits for the end (killing it after `timeout`).
    pub fn wait(mut self, timeout: Duration) -> Out {
        let (status, timed_out) = wait_timeout(&mut self.child, timeout);
        let read = |name: &str| std::fs::read_to_string(self.logs.path().join(name)).unwrap_or_default();
        Out {
            what: self.what.clone(),
            code: status.code(),
            signal: status.signal(),
            stdout: read("stdout"),
            stderr: read("stderr"),
            elapsed: self.started.elapsed(),
            timed_out,
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// util-linux's `flock`, which the tests of lock liveness use to hold and probe locks from another process.
pub const FLOCK: crate::external::Program = crate::external::Program {
    name: "flock (util-linux)",
    env: "FLOCK",
    commands: &["flock"],
    install: "apt-get install util-linux",
};

/// The `flock` program: `$FLOCK`, else `flock` on the path.
fn flock() -> std::path::PathBuf {
    crate::external::find(&FLOCK).unwrap_or_else(|_| "flock".into())
}

/// Whether `flock` is there for the test `test` (outside CI, a missing one skips the test loudly; under CI it
/// fails).
pub fn have_flock(test: &str) -> bool {
    crate::external::require(test, &FLOCK).is_some()
}

/// A child process (`flock -x LOCK cat`) holding an exclusive flock on a file until released.
pub struct LockHolder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl LockHolder {
    /// Takes the lock (creating the file) and returns once it is held.
    pub fn hold(lock: &Path) -> LockHolder {
        let mut child = Command::new(flock())
            .arg("-x")
            .arg(lock)
            .arg("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("flock (util-linux) is needed");
        let stdin = child.stdin.take();
        let start = Instant::now();
        loop {
            let free = Command::new(flock())
                .arg("-n")
                .arg(lock)
                .arg("true")
                .status()
                .unwrap()
                .success();
            if !free {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "flock never took {}",
                lock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        LockHolder { child, stdin }
    }

    /// Ends the holder (its `cat` reads end of file) and waits for it.
    pub fn release(mut self) {
        self.end();
    }

    fn end(&mut self) {
        drop(self.stdin.take());
        let (_, killed) = wait_timeout(&mut self.child, Duration::from_secs(10));
        assert!(!killed || std::thread::panicking(), "the lock holder did not end");
    }
}

impl Drop for LockHolder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.end();
        }
    }
}

/// Is the exclusive lock on `lock` free right now?
pub fn lock_is_free(lock: &Path) -> bool {
    Command::new(flock())
        .arg("-n")
        .arg(lock)
        .arg("true")
        .status()
        .unwrap()
        .success()
}

/// Path (relative to the snapshot's folder) -> `dir`, `link -> TARGET` or `file SIZE SHA256`.
pub type Snapshot = BTreeMap<String, String>;

/// Lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Every path under `dir` with its kind, size and contents hash (an absent folder gives an empty snapshot).
pub fn snapshot(dir: &Path) -> Snapshot {
    let mut map = Snapshot::new();
    walk(dir, dir, &mut map);
    map
}

fn walk(base: &Path, dir: &Path, map: &mut Snapshot) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        let rel = path.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            map.insert(rel, "dir".to_string());
            walk(base, &path, map);
        } else if meta.file_type().is_symlink() {
            map.insert(rel, format!("link -> {}", std::fs::read_link(&path).unwrap().display()));
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            map.insert(rel, format!("file {} {}", meta.len(), sha256_hex(&bytes)));
        }
    }
}

/// Fails listing what was added, removed or changed between two snapshots.
#[track_caller]
pub fn assert_untouched(before: &Snapshot, after: &Snapshot, what: &str) {
    let mut diffs = Vec::new();
    for (path, old) in before {
        match after.get(path) {
            None => diffs.push(format!("removed: {path}")),
            Some(new) if new != old => diffs.push(format!("changed: {path}")),
            _ => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        diffs.push(format!("added: {path}"));
    }
    let shown: Vec<&String> = diffs.iter().take(30).collect();
    assert!(diffs.is_empty(), "{what}: {} differences, e.g. {shown:#?}", diffs.len());
}

/// Every path under `dir` whose file name contains `needle`.
pub fn find_named(dir: &Path, needle: &str) -> Vec<PathBuf> {
    snapshot(dir)
        .keys()
        .filter(|rel| {
            Path::new(rel)
                .file_name()
                .is_some_and(|n| n.to_string_lossy().contains(needle))
        })
        .map(|rel| dir.join(rel))
        .collect()
}

/// The `run.json` of an output (or cell) folder.
#[track_caller]
pub fn run_json(dir: &Path) -> Value {
    let path = dir.join("run.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `training.from_cache` of a run folder.
#[track_caller]
pub fn from_cache(dir: &Path) -> bool {
    let json = run_json(dir);
    json["training"]["from_cache"]
        .as_bool()
        .unwrap_or_else(|| panic!("no training.from_cache in {}/run.json", dir.display()))
}

/// `training.key` of a run folder.
#[track_caller]
pub fn training_key(dir: &Path) -> String {
    let json = run_json(dir);
    json["training"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("no training.key in {}/run.json", dir.display()))
        .to_string()
}

/// The first value of a key named `name` anywhere in `value` (depth first).
pub fn find_key<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(name).or_else(|| map.values().find_map(|v| find_key(v, name))),
        Value::Array(items) => items.iter().find_map(|v| find_key(v, name)),
        _ => None,
    }
}

/// One column of a CSV file without quoted fields (the results tables).
#[track_caller]
pub fn csv_column(path: &Path, column: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let index = header
        .iter()
        .position(|h| *h == column)
        .unwrap_or_else(|| panic!("no column {column} in {}", path.display()));
    lines
        .map(|line| line.split(',').nth(index).unwrap_or("").to_string())
        .collect()
}

/// The cache entries (folders named by a 64-hex key) of a cache folder.
pub fn cache_entries(cache: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(cache) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit())
        })
        .collect();
    found.sort();
    found
}

/// The one entry of a cache folder.
#[track_caller]
pub fn single_entry(cache: &Path) -> PathBuf {
    let entries = cache_entries(cache);
    assert_eq!(
        entries.len(),
        1,
        "expected one entry in {}: {entries:?}",
        cache.display()
    );
    entries[0].clone()
}

/// One tensor of a safetensors file, owned.
pub struct Tensor {
    pub name: String,
    pub dtype: safetensors::Dtype,
    pub shape: Vec<usize>,
    pub data: Vec<u8>,
}

/// Rewrites a safetensors file through `edit` (its metadata kept); returns (old bytes, new bytes).
pub fn rewrite_safetensors(path: &Path, edit: impl FnOnce(&mut Vec<Tensor>)) -> (Vec<u8>, Vec<u8>) {
    let old = std::fs::read(path).unwrap();
    let (_, metadata) = safetensors::SafeTensors::read_metadata(&old).unwrap();
    let loaded = safetensors::SafeTensors::deserialize(&old).unwrap();
    let mut tensors: Vec<Tensor> = loaded
        .tensors()
        .into_iter()
        .map(|(name, view)| Tensor {
            name,
            dtype: view.dtype(),
            shape: view.shape().to_vec(),
            data: view.data().to_vec(),
        })
        .collect();
    tensors.sort_by(|a, b| a.name.cmp(&b.name));
    edit(&mut tensors);
    let views: Vec<(String, safetensors::tensor::TensorView)> = tensors
        .iter()
        .map(|t| {
            let view = safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.data).unwrap();
            (t.name.clone(), view)
        })
        .collect();
    let new = safetensors::serialize(views, metadata.metadata().clone()).unwrap();
    std::fs::write(path, &new).unwrap();
    (old, new)
}

/// Keeps an entry's `manifest.json` consistent with a file rewritten on purpose: every occurrence of the old
/// file's sha256 becomes the new one, and a size equal to the old length beside it becomes the new length.
pub fn fix_manifest(entry: &Path, old: &[u8], new: &[u8]) {
    let path = entry.join("manifest.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return; // a binary without manifests: nothing to keep consistent
    };
    let mut manifest: Value = serde_json::from_str(&text).unwrap();
    let (old_hash, new_hash) = (sha256_hex(old), sha256_hex(new));
    let replaced = replace_hash(&mut manifest, &old_hash, &new_hash, old.len() as u64, new.len() as u64);
    assert!(
        replaced,
        "{} does not hold the file's sha256 {old_hash}",
        path.display()
    );
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

fn replace_hash(value: &mut Value, old_hash: &str, new_hash: &str, old_len: u64, new_len: u64) -> bool {
    match value {
        Value::String(s) if s.eq_ignore_ascii_case(old_hash) => {
            *s = new_hash.to_string();
            true
        }
        Value::Object(map) => {
            let mut found = false;
            for v in map.values_mut() {
                found |= replace_hash(v, old_hash, new_hash, old_len, new_len);
            }
            let holds_hash = map.values().any(|v| v.as_str() == Some(new_hash));
            if holds_hash {
                for v in map.values_mut() {
                    if v.as_u64() == Some(old_len) {
                        *v = json!(new_len);
                    }
                }
            }
            found
        }
        Value::Array(items) => {
            let mut found = false;
            for v in items {
                found |= replace_hash(v, old_hash, new_hash, old_len, new_len);
            }
            found
        }
        _ => false,
    }
}

/// A cache entry that `damage` spoils after a first run must be noticed: the rerun warns about the cache, retrains
/// (`from_cache: false`), exits 0 with the results of a `--no-cache` run and overwrites the damaged file.
/// `damage` gets the entry folder and returns the name of the file it changed. Returns the test's world, whose
/// `reports/rerun` is the run after the damage.
pub fn bad_entry_is_retrained(damage: impl FnOnce(&Path) -> String) -> Env {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "reports/first", &[]).ok();
    let entry = single_entry(&env.path("reports/.ddmsim-cache"));
    let changed = damage(&entry);
    let damaged = std::fs::read(entry.join(&changed)).unwrap();

    let rerun = env.run("s.yaml", "reports/rerun", &[]);
    rerun.ok().warned_about_cache();
    assert!(
        !from_cache(&env.path("reports/rerun")),
        "the damaged entry was used: {}",
        rerun.describe()
    );
    let now = std::fs::read(entry.join(&changed)).unwrap_or_default();
    assert!(
        now != damaged,
        "the bad {changed} was not overwritten by the retrained entry"
    );
    env.run("s.yaml", "reports/fresh", &["--no-cache"]).ok();
    let results = |dir: &str| std::fs::read(env.path(dir).join("results.csv")).unwrap();
    assert!(
        results("reports/rerun") == results("reports/fresh"),
        "results.csv after the bad entry differs from a --no-cache run"
    );
    env
}

/// A 2-D CSV of four well separated blobs (`x,y` and, when `label` gives one, a `label` column); `label` gets the
/// row index and the row's blob.
pub fn blobs_csv(rows: usize, label: Option<&dyn Fn(usize, usize) -> String>) -> String {
    let centers = [(-3.0, -3.0), (-3.0, 3.0), (3.0, -3.0), (3.0, 3.0)];
    let mut text = String::from(if label.is_some() { "x,y,label\n" } else { "x,y\n" });
    for i in 0..rows {
        let blob = i % 4;
        let jitter = |k: usize| ((i * 7919 + k * 104_729) % 1000) as f64 / 1000.0 - 0.5;
        let (cx, cy) = centers[blob];
        text.push_str(&format!("{:.4},{:.4}", cx + 0.6 * jitter(1), cy + 0.6 * jitter(2)));
        if let Some(label) = label {
            text.push_str(&format!(",{}", label(i, blob)));
        }
        text.push('\n');
    }
    text
}

/// Copies a folder tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The cell folders of a sweep or study output (`cells/*`, hidden names skipped), sorted.
pub fn cells(out: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(out.join("cells")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir() && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    found.sort();
    found
}
