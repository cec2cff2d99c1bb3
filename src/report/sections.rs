//! The report's tables, shared by `summary.md` and `report.html`: the best policy by each key metric, fd with its
//! reference rows, the paper's dissociation question, a table per key metric, and the quality, stability and
//! alignment tables, every metric column and text taken from its declaration.

use super::dissociation::dissociation;
use super::gather::SweepRow;
use super::grid_table::TextTable;
use super::reading::Reading;
use super::summary::{SweepSummary, group_of};
use crate::metrics::{Family, Metric, registry};
use crate::report::Record;
use crate::routing::PolicyLabel;

/// One table of the report: (heading, explanation, table).
pub type Section = (String, String, TextTable);

/// The explanation of a metric's own table.
fn explain(m: &Metric) -> String {
    format!(
        "{} Mean ± std over seeds ({}; {}). — : the policy did not run there (it needs more experts than the \
         grouping produced; each cell's run.json lists it).",
        m.description,
        m.direction_note(),
        m.applies.describe()
    )
}

/// The report's sections, in order.
pub fn sections(summary: &SweepSummary, rows: &[SweepRow], reading: &Reading) -> Vec<Section> {
    let mut out = vec![(
        "Best policy by each key metric".to_string(),
        "Per group, the policy with the best mean of each key metric (its better side from the metric's \
         declaration), with that mean."
            .to_string(),
        reading.best.clone(),
    )];
    let fd = registry::get("fd");
    out.push((
        "Quality (fd) by group and policy".to_string(),
        format!(
            "{} Reference rows are the floor (held-out vs training data) and the ceiling (Gaussian noise).",
            explain(fd)
        ),
        summary.pivot("fd", true),
    ));
    let grouped: Vec<(String, Record)> = rows.iter().map(|r| (group_of(r), r.record.clone())).collect();
    for ensemble in [PolicyLabel::Full, PolicyLabel::Uniform] {
        let table = dissociation(&grouped, &summary.rows, &summary.groups, &ensemble);
        if !table.rows.is_empty() {
            out.push((
                format!("Does {ensemble} lose to top-2, and is it then the most stable?"),
                format!(
                    "Counts are seeds. \"{ensemble} worse\": its fd above top-2's (or its loglik below) in that seed. \
                     \"most stable\": its 95th percentile of amplification at the large scale is the lowest of \
                     top-1, top-2 and {ensemble} in that seed. The paper's dissociation (yes) needs it worse on fd \
                     or on loglik in every seed and the most stable in every seed. fd spread: largest minus smallest \
                     mean fd of top-1, top-2 and {ensemble}."
                ),
                table,
            ));
        }
    }
    for m in registry::metrics().filter(|m| m.key && m.column != "fd") {
        if summary.rows.iter().any(|r| r.mean.contains_key(m.column)) {
            out.push((
                format!("{} ({}) by group and policy", m.title, m.column),
                explain(m),
                summary.pivot(m.column, false),
            ));
        }
    }
    out.push((
        "Quality".into(),
        "Every quality metric (and the classifier's), every group and policy; n is the number of seeds behind each \
         mean."
            .into(),
        summary.long(
            &crate::metrics::columns_of(&[Family::Quality, Family::Classifier]),
            true,
        ),
    ));
    out.push((
        "Stability".into(),
        "Trajectory sensitivity of every policy (lower = more stable).".into(),
        summary.long(&crate::metrics::columns_of(&[Family::Stability]), false),
    ));
    out.push((
        "Alignment".into(),
        "Routed policies only: align_gap > 0 and err_selected < err_nonselected mean the router picks experts whose \
         data covers the current state."
            .into(),
        summary.long(&crate::metrics::columns_of(&[Family::Alignment]), false),
    ));
    out.retain(|(_, _, t)| !t.rows.is_empty());
    out
}
