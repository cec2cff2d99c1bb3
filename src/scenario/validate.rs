//! Range and consistency checks of a parsed scenario; every error names the dotted path and the allowed range.

use super::file::{
    ClientSizes, ClusterMethod, DataConfig, DataKind, GmmLayout, MetricsConfig, ModelConfig, OptimizerConfig,
    PartitionConfig, PerRound, RequestedClasses, RouterConfig, RoutingConfig, Scenario, ScheduleStage,
};
use crate::error::{Error, Result};

/// Checks every value of `scenario`; returns the first problem found, in file order.
pub fn validate(scenario: &Scenario) -> Result<()> {
    let s = scenario;
    check_name("name", &s.name)?;
    validate_data(&s.data)?;
    at_least("clusters.k", s.clusters.k, 1)?;
    at_least("clusters.max_iterations", s.clusters.max_iterations, 1)?;
    at_least("clients.count", s.clients.count, 1)?;
    validate_partition(&s.clients.partition, s.clients.count, &s.data.kind)?;
    let f = &s.federation;
    at_least("federation.rounds", f.rounds, 1)?;
    per_round("federation.clients_per_round", f.clients_per_round)?;
    at_least("federation.local_steps", f.local_steps, 1)?;
    at_least("federation.batch_size", f.batch_size, 1)?;
    validate_model(&s.model)?;
    validate_router(&s.router)?;
    super::strategy_checks::validate_strategies(s)?;
    super::fault_checks::validate_faults(s)?;
    at_least("sampling.steps", s.sampling.steps, 1)?;
    at_least(
        "sampling.samples",
        s.sampling.samples,
        s.metrics.nearest_k.saturating_add(1),
    )?;
    // Under `labels` the number of clusters is the number of classes, known only once the data is read; k is
    // then checked against the experts that exist, before training.
    let clusters = (s.clusters.method == ClusterMethod::Kmeans).then_some(s.clusters.k);
    // The experts are known after grouping (at most k of them); the lost ones are checked again then.
    match clusters {
        Some(k) => s.sampling.lost_experts.check(k, Some("clusters.k"))?,
        None => s.sampling.lost_experts.check_listed_once()?,
    }
    validate_guidance(s)?;
    validate_routing(&s.routing, clusters)?;
    validate_metrics(&s.metrics)?;
    if !s.sweep.is_empty() {
        super::sweep::check_axes(s)?;
    }
    Ok(())
}

/// A number as a message shows it: plain (`0.35`, `-1`), or in exponent form when tiny or huge (`1e-300`).
pub fn num(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        format!("{v}")
    }
}

/// Longest name of a scenario, study or setting: it becomes a folder name, and hidden names built from it must
/// stay within the 255 bytes a file name may have.
pub const MAX_NAME: usize = 100;

/// A name that becomes a folder name (a scenario's, a study's or a setting's): letters, digits, `.`, `-`, `_`
/// and `=`, not starting with `.` (so never `.`, `..` or a hidden name), at most [`MAX_NAME`] characters.
pub fn check_name(path: &str, name: &str) -> Result<()> {
    let allowed = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '='));
    if name.is_empty() || !allowed || name.starts_with('.') || name.len() > MAX_NAME {
        return Err(Error::invalid(
            path,
            format!(
                "must be 1 to {MAX_NAME} letters, digits, '.', '-', '_' or '=', not starting with '.' (it names a \
                 folder), got {name:?}"
            ),
        ));
    }
    Ok(())
}

