//! Fuzz and property harness: generated scenario YAML, `--set` overrides, CSV files and model-cache entries,
//! each of which must either run (on tiny budgets) or fail with a one-line error; never a panic, an abort, a
//! hang past a timeout, or a write outside the output folder. The default mode runs a fixed seed (reproducible
//! in CI); `cargo test --release --test fuzz -- --ignored` runs ten times the cases from a fresh seed, printed
//! at the start (replay a seed with `DDMSIM_FUZZ_SEED=<64 hex digits>`; `DDMSIM_FUZZ_CASES=<n>` sets the number
//! of cases of every test, `DDMSIM_FUZZ_CASE_LIMIT=<seconds>` the time limit of a case, 60 s by default;
//! `DDMSIM_FUZZ_KEEP_GOING=1` runs every case and lists each kind of failure instead of stopping at the first).
//! Workspaces live in `/dev/shm` when it exists (`DDMSIM_FUZZ_TMP` chooses another folder).

#[path = "fuzz/cache_files.rs"]
mod cache_files;
#[path = "fuzz/cli.rs"]
mod cli;
#[path = "fuzz/csv_files.rs"]
mod csv_files;
#[path = "fuzz/faults.rs"]
mod faults;
#[path = "fuzz/grammar.rs"]
mod grammar;
#[path = "fuzz/overrides.rs"]
mod overrides;
#[path = "fuzz/scenarios.rs"]
mod scenarios;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The seed of the default (CI) mode: fixed, so a failure reproduces.
const CI_SEED: [u8; 32] = *b"ddmsim-fuzz-harness-ci-seed-0001";

/// The longest a single case may take (60 s, or `DDMSIM_FUZZ_CASE_LIMIT` seconds): the watchdog then aborts the
/// whole test binary, and the CLI test kills the command.
pub fn case_limit() -> Duration {
    let seconds = std::env::var("DDMSIM_FUZZ_CASE_LIMIT")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| *s > 0.0)
        .unwrap_or(60.0);
    Duration::from_secs_f64(seconds)
}

/// Which mode a test runs in: the default one (fixed seed, CI case counts) or the long one (ten times the cases,
/// a fresh seed).
#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// Fixed seed, the CI case counts.
    Ci,
    /// A fresh random seed, ten times the cases.
    Long,
}

impl Mode {
    /// The number of cases for a test whose CI count is `ci` (`DDMSIM_FUZZ_CASES` overrides it).
    pub fn cases(self, ci: u32) -> u32 {
        if let Some(n) = std::env::var("DDMSIM_FUZZ_CASES").ok().and_then(|n| n.parse().ok()) {
            return n;
        }
        match self {
            Mode::Ci => ci,
            Mode::Long => ci * 10,
        }
    }
}

/// The 32-byte seed of a test: `DDMSIM_FUZZ_SEED` if set, else the fixed CI seed or a fresh one (long mode),
/// mixed with the test's name so that the tests draw different streams.
fn seed(mode: Mode, test: &str) -> [u8; 32] {
    let mut seed = match std::env::var("DDMSIM_FUZZ_SEED") {
        Ok(hex) => {
            parse_hex_seed(&hex).unwrap_or_else(|| panic!("DDMSIM_FUZZ_SEED must be 64 hex digits, got {hex:?}"))
        }
        Err(_) => match mode {
            Mode::Ci => CI_SEED,
            Mode::Long => fresh_seed(),
        },
    };
    let base = seed;
    eprintln!(
        "{test}: seed {} (replay with DDMSIM_FUZZ_SEED={})",
        hex(&base),
        hex(&base)
    );
    for (i, b) in test.bytes().enumerate() {
        seed[i % 32] ^= b;
    }
    seed
}

/// 32 bytes from the process's hash keys, the clock and the process id.
fn fresh_seed() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut seed = [0u8; 32];
    for (i, chunk) in seed.chunks_mut(8).enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        h.write_u32(std::process::id());
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    seed
}

/// Bytes as lower-case hex.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits as 32 bytes.
fn parse_hex_seed(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 {
        return None;
    }
    let mut seed = [0u8; 32];
    for (i, byte) in seed.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(seed)
}

