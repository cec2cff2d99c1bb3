//! Trained ensembles in the model cache: the training key, and the experts, router, monolith and round log as
//! one verified entry (each weight file parsed strictly: dtype, shapes, finite values).

use super::cache::{FORMAT, Lookup, ModelCache};
use crate::data::Dataset;
use crate::diffusion::DenoiserModel;
use crate::ensemble::{Ensemble, Needs, denoiser_net, router_net};
use crate::error::Result;
use crate::federated::RoundLog;
use crate::nn::{TimeNet, weights};
use crate::routing::RouterModel;
use crate::scenario::{MetricsConfig, SamplingConfig, Scenario, to_yaml};
use sha2::{Digest, Sha256};

/// The hex SHA-256 key of a training: the scenario parts that affect training, the training data (points and
/// labels), what had to be trained, and the training device (adapter name) when it is not the CPU.
pub fn training_key(s: &Scenario, train: &Dataset, needs: Needs, device: Option<&str>) -> String {
    let mut normalized = s.clone();
    normalized.name = String::new();
    normalized.routing = Vec::new();
    normalized.sampling = SamplingConfig::default();
    normalized.metrics = MetricsConfig::default();
    normalized.router.temperature = 1.0;
    let mut hasher = Sha256::new();
    hasher.update(FORMAT.as_bytes());
    hasher.update(env!("CARGO_PKG_VERSION").as_bytes());
    hasher.update(to_yaml(&normalized).as_bytes());
    hasher.update([needs.router as u8, needs.monolith as u8]);
    // Models trained on a device differ from the CPU's (and another adapter's) by f32 rounding.
    if let Some(name) = device {
        hasher.update(name.as_bytes());
    }
    hasher.update((train.x.nrows() as u64).to_le_bytes());
    hasher.update((train.x.ncols() as u64).to_le_bytes());
    for v in train.x.iter() {
        hasher.update(v.to_le_bytes());
    }
    // Labels decide the clusters under `clusters.method: labels`; hashed always, so no setting can miss them.
    match &train.labels {
        Some(labels) => {
            hasher.update([1]);
            for &l in labels {
                hasher.update((l as u64).to_le_bytes());
            }
        }
        None => hasher.update([0]),
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The file names of an entry with `experts` experts and `needs`.
fn names(experts: usize, needs: Needs) -> Vec<String> {
    let mut names: Vec<String> = (0..experts).map(|j| format!("expert_{j}.safetensors")).collect();
    if needs.router {
        names.push("router.safetensors".into());
    }
    if needs.monolith {
        names.push("monolith.safetensors".into());
    }
    names.push("training_log.json".into());
    names
}

/// The trained models of `key`, verified; `experts`, `dim`, the training points' `classes` and `s` give the
/// architectures.
pub fn load_ensemble(
    cache: &ModelCache,
    key: &str,
    s: &Scenario,
    (dim, classes): (usize, usize),
    experts: usize,
    needs: Needs,
) -> Lookup<Ensemble> {
    let files = match cache.read(key, &names(experts, needs)) {
        Lookup::Hit(files) => files,
        Lookup::Miss => return Lookup::Miss,
        Lookup::Bad(why) => return Lookup::Bad(why),
    };
    match parse(&files, s, (dim, classes), experts, needs) {
        Ok(ensemble) => Lookup::Hit(ensemble),
        Err(why) => Lookup::Bad(why),
    }
}

/// The ensemble in an entry's files (in the order of [`names`]).
fn parse(
    files: &[Vec<u8>],
    s: &Scenario,
    (dim, classes): (usize, usize),
    experts: usize,
    needs: Needs,
) -> Result<Ensemble, String> {
    let weights_of = |i: usize, net: &TimeNet| {
        weights::from_bytes(&files[i], net).map_err(|e| format!("{}: {e}", names(experts, needs)[i]))
    };
    let net = denoiser_net(s, dim, classes);
    let models = (0..experts)
        .map(|j| {
            Ok(DenoiserModel {
                net: net.clone(),
                params: weights_of(j, &net)?,
            })
        })
        .collect::<Result<Vec<_>, String>>()?;
    let mut next = experts;
    let router = if needs.router {
        let rnet = router_net(s, dim, experts, classes);
        let params = weights_of(next, &rnet)?;
        next += 1;
        Some(RouterModel {
            net: rnet,
            params,
            temperature: s.router.temperature as f32,
        })
    } else {
        None
    };
    let monolith = if needs.monolith {
        let params = weights_of(next, &net)?;
        next += 1;
        Some(DenoiserModel { net, params })
    } else {
        None
    };
    let log: Vec<RoundLog> =
        serde_json::from_slice(&files[next]).map_err(|e| format!("training_log.json is not a training log ({e})"))?;
    if log.iter().any(|r| r.loss.is_some_and(|l| !l.is_finite())) {
        return Err("training_log.json holds a non-finite loss".into());
    }
    Ok(Ensemble {
        experts: models,
        router,
        monolith,
        log,
    })
}

/// Stores `ensemble` under `key`.
pub fn store_ensemble(cache: &ModelCache, key: &str, ensemble: &Ensemble) -> Result<()> {
    let mut files = Vec::new();
    for (j, e) in ensemble.experts.iter().enumerate() {
        files.push((
            format!("expert_{j}.safetensors"),
            weights::to_bytes(&e.net, &e.params, &[]),
        ));
    }
    if let Some(r) = &ensemble.router {
        files.push(("router.safetensors".into(), weights::to_bytes(&r.net, &r.params, &[])));
    }
    if let Some(m) = &ensemble.monolith {
        files.push(("monolith.safetensors".into(), weights::to_bytes(&m.net, &m.params, &[])));
    }
    let log = serde_json::to_vec(&ensemble.log).expect("a training log serialises");
    files.push(("training_log.json".into(), log));
    cache.write(key, &files)
}