fn validate_data(data: &DataConfig) -> Result<()> {
    match &data.kind {
        DataKind::Gmm {
            components,
            dim,
            radius,
            std,
            layout,
            weights,
        } => {
            at_least("data.components", *components, 1)?;
            at_least("data.dim", *dim, 1)?;
            if *layout == GmmLayout::Circle && *dim < 2 {
                return Err(Error::invalid(
                    "data.layout",
                    format!("`circle` needs dim >= 2, got dim {dim}; use `random`"),
                ));
            }
            non_negative_f32("data.radius", *radius)?;
            positive_f32("data.std", *std)?;
            if (*radius as f32) + (*std as f32) == *radius as f32 {
                return Err(Error::invalid(
                    "data.std",
                    format!(
                        "{} is lost next to data.radius {} in single precision (the precision of the data \
                         and the models): every component would collapse to a point; raise data.std or lower \
                         data.radius",
                        num(*std),
                        num(*radius)
                    ),
                ));
            }
            mixture_weights(weights, *components)?;
        }
        DataKind::Moons { noise } => non_negative_f32("data.noise", *noise)?,
        DataKind::Rings { rings, noise } => {
            at_least("data.rings", *rings, 1)?;
            non_negative_f32("data.noise", *noise)?;
        }
        DataKind::Spirals { arms, noise } => {
            at_least("data.arms", *arms, 1)?;
            non_negative_f32("data.noise", *noise)?;
        }
        DataKind::Checkerboard | DataKind::Digits => {}
        DataKind::Csv { path, .. } => {
            if path.is_empty() {
                return Err(Error::invalid("data.path", "must name a CSV file"));
            }
        }
    }
    if data.kind.draws_points() {
        at_least("data.samples", data.samples, 10)?;
    }
    if !(data.test_fraction > 0.0 && data.test_fraction < 1.0) {
        return Err(Error::invalid(
            "data.test_fraction",
            format!("must be in (0, 1), got {}", data.test_fraction),
        ));
    }
    Ok(())
}

/// The partition's own values, and those it needs of the clients and the data (the number of training points is
/// known only once the data is read: sums and sizes are checked when partitioning).
fn validate_partition(p: &PartitionConfig, clients: usize, data: &DataKind) -> Result<()> {
    match p {
        PartitionConfig::Iid | PartitionConfig::Linear | PartitionConfig::Square | PartitionConfig::Exponential => {}
        PartitionConfig::Dirichlet { alpha, .. } => positive("clients.partition.alpha", *alpha)?,
        PartitionConfig::Pathological { clusters_per_client } => {
            at_least("clients.partition.clusters_per_client", *clusters_per_client, 1)?;
        }
        PartitionConfig::Shard {
            shards_per_client,
            shard_size,
            ..
        } => {
            if shards_per_client.is_none() && shard_size.is_none() {
                return Err(Error::invalid(
                    "clients.partition.shards_per_client",
                    "set shards_per_client (McMahan et al. use 2), shard_size, or both; got neither",
                ));
            }
            if let Some(n) = shards_per_client {
                at_least("clients.partition.shards_per_client", *n, 1)?;
            }
            if let Some(n) = shard_size {
                at_least("clients.partition.shard_size", *n, 1)?;
            }
        }
        PartitionConfig::InnerDirichlet { alpha, sizes } => {
            positive("clients.partition.alpha", *alpha)?;
            if let ClientSizes::List(list) = sizes
                && list.len() != clients
            {
                return Err(Error::invalid(
                    "clients.partition.sizes",
                    format!(
                        "must list one size per client (clients.count = {clients}), got {}",
                        list.len()
                    ),
                ));
            }
        }
        PartitionConfig::Natural { column } => {
            if !data.reads_file() {
                return Err(Error::invalid(
                    "clients.partition.column",
                    "`kind: natural` reads each row's client from a CSV column, so it needs `data.kind: csv`",
                ));
            }
            if column.is_empty() {
                return Err(Error::invalid(
                    "clients.partition.column",
                    "must name a column of the CSV file",
                ));
            }
        }
    }
    Ok(())
}

fn validate_model(m: &ModelConfig) -> Result<()> {
    widths("model.hidden", &m.hidden)?;
    embedding("model.time_embedding", m.time_embedding)?;
    if !(0.0..1.0).contains(&m.ema) {
        return Err(Error::invalid(
            "model.ema",
            format!("must be in [0, 1), got {}", num(m.ema)),
        ));
    }
    if !(0.0..1.0).contains(&m.condition.dropout) {
        return Err(Error::invalid(
            "model.condition.dropout",
            format!(
                "must be in [0, 1) (the share of training rows whose class is dropped), got {}",
                num(m.condition.dropout)
            ),
        ));
    }
    optimizer("model.optimizer", &m.optimizer)
}

