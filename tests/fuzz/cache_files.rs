//! Damaged model-cache entries: one real entry is made once by a tiny run; each case copies it into a fresh
//! cache, applies one to three mutations (flipped byte, truncation, deletion, swapped or duplicated files, garbage
//! manifest or one for another key, an extra tensor, wrong shapes or dtype F16, all-NaN weights or a garbage
//! header with the manifest's hash updated so that only the content check can catch them, an empty file, a
//! folder in place of a file) and loads it: no panic; a hit only when nothing that is read changed and the
//! weights are the original's exactly (and always then); loading writes nothing. Some cases also run the tiny
//! scenario on the damaged cache, which must retrain and succeed.

use super::scenarios::TINY;
use super::{Mode, Tally, Watchdog, fuzz, one_line, panic_text, temp_dir, tree};
use ddmsim::ensemble::{Ensemble, Needs};
use ddmsim::scenario::{LoadedScenario, Scenario};
use ddmsim::store::models::load_ensemble;
use ddmsim::store::{Lookup, ModelCache};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The real entry every case starts from.
struct Baseline {
    /// Holds the cache folder (and the run that made it) alive.
    _dir: tempfile::TempDir,
    /// The cache folder with the one entry (and its marker).
    cache: PathBuf,
    /// The entry's key.
    key: String,
    /// The tiny scenario.
    scenario: Scenario,
    /// Data dimension.
    dim: usize,
    /// Number of experts.
    experts: usize,
    /// What the entry holds besides the experts.
    needs: Needs,
    /// The entry's files (name -> bytes), manifest included.
    files: BTreeMap<String, Vec<u8>>,
    /// The weights and log loaded from the untouched entry.
    original: Weights,
}

/// Every weight (as bits, so that NaN compares) and the round log of an ensemble.
#[derive(Debug, Clone, PartialEq)]
struct Weights {
    experts: Vec<Vec<u32>>,
    router: Option<Vec<u32>>,
    monolith: Option<Vec<u32>>,
    log: String,
}

impl Weights {
    /// The weights of `e`.
    fn of(e: &Ensemble) -> Weights {
        let bits = |p: &[f32]| p.iter().map(|v| v.to_bits()).collect::<Vec<u32>>();
        Weights {
            experts: e.experts.iter().map(|m| bits(&m.params)).collect(),
            router: e.router.as_ref().map(|r| bits(&r.params)),
            monolith: e.monolith.as_ref().map(|m| bits(&m.params)),
            log: format!("{:?}", e.log),
        }
    }
}

/// Runs the tiny scenario once with a cache and reads the entry it stored.
fn baseline() -> Baseline {
    let dir = temp_dir();
    let root = dir.path().canonicalize().expect("canonical");
    let file = root.join("s.yaml");
    std::fs::write(&file, TINY).expect("the scenario");
    let loaded = ddmsim::scenario::load(&file).expect("the tiny scenario loads");
    let cache = root.join("cache");
    let options = ddmsim::RunOptions {
        out_dir: root.join("out"),
        quiet: true,
        cache: Some(cache.clone()),
        inputs: vec![file],
        ..ddmsim::RunOptions::default()
    };
    ddmsim::run(&loaded, &options).expect("the tiny scenario runs");
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("out/run.json")).expect("run.json")).expect("JSON");
    let key = run["training"]["key"].as_str().expect("training.key").to_string();
    let experts = run["experts"].as_u64().expect("experts") as usize;
    let entry = cache.join(&key);
    let files: BTreeMap<String, Vec<u8>> = std::fs::read_dir(&entry)
        .expect("the entry")
        .map(|e| {
            let e = e.expect("an entry file");
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("readable"),
            )
        })
        .collect();
    let needs = Needs {
        router: files.contains_key("router.safetensors"),
        monolith: files.contains_key("monolith.safetensors"),
    };
    let scenario = loaded.scenario.clone();
    let dim = 2;
    let opened = ModelCache::open(&cache).expect("the cache opens");
    let original = match load_ensemble(&opened, &key, &scenario, (dim, 0), experts, needs) {
        Lookup::Hit(e) => Weights::of(&e),
        Lookup::Miss => panic!("the fresh entry is a miss"),
        Lookup::Bad(why) => panic!("the fresh entry is bad: {why}"),
    };
    Baseline {
        _dir: dir,
        cache,
        key,
        scenario,
        dim,
        experts,
        needs,
        files,
        original,
    }
}

