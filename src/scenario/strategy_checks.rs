//! Range and consistency checks of the federated strategy keys (`algorithm`, `server`, `aggregate`) under
//! `federation` and `router`.

use super::file::{
    AggregateConfig, AlgorithmConfig, FederationMode, LocalOptimizer, OptimizerConfig, OptimizerKind, Scenario,
    ServerConfig,
};
use super::validate::{at_least, non_negative, num, positive};
use crate::error::{Error, Result};

/// Checks the strategy of the experts (under `federation`) and of the router (its own keys, else the
/// federation's).
pub fn validate_strategies(s: &Scenario) -> Result<()> {
    let (f, r) = (&s.federation, &s.router);
    let router_local = match r.local_optimizer {
        Some(own) => (own, "router.local_optimizer"),
        None => (f.local_optimizer, "federation.local_optimizer"),
    };
    let models = [
        (
            "federation",
            f.strategy(),
            (&s.model.optimizer, "model.optimizer"),
            (f.local_optimizer, "federation.local_optimizer"),
        ),
        (
            "router",
            r.strategy(f),
            (&r.optimizer, "router.optimizer"),
            router_local,
        ),
    ];
    for (section, strategy, (optimizer, optimizer_path), local) in models {
        if f.mode == FederationMode::Pooled && !strategy.is_fedavg() {
            let key = [
                ("algorithm", strategy.algorithm != AlgorithmConfig::default()),
                ("server", strategy.server != ServerConfig::default()),
                ("aggregate", strategy.aggregate != AggregateConfig::default()),
            ]
            .into_iter()
            .find(|(_, set)| *set)
            .map_or("algorithm", |(key, _)| key);
            return Err(Error::invalid(
                format!("{section}.{key}"),
                "applies to `federation.mode: fedavg` only: pooled training has no clients to combine; remove it \
                 or train with mode fedavg",
            ));
        }
        algorithm(
            &format!("{section}.algorithm"),
            &strategy.algorithm,
            (optimizer, optimizer_path),
            local,
        )?;
        server(&format!("{section}.server"), &strategy.server)?;
        aggregate(&format!("{section}.aggregate"), &strategy.aggregate)?;
    }
    Ok(())
}

fn algorithm(
    path: &str,
    a: &AlgorithmConfig,
    (optimizer, optimizer_path): (&OptimizerConfig, &str),
    (local, local_path): (LocalOptimizer, &str),
) -> Result<()> {
    match *a {
        AlgorithmConfig::Fedavg => Ok(()),
        AlgorithmConfig::Fedprox { mu } => non_negative(&format!("{path}.mu"), mu),
        AlgorithmConfig::Scaffold { variant } => {
            if !(1..=2).contains(&variant) {
                return Err(Error::invalid(
                    format!("{path}.variant"),
                    format!("must be 1 (gradient at the global model) or 2 (from the local steps), got {variant}"),
                ));
            }
            if optimizer.kind != OptimizerKind::Sgd {
                return Err(Error::invalid(
                    format!("{optimizer_path}.kind"),
                    "must be sgd under `algorithm: scaffold`: its control variates are gradients, and Adam \
                     rescales each coordinate of the corrected gradient",
                ));
            }
            if local != LocalOptimizer::Fresh {
                return Err(Error::invalid(
                    local_path,
                    "must be fresh under `algorithm: scaffold`: option II reads the control variate from the \
                     distance a fresh optimizer travels",
                ));
            }
            Ok(())
        }
    }
}

fn server(path: &str, s: &ServerConfig) -> Result<()> {
    let (lr, decays, tau): (f64, Vec<(&str, f64)>, Option<f64>) = match *s {
        ServerConfig::Sgd { lr, momentum, .. } => (lr, vec![("momentum", momentum)], None),
        ServerConfig::Adam {
            lr, beta1, beta2, tau, ..
        }
        | ServerConfig::Yogi {
            lr, beta1, beta2, tau, ..
        } => (lr, vec![("beta1", beta1), ("beta2", beta2)], Some(tau)),
        ServerConfig::Adagrad { lr, beta1, tau, .. } => (lr, vec![("beta1", beta1)], Some(tau)),
    };
    positive(&format!("{path}.lr"), lr)?;
    if let Some(clip) = s.clip_update_norm() {
        positive(&format!("{path}.clip_update_norm"), clip)?;
    }
    for (name, b) in decays {
        if !(0.0..1.0).contains(&b) {
            return Err(Error::invalid(
                format!("{path}.{name}"),
                format!("must be in [0, 1), got {}", num(b)),
            ));
        }
    }
    match tau {
        Some(tau) => positive(&format!("{path}.tau"), tau),
        None => Ok(()),
    }
}

