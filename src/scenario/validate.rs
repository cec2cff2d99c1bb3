//! Range and consistency checks of a parsed scenario; every error names the dotted path and the allowed range.

use super::file::{
    DataConfig, GmmLayout, MetricsConfig, ModelConfig, OptimizerConfig, PartitionConfig, RouterConfig, RoutingConfig,
    Scenario, ScheduleStage,
};
use crate::error::{Error, Result};

/// Checks every value of `scenario`; returns the first problem found, in file order.
pub fn validate(scenario: &Scenario) -> Result<()> {
    let s = scenario;
    if s.name.is_empty()
        || !s
            .name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::invalid(
            "name",
            format!(
                "must be non-empty and use only letters, digits, '-', '_' and '.', got {:?}",
                s.name
            ),
        ));
    }
    validate_data(&s.data)?;
    at_least("clusters.k", s.clusters.k, 1)?;
    at_least("clusters.max_iterations", s.clusters.max_iterations, 1)?;
    at_least("clients.count", s.clients.count, 1)?;
    match &s.clients.partition {
        PartitionConfig::Iid => {}
        PartitionConfig::Dirichlet { alpha, .. } => positive("clients.partition.alpha", *alpha)?,
        PartitionConfig::Pathological { clusters_per_client } => {
            at_least("clients.partition.clusters_per_client", *clusters_per_client, 1)?;
        }
    }
    let f = &s.federation;
    at_least("federation.rounds", f.rounds, 1)?;
    share("federation.clients_per_round", f.clients_per_round)?;
    at_least("federation.local_steps", f.local_steps, 1)?;
    at_least("federation.batch_size", f.batch_size, 1)?;
    validate_model(&s.model)?;
    validate_router(&s.router)?;
    at_least("sampling.steps", s.sampling.steps, 1)?;
    at_least("sampling.samples", s.sampling.samples, 2)?;
    validate_routing(&s.routing, s.clusters.k)?;
    validate_metrics(&s.metrics)?;
    if !s.sweep.is_empty() {
        super::expand(s)?;
    }
    Ok(())
}

fn validate_data(data: &DataConfig) -> Result<()> {
    match data {
        DataConfig::Gmm {
            components,
            dim,
            radius,
            std,
            layout,
            weights,
            samples,
            test_fraction,
        } => {
            at_least("data.components", *components, 1)?;
            at_least("data.dim", *dim, 1)?;
            if *layout == GmmLayout::Circle && *dim < 2 {
                return Err(Error::invalid(
                    "data.layout",
                    format!("`circle` needs dim >= 2, got dim {dim}; use `random`"),
                ));
            }
            non_negative("data.radius", *radius)?;
            positive("data.std", *std)?;
            if !weights.is_empty() {
                if weights.len() != *components {
                    return Err(Error::invalid(
                        "data.weights",
                        format!(
                            "must have one weight per component ({components}), got {}",
                            weights.len()
                        ),
                    ));
                }
                for (i, w) in weights.iter().enumerate() {
                    positive(&format!("data.weights[{i}]"), *w)?;
                }
            }
            sample_count(*samples)?;
            fraction(*test_fraction)
        }
        DataConfig::Moons {
            samples,
            noise,
            test_fraction,
        } => {
            sample_count(*samples)?;
            non_negative("data.noise", *noise)?;
            fraction(*test_fraction)
        }
        DataConfig::Checkerboard { samples, test_fraction } => {
            sample_count(*samples)?;
            fraction(*test_fraction)
        }
        DataConfig::Rings {
            rings,
            samples,
            noise,
            test_fraction,
        } => {
            at_least("data.rings", *rings, 1)?;
            sample_count(*samples)?;
            non_negative("data.noise", *noise)?;
            fraction(*test_fraction)
        }
        DataConfig::Spirals {
            arms,
            samples,
            noise,
            test_fraction,
        } => {
            at_least("data.arms", *arms, 1)?;
            sample_count(*samples)?;
            non_negative("data.noise", *noise)?;
            fraction(*test_fraction)
        }
        DataConfig::Digits { test_fraction } => fraction(*test_fraction),
        DataConfig::Csv {
            path, test_fraction, ..
        } => {
            if path.is_empty() {
                return Err(Error::invalid("data.path", "must name a CSV file"));
            }
            fraction(*test_fraction)
        }
    }
}