/// How a safetensors file is rewritten.
#[derive(Debug, Clone, Copy)]
enum Rewrite {
    /// An unknown extra tensor.
    ExtraTensor,
    /// One tensor left out.
    MissingTensor,
    /// A tensor with its shape reversed, flattened or given an extra axis.
    WrongShape(u8),
    /// A tensor stored as F16.
    F16,
    /// Every value NaN.
    AllNan,
    /// One value +inf.
    OneInf,
    /// A tensor renamed.
    Renamed,
}

/// One damage to an entry. `file` indexes the entry's files in name order (manifest included), modulo their
/// number; `fix` updates the manifest's hash of the changed file, so that only the content check can catch it.
#[derive(Debug, Clone)]
enum Damage {
    /// One bit of one byte flipped.
    FlipBit { file: usize, at: f64, bit: u8 },
    /// Cut at a fraction of the length.
    Truncate { file: usize, at: f64, fix: bool },
    /// Removed.
    Delete { file: usize },
    /// Two files swapped.
    Swap { a: usize, b: usize },
    /// A copy of one file under another name (an existing one, or a new one).
    Duplicate {
        from: usize,
        to: Result<usize, &'static str>,
    },
    /// The manifest replaced by garbage.
    GarbageManifest(&'static str),
    /// The manifest names another key or format.
    WrongManifest(u8),
    /// A safetensors file rewritten.
    Rewrite { file: usize, how: Rewrite, fix: bool },
    /// The safetensors header length or header text broken.
    BadHeader { file: usize, how: u8, fix: bool },
    /// The training log replaced.
    Log { text: &'static str, fix: bool },
    /// An empty file.
    Empty { file: usize, fix: bool },
    /// A folder in place of a file.
    Folder { file: usize },
}

/// One damage.
fn damage() -> BoxedStrategy<Damage> {
    let file = || 0usize..64;
    let rewrite = prop_oneof![
        Just(Rewrite::ExtraTensor),
        Just(Rewrite::MissingTensor),
        (0u8..3).prop_map(Rewrite::WrongShape),
        Just(Rewrite::F16),
        Just(Rewrite::AllNan),
        Just(Rewrite::OneInf),
        Just(Rewrite::Renamed),
    ];
    prop_oneof![
        3 => (file(), 0.0f64..1.0, 0u8..8).prop_map(|(file, at, bit)| Damage::FlipBit { file, at, bit }),
        2 => (file(), 0.0f64..1.0, any::<bool>()).prop_map(|(file, at, fix)| Damage::Truncate { file, at, fix }),
        2 => file().prop_map(|file| Damage::Delete { file }),
        2 => (file(), file()).prop_map(|(a, b)| Damage::Swap { a, b }),
        2 => (
            file(),
            prop_oneof![
                file().prop_map(Ok),
                select(vec!["expert_9.safetensors", "notes.txt", ".hidden", "manifest.json.bak"]).prop_map(Err)
            ]
        )
            .prop_map(|(from, to)| Damage::Duplicate { from, to }),
        2 => select(vec!["", "{}", "null", "[]", "{\"format\":", "\u{0}\u{1}\u{2}", "extra", "missing", "upper", "old-format"])
            .prop_map(Damage::GarbageManifest),
        2 => (0u8..3).prop_map(Damage::WrongManifest),
        6 => (file(), rewrite, prop_oneof![3 => Just(true), 1 => Just(false)])
            .prop_map(|(file, how, fix)| Damage::Rewrite { file, how, fix }),
        2 => (file(), 0u8..4, any::<bool>()).prop_map(|(file, how, fix)| Damage::BadHeader { file, how, fix }),
        2 => (
            select(vec!["", "null", "{", "[{\"model\": \"x\"}]", "[{\"model\":\"expert 0\",\"round\":1,\"participants\":1,\"bytes_down\":0,\"bytes_up\":0,\"flops\":0,\"loss\":1e999}]", "[{\"model\":\"expert 0\",\"round\":1,\"participants\":1,\"bytes_down\":0,\"bytes_up\":0,\"flops\":0,\"loss\":null}]"]),
            any::<bool>()
        )
            .prop_map(|(text, fix)| Damage::Log { text, fix }),
        1 => (file(), any::<bool>()).prop_map(|(file, fix)| Damage::Empty { file, fix }),
        1 => file().prop_map(|file| Damage::Folder { file }),
    ]
    .boxed()
}

/// A cache case: one to three damages, and whether the tiny scenario then runs on the damaged cache.
#[derive(Debug, Clone)]
struct CacheCase {
    damages: Vec<Damage>,
    run: bool,
}

/// Sets the manifest's hash of `name` to the hash of `bytes` (if the manifest is still JSON with a file map).
fn fix_manifest(entry: &Path, name: &str, bytes: &[u8]) {
    let path = entry.join("manifest.json");
    let Ok(text) = std::fs::read(&path) else { return };
    let Ok(mut manifest) = serde_json::from_slice::<serde_json::Value>(&text) else {
        return;
    };
    if let Some(files) = manifest.get_mut("files").and_then(|f| f.as_object_mut())
        && files.contains_key(name)
    {
        files.insert(name.to_string(), json!(ddmsim::hash::sha256_hex(bytes)));
        let _ = std::fs::write(&path, serde_json::to_vec_pretty(&manifest).expect("JSON"));
    }
}

/// Writes `bytes` to the entry's file `name`, fixing the manifest if asked.
fn put(entry: &Path, name: &str, bytes: &[u8], fix: bool) {
    let path = entry.join(name);
    if path.is_dir() {
        return;
    }
    let _ = std::fs::write(&path, bytes);
    if fix {
        fix_manifest(entry, name, bytes);
    }
}

/// One tensor, owned.
struct Tensor {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    data: Vec<u8>,
}

/// The safetensors file `bytes` rewritten by `how` (`None` if it is no longer a safetensors file).
fn rewrite(bytes: &[u8], how: Rewrite) -> Option<Vec<u8>> {
    let (_, metadata) = SafeTensors::read_metadata(bytes).ok()?;
    let loaded = SafeTensors::deserialize(bytes).ok()?;
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
    // A weight matrix (2-D), so that a changed shape is another shape.
    let at = tensors.iter().position(|t| t.shape.len() == 2).unwrap_or(0);
    // Names stay unique (a second extra tensor or rename of the same name would make the file unwritable).
    let taken = |name: &str| tensors.iter().any(|t| t.name == name);
    if matches!(how, Rewrite::ExtraTensor) && taken("layers.99.weight") {
        return None;
    }
    let renamed = format!("{}.renamed", tensors.get(at)?.name);
    if matches!(how, Rewrite::Renamed) && taken(&renamed) {
        return None;
    }
    let first = tensors.get_mut(at)?;
    let old_shape = first.shape.clone();
    match how {
        Rewrite::ExtraTensor => tensors.push(Tensor {
            name: "layers.99.weight".into(),
            dtype: Dtype::F32,
            shape: vec![1],
            data: 1f32.to_le_bytes().to_vec(),
        }),
        Rewrite::MissingTensor => {
            tensors.remove(at);
        }
        Rewrite::WrongShape(kind) => {
            let n: usize = first.shape.iter().product();
            first.shape = match kind {
                0 => first.shape.iter().rev().copied().collect(),
                1 => vec![n],
                _ => first.shape.iter().copied().chain([1]).collect(),
            };
            if first.shape == old_shape {
                return None;
            }
        }
        Rewrite::F16 => {
            let n: usize = first.shape.iter().product();
            first.dtype = Dtype::F16;
            first.data.truncate(2 * n);
        }
        Rewrite::AllNan => {
            for t in &mut tensors {
                for chunk in t.data.chunks_exact_mut(4) {
                    chunk.copy_from_slice(&f32::NAN.to_le_bytes());
                }
            }
        }
        Rewrite::OneInf => first.data[..4].copy_from_slice(&f32::INFINITY.to_le_bytes()),
        Rewrite::Renamed => first.name = renamed,
    }
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                TensorView::new(t.dtype, t.shape.clone(), &t.data).expect("consistent"),
            )
        })
        .collect();
    safetensors::serialize(views, metadata.metadata().clone()).ok()
}

