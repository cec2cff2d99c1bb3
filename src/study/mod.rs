//! Studies: a base scenario run under several named settings and seeds. A study is a sweep whose axes are the
//! setting and the seed: it plans the cells (each an ordinary run in `cells/<setting>/seed-<seed>/`) and runs
//! them with [`crate::sweep::run_plan`], so it writes the same tables and report, resumes alike, and is rebuilt by
//! `ddmsim report` from its `cells.json`.

mod file;

pub use file::{Setting, StudyFile};

use crate::error::{Error, Result};
use crate::report::{StudyCells, StudyCellsEntry, distinct_in_order, study_params};
use crate::routing::PolicyLabel;
use crate::scenario::{self, Scenario, SweepCell, check_name, to_yaml, with_override};
use crate::store::FolderKind;
use crate::sweep::{Plan, SweepOptions, SweepOutcome, run_plan};
use std::path::{Path, PathBuf};

/// A study file loaded with every cell's scenario resolved and validated.
#[derive(Debug, Clone)]
pub struct LoadedStudy {
    /// The study as written.
    pub study: StudyFile,
    /// The study file itself.
    pub path: PathBuf,
    /// The base scenario file.
    pub base_path: PathBuf,
    /// The base scenario file's folder (relative data paths resolve against it).
    pub base_dir: PathBuf,
    /// The policies the report shows (all when empty), each one the study's cells run.
    pub policies: Vec<PolicyLabel>,
    /// The base scenario with the study's common overrides, named after the study.
    pub common: Scenario,
    /// Every cell: setting name, seed and the scenario it runs.
    pub cells: Vec<(String, u64, Scenario)>,
}

/// Reads a study file, loads its base scenario and applies every setting's overrides and seed (errors name the
/// setting and the path).
pub fn load(path: &Path) -> Result<LoadedStudy> {
    let text = scenario::read_text(path)?;
    let study: StudyFile = scenario::parse_as(&text).map_err(|message| Error::Yaml {
        file: path.to_path_buf(),
        message,
    })?;
    check_name("name", &study.name)?;
    if study.seeds.is_empty() {
        return Err(Error::invalid("seeds", "must list at least one seed"));
    }
    if let Some(i) = (1..study.seeds.len()).find(|&i| study.seeds[..i].contains(&study.seeds[i])) {
        return Err(Error::invalid(
            format!("seeds[{i}]"),
            format!("seed {} is listed twice", study.seeds[i]),
        ));
    }
    if study.settings.is_empty() {
        return Err(Error::invalid("settings", "must list at least one setting"));
    }
    let base_path = path.parent().unwrap_or(Path::new("")).join(&study.scenario);
    let base = scenario::load(&base_path)?;
    if !base.scenario.sweep.is_empty() {
        return Err(Error::invalid(
            "scenario",
            format!(
                "{} has its own `sweep`; a study's base scenario must be a single run",
                base_path.display()
            ),
        ));
    }
    let mut common = base.scenario.clone();
    for (key, value) in &study.set {
        common = with_override(&common, key, value).map_err(|e| Error::invalid("set", e.to_string()))?;
    }
    let cells = settings_cells(&study, &common)?;
    let policies = study_policies(&study, &cells)?;
    common.name = study.name.clone();
    Ok(LoadedStudy {
        study,
        path: path.to_path_buf(),
        base_path,
        base_dir: base.base_dir,
        policies,
        common,
        cells,
    })
}

/// Every (setting, seed) cell of the study.
fn settings_cells(study: &StudyFile, common: &Scenario) -> Result<Vec<(String, u64, Scenario)>> {
    let mut cells = Vec::new();
    for (i, setting) in study.settings.iter().enumerate() {
        check_name(&format!("settings[{i}].name"), &setting.name)?;
        if study.settings[..i].iter().any(|s| s.name == setting.name) {
            return Err(Error::invalid(
                format!("settings[{i}].name"),
                format!("`{}` is used twice", setting.name),
            ));
        }
        let mut s = common.clone();
        for (key, value) in &setting.set {
            s = with_override(&s, key, value)
                .map_err(|e| Error::invalid(format!("settings[{i}].set"), e.to_string()))?;
        }
        if !s.sweep.is_empty() {
            let place = if common.sweep.is_empty() {
                format!("settings[{i}].set")
            } else {
                "set".into()
            };
            return Err(Error::invalid(
                place,
                "sets `sweep`; a study's cells are single runs (list the values as settings instead)",
            ));
        }
        for &seed in &study.seeds {
            let mut cell = s.clone();
            cell.seed = seed;
            cells.push((setting.name.clone(), seed, cell));
        }
    }
    Ok(cells)
}

