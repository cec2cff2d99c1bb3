//! The registry of metrics: `declare_metrics!` in `metrics/mod.rs` lists every metric file in column order. Adding
//! a metric is one file declaring it (`pub static DECLARED`) and one line in that list.

use super::catalog::Metric;

/// Declares the metric files, in column order: each is a module with `DECLARED`, the metrics it computes.
macro_rules! declare_metrics {
    ($($file:ident),* $(,)?) => {
        $(pub mod $file;)*
        /// Every metric file's declarations, in column order.
        static FILES: &[&[Metric]] = &[$(&$file::DECLARED),*];
    };
}

/// Every declared metric, in column order.
pub fn metrics() -> impl Iterator<Item = &'static Metric> {
    super::FILES.iter().flat_map(|f| f.iter())
}

/// The metric of `column`, if declared.
pub fn find(column: &str) -> Option<&'static Metric> {
    metrics().find(|m| m.column == column)
}

/// The metric of `column`; panics if none is declared (a column name in code that no declaration has).
pub fn get(column: &str) -> &'static Metric {
    find(column).unwrap_or_else(|| panic!("metric `{column}` is not declared in metrics::registry"))
}

/// The Markdown table of every declared metric (column, block, better side, where it applies, meaning), as the
/// README shows it (`ddmsim metrics` prints it).
pub fn markdown_table() -> String {
    let mut out = String::from("| column | block | better | where | meaning |\n|---|---|---|---|---|\n");
    for m in metrics() {
        let family = match m.family {
            super::Family::Quality => "quality",
            super::Family::Classifier => "classifier",
            super::Family::Stability => "stability",
            super::Family::Alignment => "alignment",
        };
        let better = match m.direction {
            super::Direction::Lower => "lower",
            super::Direction::Higher => "higher",
            super::Direction::Neither => "—",
        };
        out.push_str(&format!(
            "| `{}`{} | {family} | {better} | {} | {} |\n",
            m.column,
            if m.key { " (key)" } else { "" },
            m.applies.describe(),
            m.description.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_are_unique_and_described() {
        let all: Vec<&Metric> = metrics().collect();
        for (i, m) in all.iter().enumerate() {
            assert!(
                all[..i].iter().all(|o| o.column != m.column),
                "{} declared twice",
                m.column
            );
            assert!(!m.description.is_empty() && !m.title.is_empty(), "{}", m.column);
        }
    }
}
