//! Scenario files: parse the YAML (rejecting unknown keys), fill in documented defaults, validate ranges.

mod fault_checks;
mod file;
mod label;
mod lost_experts;
mod overrides;
mod strategy_checks;
mod sweep;
mod validate;
pub mod yaml;

pub use file::*;
pub use label::PolicyLabel;
pub use lost_experts::LostExperts;
pub use overrides::{parse_assignment, with_override};
pub use sweep::{SweepCell, expand, value_text};
pub use validate::{MAX_NAME, check_name, num, validate};

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// A scenario loaded from disk, validated, with the folder its relative paths resolve against.
#[derive(Debug, Clone)]
pub struct LoadedScenario {
    /// The validated scenario with every default filled in.
    pub scenario: Scenario,
    /// Folder of the scenario file; relative data paths are resolved against it.
    pub base_dir: PathBuf,
}

/// Reads, parses and validates the scenario file at `path`.
pub fn load(path: &Path) -> Result<LoadedScenario> {
    let text = read_text(path)?;
    let scenario = parse(&text).map_err(|message| Error::Yaml {
        file: path.to_path_buf(),
        message,
    })?;
    validate(&scenario)?;
    let base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok(LoadedScenario { scenario, base_dir })
}

/// Largest scenario or study file read (they are short texts; this bounds reading a device or a huge file).
const MAX_TEXT: u64 = 64 << 20;

/// The text of a YAML file the user gave (scenario or study); more than 16 MiB, or not UTF-8, is an error naming
/// the file.
pub fn read_text(path: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::read(path, e))?;
    let mut bytes = Vec::new();
    file.take(MAX_TEXT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::read(path, e))?;
    if bytes.len() as u64 > MAX_TEXT {
        return Err(Error::Yaml {
            file: path.to_path_buf(),
            message: format!("is larger than {} MiB; a scenario is a short text file", MAX_TEXT >> 20),
        });
    }
    String::from_utf8(bytes).map_err(|e| Error::Yaml {
        file: path.to_path_buf(),
        message: format!("not UTF-8 text (byte {} is invalid)", e.utf8_error().valid_up_to()),
    })
}

/// Parses scenario YAML; the error text names the key path and carries line and column where known.
pub fn parse(text: &str) -> std::result::Result<Scenario, String> {
    let value = yaml::read_document(text).map_err(|e| e.to_string())?;
    yaml::scenario_from_value(value, Some(text)).map_err(|e| e.to_string())
}

/// Parses any other YAML document type (studies) with the key path, line and column in the error text.
pub fn parse_as<T: serde::de::DeserializeOwned>(text: &str) -> std::result::Result<T, String> {
    let value = yaml::read_document(text).map_err(|e| e.to_string())?;
    yaml::typed(value, Some(text)).map_err(|e| e.to_string())
}

/// Serialises the resolved scenario (every default filled in) as YAML, in the file's form.
pub fn to_yaml(scenario: &Scenario) -> String {
    serde_norway::to_string(&yaml::scenario_to_value(scenario)).expect("a scenario always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_file_gets_every_default() {
        let s = parse("name: t\n").unwrap();
        assert_eq!(s.federation.rounds, 40);
        assert_eq!(s.routing.len(), 4);
        validate(&s).unwrap();
        let again = parse(&to_yaml(&s)).unwrap();
        assert_eq!(again, s);
    }

    #[test]
    fn unknown_key_is_rejected_with_its_name() {
        let err = parse("name: t\nfederation:\n  roundz: 3\n").unwrap_err();
        assert!(err.contains("roundz"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn unknown_key_inside_tagged_section_is_rejected() {
        let err = parse("name: t\ndata: { kind: gmm, radius: 2, colour: red }\n").unwrap_err();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn negative_alpha_names_the_path_and_range() {
        let s = parse("name: t\nclients: { partition: { kind: dirichlet, alpha: -1 } }\n").unwrap();
        let err = validate(&s).unwrap_err().to_string();
        assert_eq!(err, "clients.partition.alpha: must be > 0 and finite, got -1");
    }

    #[test]
    fn nan_is_rejected() {
        let s = parse("name: t\ndata: { kind: gmm, std: .nan }\n").unwrap();
        assert!(
            validate(&s)
                .unwrap_err()
                .to_string()
                .starts_with("data.std: must be > 0")
        );
    }

    #[test]
    fn participation_must_be_a_share_or_a_whole_count() {
        let s = parse("name: t\nrouter: { clients_per_round: 0 }\n").unwrap();
        assert_eq!(
            validate(&s).unwrap_err().to_string(),
            "router.clients_per_round: must be a share of the clients in (0, 1] or a whole number of clients from \
             2 to 4294967295, got 0"
        );
        for bad in ["1.5", "-3", ".nan", "1e12"] {
            let s = parse(&format!("name: t\nfederation: {{ clients_per_round: {bad} }}\n")).unwrap();
            let err = validate(&s).unwrap_err().to_string();
            assert!(
                err.starts_with("federation.clients_per_round: must be a share"),
                "{err}"
            );
        }
    }

    #[test]
    fn clients_per_round_may_be_a_count_written_back_as_an_integer() {
        let s = parse("name: t\nfederation: { clients_per_round: 100 }\nrouter: { clients_per_round: 1 }\n").unwrap();
        validate(&s).unwrap();
        assert_eq!(s.federation.clients_per_round.of(12_500), 100);
        // 1 is the share it always was: every client.
        assert_eq!(s.router.clients_per_round.of(12_500), 12_500);
        let text = to_yaml(&s);
        assert!(text.contains("  clients_per_round: 100\n"), "{text}");
        assert!(text.contains("  clients_per_round: 1.0\n"), "{text}");
        assert_eq!(parse(&text).unwrap(), s);
    }

    #[test]
    fn memorization_quantile_must_be_finite_and_inside_0_1() {
        for (value, shown) in [
            ("0", "0"),
            ("1", "1"),
            ("-0.5", "-0.5"),
            (".nan", "NaN"),
            (".inf", "inf"),
        ] {
            let s = parse(&format!("name: t\nmetrics: {{ memorization_quantile: {value} }}\n")).unwrap();
            assert_eq!(
                validate(&s).unwrap_err().to_string(),
                format!("metrics.memorization_quantile: must be finite and in (0, 1), got {shown}")
            );
        }
        let s = parse("name: t\nmetrics: { memorization_quantile: 0.05 }\n").unwrap();
        validate(&s).unwrap();
        assert!(to_yaml(&s).contains("  memorization_quantile: 0.05\n"));
        assert_eq!(parse(&to_yaml(&s)).unwrap(), s);
        // The default is left out, so resolved scenarios written before the key existed keep their bytes.
        let s = parse("name: t\n").unwrap();
        assert_eq!(s.metrics.memorization_quantile, 0.01);
        assert!(!to_yaml(&s).contains("memorization_quantile"));
    }

    #[test]
    fn top_k_larger_than_clusters_is_rejected() {
        let s = parse("name: t\nrouting: [ { policy: top_k, k: 9 } ]\n").unwrap();
        assert!(
            validate(&s)
                .unwrap_err()
                .to_string()
                .starts_with("routing[0].k: must be <= ")
        );
    }
}