/// Runs `test` on `cases` values of `strategy` from the mode's seed and prints `tally`; a failing case is shrunk
/// (within two minutes) and the test panics with the minimal case. With `DDMSIM_FUZZ_KEEP_GOING=1` failures are collected
/// instead (not shrunk): the test goes on and panics at the end with the first case of each kind of failure.
pub fn fuzz<S>(
    name: &str,
    mode: Mode,
    ci_cases: u32,
    strategy: S,
    tally: &Tally,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S: Strategy,
    S::Value: Debug,
{
    let config = Config {
        cases: mode.cases(ci_cases),
        failure_persistence: None,
        max_shrink_iters: 2_000,
        max_shrink_time: 120_000,
        max_global_rejects: 100_000,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed(mode, name));
    let mut runner = TestRunner::new_with_rng(config, rng);
    let keep_going = std::env::var("DDMSIM_FUZZ_KEEP_GOING").is_ok_and(|v| v == "1");
    let found: Mutex<BTreeMap<String, (usize, String)>> = Mutex::new(BTreeMap::new());
    let result = runner.run(&strategy, |value| {
        let shown = keep_going.then(|| format!("{value:?}"));
        match (test(value), shown) {
            (Err(TestCaseError::Fail(why)), Some(shown)) => {
                tally.note("FAILED (broke the contract)");
                let mut found = found.lock().unwrap_or_else(|e| e.into_inner());
                let entry = found
                    .entry(failure_kind(why.message()))
                    .or_insert((0, format!("{why}\ncase: {shown}")));
                entry.0 += 1;
                Ok(())
            }
            (result, _) => {
                if result.is_err() {
                    tally.freeze();
                }
                result
            }
        }
    });
    tally.print();
    if let Err(e) = result {
        panic!("{name}: {e}");
    }
    let found = found.into_inner().unwrap_or_else(|e| e.into_inner());
    if !found.is_empty() {
        let total: usize = found.values().map(|(n, _)| n).sum();
        let mut text = format!("{name}: {total} failing cases of {} kinds:\n", found.len());
        for (kind, (n, first)) in &found {
            text.push_str(&format!("=== {n} x {kind}\nfirst: {first}\n"));
        }
        panic!("{text}");
    }
}

/// A failure message with quoted text, numbers and temporary paths taken out, so that cases failing the same
/// way group.
pub fn failure_kind(message: &str) -> String {
    let words: Vec<&str> = message
        .split(' ')
        .map(|w| {
            if w.contains("ddmsim-fuzz-") || w.contains(".ddmsim-") {
                "<path>"
            } else {
                w
            }
        })
        .collect();
    let mut kind = String::new();
    let mut quote: Option<char> = None;
    for c in words.join(" ").chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if matches!(c, '"' | '`') => {
                quote = Some(c);
                kind.push_str("..");
            }
            None if c.is_ascii_digit() => {}
            None => kind.push(c),
        }
        if kind.len() >= 90 {
            break;
        }
    }
    kind
}

/// Counts the cases of a test by outcome (and details such as commands run) and prints them at the end.
pub struct Tally {
    name: String,
    started: Instant,
    outcomes: Mutex<BTreeMap<String, (usize, Duration)>>,
    notes: Mutex<BTreeMap<String, usize>>,
    frozen: AtomicBool,
}

impl Tally {
    /// An empty tally for the test `name`.
    pub fn new(name: &str) -> Tally {
        Tally {
            name: name.to_string(),
            started: Instant::now(),
            outcomes: Mutex::new(BTreeMap::new()),
            notes: Mutex::new(BTreeMap::new()),
            frozen: AtomicBool::new(false),
        }
    }

    /// Stops counting (at the first failure: the cases proptest then runs to shrink it are not counted).
    pub fn freeze(&self) {
        self.frozen.store(true, Ordering::Relaxed);
    }

    /// Counts a detail of a case (not a case).
    pub fn note(&self, detail: &str) {
        if self.frozen.load(Ordering::Relaxed) {
            return;
        }
        *self.notes.lock().unwrap().entry(detail.to_string()).or_default() += 1;
    }

    /// Counts one case that ended in `outcome`.
    pub fn count(&self, outcome: &str) {
        self.count_timed(outcome, Duration::ZERO);
    }

    /// Counts one case that ended in `outcome` after `took`.
    pub fn count_timed(&self, outcome: &str, took: Duration) {
        if self.frozen.load(Ordering::Relaxed) {
            return;
        }
        let mut outcomes = self.outcomes.lock().unwrap();
        let entry = outcomes.entry(outcome.to_string()).or_default();
        entry.0 += 1;
        entry.1 += took;
    }

