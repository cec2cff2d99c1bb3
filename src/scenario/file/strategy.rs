//! The federated strategy keys shared by `federation` and `router`: the clients' algorithm (`algorithm`), the
//! server's optimizer on the aggregated update (`server`) and the aggregation rule (`aggregate`).
//!
//! The defaults (`fedavg`, server `sgd` with lr 1 and no momentum, example-weighted `mean`) are plain FedAvg.

use serde::{Deserialize, Serialize};

/// What a client optimises locally; `kind` selects the variant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AlgorithmConfig {
    /// The client's own loss (McMahan et al. 2017).
    #[default]
    Fedavg,
    /// The client's loss plus mu/2 |w - w_global|^2 (Li et al. 2020).
    Fedprox {
        /// Weight of the proximal term (0 is FedAvg).
        #[serde(default = "d_mu")]
        mu: f64,
    },
    /// Client and server control variates correct each local gradient by c - c_i (Karimireddy et al. 2020).
    Scaffold {
        /// How a client renews its control variate: 1 = the gradient of its data at the global model (an extra
        /// pass over its points), 2 = from the distance its local steps travelled (no extra computation). Both
        /// are in the units of the clipped gradients the local steps follow (the shift is added after clipping).
        #[serde(default = "d_variant")]
        variant: u8,
    },
}

/// 0.01: the middle of the range Li et al. searched (0.001 to 1).
fn d_mu() -> f64 {
    0.01
}
/// Option II, the paper's cheaper and recommended choice.
fn d_variant() -> u8 {
    2
}

impl AlgorithmConfig {
    /// The name used in logs and tables.
    pub fn name(&self) -> &'static str {
        match self {
            AlgorithmConfig::Fedavg => "fedavg",
            AlgorithmConfig::Fedprox { .. } => "fedprox",
            AlgorithmConfig::Scaffold { .. } => "scaffold",
        }
    }
}

/// The server's optimizer on the pseudo-gradient (the aggregate minus the global weights), after Reddi et al.
/// 2021 with Flower's defaults; `kind` selects the variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum ServerConfig {
    /// x <- x + lr v with v <- momentum v + delta: FedAvg at lr 1 without momentum, FedAvgM with it (Hsu et al.
    /// 2019).
    Sgd {
        /// Server learning rate.
        #[serde(default = "d_sgd_lr")]
        lr: f64,
        /// Server momentum.
        #[serde(default)]
        momentum: f64,
        /// Server-side defence: each client's update w - g is scaled down to this norm when longer (absent: no
        /// clip).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip_update_norm: Option<f64>,
    },
    /// FedAdam: Adam moments of the pseudo-gradient, with Flower's bias-corrected rate.
    Adam {
        /// Server learning rate (eta).
        #[serde(default = "d_adam_lr")]
        lr: f64,
        /// First-moment decay.
        #[serde(default = "d_beta1")]
        beta1: f64,
        /// Second-moment decay.
        #[serde(default = "d_beta2")]
        beta2: f64,
        /// Adaptivity (added to the root of the second moment).
        #[serde(default = "d_adam_tau")]
        tau: f64,
        /// Server-side defence: each client's update w - g is scaled down to this norm when longer (absent: no
        /// clip).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip_update_norm: Option<f64>,
    },
    /// FedYogi: Yogi's additive second moment.
    Yogi {
        /// Server learning rate (eta).
        #[serde(default = "d_yogi_lr")]
        lr: f64,
        /// First-moment decay.
        #[serde(default = "d_beta1")]
        beta1: f64,
        /// Second-moment decay.
        #[serde(default = "d_beta2")]
        beta2: f64,
        /// Adaptivity.
        #[serde(default = "d_yogi_tau")]
        tau: f64,
        /// Server-side defence: each client's update w - g is scaled down to this norm when longer (absent: no
        /// clip).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip_update_norm: Option<f64>,
    },
    /// FedAdagrad: the summed squared pseudo-gradients.
    Adagrad {
        /// Server learning rate (eta).
        #[serde(default = "d_adagrad_lr")]
        lr: f64,
        /// First-moment decay (Flower: 0, no momentum).
        #[serde(default)]
        beta1: f64,
        /// Adaptivity.
        #[serde(default = "d_adam_tau")]
        tau: f64,
        /// Server-side defence: each client's update w - g is scaled down to this norm when longer (absent: no
        /// clip).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        clip_update_norm: Option<f64>,
    },
}

