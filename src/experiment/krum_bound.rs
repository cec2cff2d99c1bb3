//! Krum's guarantee against the planted Byzantine clients: Krum tolerates f Byzantine models among a round's n only
//! when n > 2f + 2. The scenario check refuses a Byzantine fraction of one half or more; once the clients are
//! grouped, each model's clients per round are known, and a model where the expected attackers break the bound (or
//! exceed the configured `f`) is named in a warning: the run goes on, since measuring that is a fair question.

use crate::partition::ExpertGroups;
use crate::scenario::{AggregateConfig, Scenario};

/// The warnings for `s` with clients grouped by `groups` (`active` clients hold data).
pub fn krum_warnings(s: &Scenario, groups: &ExpertGroups, active: usize) -> Vec<String> {
    let fraction = s.faults.byzantine.fraction;
    if fraction <= 0.0 {
        return Vec::new();
    }
    let f = &s.federation;
    let experts: Vec<usize> = groups
        .experts
        .iter()
        .map(|g| f.clients_per_round.of(g.clients.len()))
        .collect();
    let mut models: Vec<(String, usize, AggregateConfig, &str)> = experts
        .iter()
        .enumerate()
        .map(|(e, &n)| (format!("expert {e}"), n, f.aggregate, "federation.aggregate"))
        .collect();
    models.push((
        "monolith".into(),
        experts.iter().sum::<usize>().min(active),
        f.aggregate,
        "federation.aggregate",
    ));
    let router = s.router.strategy(f).aggregate;
    models.push((
        "router".into(),
        s.router.clients_per_round.of(active),
        router,
        "router.aggregate",
    ));
    let mut out = Vec::new();
    for (name, n, aggregate, key) in models {
        let AggregateConfig::Krum { f: tolerated, .. } = aggregate else {
            continue;
        };
        let expected = (fraction * n as f64).round() as usize;
        if expected > 0 && n <= 2 * expected + 2 {
            out.push(format!(
                "{name}: about {expected} of its {n} clients per round are Byzantine (faults.byzantine.fraction), but \
                 Krum ({key}) is guaranteed only when n > 2f + 2"
            ));
        } else if tolerated < expected {
            out.push(format!(
                "{name}: about {expected} of its {n} clients per round are Byzantine, more than {key}.f = {tolerated}"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::partition::ExpertGroup;
    use crate::scenario::parse;

    #[test]
    fn models_whose_rounds_break_the_bound_are_named() {
        let s = parse(
            "name: t\nfederation: { clients_per_round: 1.0, aggregate: { kind: krum, f: 1 } }\nfaults: { byzantine: \
             { fraction: 0.3 } }\n",
        )
        .unwrap();
        let groups = ExpertGroups {
            experts: vec![
                ExpertGroup {
                    cluster: None,
                    clients: (0..3).collect(),
                },
                ExpertGroup {
                    cluster: None,
                    clients: (3..23).collect(),
                },
            ],
            dropped: Vec::new(),
            idle_clients: Vec::new(),
        };
        let warnings = krum_warnings(&s, &groups, 23);
        // Expert 0: 1 of 3 (3 <= 4); expert 1: 6 of 20, above f = 1; the monolith: 7 of 23; the router follows.
        assert!(warnings[0].starts_with("expert 0: about 1 of its 3") && warnings[0].contains("n > 2f + 2"));
        assert!(warnings[1].starts_with("expert 1: about 6 of its 20") && warnings[1].contains("f = 1"));
        assert_eq!(warnings.len(), 4, "{warnings:?}");
        let clean = parse("name: t\nfederation: { aggregate: { kind: krum } }\n").unwrap();
        assert!(krum_warnings(&clean, &groups, 23).is_empty());
    }
}