/// The study's `policies`, each a label of a policy that the cells run.
fn study_policies(study: &StudyFile, cells: &[(String, u64, Scenario)]) -> Result<Vec<PolicyLabel>> {
    let run: Vec<PolicyLabel> = cells
        .iter()
        .flat_map(|(_, _, s)| s.routing.iter().map(PolicyLabel::of))
        .collect();
    study
        .policies
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let label: PolicyLabel = text
                .parse()
                .map_err(|e: String| Error::invalid(format!("policies[{i}]"), e))?;
            if !run.contains(&label) {
                let known = distinct_in_order(run.iter().map(PolicyLabel::to_string)).join(", ");
                return Err(Error::invalid(
                    format!("policies[{i}]"),
                    format!("`{label}` is not a policy of the study's scenarios; they run {known}"),
                ));
            }
            Ok(label)
        })
        .collect()
}

/// The folder of one cell inside the study's output folder.
pub fn cell_dir(out_dir: &Path, setting: &str, seed: u64) -> PathBuf {
    out_dir.join("cells").join(setting).join(format!("seed-{seed}"))
}

/// Runs (or reuses) every cell of the study (of `options.shard`), `options.parallel` at a time, publishing the
/// tables after every cell and the report at the end (see [`run_plan`]). A policy needing more experts than a
/// cell's grouping produced is skipped there, as in a sweep; a cell whose own scenario fails is recorded and the
/// others go on.
pub fn run_study(loaded: &LoadedStudy, options: &SweepOptions) -> Result<SweepOutcome> {
    let mut options = options.clone();
    options.inputs.push(loaded.path.clone());
    run_plan(&plan_study(loaded, &options.out_dir), &options)
}

/// The plan of the study, its cells in folders under `out_dir`.
pub fn plan_study(loaded: &LoadedStudy, out_dir: &Path) -> Plan {
    let mut inputs = vec![loaded.base_path.clone()];
    inputs.extend(
        loaded
            .cells
            .iter()
            .filter_map(|(_, _, s)| crate::data::input_file(&s.data, &loaded.base_dir)),
    );
    let cells: Vec<(SweepCell, PathBuf)> = loaded
        .cells
        .iter()
        .map(|(setting, seed, scenario)| {
            let cell = SweepCell {
                params: study_params(setting, *seed),
                scenario: scenario.clone(),
            };
            (cell, cell_dir(out_dir, setting, *seed))
        })
        .collect();
    let manifest = StudyCells {
        name: loaded.study.name.clone(),
        policies: loaded.policies.iter().map(PolicyLabel::to_string).collect(),
        cells: loaded
            .cells
            .iter()
            .zip(&cells)
            .map(|((setting, seed, _), (c, dir))| StudyCellsEntry {
                cell: c.label(),
                dir: dir.strip_prefix(out_dir).unwrap_or(dir).to_string_lossy().into_owned(),
                setting: setting.clone(),
                seed: *seed,
            })
            .collect(),
    };
    Plan {
        kind: FolderKind::Study,
        name: loaded.study.name.clone(),
        scenario_yaml: to_yaml(&loaded.common),
        cells,
        showcase: None,
        base_dir: loaded.base_dir.clone(),
        inputs,
        extra: vec![(StudyCells::FILE.to_string(), manifest.to_json())],
        policies: manifest.policies.clone(),
    }
}

/// Whether the YAML file at `path` is a study (it has top-level `settings`) rather than a scenario.
pub fn is_study_file(path: &Path) -> Result<bool> {
    let text = scenario::read_text(path)?;
    let value: serde_norway::Value = serde_norway::from_str(&text).map_err(|e| Error::Yaml {
        file: path.to_path_buf(),
        message: e.to_string(),
    })?;
    Ok(value.get("settings").is_some())
}
