//! Stage 2, train: the experts, the router and the monolith, from the model cache when a verified entry holds
//! them, else trained (and stored). One lock per training key: a run that needs the models another run is
//! training waits for them instead of training them twice or racing it to the cache.

use super::prepare::Prepared;
use super::{Clock, RunOptions};
use crate::ensemble::{Ensemble, train_ensemble};
use crate::error::{Error, Result};
use crate::progress::{Progress, warn};
use crate::store::ModelCache;
use crate::store::cache::Lookup;
use crate::store::models::{load_ensemble, store_ensemble, training_key};

/// The trained models and where they came from.
pub(super) struct Trained {
    /// Experts, router, monolith and their round logs.
    pub ensemble: Ensemble,
    /// The training's cache key.
    pub key: String,
    /// Whether the models came from the cache.
    pub from_cache: bool,
}

/// Trains (or loads) every model the run needs.
pub(super) fn train(p: &Prepared, options: &RunOptions, progress: &Progress, clock: &mut Clock) -> Result<Trained> {
    let s = p.scenario();
    let device_name = p.device.as_ref().map(|d| d.describe());
    let key = training_key(s, &p.split.train, p.needs, device_name.as_deref());
    let cache = options.cache.as_deref().map(ModelCache::open).transpose()?;
    let _key_lock = match &cache {
        Some(c) => Some(c.lock(&key, || {
            progress.note("another run is training the same models; waiting for it to reuse them")
        })?),
        None => None,
    };
    let (dim, experts) = (p.split.train.dim(), p.groups.experts.len());
    let classes = p.split.train.num_classes().unwrap_or(0);
    let cached = match cache
        .as_ref()
        .map(|c| load_ensemble(c, &key, s, (dim, classes), experts, p.needs))
    {
        Some(Lookup::Hit(ensemble)) => Some(ensemble),
        Some(Lookup::Bad(why)) => {
            warn(&format!(
                "model cache entry {key} is bad ({why}); training again and replacing it"
            ));
            None
        }
        Some(Lookup::Miss) | None => None,
    };
    let from_cache = cached.is_some();
    let ensemble = match cached {
        Some(ensemble) => ensemble,
        None => {
            let trained = train_ensemble(
                s,
                &p.split.train,
                (&p.parts, &p.groups, &p.roster),
                p.needs,
                progress,
                p.device.as_deref(),
            )
            .and_then(|ensemble| check_finite(&ensemble).map(|()| ensemble));
            let ensemble = trained?;
            if let Some(c) = &cache {
                store_ensemble(c, &key, &ensemble)?;
            }
            ensemble
        }
    };
    // The client models of the last rounds were freed on the worker threads; give that memory back before the
    // evaluation allocates its own.
    crate::alloc::release_freed();
    clock.lap("training");
    Ok(Trained {
        ensemble,
        key,
        from_cache,
    })
}

/// Every trained weight must be finite; the first model that has another value is named.
fn check_finite(ensemble: &Ensemble) -> Result<()> {
    let models = ensemble
        .experts
        .iter()
        .enumerate()
        .map(|(j, e)| (format!("expert {j}"), "model.optimizer", &e.params))
        .chain(
            ensemble
                .router
                .iter()
                .map(|r| ("router".to_string(), "router.optimizer", &r.params)),
        )
        .chain(
            ensemble
                .monolith
                .iter()
                .map(|m| ("monolith".to_string(), "model.optimizer", &m.params)),
        );
    for (name, optimizer, params) in models {
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite {
                place: name,
                what: format!(
                    "trained weight {i} is {} (training diverged); lower {optimizer}.lr or set {optimizer}.grad_clip",
                    params[i]
                ),
            });
        }
    }
    Ok(())
}