fn validate_model(m: &ModelConfig) -> Result<()> {
    widths("model.hidden", &m.hidden)?;
    embedding("model.time_embedding", m.time_embedding)?;
    if !(0.0..1.0).contains(&m.ema) {
        return Err(Error::invalid("model.ema", format!("must be in [0, 1), got {}", m.ema)));
    }
    optimizer("model.optimizer", &m.optimizer)
}

fn validate_router(r: &RouterConfig) -> Result<()> {
    widths("router.hidden", &r.hidden)?;
    embedding("router.time_embedding", r.time_embedding)?;
    positive("router.temperature", r.temperature)?;
    share("router.clients_per_round", r.clients_per_round)?;
    at_least("router.rounds", r.rounds, 1)?;
    at_least("router.local_steps", r.local_steps, 1)?;
    optimizer("router.optimizer", &r.optimizer)
}

fn validate_routing(routing: &[RoutingConfig], clusters: usize) -> Result<()> {
    if routing.is_empty() {
        return Err(Error::invalid("routing", "must list at least one policy"));
    }
    let mut labels = Vec::new();
    for (i, r) in routing.iter().enumerate() {
        let experts_k = |path: String, k: usize| -> Result<()> {
            at_least(&path, k, 1)?;
            if k > clusters {
                return Err(Error::invalid(
                    path,
                    format!("must be <= the number of clusters ({clusters}), got {k}"),
                ));
            }
            Ok(())
        };
        match r {
            RoutingConfig::TopK { k, .. } | RoutingConfig::Random { k } => experts_k(format!("routing[{i}].k"), *k)?,
            RoutingConfig::Threshold { p_min } => share(&format!("routing[{i}].p_min"), *p_min)?,
            RoutingConfig::TopP { p } => share(&format!("routing[{i}].p"), *p)?,
            RoutingConfig::Schedule { name, stages } => schedule(i, name, stages, &experts_k)?,
            RoutingConfig::Full
            | RoutingConfig::Uniform
            | RoutingConfig::Sample
            | RoutingConfig::Oracle
            | RoutingConfig::Monolith => {}
        }
        let label = crate::routing::label(r);
        if labels.contains(&label) {
            return Err(Error::invalid(
                format!("routing[{i}]"),
                format!("policy `{label}` is listed twice"),
            ));
        }
        labels.push(label);
    }
    Ok(())
}

/// A schedule: a usable name, stages with k in range and t_min strictly decreasing down to 0.
fn schedule(
    i: usize,
    name: &str,
    stages: &[ScheduleStage],
    experts_k: &dyn Fn(String, usize) -> Result<()>,
) -> Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        return Err(Error::invalid(
            format!("routing[{i}].name"),
            format!("must be non-empty letters, digits, `.`, `-` or `_`, got {name:?}"),
        ));
    }
    if stages.is_empty() {
        return Err(Error::invalid(
            format!("routing[{i}].stages"),
            "must list at least one stage",
        ));
    }
    for (s, stage) in stages.iter().enumerate() {
        let path = format!("routing[{i}].stages[{s}]");
        experts_k(format!("{path}.k"), stage.k)?;
        if !(0.0..=1.0).contains(&stage.t_min) {
            return Err(Error::invalid(
                format!("{path}.t_min"),
                format!("must be in [0, 1], got {}", stage.t_min),
            ));
        }
        if s > 0 && stage.t_min >= stages[s - 1].t_min {
            return Err(Error::invalid(
                format!("{path}.t_min"),
                format!(
                    "must be below the previous stage's t_min ({}), got {}",
                    stages[s - 1].t_min,
                    stage.t_min
                ),
            ));
        }
    }
    let last = stages.last().expect("non-empty").t_min;
    if last != 0.0 {
        return Err(Error::invalid(
            format!("routing[{i}].stages[{}].t_min", stages.len() - 1),
            format!("the last stage must start at t_min: 0 so every time is covered, got {last}"),
        ));
    }
    Ok(())
}