/// Guidance and a conditional router need conditional denoisers; conditional denoisers need a trained
/// unconditional branch unless sampling is guided at w = 1; guidance needs a finite scale of at least 0 and at
/// least one requested class.
fn validate_guidance(s: &Scenario) -> Result<()> {
    if s.router.conditional && !s.model.condition.enabled {
        return Err(Error::invalid(
            "router.conditional",
            "routes by class, trained with the denoisers' classes and label dropout: set model.condition.enabled: \
             true",
        ));
    }
    let scale = s.sampling.guidance.as_ref().map(|g| g.scale);
    if s.model.condition.enabled && s.model.condition.dropout == 0.0 && scale != Some(1.0) {
        return Err(Error::invalid(
            "model.condition.dropout",
            "0 never trains the unconditional branch, which sampling without guidance (or at a scale other than 1) \
             uses; raise the dropout or sample with sampling.guidance.scale: 1",
        ));
    }
    let Some(g) = &s.sampling.guidance else {
        return Ok(());
    };
    if !s.model.condition.enabled {
        return Err(Error::invalid(
            "sampling.guidance",
            "guides class-conditional denoisers: set model.condition.enabled: true",
        ));
    }
    // The sampler forms u + w (c - u) in single precision, so w must be finite there too.
    if !(g.scale.is_finite() && (g.scale as f32).is_finite() && g.scale >= 0.0) {
        return Err(Error::invalid(
            "sampling.guidance.scale",
            format!(
                "must be a finite number of at least 0 and below 3.4e38 (0: unconditional, 1: conditional), got {}",
                num(g.scale)
            ),
        ));
    }
    if matches!(&g.classes, RequestedClasses::List(list) if list.is_empty()) {
        return Err(Error::invalid(
            "sampling.guidance.classes",
            "must be `balanced` or a non-empty list of classes",
        ));
    }
    Ok(())
}

fn validate_router(r: &RouterConfig) -> Result<()> {
    widths("router.hidden", &r.hidden)?;
    embedding("router.time_embedding", r.time_embedding)?;
    positive_f32("router.temperature", r.temperature)?;
    per_round("router.clients_per_round", r.clients_per_round)?;
    at_least("router.rounds", r.rounds, 1)?;
    at_least("router.local_steps", r.local_steps, 1)?;
    optimizer("router.optimizer", &r.optimizer)
}

