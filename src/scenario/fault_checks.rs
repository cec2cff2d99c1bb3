//! Range and consistency checks of the `faults` section; every error names its key and the allowed range.

use super::file::{
    AggregateConfig, AvailabilityConfig, FaultsConfig, FederationMode, Scenario, StragglerConfig, StragglerPolicy,
};
use super::validate::{at_least, non_negative, num, share};
use crate::error::{Error, Result};

/// Checks the `faults` section of `s` (nothing to check when nothing goes wrong).
pub fn validate_faults(s: &Scenario) -> Result<()> {
    let f = &s.faults;
    if f.is_none() {
        return Ok(());
    }
    if s.federation.mode == FederationMode::Pooled {
        return Err(Error::invalid(
            "faults",
            "faults happen to federated training only: `federation.mode: pooled` has no clients to fail; remove \
             the faults section or train with mode fedavg",
        ));
    }
    if !(f.dropout >= 0.0 && f.dropout < 1.0) {
        return Err(Error::invalid(
            "faults.dropout",
            format!(
                "must be in [0, 1): at 1 no selected client would ever return an update; got {}",
                num(f.dropout)
            ),
        ));
    }
    availability(&f.availability)?;
    stragglers(&f.stragglers, s)?;
    byzantine(f, s)?;
    for (i, o) in f.expert_outage.iter().enumerate() {
        let at = |key: &str| format!("faults.expert_outage[{i}].{key}");
        at_least(&at("from_round"), o.from_round, 1)?;
        if o.from_round == 1 && o.to_round >= s.federation.rounds {
            return Err(Error::invalid(
                at("to_round"),
                format!(
                    "the outage covers every one of the {} rounds, so expert {} would never be trained; to remove an \
                     expert, use sampling.lost_experts",
                    s.federation.rounds, o.expert
                ),
            ));
        }
        if o.to_round < o.from_round || o.to_round > s.federation.rounds {
            return Err(Error::invalid(
                at("to_round"),
                format!(
                    "must be from from_round ({}) to federation.rounds ({}), got {}",
                    o.from_round, s.federation.rounds, o.to_round
                ),
            ));
        }
    }
    Ok(())
}

fn availability(a: &AvailabilityConfig) -> Result<()> {
    match *a {
        AvailabilityConfig::Always => Ok(()),
        AvailabilityConfig::Bernoulli { mean, concentration } => {
            share("faults.availability.mean", mean)?;
            // The Beta's two parameters, mean c and (1 - mean) c, must both be usable (not rounded to 0).
            let smallest = if mean < 1.0 {
                (mean * concentration).min((1.0 - mean) * concentration)
            } else {
                1.0
            };
            if !(concentration.is_finite() && smallest >= 1e-6) {
                return Err(Error::invalid(
                    "faults.availability.concentration",
                    format!(
                        "must be finite and large enough that mean x concentration and (1 - mean) x concentration \
                         are both at least 1e-6 (the Beta's parameters), got {}",
                        num(concentration)
                    ),
                ));
            }
            Ok(())
        }
        AvailabilityConfig::Diurnal {
            period,
            online_fraction,
        } => {
            at_least("faults.availability.period", period, 1)?;
            share("faults.availability.online_fraction", online_fraction)
        }
    }
}

/// A fraction of the clients: in [0, 1].
fn fraction(path: &str, v: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&v) {
        return Err(Error::invalid(path, format!("must be in [0, 1], got {}", num(v))));
    }
    Ok(())
}