    /// Prints the counts: total, then each outcome.
    pub fn print(&self) {
        let outcomes = self.outcomes.lock().unwrap();
        let total: usize = outcomes.values().map(|(n, _)| n).sum();
        let parts: Vec<String> = outcomes
            .iter()
            .map(|(k, (n, took))| match took.as_secs_f64() {
                0.0 => format!("{k} {n}"),
                secs => format!("{k} {n} ({secs:.1} s)"),
            })
            .collect();
        let notes = self.notes.lock().unwrap();
        let details: Vec<String> = notes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let details = if details.is_empty() {
            String::new()
        } else {
            format!("; details: {}", details.join(", "))
        };
        let stopped = if self.frozen.load(Ordering::Relaxed) {
            " (counting stopped at the first failure, then shrinking)"
        } else {
            ""
        };
        eprintln!(
            "{}: {total} cases in {:.1} s{stopped}: {}{details}",
            self.name,
            self.started.elapsed().as_secs_f64(),
            parts.join(", ")
        );
    }
}

/// A watchdog thread that aborts the process, printing the case, when one case runs longer than [`case_limit`]
/// (a hung thread cannot be killed, and a hang must fail the test rather than stall it).
pub struct Watchdog {
    slot: Arc<Mutex<Option<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog of the test `name`.
    pub fn start(name: &str) -> Watchdog {
        let slot: Arc<Mutex<Option<(Instant, String)>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (watched, stopped, name) = (slot.clone(), stop.clone(), name.to_string());
        let limit = case_limit();
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                let slot = watched.lock().unwrap_or_else(|e| e.into_inner());
                if let Some((started, case)) = slot.as_ref()
                    && started.elapsed() > limit
                {
                    // Straight to the process's stderr: the test harness's capture of `eprintln!` dies with it.
                    let _ = writeln!(
                        std::io::stderr(),
                        "{name}: HANG: a case ran longer than {} s; aborting. The case:\n{case}",
                        limit.as_secs_f64()
                    );
                    std::process::abort();
                }
            }
        });
        Watchdog {
            slot,
            stop,
            thread: Some(thread),
        }
    }

    /// Watches the case described by `case` until the returned guard is dropped.
    pub fn watch(&self, case: String) -> WatchGuard<'_> {
        *self.slot.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), case));
        WatchGuard { dog: self }
    }
}

impl Drop for Watchdog {
    /// Stops the watchdog thread and waits for it.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The watch over one case; dropping it ends the watch.
pub struct WatchGuard<'a> {
    dog: &'a Watchdog,
}

impl Drop for WatchGuard<'_> {
    /// Ends the watch: no case is running.
    fn drop(&mut self) {
        *self.dog.slot.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// A fresh temporary folder: in `DDMSIM_FUZZ_TMP` if set, else in `/dev/shm` when that is a writable folder
/// (ddmsim syncs every file it writes, which costs tens of milliseconds a run on a disk and nothing in memory),
/// else in the system's temporary folder.
pub fn temp_dir() -> tempfile::TempDir {
    let base = std::env::var_os("DDMSIM_FUZZ_TMP")
        .map(std::path::PathBuf::from)
        .or_else(|| Some(std::path::PathBuf::from("/dev/shm")).filter(|p| p.is_dir()));
    base.and_then(|b| tempfile::Builder::new().prefix("ddmsim-fuzz-").tempdir_in(b).ok())
        .unwrap_or_else(|| {
            tempfile::Builder::new()
                .prefix("ddmsim-fuzz-")
                .tempdir()
                .expect("a temporary folder")
        })
}

/// The text of a caught panic's payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "a panic with a non-text payload".into())
}

/// Fails the case if `message` (an error shown to the user) is not one non-empty line.
pub fn one_line(what: &str, message: &str) -> Result<(), TestCaseError> {
    if message.contains('\n') || message.contains('\r') || message.trim().is_empty() {
        return Err(TestCaseError::fail(format!(
            "{what}: the error is not one line: {message:?}"
        )));
    }
    Ok(())
}

/// One path of a folder tree: a folder, a file (its contents' SHA-256), a symlink (its target) or something else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A folder.
    Dir,
    /// A file and the SHA-256 of its contents.
    File(String),
    /// A symbolic link and its target.
    Link(String),
    /// A socket, fifo or device.
    Other,
}