fn validate_metrics(m: &MetricsConfig) -> Result<()> {
    at_least("metrics.nearest_k", m.nearest_k, 1)?;
    at_least("metrics.projections", m.projections, 1)?;
    at_least("metrics.max_reference", m.max_reference, m.nearest_k + 1)?;
    positive("metrics.perturbation_small", m.perturbation_small)?;
    positive("metrics.perturbation_large", m.perturbation_large)?;
    at_least("metrics.alignment_neighbors", m.alignment_neighbors, 1)?;
    at_least("metrics.alignment_points", m.alignment_points, m.alignment_neighbors)?;
    at_least("metrics.error_bins", m.error_bins, 1)?;
    at_least("metrics.error_points", m.error_points, 1)?;
    widths("metrics.classifier.hidden", &m.classifier.hidden)?;
    at_least("metrics.classifier.epochs", m.classifier.epochs, 1)?;
    at_least("metrics.classifier.batch_size", m.classifier.batch_size, 1)?;
    positive("metrics.classifier.lr", m.classifier.lr)
}

fn optimizer(path: &str, o: &OptimizerConfig) -> Result<()> {
    positive(&format!("{path}.lr"), o.lr)?;
    non_negative(&format!("{path}.grad_clip"), o.grad_clip)?;
    non_negative(&format!("{path}.weight_decay"), o.weight_decay)?;
    for (name, b) in [("beta1", o.beta1), ("beta2", o.beta2), ("momentum", o.momentum)] {
        if !(0.0..1.0).contains(&b) {
            return Err(Error::invalid(
                format!("{path}.{name}"),
                format!("must be in [0, 1), got {b}"),
            ));
        }
    }
    Ok(())
}

fn widths(path: &str, hidden: &[usize]) -> Result<()> {
    if hidden.is_empty() {
        return Err(Error::invalid(path, "must list at least one hidden width"));
    }
    for (i, &w) in hidden.iter().enumerate() {
        at_least(&format!("{path}[{i}]"), w, 1)?;
    }
    Ok(())
}

fn embedding(path: &str, size: usize) -> Result<()> {
    if size < 2 || !size.is_multiple_of(2) {
        return Err(Error::invalid(path, format!("must be an even number >= 2, got {size}")));
    }
    Ok(())
}

fn sample_count(samples: usize) -> Result<()> {
    at_least("data.samples", samples, 10)
}

fn fraction(test_fraction: f64) -> Result<()> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(Error::invalid(
            "data.test_fraction",
            format!("must be in (0, 1), got {test_fraction}"),
        ));
    }
    Ok(())
}

/// A share or probability: in (0, 1].
fn share(path: &str, value: f64) -> Result<()> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(Error::invalid(path, format!("must be in (0, 1], got {value}")));
    }
    Ok(())
}

fn at_least(path: &str, value: usize, min: usize) -> Result<()> {
    if value < min {
        return Err(Error::invalid(path, format!("must be >= {min}, got {value}")));
    }
    Ok(())
}

fn positive(path: &str, value: f64) -> Result<()> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(Error::invalid(path, format!("must be > 0 and finite, got {value}")));
    }
    Ok(())
}

fn non_negative(path: &str, value: f64) -> Result<()> {
    if !(value >= 0.0 && value.is_finite()) {
        return Err(Error::invalid(path, format!("must be >= 0 and finite, got {value}")));
    }
    Ok(())
}