fn aggregate(path: &str, a: &AggregateConfig) -> Result<()> {
    match *a {
        AggregateConfig::TrimmedMean { trim } if !(0.0..0.5).contains(&trim) => Err(Error::invalid(
            format!("{path}.trim"),
            format!("must be in [0, 0.5): the fraction cut from each end, got {}", num(trim)),
        )),
        AggregateConfig::Krum { m, .. } => at_least(&format!("{path}.m"), m, 1),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use crate::scenario::parse;

    fn refusal(text: &str) -> String {
        let s = parse(&format!("name: t\n{text}")).unwrap();
        super::validate_strategies(&s).unwrap_err().to_string()
    }

    #[test]
    fn the_defaults_are_fedavg_and_the_router_follows_the_federation() {
        let s = parse("name: t\nfederation: {algorithm: {kind: fedprox, mu: 0.1}, server: {kind: adam}}\n").unwrap();
        super::validate_strategies(&s).unwrap();
        assert!(parse("name: t\n").unwrap().federation.strategy().is_fedavg());
        assert_eq!(s.router.strategy(&s.federation), s.federation.strategy());
        let s = parse("name: t\nfederation: {server: {kind: yogi}}\nrouter: {server: {kind: sgd, momentum: 0.9}}\n")
            .unwrap();
        assert_eq!(
            s.router.strategy(&s.federation).server,
            crate::scenario::ServerConfig::Sgd {
                lr: 1.0,
                momentum: 0.9,
                clip_update_norm: None
            }
        );
        assert_eq!(
            s.federation.server,
            crate::scenario::ServerConfig::Yogi {
                lr: 0.01,
                beta1: 0.9,
                beta2: 0.99,
                tau: 1e-3,
                clip_update_norm: None,
            }
        );
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        let sgd = "model: {optimizer: {kind: sgd}}\nrouter: {optimizer: {kind: sgd}}\n";
        for (text, key) in [
            (
                "federation: {algorithm: {kind: fedprox, mu: -1}}\n",
                "federation.algorithm.mu",
            ),
            (
                &format!("{sgd}federation: {{algorithm: {{kind: scaffold, variant: 3}}}}\n"),
                "federation.algorithm.variant",
            ),
            ("federation: {algorithm: {kind: scaffold}}\n", "model.optimizer.kind"),
            (
                "federation: {server: {kind: adam, beta2: 1}}\n",
                "federation.server.beta2",
            ),
            ("router: {server: {kind: sgd, lr: 0}}\n", "router.server.lr"),
            ("federation: {server: {kind: yogi, tau: 0}}\n", "federation.server.tau"),
            (
                "federation: {aggregate: {kind: trimmed_mean, trim: 0.5}}\n",
                "federation.aggregate.trim",
            ),
            ("router: {aggregate: {kind: krum, m: 0}}\n", "router.aggregate.m"),
            (
                "federation: {mode: pooled, server: {kind: adam}}\n",
                "federation.server",
            ),
            (
                "federation: {mode: pooled}\nrouter: {algorithm: {kind: fedprox}}\n",
                "router.algorithm",
            ),
            (
                "router: {optimizer: {kind: sgd}, algorithm: {kind: scaffold}, local_optimizer: persistent}\n",
                "router.local_optimizer",
            ),
        ] {
            let message = refusal(text);
            assert!(message.contains(key), "{text}: {message}");
        }
    }

    #[test]
    fn settings_a_kind_does_not_take_are_refused_at_their_key() {
        for text in [
            "federation: {aggregate: {kind: median, weighting: uniform}}\n",
            "federation: {server: {kind: adagrad, beta2: 0.9}}\n",
            "federation: {algorithm: {kind: fedavg, mu: 0.1}}\n",
        ] {
            let err = parse(&format!("name: t\n{text}")).unwrap_err();
            assert!(err.contains("federation."), "{text}: {err}");
        }
    }
}