/// Applies `damage` to the entry folder, whose original files are `names` (sorted).
fn apply(entry: &Path, names: &[String], key: &str, damage: &Damage) {
    let name = |i: usize| names[i % names.len()].as_str();
    let read = |n: &str| std::fs::read(entry.join(n)).ok();
    match damage {
        Damage::FlipBit { file, at, bit } => {
            if let Some(mut bytes) = read(name(*file))
                && !bytes.is_empty()
            {
                let i = ((at * bytes.len() as f64) as usize).min(bytes.len() - 1);
                bytes[i] ^= 1 << bit;
                put(entry, name(*file), &bytes, false);
            }
        }
        Damage::Truncate { file, at, fix } => {
            if let Some(mut bytes) = read(name(*file)) {
                bytes.truncate((at * bytes.len() as f64) as usize);
                put(entry, name(*file), &bytes, *fix);
            }
        }
        Damage::Delete { file } => {
            let _ = std::fs::remove_file(entry.join(name(*file)));
        }
        Damage::Swap { a, b } => {
            let (a, b) = (entry.join(name(*a)), entry.join(name(*b)));
            let tmp = entry.join(".swap");
            if std::fs::rename(&a, &tmp).is_ok() {
                let _ = std::fs::rename(&b, &a);
                let _ = std::fs::rename(&tmp, &b);
            }
        }
        Damage::Duplicate { from, to } => {
            let to = match to {
                Ok(i) => name(*i),
                Err(new) => new,
            };
            if let Some(bytes) = read(name(*from)) {
                put(entry, to, &bytes, false);
            }
        }
        Damage::GarbageManifest(kind) => {
            let path = entry.join("manifest.json");
            let text = match *kind {
                "extra" | "missing" | "upper" | "old-format" => {
                    let Some(mut m) = read("manifest.json")
                        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                        .filter(serde_json::Value::is_object)
                    else {
                        return;
                    };
                    match *kind {
                        "extra" => m["extra"] = json!(1),
                        "missing" => {
                            if let Some(files) = m.get_mut("files").and_then(|f| f.as_object_mut())
                                && let Some(first) = files.keys().next().cloned()
                            {
                                files.remove(&first);
                            }
                        }
                        "upper" => {
                            if let Some(files) = m.get_mut("files").and_then(|f| f.as_object_mut()) {
                                for v in files.values_mut() {
                                    *v = json!(v.as_str().unwrap_or_default().to_uppercase());
                                }
                            }
                        }
                        _ => m["format"] = json!("ddmsim-model-cache-1"),
                    }
                    serde_json::to_string(&m).expect("JSON")
                }
                garbage => garbage.to_string(),
            };
            if !path.is_dir() {
                let _ = std::fs::write(&path, text);
            }
        }
        Damage::WrongManifest(kind) => {
            let Some(mut m) = read("manifest.json")
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .filter(serde_json::Value::is_object)
            else {
                return;
            };
            m["key"] = match kind {
                0 => json!("0".repeat(64)),
                1 => json!(""),
                _ => json!(key.to_uppercase()),
            };
            let _ = std::fs::write(entry.join("manifest.json"), serde_json::to_string(&m).expect("JSON"));
        }
        Damage::Rewrite { file, how, fix } => {
            let n = name(*file);
            if let Some(bytes) = read(n).and_then(|b| rewrite(&b, *how)) {
                put(entry, n, &bytes, *fix);
            }
        }
        Damage::BadHeader { file, how, fix } => {
            let n = name(*file);
            if let Some(mut bytes) = read(n)
                && bytes.len() >= 8
            {
                match how {
                    0 => bytes[..8].copy_from_slice(&u64::MAX.to_le_bytes()),
                    1 => {
                        let len = bytes.len() as u64;
                        bytes[..8].copy_from_slice(&len.to_le_bytes());
                    }
                    2 => bytes[..8].copy_from_slice(&0u64.to_le_bytes()),
                    _ => {
                        if bytes.len() > 9 {
                            bytes[8] = b'[';
                        }
                    }
                }
                put(entry, n, &bytes, *fix);
            }
        }
        Damage::Log { text, fix } => put(entry, "training_log.json", text.as_bytes(), *fix),
        Damage::Empty { file, fix } => put(entry, name(*file), &[], *fix),
        Damage::Folder { file } => {
            let path = entry.join(name(*file));
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::create_dir_all(path.join("inner"));
        }
    }
}

