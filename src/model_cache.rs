//! A cache of trained models: experts, router and monolith are stored as safetensors under a key that hashes
//! everything that affects training (the scenario without its sampling, routing, metrics and router temperature,
//! the training data itself, and what had to be trained), so runs that change only how models are used reuse them.

use crate::diffusion::DenoiserModel;
use crate::ensemble::{Ensemble, Needs, denoiser_net, router_net};
use crate::error::{Error, Result};
use crate::federated::RoundLog;
use crate::nn::weights;
use crate::output::write_atomic;
use crate::routing::RouterModel;
use crate::scenario::{MetricsConfig, SamplingConfig, Scenario, to_yaml};
use ndarray::Array2;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Bumped whenever the stored layout or the meaning of the key changes.
const FORMAT: &str = "ddmsim-model-cache-1";

/// The hex SHA-256 key of a training: scenario parts that affect training, the training data, the needs and the
/// training device (adapter name) when it is not the CPU.
pub fn training_key(s: &Scenario, train_x: &Array2<f32>, needs: Needs, device: Option<&str>) -> String {
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
    hasher.update((train_x.nrows() as u64).to_le_bytes());
    hasher.update((train_x.ncols() as u64).to_le_bytes());
    for v in train_x.iter() {
        hasher.update(v.to_le_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A folder of cached trainings, one subfolder per key.
#[derive(Debug, Clone)]
pub struct ModelCache {
    /// The cache folder.
    pub dir: PathBuf,
}

impl ModelCache {
    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    /// The trained models of `key`, if cached; `experts` and `dim` give the architectures.
    pub fn load(&self, key: &str, s: &Scenario, dim: usize, experts: usize, needs: Needs) -> Result<Option<Ensemble>> {
        let dir = self.entry(key);
        let log_path = dir.join("training_log.json");
        if !log_path.is_file() {
            return Ok(None);
        }
        let net = denoiser_net(s, dim);
        let load = |name: &str| -> Result<DenoiserModel> {
            Ok(DenoiserModel {
                net: net.clone(),
                params: weights::load(&dir.join(name), &net)?,
            })
        };
        let expert_models = (0..experts)
            .map(|j| load(&format!("expert_{j}.safetensors")))
            .collect::<Result<Vec<_>>>()?;
        let router = if needs.router {
            let rnet = router_net(s, dim, experts);
            Some(RouterModel {
                params: weights::load(&dir.join("router.safetensors"), &rnet)?,
                net: rnet,
                temperature: s.router.temperature as f32,
            })
        } else {
            None
        };
        let monolith = if needs.monolith {
            Some(load("monolith.safetensors")?)
        } else {
            None
        };
        let text = std::fs::read_to_string(&log_path).map_err(|e| Error::io(&log_path, e))?;
        let log: Vec<RoundLog> = serde_json::from_str(&text)
            .map_err(|e| Error::invalid(log_path.display().to_string(), format!("not a training log: {e}")))?;
        Ok(Some(Ensemble {
            experts: expert_models,
            router,
            monolith,
            log,
        }))
    }

    /// Stores `ensemble` under `key`: written into a hidden folder and renamed into place, so an entry is
    /// complete or absent.
    pub fn store(&self, key: &str, ensemble: &Ensemble) -> Result<()> {
        let partial = self.dir.join(format!(".{key}.partial-{}", std::process::id()));
        let save = |name: String, net, params: &[f32]| weights::save(&partial.join(name), net, params, &[]);
        for (j, e) in ensemble.experts.iter().enumerate() {
            save(format!("expert_{j}.safetensors"), &e.net, &e.params)?;
        }
        if let Some(r) = &ensemble.router {
            save("router.safetensors".into(), &r.net, &r.params)?;
        }
        if let Some(m) = &ensemble.monolith {
            save("monolith.safetensors".into(), &m.net, &m.params)?;
        }
        let json = serde_json::to_string(&ensemble.log).expect("a training log serialises");
        write_atomic(&partial.join("training_log.json"), json.as_bytes())?;
        let target = self.entry(key);
        match std::fs::rename(&partial, &target) {
            Ok(()) => Ok(()),
            // Another run stored the same key first: its entry is equivalent.
            Err(_) if target.join("training_log.json").is_file() => {
                std::fs::remove_dir_all(&partial).map_err(|e| Error::io(&partial, e))
            }
            Err(e) => Err(Error::io(&target, e)),
        }
    }
}

/// The default cache of a run writing to `out_dir`: `.ddmsim-cache` beside it.
pub fn default_cache_dir(out_dir: &Path) -> PathBuf {
    out_dir.parent().unwrap_or(Path::new(".")).join(".ddmsim-cache")
}
