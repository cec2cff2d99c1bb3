//! Natural partition (Flower Datasets' `NaturalIdPartitioner`): a CSV column names each row's client.

use crate::data::NaturalIds;
use crate::error::{Error, Result};

/// Client i holds the training points whose id is the i-th distinct id of the file, in the order of the points.
/// `clients` (`clients.count`) must equal the number of distinct ids; an id whose rows all went to the test
/// split leaves its client with no training point (an idle client).
pub fn natural(ids: &NaturalIds, clients: usize, column: &str) -> Result<Vec<Vec<usize>>> {
    let found = ids.names.len();
    if clients != found {
        let mut shown: Vec<String> = ids.names.iter().take(5).map(|name| format!("{name:?}")).collect();
        if found > shown.len() {
            shown.push("...".into());
        }
        return Err(Error::Partition {
            path: "clients.count".into(),
            message: format!(
                "must equal the number of distinct ids in column {column:?} ({found}: {}) under `kind: natural`, \
                 got {clients}; set clients.count: {found}",
                shown.join(", ")
            ),
        });
    }
    let mut parts = vec![Vec::new(); clients];
    for (point, &client) in ids.of.iter().enumerate() {
        parts[client].push(point);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_are_the_column_exactly() {
        let texts = ["b", "a", "c", "a", "b", "b"];
        let parts = natural(&NaturalIds::from_texts(&texts), 3, "user").unwrap();
        assert_eq!(parts, vec![vec![1, 3], vec![0, 4, 5], vec![2]]);
        for (client, part) in parts.iter().enumerate() {
            for &point in part {
                assert_eq!(texts[point], ["a", "b", "c"][client]);
            }
        }
    }

    #[test]
    fn through_the_csv_and_the_split_each_client_holds_exactly_its_rows() {
        use crate::scenario::{DataConfig, DataKind, PartitionConfig};
        use std::io::Write;
        // Feature `x` carries the row's id (a number), so every training point can be checked against its client.
        let ids = [12, 3, 7, 3, 40, 12, 7, 7, 3, 12, 40, 3];
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "x,user,y").unwrap();
        for (row, id) in ids.iter().cycle().take(120).enumerate() {
            writeln!(f, "{id},{id},{row}").unwrap();
        }
        let data = DataConfig {
            kind: DataKind::Csv {
                path: f.path().to_string_lossy().into_owned(),
                label_column: None,
            },
            ..DataConfig::default()
        };
        let split = crate::data::load(&data, Some("user"), std::path::Path::new("."), 5).unwrap();
        assert_eq!(split.train.dim(), 2, "the id column is not a feature");
        let config = PartitionConfig::Natural { column: "user".into() };
        let train_ids = split.train.natural_ids.as_ref();
        let cluster = vec![0; split.train.len()];
        let parts = super::super::partition(&config, &cluster, 1, 4, train_ids, 5).unwrap();
        let names = ["3", "7", "12", "40"];
        assert_eq!(train_ids.unwrap().names, names);
        let mut held = 0;
        for (client, part) in parts.iter().enumerate() {
            for &point in part {
                assert_eq!(split.train.x[[point, 0]].to_string(), names[client]);
            }
            held += part.len();
        }
        assert_eq!(held, split.train.len(), "every training point is held once");
    }

    #[test]
    fn a_count_other_than_the_ids_is_refused_with_the_count_found() {
        let err = natural(&NaturalIds::from_texts(&["b", "a", "c"]), 100, "user")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "clients.count: must equal the number of distinct ids in column \"user\" (3: \"a\", \"b\", \"c\") under \
             `kind: natural`, got 100; set clients.count: 3"
        );
    }
}
