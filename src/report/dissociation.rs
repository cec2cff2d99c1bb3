//! The paper's question per group, seed by seed: does an ensemble policy (full, or uniform) lose to top-2 in
//! quality while being the most stable of top-1, top-2 and itself?

use super::aggregate::SummaryRow;
use super::aggregate::mean_std;
use super::grid_table::TextTable;
use crate::report::Record;
use crate::report::plot::number;
use crate::routing::PolicyLabel;

/// Top-1 and top-2 (renormalised), the sparse policies of the paper's question.
const TOP_1: PolicyLabel = PolicyLabel::TopK { k: 1, raw: false };
/// See [`TOP_1`].
const TOP_2: PolicyLabel = PolicyLabel::TopK { k: 2, raw: false };

/// Per seed of one setting: the values of `column` for top-1, top-2 and the ensemble policy `ensemble` (seeds
/// with all three only).
fn per_seed(rows: &[(String, Record)], setting: &str, ensemble: &PolicyLabel, column: &str) -> Vec<[f64; 3]> {
    let mut seeds: Vec<u64> = rows.iter().filter(|(s, _)| s == setting).map(|(_, r)| r.seed).collect();
    seeds.dedup();
    seeds
        .into_iter()
        .filter_map(|seed| {
            let get = |p: &PolicyLabel| {
                rows.iter()
                    .find(|(s, r)| s == setting && r.seed == seed && r.policy == *p)
                    .and_then(|(_, r)| r.values.get(column).copied())
            };
            Some([get(&TOP_1)?, get(&TOP_2)?, get(ensemble)?])
        })
        .collect()
}

/// The paper's question per group (`settings`), seed by seed, for the ensemble policy `ensemble` (`full` or `uniform`): in
/// how many seeds is it worse than top-2 on fd and on loglik, and in how many is it the most stable (lowest
/// 95th-percentile large-scale amplification of top-1, top-2 and itself)? The dissociation holds where it loses
/// on fd or loglik and is the most stable in every seed.
pub fn dissociation(
    rows: &[(String, Record)],
    summary: &[SummaryRow],
    settings: &[String],
    ensemble: &PolicyLabel,
) -> TextTable {
    let find = |s: &str, p: &PolicyLabel| summary.iter().find(|r| r.setting == s && r.policy == *p);
    let e = ensemble;
    let mut out = TextTable {
        header: [
            "group".to_string(),
            "fd top-1".into(),
            "fd top-2".into(),
            format!("fd {e}"),
            "loglik top-2".into(),
            format!("loglik {e}"),
            format!("{e} worse fd"),
            format!("{e} worse loglik"),
            format!("amp_large_p95 top-1 / top-2 / {e}"),
            format!("{e} most stable"),
            "flip_rate top-1 / top-2".into(),
            "dissociation".into(),
            "fd spread".into(),
        ]
        .to_vec(),
        rows: Vec::new(),
    };
    for s in settings {
        let (Some(t1), Some(t2), Some(full)) = (find(s, &TOP_1), find(s, &TOP_2), find(s, e)) else {
            continue;
        };
        let fd = per_seed(rows, s, e, "fd");
        let loglik = per_seed(rows, s, e, "loglik");
        let amp = per_seed(rows, s, e, "amp_large_p95");
        let count = |v: &[[f64; 3]], f: &dyn Fn(&[f64; 3]) -> bool| v.iter().filter(|x| f(x)).count();
        let worse_fd = count(&fd, &|x| x[2] > x[1]);
        let worse_loglik = count(&loglik, &|x| x[2] < x[1]);
        let stable = count(&amp, &|x| x[2] < x[0].min(x[1]));
        let all = |k: usize, v: &[[f64; 3]]| !v.is_empty() && k == v.len();
        let holds = (all(worse_fd, &fd) || all(worse_loglik, &loglik)) && all(stable, &amp);
        let m = |r: &SummaryRow, c: &str| r.mean.get(c).copied().unwrap_or(f64::NAN);
        let means = [m(t1, "fd"), m(t2, "fd"), m(full, "fd")];
        let spread = means.iter().cloned().fold(f64::MIN, f64::max) - means.iter().cloned().fold(f64::MAX, f64::min);
        out.rows.push(vec![
            s.clone(),
            mean_std(t1, "fd"),
            mean_std(t2, "fd"),
            mean_std(full, "fd"),
            mean_std(t2, "loglik"),
            mean_std(full, "loglik"),
            format!("{worse_fd}/{}", fd.len()),
            format!("{worse_loglik}/{}", loglik.len()),
            format!(
                "{} / {} / {}",
                number(m(t1, "amp_large_p95")),
                number(m(t2, "amp_large_p95")),
                number(m(full, "amp_large_p95"))
            ),
            format!("{stable}/{}", amp.len()),
            format!("{} / {}", number(m(t1, "flip_rate")), number(m(t2, "flip_rate"))),
            if holds { "yes" } else { "no" }.into(),
            number(spread),
        ]);
    }
    out
}