/// Every path under `root` (relative, `/`-separated) with what it is.
pub fn tree(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

/// Adds the paths under `dir` to `out`.
fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Node>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let node = if meta.file_type().is_symlink() {
            Node::Link(
                std::fs::read_link(&path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default(),
            )
        } else if meta.is_dir() {
            walk(root, &path, out);
            Node::Dir
        } else if meta.is_file() {
            Node::File(
                std::fs::read(&path)
                    .map(|b| ddmsim::hash::sha256_hex(&b))
                    .unwrap_or_default(),
            )
        } else {
            Node::Other
        };
        out.insert(rel, node);
    }
}

/// Compares a tree after a case with the tree before it: every path that was there is unchanged, except what
/// lies under one of `allowed` (relative folder paths: the output folders, which ddmsim may replace) and is not
/// one of `inputs` (relative file paths, which must stay as they were wherever they are); and every new path lies
/// under one of `allowed`. Returns the differences.
pub fn stray_changes(
    before: &BTreeMap<String, Node>,
    after: &BTreeMap<String, Node>,
    allowed: &[&str],
    inputs: &[String],
) -> Vec<String> {
    let inside = |path: &str| {
        allowed
            .iter()
            .any(|a| path == *a || path.strip_prefix(a).is_some_and(|rest| rest.starts_with('/')))
    };
    let holds_input = |path: &str| {
        inputs
            .iter()
            .any(|i| i == path || i.strip_prefix(path).is_some_and(|rest| rest.starts_with('/')))
    };
    let mut diffs = Vec::new();
    for (path, old) in before {
        if inside(path) && !holds_input(path) {
            continue;
        }
        match after.get(path) {
            None => diffs.push(format!("removed: {path}")),
            Some(new) if new != old => diffs.push(format!("changed: {path}")),
            _ => {}
        }
    }
    for path in after.keys().filter(|p| !before.contains_key(*p)) {
        if !inside(path) {
            diffs.push(format!("added outside the output folders: {path}"));
        }
    }
    diffs
}

/// Generated scenarios run in-process: parse, validate, run tiny ones; no panic, one-line errors, no stray write.
#[test]
fn fuzz_scenarios() {
    scenarios::fuzz_scenarios(Mode::Ci);
}

/// The long mode of [`fuzz_scenarios`].
#[test]
#[ignore = "long mode: ten times the cases from a fresh seed"]
fn fuzz_long_scenarios() {
    scenarios::fuzz_scenarios(Mode::Long);
}

/// Generated `path=value` overrides on the tiny scenario: no panic, Ok results validate, one-line errors.
#[test]
fn fuzz_fault_combinations() {
    faults::fuzz_fault_combinations(Mode::Ci);
}

#[test]
fn fuzz_overrides() {
    overrides::fuzz_overrides(Mode::Ci);
}

/// The long mode of [`fuzz_overrides`].
#[test]
#[ignore = "long mode: ten times the cases from a fresh seed"]
fn fuzz_long_overrides() {
    overrides::fuzz_overrides(Mode::Long);
}

/// Generated CSV files: no panic, finite values and one label per row, one-line errors naming the file.
#[test]
fn fuzz_csv_files() {
    csv_files::fuzz_csv_files(Mode::Ci);
}

/// The long mode of [`fuzz_csv_files`].
#[test]
#[ignore = "long mode: ten times the cases from a fresh seed"]
fn fuzz_long_csv_files() {
    csv_files::fuzz_csv_files(Mode::Long);
}

/// Damaged model-cache entries: never a hit unless the weights are the original's, and loading writes nothing.
#[test]
fn fuzz_cache_files() {
    cache_files::fuzz_cache_files(Mode::Ci);
}

/// The long mode of [`fuzz_cache_files`].
#[test]
#[ignore = "long mode: ten times the cases from a fresh seed"]
fn fuzz_long_cache_files() {
    cache_files::fuzz_cache_files(Mode::Long);
}

/// The real binary on generated scenarios: exit 0 or 1, `error: ` last, no panic, no write outside its folders.
#[test]
fn fuzz_cli() {
    cli::fuzz_cli(Mode::Ci);
}

/// The long mode of [`fuzz_cli`].
#[test]
#[ignore = "long mode: ten times the cases from a fresh seed"]
fn fuzz_long_cli() {
    cli::fuzz_cli(Mode::Long);
}
