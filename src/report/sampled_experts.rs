//! A run's tables of the experts at sampling time, each expert named by its index among the trained experts:
//! every surviving expert sampling alone (`experts.csv`), and the experts lost to `sampling.lost_experts`
//! (`lost_experts.csv`).

use crate::atomic::write_csv;
use crate::error::Result;
use crate::metrics::{Applies, Values, registry};
use std::path::Path;

/// `experts.csv`: one row per surviving expert sampling alone (`(index among the trained experts, values)`), with
/// its seed and every per-expert metric (declared in `crate::metrics` with `Applies::PerExpert`).
pub fn write_experts_alone(path: &Path, seed: u64, experts: &[(usize, Values)]) -> Result<()> {
    let columns: Vec<&str> = registry::metrics()
        .filter(|m| m.applies == Applies::PerExpert)
        .map(|m| m.column)
        .collect();
    let mut header = vec!["expert".to_string(), "seed".to_string()];
    header.extend(columns.iter().map(|c| c.to_string()));
    write_csv(
        path,
        &header,
        experts.iter().map(|(e, values)| {
            let mut cells = vec![e.to_string(), seed.to_string()];
            cells.extend(
                columns
                    .iter()
                    .map(|c| values.get(c).map(f64::to_string).unwrap_or_default()),
            );
            cells
        }),
    )
}

/// `lost_experts.csv`: the experts removed at sampling time, one row each in removal order (`order` 0 first),
/// with the run's seed; a sweep's or study's report counts them per cell.
pub fn write_lost_experts(path: &Path, seed: u64, lost: &[usize]) -> Result<()> {
    let header = ["seed", "order", "expert"].map(String::from);
    write_csv(
        path,
        &header,
        lost.iter()
            .enumerate()
            .map(|(order, e)| vec![seed.to_string(), order.to_string(), e.to_string()]),
    )
}

/// `guidance.csv`: a guided run's scale, whether guidance is formed on the mixture (`combined`: 1) and whether the
/// router sees the class (1), with the run's seed; a study's report draws its metrics against the scale.
pub fn write_guidance(path: &Path, seed: u64, scale: f64, combined: bool, router_conditional: bool) -> Result<()> {
    let header = ["seed", "scale", "combined", "router_conditional"].map(String::from);
    let row = vec![
        seed.to_string(),
        scale.to_string(),
        u8::from(combined).to_string(),
        u8::from(router_conditional).to_string(),
    ];
    write_csv(path, &header, std::iter::once(row))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn experts_are_named_by_their_trained_index() {
        let dir = tempfile::tempdir().unwrap();
        let mut values = Values::new();
        values.insert("memorization_own", 0.25);
        let path = dir.path().join("experts.csv");
        write_experts_alone(&path, 7, &[(1, values.clone()), (4, values)]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("expert,seed"), "{text}");
        assert!(lines[1].starts_with("1,7,") && lines[2].starts_with("4,7,"), "{text}");
        let path = dir.path().join("lost_experts.csv");
        write_lost_experts(&path, 7, &[5, 2]).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "seed,order,expert\n7,0,5\n7,1,2\n");
    }
}
