//! A one-paragraph reading of a single run's table for the terminal: the fd ranking between the data and noise
//! references, whether every policy is clearly below noise, the spread of mode balance, and which key quality
//! metrics crown another policy than fd does.

use super::plot::number;
use super::table::Record;
use crate::metrics::{Direction, Family, registry};
use crate::routing::PolicyLabel;

/// A policy counts as far below noise when its fd is under this share of noise's fd.
const FAR_BELOW_NOISE: f64 = 0.25;

/// The reading of `records` (one run), or `None` when it has no fd to read (e.g. no reference rows).
pub fn run_reading(records: &[Record]) -> Option<String> {
    let value = |label: &PolicyLabel, column: &str| {
        records
            .iter()
            .find(|r| &r.policy == label)
            .and_then(|r| r.values.get(column).copied())
    };
    let noise = value(&PolicyLabel::ReferenceNoise, "fd")?;
    let data = value(&PolicyLabel::ReferenceData, "fd")?;
    let ranked = ranking(records, "fd", Direction::Lower);
    if ranked.is_empty() {
        return None;
    }
    let order: Vec<String> = ranked.iter().map(|(p, v)| format!("{p} {}", number(*v))).collect();
    let mut text = format!(
        "Reading: fd ranks the policies {}; the held-out data scores {} and Gaussian noise {}. ",
        order.join(" < "),
        number(data),
        number(noise)
    );
    text.push_str(&noise_sentence(&ranked, noise));
    let modes = ranking(records, "mode_tv", Direction::Lower);
    if let (Some((best, b)), Some((worst, w))) = (modes.first(), modes.last()) {
        text.push_str(&format!(
            "Mode balance (mode_tv, lower is better) runs from {best} ({}) to {worst} ({}). ",
            number(*b),
            number(*w)
        ));
    }
    text.push_str(&disagreement_sentence(records, ranked[0].0));
    Some(text)
}

/// Whether every policy is far below noise on fd, or which are not; `ranked` is the fd ranking.
fn noise_sentence(ranked: &[(&PolicyLabel, f64)], noise: f64) -> String {
    let not_far: Vec<String> = ranked
        .iter()
        .filter(|(_, v)| *v >= FAR_BELOW_NOISE * noise)
        .map(|(p, v)| format!("{p} ({:.0} %)", 100.0 * v / noise))
        .collect();
    let (worst, worst_fd) = ranked.last().expect("not empty");
    if not_far.is_empty() {
        format!(
            "Every policy is far below noise (the worst, {worst}, at {:.0} % of noise's fd). ",
            100.0 * worst_fd / noise
        )
    } else {
        format!(
            "Not far below noise (fd at least {:.0} % of noise's): {}. ",
            100.0 * FAR_BELOW_NOISE,
            not_far.join(", ")
        )
    }
}

/// The key quality metrics whose best policy is not fd's `best`.
fn disagreement_sentence(records: &[Record], best: &PolicyLabel) -> String {
    let disagreements: Vec<String> = registry::metrics()
        .filter(|m| m.key && m.direction != Direction::Neither && m.column != "fd")
        .filter(|m| matches!(m.family, Family::Quality | Family::Classifier))
        .filter_map(|m| {
            let (policy, value) = ranking(records, m.column, m.direction).into_iter().next()?;
            (policy != best).then(|| format!("{} crowns {policy} ({})", m.column, number(value)))
        })
        .collect();
    if disagreements.is_empty() {
        format!("Every key metric agrees with fd on the best policy, {best}.")
    } else {
        format!(
            "Other key metrics disagree with fd's best ({best}): {}.",
            disagreements.join("; ")
        )
    }
}

/// The policies (not the reference rows) with a value of `column`, best first (ties keep the table's order).
fn ranking<'a>(records: &'a [Record], column: &str, direction: Direction) -> Vec<(&'a PolicyLabel, f64)> {
    let mut rows: Vec<(&PolicyLabel, f64)> = records
        .iter()
        .filter(|r| !r.policy.is_reference())
        .filter_map(|r| r.values.get(column).map(|v| (&r.policy, *v)))
        .collect();
    rows.sort_by(|a, b| match direction {
        Direction::Higher => b.1.total_cmp(&a.1),
        _ => a.1.total_cmp(&b.1),
    });
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Values;

    fn record(policy: PolicyLabel, values: &[(&'static str, f64)]) -> Record {
        let mut v = Values::new();
        v.extend(values.iter().copied());
        Record {
            policy,
            seed: 0,
            values: v,
        }
    }

    #[test]
    fn the_reading_ranks_by_fd_flags_policies_near_noise_and_names_disagreements() {
        let records = vec![
            record(PolicyLabel::ReferenceData, &[("fd", 0.01)]),
            record(PolicyLabel::ReferenceNoise, &[("fd", 8.0)]),
            record(
                PolicyLabel::TopK { k: 1, raw: false },
                &[("fd", 3.0), ("mode_tv", 0.4), ("loglik", -2.0)],
            ),
            record(PolicyLabel::Full, &[("fd", 0.5), ("mode_tv", 0.05), ("loglik", -6.0)]),
        ];
        let text = run_reading(&records).unwrap();
        assert!(text.contains("full 0.500 < top_k:k=1 3.00"), "{text}");
        assert!(
            text.contains("Not far below noise") && text.contains("top_k:k=1 (38 %)"),
            "{text}"
        );
        assert!(text.contains("from full (0.0500) to top_k:k=1 (0.400)"), "{text}");
        assert!(text.contains("loglik crowns top_k:k=1"), "{text}");
        let healthy = vec![
            records[0].clone(),
            records[1].clone(),
            record(PolicyLabel::Full, &[("fd", 0.5)]),
        ];
        assert!(
            run_reading(&healthy)
                .unwrap()
                .contains("Every policy is far below noise")
        );
    }
}
