//! Cache files trusted blindly: a model cache entry whose files were swapped, reshaped, retyped or lost is a miss
//! (a warning, a retrain, the results of a `--no-cache` run), and partial entries of killed writers are cleaned
//! up unless a live writer still holds their lock.

use crate::common::*;

/// The bias `tensor` of an expert's file with `delta` more (or fewer) elements, the manifest kept consistent;
/// returns the file's name.
fn resize_bias(entry: &std::path::Path, tensor: &str, delta: isize) -> String {
    let name = "expert_0.safetensors";
    let (old, new) = rewrite_safetensors(&entry.join(name), |tensors| {
        let bias = tensors
            .iter_mut()
            .find(|t| t.name == tensor)
            .unwrap_or_else(|| panic!("no {tensor} tensor"));
        let len = bias.shape[0].checked_add_signed(delta).unwrap();
        bias.shape = vec![len];
        bias.data.resize(len * 4, 0);
    });
    fix_manifest(entry, &old, &new);
    name.to_string()
}

/// IEEE half precision bits of `x` (round toward zero; small values flush to zero).
fn f16_bits(x: f32) -> u16 {
    let bits = x.to_bits();
    let sign = ((bits >> 16) & 0x8000) as u16;
    let exponent = ((bits >> 23) & 0xff) as i32 - 127 + 15;
    let mantissa = ((bits & 0x7f_ffff) >> 13) as u16;
    match exponent {
        ..=0 => sign,
        31.. => sign | 0x7c00,
        e => sign | ((e as u16) << 10) | mantissa,
    }
}

/// Defect 26: "Two expert files swapped (expert_0 <-> expert_1) in the entry."
#[test]
fn swapped_expert_files_in_the_cache_are_a_miss() {
    bad_entry_is_retrained(|entry| {
        let (a, b, tmp) = (
            entry.join("expert_0.safetensors"),
            entry.join("expert_1.safetensors"),
            entry.join("t"),
        );
        assert!(
            std::fs::read(&a).unwrap() != std::fs::read(&b).unwrap(),
            "identical experts: nothing to swap"
        );
        std::fs::rename(&a, &tmp).unwrap();
        std::fs::rename(&b, &a).unwrap();
        std::fs::rename(&tmp, &b).unwrap();
        "expert_0.safetensors".to_string()
    });
}

/// Defect 27: "A bias tensor too short (rewrite one file with a shorter `layers.0.bias`, fix the manifest hash)."
#[test]
fn a_too_short_bias_in_the_cache_is_a_miss() {
    bad_entry_is_retrained(|entry| resize_bias(entry, "layers.0.bias", -1));
}

/// Defect 28: "Weights stored as F16 (rewrite a file with dtype F16, fix the manifest hash)."
#[test]
fn weights_stored_as_f16_in_the_cache_are_a_miss() {
    bad_entry_is_retrained(|entry| {
        let name = "expert_0.safetensors";
        let (old, new) = rewrite_safetensors(&entry.join(name), |tensors| {
            for t in tensors.iter_mut() {
                assert_eq!(t.dtype, safetensors::Dtype::F32);
                let halves: Vec<u8> = t
                    .data
                    .chunks_exact(4)
                    .flat_map(|c| f16_bits(f32::from_le_bytes(c.try_into().unwrap())).to_le_bytes())
                    .collect();
                t.dtype = safetensors::Dtype::F16;
                t.data = halves;
            }
        });
        fix_manifest(entry, &old, &new);
        name.to_string()
    });
}

/// Defect 29: "A bias tensor too long (was a panic in src/nn/weights.rs)."
///
/// The last layer's bias (`layers.1.bias` of the tiny model's one hidden layer), whose extra element lies past
/// the end of the parameters: the baseline's loader indexed out of bounds there.
#[test]
fn a_too_long_bias_in_the_cache_is_a_miss() {
    bad_entry_is_retrained(|entry| resize_bias(entry, "layers.1.bias", 1));
}

/// Defect 30: "Missing `training_log.json`: the run retrains and succeeds; a second run then reuses the entry
/// (`from_cache: true`)."
#[test]
fn a_cache_entry_without_its_training_log_is_retrained_then_reused() {
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "reports/a", &[]).ok();
    let entry = single_entry(&env.path("reports/.ddmsim-cache"));
    std::fs::remove_file(entry.join("training_log.json")).unwrap();

    env.run("s.yaml", "reports/b", &[]).ok();
    assert!(
        !from_cache(&env.path("reports/b")),
        "an entry without training_log.json was used"
    );
    env.run("s.yaml", "reports/c", &[]).ok();
    assert!(from_cache(&env.path("reports/c")), "the rewritten entry was not reused");
    let results = |dir: &str| std::fs::read(env.path(dir).join("results.csv")).unwrap();
    assert!(results("reports/b") == results("reports/a") && results("reports/c") == results("reports/a"));
}

/// Defect 31: "A partial left by a killed cache write (`.KEY.ddmsim-partial-x/` with an unlocked `.lock` and a
/// 10 MB file) is gone after the next run using that cache; one whose `.lock` is held by a live process stays."
///
/// The abandoned partial is of the key the run writes (its entry is removed first, so the run writes it again);
/// the live one is of another key, so that a binary that would wait for a live writer of its own key cannot hang.
#[test]
fn abandoned_cache_partials_are_removed_and_live_ones_kept() {
    if !have_flock("abandoned_cache_partials_are_removed_and_live_ones_kept") {
        return;
    }
    let env = Env::new();
    env.scenario("s.yaml", &[]);
    env.run("s.yaml", "reports/a", &[]).ok();
    let key = training_key(&env.path("reports/a"));
    let cache = env.path("reports/.ddmsim-cache");
    std::fs::remove_dir_all(cache.join(&key)).unwrap();

    let abandoned = cache.join(format!(".{key}.ddmsim-partial-x"));
    std::fs::create_dir_all(&abandoned).unwrap();
    std::fs::write(abandoned.join(".lock"), "").unwrap();
    std::fs::write(abandoned.join("expert_0.safetensors"), vec![7u8; 10 << 20]).unwrap();

    let other = "e".repeat(64);
    let live = cache.join(format!(".{other}.ddmsim-partial-y"));
    std::fs::create_dir_all(&live).unwrap();
    std::fs::write(live.join("expert_0.safetensors"), vec![9u8; 1 << 16]).unwrap();
    let holder = LockHolder::hold(&live.join(".lock"));

    env.run("s.yaml", "reports/b", &[]).ok();
    assert!(
        !abandoned.exists(),
        "the abandoned partial {} is still there",
        abandoned.display()
    );
    assert!(
        live.join("expert_0.safetensors").is_file(),
        "the partial of a live writer (its .lock held) was removed"
    );
    assert!(!lock_is_free(&live.join(".lock")), "the live writer lost its lock");
    holder.release();
}