/// FedAvg's server step: the aggregate becomes the global model.
fn d_sgd_lr() -> f64 {
    1.0
}
/// Flower's FedAdam eta.
fn d_adam_lr() -> f64 {
    0.1
}
/// Flower's FedYogi eta.
fn d_yogi_lr() -> f64 {
    0.01
}
/// Flower's FedAdagrad eta.
fn d_adagrad_lr() -> f64 {
    0.1
}
/// Flower's (and Reddi et al.'s) first-moment decay.
fn d_beta1() -> f64 {
    0.9
}
/// Flower's second-moment decay.
fn d_beta2() -> f64 {
    0.99
}
/// Flower's FedAdam and FedAdagrad tau.
fn d_adam_tau() -> f64 {
    1e-9
}
/// Flower's FedYogi tau.
fn d_yogi_tau() -> f64 {
    1e-3
}

impl Default for ServerConfig {
    /// Plain FedAvg: lr 1, no momentum.
    fn default() -> Self {
        ServerConfig::Sgd {
            lr: d_sgd_lr(),
            momentum: 0.0,
            clip_update_norm: None,
        }
    }
}

impl ServerConfig {
    /// The name used in logs and tables.
    pub fn name(&self) -> &'static str {
        match self {
            ServerConfig::Sgd { .. } => "sgd",
            ServerConfig::Adam { .. } => "adam",
            ServerConfig::Yogi { .. } => "yogi",
            ServerConfig::Adagrad { .. } => "adagrad",
        }
    }

    /// The server's clip of each client's update norm, if any.
    pub fn clip_update_norm(&self) -> Option<f64> {
        match *self {
            ServerConfig::Sgd { clip_update_norm, .. }
            | ServerConfig::Adam { clip_update_norm, .. }
            | ServerConfig::Yogi { clip_update_norm, .. }
            | ServerConfig::Adagrad { clip_update_norm, .. } => clip_update_norm,
        }
    }
}

/// How the clients' models are combined; `kind` selects the variant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum AggregateConfig {
    /// Weighted mean (FedAvg).
    Mean {
        /// The weight of a client's model.
        #[serde(default)]
        weighting: Weighting,
    },
    /// Coordinate-wise median, unweighted (Flower's FedMedian; Yin et al. 2018).
    Median,
    /// Coordinate-wise mean after cutting `floor(trim n)` values from each end, unweighted (Flower's
    /// FedTrimmedAvg, scipy's `trim_mean`).
    TrimmedMean {
        /// Fraction cut from each end, in [0, 0.5).
        #[serde(default = "d_trim")]
        trim: f64,
    },
    /// Krum (m = 1) or Multi-Krum (the weighted mean of the m best-scored models) after Blanchard et al. 2017: a
    /// model's score is the sum of its squared distances to its n - f - 2 nearest others (at least 1).
    Krum {
        /// Byzantine clients tolerated.
        #[serde(default)]
        f: usize,
        /// Models kept (at most the round's participants).
        #[serde(default = "d_m")]
        m: usize,
        /// The weight of a kept model in Multi-Krum's mean.
        #[serde(default)]
        weighting: Weighting,
    },
}

/// Flower's FedTrimmedAvg beta.
fn d_trim() -> f64 {
    0.2
}
/// Krum itself: the single best-scored model.
fn d_m() -> usize {
    1
}

impl Default for AggregateConfig {
    /// FedAvg's example-weighted mean.
    fn default() -> Self {
        AggregateConfig::Mean {
            weighting: Weighting::Examples,
        }
    }
}

impl AggregateConfig {
    /// The name used in logs and tables.
    pub fn name(&self) -> &'static str {
        match self {
            AggregateConfig::Mean { .. } => "mean",
            AggregateConfig::Median => "median",
            AggregateConfig::TrimmedMean { .. } => "trimmed_mean",
            AggregateConfig::Krum { .. } => "krum",
        }
    }
}

/// The weight of a client's model in a mean.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// Its number of training points (FedAvg).
    #[default]
    Examples,
    /// The same for every client.
    Uniform,
}

/// The three strategy keys of one model's training.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Strategy {
    /// The clients' local algorithm.
    pub algorithm: AlgorithmConfig,
    /// The server's optimizer.
    pub server: ServerConfig,
    /// The aggregation rule.
    pub aggregate: AggregateConfig,
}

impl Strategy {
    /// Whether this is plain FedAvg (the defaults).
    pub fn is_fedavg(&self) -> bool {
        *self == Strategy::default()
    }
}