/// Checks one case on a fresh copy of the baseline's cache.
fn check(base: &Baseline, case: &CacheCase, tally: &Tally) -> Result<(), TestCaseError> {
    let dir = temp_dir();
    let root = dir.path().canonicalize().expect("canonical");
    let cache_dir = root.join("cache");
    copy_dir(&base.cache, &cache_dir);
    let entry = cache_dir.join(&base.key);
    let names: Vec<String> = base.files.keys().cloned().collect();
    for d in &case.damages {
        apply(&entry, &names, &base.key, d);
    }
    // Whether any file a load reads differs from the original (missing, a folder, other bytes).
    let changed = base
        .files
        .iter()
        .any(|(name, bytes)| std::fs::read(entry.join(name)).ok().as_ref() != Some(bytes));
    let cache =
        ModelCache::open(&cache_dir).map_err(|e| TestCaseError::fail(format!("the cache does not open: {e}")))?;
    let before = tree(&root);
    let lookup = std::panic::catch_unwind(|| {
        load_ensemble(
            &cache,
            &base.key,
            &base.scenario,
            (base.dim, 0),
            base.experts,
            base.needs,
        )
    })
    .map_err(|p| TestCaseError::fail(format!("PANIC in load_ensemble: {}", panic_text(&*p))))?;
    if tree(&root) != before {
        return Err(TestCaseError::fail("load_ensemble wrote to the cache"));
    }
    let hit = match lookup {
        Lookup::Hit(e) => {
            if changed {
                return Err(TestCaseError::fail("a damaged entry was a hit"));
            }
            if Weights::of(&e) != base.original {
                return Err(TestCaseError::fail("a hit with weights other than the original's"));
            }
            tally.count("hit(nothing read changed)");
            true
        }
        Lookup::Miss => {
            if entry.exists() {
                return Err(TestCaseError::fail("a miss although the entry exists"));
            }
            tally.count("miss");
            false
        }
        Lookup::Bad(why) => {
            one_line("Lookup::Bad", &why)?;
            if !changed {
                return Err(TestCaseError::fail(format!("an untouched entry was bad: {why}")));
            }
            tally.count("bad");
            let reason = if why.contains("hash") {
                "bad: a hash differs"
            } else if why.contains("manifest") {
                "bad: the manifest"
            } else if why.contains("cannot be read") {
                "bad: a file cannot be read"
            } else {
                "bad: the content check (hashes right)"
            };
            tally.note(reason);
            false
        }
    };
    if case.run {
        run_on(&root, &cache_dir, hit)?;
        tally.note("then ran the tiny scenario on the damaged cache");
    }
    Ok(())
}