fn validate_routing(routing: &[RoutingConfig], clusters: Option<usize>) -> Result<()> {
    if routing.is_empty() {
        return Err(Error::invalid("routing", "must list at least one policy"));
    }
    let mut labels = Vec::new();
    for (i, r) in routing.iter().enumerate() {
        let experts_k = |path: String, k: usize| -> Result<()> {
            at_least(&path, k, 1)?;
            if let Some(clusters) = clusters.filter(|&c| k > c) {
                return Err(Error::invalid(
                    path,
                    format!("must be <= the number of clusters ({clusters}), got {k}"),
                ));
            }
            Ok(())
        };
        match r {
            RoutingConfig::TopK { k, .. } | RoutingConfig::Random { k } | RoutingConfig::NearestData { k } => {
                experts_k(format!("routing[{i}].k"), *k)?
            }
            RoutingConfig::Threshold { p_min } => share_f32(&format!("routing[{i}].p_min"), *p_min)?,
            RoutingConfig::TopP { p } => share_f32(&format!("routing[{i}].p"), *p)?,
            RoutingConfig::Schedule { name, stages } => schedule(i, name, stages, &experts_k)?,
            RoutingConfig::Full
            | RoutingConfig::Uniform
            | RoutingConfig::Sample
            | RoutingConfig::Oracle
            | RoutingConfig::Monolith => {}
        }
        let label = super::PolicyLabel::of(r).to_string();
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
                format!("must be in [0, 1], got {}", num(stage.t_min)),
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
    at_least("metrics.max_reference", m.max_reference, m.nearest_k.saturating_add(1))?;
    positive_f32("metrics.perturbation_small", m.perturbation_small)?;
    positive_f32("metrics.perturbation_large", m.perturbation_large)?;
    at_least("metrics.alignment_neighbors", m.alignment_neighbors, 1)?;
    at_least("metrics.alignment_points", m.alignment_points, m.alignment_neighbors)?;
    at_least("metrics.error_bins", m.error_bins, 1)?;
    at_least("metrics.error_points", m.error_points, 1)?;
    let q = m.memorization_quantile;
    // Written so that NaN fails too.
    if !(q > 0.0 && q < 1.0) {
        return Err(Error::invalid(
            "metrics.memorization_quantile",
            format!("must be finite and in (0, 1), got {}", num(q)),
        ));
    }
    widths("metrics.classifier.hidden", &m.classifier.hidden)?;
    at_least("metrics.classifier.epochs", m.classifier.epochs, 1)?;
    at_least("metrics.classifier.batch_size", m.classifier.batch_size, 1)?;
    positive_f32("metrics.classifier.lr", m.classifier.lr)
}

fn optimizer(path: &str, o: &OptimizerConfig) -> Result<()> {
    positive_f32(&format!("{path}.lr"), o.lr)?;
    non_negative_f32(&format!("{path}.grad_clip"), o.grad_clip)?;
    non_negative_f32(&format!("{path}.weight_decay"), o.weight_decay)?;
    for (name, b) in [("beta1", o.beta1), ("beta2", o.beta2), ("momentum", o.momentum)] {
        if !(0.0..1.0).contains(&b) {
            return Err(Error::invalid(
                format!("{path}.{name}"),
                format!("must be in [0, 1), got {}", num(b)),
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

/// A share or probability: in (0, 1].
pub(super) fn share(path: &str, value: f64) -> Result<()> {
    if !(value > 0.0 && value <= 1.0) {
        return Err(Error::invalid(path, format!("must be in (0, 1], got {}", num(value))));
    }
    Ok(())
}

/// Clients per round: a share in (0, 1], or a whole count above 1.
fn per_round(path: &str, value: PerRound) -> Result<()> {
    let v = value.0;
    let share = v > 0.0 && v <= 1.0;
    let count = v > 1.0 && v.fract() == 0.0 && v <= u32::MAX as f64;
    if !(share || count) {
        return Err(Error::invalid(
            path,
            format!(
                "must be a share of the clients in (0, 1] or a whole number of clients from 2 to {}, got {}",
                u32::MAX,
                num(v)
            ),
        ));
    }
    Ok(())
}

pub(super) fn at_least(path: &str, value: usize, min: usize) -> Result<()> {
    if value < min {
        return Err(Error::invalid(path, format!("must be >= {min}, got {value}")));
    }
    Ok(())
}

pub(super) fn positive(path: &str, value: f64) -> Result<()> {
    if !(value > 0.0 && value.is_finite()) {
        return Err(Error::invalid(
            path,
            format!("must be > 0 and finite, got {}", num(value)),
        ));
    }
    Ok(())
}

/// A value the models use in single precision (f32): positive there too, not rounded to 0 or to infinity.
fn positive_f32(path: &str, value: f64) -> Result<()> {
    positive(path, value)?;
    let single = value as f32;
    if !(single > 0.0 && single.is_finite() && single.is_normal()) {
        return Err(Error::invalid(path, format!("{SINGLE}, got {}", num(value))));
    }
    Ok(())
}

/// What a value used in single precision must be.
const SINGLE: &str = "must be > 0 and representable in single precision (the precision the models compute in: \
                      about 1.2e-38 to 3.4e38)";

pub(super) fn non_negative(path: &str, value: f64) -> Result<()> {
    if !(value >= 0.0 && value.is_finite()) {
        return Err(Error::invalid(
            path,
            format!("must be >= 0 and finite, got {}", num(value)),
        ));
    }
    Ok(())
}

/// [`non_negative`] for a value used in single precision: 0, or a positive value that stays positive there.
fn non_negative_f32(path: &str, value: f64) -> Result<()> {
    non_negative(path, value)?;
    if value > 0.0 {
        positive_f32(path, value)?;
    }
    Ok(())
}

/// [`share`] for a value used in single precision.
fn share_f32(path: &str, value: f64) -> Result<()> {
    share(path, value)?;
    positive_f32(path, value)
}

/// Mixture weights: one per component, positive, with a finite sum that leaves every normalised weight positive.
fn mixture_weights(weights: &[f64], components: usize) -> Result<()> {
    if weights.is_empty() {
        return Ok(());
    }
    if weights.len() != components {
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
    let total: f64 = weights.iter().sum();
    if !total.is_finite() {
        return Err(Error::invalid(
            "data.weights",
            format!("the weights sum to {total}; scale them down (only their ratios matter)"),
        ));
    }
    if let Some(i) = weights.iter().position(|w| !(w / total).is_normal()) {
        return Err(Error::invalid(
            format!("data.weights[{i}]"),
            format!(
                "is too small next to the other weights (share {:e}): its component would never be drawn",
                weights[i] / total
            ),
        ));
    }
    Ok(())
}
