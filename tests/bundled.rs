//! Every bundled scenario and study file loads and validates, so a typo in one is caught before anyone runs it.

use std::path::{Path, PathBuf};

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path.extension().is_some_and(|e| e == "yaml") {
            files.push(path);
        }
    }
    files.sort();
    files
}

#[test]
fn bundled_scenarios_and_studies_are_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let files = yaml_files(&root);
    let studies: Vec<&PathBuf> = files.iter().filter(|p| p.starts_with(root.join("studies"))).collect();
    assert!(studies.len() >= 2 && files.len() >= studies.len() + 5, "{files:?}");
    for file in &files {
        if studies.contains(&file) {
            let study = ddmsim::study::load(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            assert_eq!(study.cells.len(), study.study.settings.len() * study.study.seeds.len());
        } else {
            ddmsim::scenario::load(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        }
    }
}