/// Runs the tiny scenario on the damaged cache: it must succeed, taking the models from the cache only if
/// they were a hit.
fn run_on(root: &Path, cache: &Path, hit: bool) -> Result<(), TestCaseError> {
    let file = root.join("s.yaml");
    std::fs::write(&file, TINY).expect("the scenario");
    let scenario = ddmsim::scenario::parse(TINY).expect("parses");
    let loaded = LoadedScenario {
        scenario,
        base_dir: root.to_path_buf(),
    };
    let options = ddmsim::RunOptions {
        out_dir: root.join("out"),
        quiet: true,
        cache: Some(cache.to_path_buf()),
        inputs: vec![file],
        ..ddmsim::RunOptions::default()
    };
    std::panic::catch_unwind(|| ddmsim::run(&loaded, &options))
        .map_err(|p| TestCaseError::fail(format!("PANIC in a run on the damaged cache: {}", panic_text(&*p))))?
        .map_err(|e| TestCaseError::fail(format!("the run on the damaged cache failed: {e}")))?;
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("out/run.json")).expect("run.json")).expect("JSON");
    if run["training"]["from_cache"].as_bool() != Some(hit) {
        return Err(TestCaseError::fail(format!(
            "training.from_cache is {} but the lookup was {}",
            run["training"]["from_cache"],
            if hit { "a hit" } else { "not a hit" }
        )));
    }
    Ok(())
}

/// Copies a folder tree.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("a folder");
    for entry in std::fs::read_dir(from).expect("readable") {
        let entry = entry.expect("an entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("a type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copied");
        }
    }
}

/// The cache test: `mode`'s number of cases (1,000 in CI).
pub fn fuzz_cache_files(mode: Mode) {
    let name = format!("fuzz_cache_files({mode:?})");
    let base = baseline();
    let tally = Tally::new(&name);
    let dog = Watchdog::start(&name);
    let cases = (
        proptest::collection::vec(damage(), 1..=3),
        proptest::bool::weighted(0.04),
    )
        .prop_map(|(damages, run)| CacheCase { damages, run });
    fuzz(&name, mode, 1_000, cases, &tally, |case| {
        let _watch = dog.watch(format!("{case:?}"));
        check(&base, &case, &tally)
    });
}
