//! Long tables of the analyses, one row per policy and step (or bin): stability and alignment by step, the
//! expert x cluster x bin error matrix, and selected vs non-selected vs oracle error by bin.

use crate::analysis::{BinError, ErrorCell, SampleDisagreement, StepAlignment, StepStability};
use crate::atomic::write_csv;
use crate::error::Result;
use std::path::Path;

/// Rows of one policy in a long table: its label, the run's seed and the rows.
pub type PolicyRows<'a, T> = (&'a crate::routing::PolicyLabel, u64, &'a [T]);

fn header(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

fn opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

/// Writes a long table: `policy`, `seed`, then the cells `cells(row)` under `names`.
fn write_policy_rows<T>(
    path: &Path,
    names: &[&str],
    tables: &[PolicyRows<T>],
    cells: impl Fn(&T) -> Vec<String>,
) -> Result<()> {
    let mut head = header(&["policy", "seed"]);
    head.extend(header(names));
    write_csv(
        path,
        &head,
        tables.iter().flat_map(|(policy, seed, rows)| {
            rows.iter().map(|r| {
                let mut line = vec![policy.to_string(), seed.to_string()];
                line.extend(cells(r));
                line
            })
        }),
    )
}

/// `stability_by_step.csv`.
pub fn write_stability_by_step(path: &Path, tables: &[PolicyRows<StepStability>]) -> Result<()> {
    let names = [
        "step",
        "t",
        "lipschitz_small",
        "lipschitz_large",
        "flip_small",
        "flip_large",
        "separation_small",
        "separation_large",
    ];
    write_policy_rows(path, &names, tables, |r| {
        vec![
            r.step.to_string(),
            r.t.to_string(),
            r.lipschitz_small.to_string(),
            r.lipschitz_large.to_string(),
            opt(r.flip_small),
            opt(r.flip_large),
            r.separation_small.to_string(),
            r.separation_large.to_string(),
        ]
    })
}

/// `alignment_by_step.csv`.
pub fn write_alignment_by_step(path: &Path, tables: &[PolicyRows<StepAlignment>]) -> Result<()> {
    let names = [
        "step",
        "t",
        "dist_selected",
        "dist_nonselected",
        "align_gap",
        "centroid_gap",
        "nearest_rate",
        "disagreement",
        "angle_deg",
    ];
    write_policy_rows(path, &names, tables, |r| {
        let gap = r.dist_nonselected.zip(r.dist_selected).map(|(n, s)| n - s);
        vec![
            r.step.to_string(),
            r.t.to_string(),
            opt(r.dist_selected),
            opt(r.dist_nonselected),
            opt(gap),
            opt(r.centroid_gap),
            opt(r.nearest_rate),
            r.disagreement.to_string(),
            opt(r.angle_deg),
        ]
    })
}

/// `routing_share_by_step.csv`: per routed policy and step, the mean routing weight of each expert (where the
/// policy sends the samples as they denoise).
pub fn write_routing_share(path: &Path, tables: &[PolicyRows<StepAlignment>]) -> Result<()> {
    let experts = tables
        .iter()
        .flat_map(|(_, _, rows)| rows.iter().map(|r| r.expert_share.len()))
        .max()
        .unwrap_or(0);
    let mut names: Vec<String> = vec!["step".into(), "t".into()];
    names.extend((0..experts).map(|j| format!("expert_{j}")));
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    write_policy_rows(path, &names, tables, |r| {
        let mut cells = vec![r.step.to_string(), r.t.to_string()];
        cells.extend(r.expert_share.iter().map(|v| v.to_string()));
        cells
    })
}

/// `expert_error.csv`: the expert x cluster x timestep-bin error matrix.
pub fn write_expert_error(path: &Path, seed: u64, cells: &[ErrorCell]) -> Result<()> {
    let names = ["seed", "expert", "cluster", "bin", "t", "mse", "points"];
    write_csv(
        path,
        &header(&names),
        cells.iter().map(|c| {
            vec![
                seed.to_string(),
                c.expert.to_string(),
                c.cluster.to_string(),
                c.bin.to_string(),
                c.t.to_string(),
                c.mse.to_string(),
                c.points.to_string(),
            ]
        }),
    )
}

/// `routing_error_by_bin.csv`: per policy and bin, the error of selected, non-selected and oracle experts and of
/// the combined prediction.
pub fn write_routing_error(path: &Path, tables: &[PolicyRows<BinError>]) -> Result<()> {
    let names = [
        "bin",
        "t",
        "err_selected",
        "err_nonselected",
        "err_oracle",
        "err_mixture",
    ];
    write_policy_rows(path, &names, tables, |r| {
        vec![
            r.bin.to_string(),
            r.t.to_string(),
            opt(r.selected),
            opt(r.nonselected),
            opt(r.oracle),
            r.mixture.to_string(),
        ]
    })
}

/// `per_sample.csv`: per routed policy and sample, the total disagreement along the trajectory and the badness
/// of the final sample (minus the true log-density, or the distance to the nearest reference point).
pub fn write_per_sample(path: &Path, tables: &[PolicyRows<SampleDisagreement>]) -> Result<()> {
    write_policy_rows(path, &["sample", "disagreement", "badness"], tables, |r| {
        vec![r.sample.to_string(), r.disagreement.to_string(), r.badness.to_string()]
    })
}