fn stragglers(st: &StragglerConfig, s: &Scenario) -> Result<()> {
    fraction("faults.stragglers.fraction", st.fraction)?;
    let [low, high] = st.work;
    if !(low > 0.0 && low <= high && high <= 1.0) {
        return Err(Error::invalid(
            "faults.stragglers.work",
            format!(
                "must be [low, high] with 0 < low <= high <= 1 (shares of the local steps), got [{}, {}]",
                num(low),
                num(high)
            ),
        ));
    }
    if st.policy == StragglerPolicy::Fednova {
        for (path, aggregate) in [
            ("federation.aggregate", s.federation.aggregate),
            ("router.aggregate", s.router.strategy(&s.federation).aggregate),
        ] {
            if !matches!(aggregate, AggregateConfig::Mean { .. }) {
                return Err(Error::invalid(
                    "faults.stragglers.policy",
                    format!(
                        "fednova normalises a mean of the updates; {path} is {}: use `kind: mean` there or another \
                         straggler policy",
                        aggregate.name()
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn byzantine(f: &FaultsConfig, s: &Scenario) -> Result<()> {
    let b = &f.byzantine;
    fraction("faults.byzantine.fraction", b.fraction)?;
    non_negative("faults.byzantine.scale", b.scale)?;
    let mut seen = b.experts.clone();
    seen.sort_unstable();
    if seen.windows(2).any(|w| w[0] == w[1]) {
        return Err(Error::invalid("faults.byzantine.experts", "lists an expert twice"));
    }
    for (path, aggregate) in [
        ("federation.aggregate", s.federation.aggregate),
        ("router.aggregate", s.router.strategy(&s.federation).aggregate),
    ] {
        if matches!(aggregate, AggregateConfig::Krum { .. }) && b.fraction >= 0.5 {
            return Err(Error::invalid(
                "faults.byzantine.fraction",
                format!(
                    "is {}, but Krum ({path}) tolerates f Byzantine models among a round's n only when n > 2f + 2, \
                     which needs fewer than half of them Byzantine; lower the fraction below 0.5 or use another \
                     aggregate",
                    num(b.fraction)
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::scenario::{AvailabilityConfig, StragglerPolicy, parse, to_yaml};

    fn refusal(text: &str) -> String {
        let s = parse(&format!("name: t\n{text}")).unwrap();
        super::validate_faults(&s).unwrap_err().to_string()
    }

    #[test]
    fn the_section_reads_as_the_issue_writes_it_and_stays_out_of_fault_free_scenarios() {
        let s = parse(
            "name: t\nfaults:\n  dropout: 0.3\n  availability: { kind: diurnal, period: 24, online_fraction: 0.4 }\n  \
             stragglers: { fraction: 0.5, work: [0.1, 1.0], policy: fednova }\n  byzantine: { fraction: 0.2, kind: \
             sign_flip, scale: 5 }\n  on_nonfinite: skip\n  expert_outage: [{ expert: 3, from_round: 10, to_round: \
             20 }]\nfederation: { rounds: 30 }\n",
        )
        .unwrap();
        super::validate_faults(&s).unwrap();
        assert_eq!(
            s.faults.availability,
            AvailabilityConfig::Diurnal {
                period: 24,
                online_fraction: 0.4
            }
        );
        assert_eq!(s.faults.stragglers.policy, StragglerPolicy::Fednova);
        assert!(to_yaml(&s).contains("kind: diurnal"), "{}", to_yaml(&s));
        assert!(!to_yaml(&parse("name: t\n").unwrap()).contains("faults"));
        let e = parse("name: t\nfaults: { availability: { kind: sometimes } }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("faults.availability.kind"), "{e}");
        let e = parse("name: t\nfaults: { byzantine: { kind: flip } }\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("faults.byzantine.kind"), "{e}");
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (text, key) in [
            ("faults: { dropout: 1.0 }\n", "faults.dropout"),
            ("faults: { dropout: -0.1 }\n", "faults.dropout"),
            ("faults: { dropout: .nan }\n", "faults.dropout"),
            (
                "faults: { availability: { kind: bernoulli, mean: 0 } }\n",
                "faults.availability.mean",
            ),
            (
                "faults: { availability: { kind: bernoulli, concentration: 0 } }\n",
                "faults.availability.concentration",
            ),
            (
                "faults: { availability: { kind: diurnal, period: 0 } }\n",
                "faults.availability.period",
            ),
            (
                "faults: { stragglers: { fraction: 1.5 } }\n",
                "faults.stragglers.fraction",
            ),
            (
                "faults: { stragglers: { fraction: 0.5, work: [0, 1] } }\n",
                "faults.stragglers.work",
            ),
            (
                "faults: { stragglers: { fraction: 0.5, work: [0.8, 0.5] } }\n",
                "faults.stragglers.work",
            ),
            (
                "faults: { byzantine: { fraction: 0.2, scale: -1 } }\n",
                "faults.byzantine.scale",
            ),
            (
                "faults: { byzantine: { fraction: 0.2, experts: [1, 1] } }\n",
                "faults.byzantine.experts",
            ),
            (
                "faults: { expert_outage: [{ expert: 0, from_round: 0, to_round: 3 }] }\n",
                "faults.expert_outage[0].from_round",
            ),
            (
                "faults: { expert_outage: [{ expert: 0, from_round: 5, to_round: 3 }] }\n",
                "faults.expert_outage[0].to_round",
            ),
            (
                "federation: { rounds: 10 }\nfaults: { expert_outage: [{ expert: 0, from_round: 5, to_round: 11 }] }\n",
                "faults.expert_outage[0].to_round",
            ),
            ("federation: { mode: pooled }\nfaults: { dropout: 0.1 }\n", "faults"),
            (
                "federation: { aggregate: { kind: median } }\nfaults: { stragglers: { policy: fednova } }\n",
                "faults.stragglers.policy",
            ),
            (
                "federation: { server: { kind: sgd, clip_update_norm: 0 } }\n",
                "federation.server.clip_update_norm",
            ),
        ] {
            let e = match parse(&format!("name: t\n{text}")) {
                Ok(s) => crate::scenario::validate(&s).unwrap_err().to_string(),
                Err(e) => e.to_string(),
            };
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn krum_refuses_half_the_clients_byzantine_with_its_bound() {
        let e = refusal("federation: { aggregate: { kind: krum, f: 3 } }\nfaults: { byzantine: { fraction: 0.5 } }\n");
        assert!(
            e.contains("faults.byzantine.fraction") && e.contains("n > 2f + 2"),
            "{e}"
        );
        let e = refusal("router: { aggregate: { kind: krum } }\nfaults: { byzantine: { fraction: 0.6 } }\n");
        assert!(e.contains("router.aggregate"), "{e}");
        let s = parse("name: t\nfederation: { aggregate: { kind: krum } }\nfaults: { byzantine: { fraction: 0.4 } }\n")
            .unwrap();
        super::validate_faults(&s).unwrap();
    }
}
