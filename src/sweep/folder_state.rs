//! A sweep's or study's folder while its cells run, shared with other processes: what every publish carries,
//! and the tables, failed cells and report built from every finished cell, whichever process ran it.

use super::{Plan, SweepRecord};
use crate::atomic::write_atomic;
use crate::cells::{self, CellOutcome};
use crate::error::Result;
use crate::report::{
    CellSource, FAILED_FILE, FailedCell, INPUTS_FILE, ReportData, SweepRow, read_failed, write_long_tables,
    write_report, write_sweep_results,
};
use crate::scenario::SweepCell;
use crate::store::LiveFolder;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The files every publish of a plan carries (the resolved scenario, the cells' inputs, a study's cells).
pub(super) struct Published {
    files: Vec<(String, String)>,
}

impl Published {
    /// The files of `plan`, whose cells are `jobs`.
    pub(super) fn of(plan: &Plan, jobs: &[cells::CellJob]) -> Self {
        // The inputs of every cell as this run has them: `ddmsim report` shows only the cells that match.
        let inputs: std::collections::BTreeMap<&str, &str> = jobs
            .iter()
            .map(|j| (j.name.as_str(), j.inputs_sha256.as_str()))
            .collect();
        let inputs_json = serde_json::to_string_pretty(&inputs).expect("a map of strings serialises");
        let mut files = vec![
            ("scenario.resolved.yaml".to_string(), plan.scenario_yaml.clone()),
            (INPUTS_FILE.to_string(), inputs_json),
        ];
        files.extend(plan.extra.iter().cloned());
        Published { files }
    }

    /// Whether the folder `dir` holds these files as they are, or none of them (its first process has not
    /// published them yet, or they were never written).
    pub(super) fn matches(&self, dir: &Path) -> bool {
        let theirs: Vec<Option<Vec<u8>>> = self
            .files
            .iter()
            .map(|(name, _)| std::fs::read(dir.join(name)).ok())
            .collect();
        theirs.iter().all(Option::is_none)
            || self
                .files
                .iter()
                .zip(&theirs)
                .all(|((_, ours), theirs)| theirs.as_deref() == Some(ours.as_bytes()))
    }

    /// Writes the files into the staging folder `dir`.
    pub(super) fn write(&self, dir: &Path) -> Result<()> {
        for (name, content) in &self.files {
            write_atomic(&dir.join(name), content.as_bytes())?;
        }
        Ok(())
    }
}

/// What the last publish of a process adds: its `run.json` (given the failed cells), and whether it ran the
/// whole plan (then the report is built even if cells are missing).
pub(super) type Last<'r> = (&'r dyn Fn(&[FailedCell]) -> SweepRecord, bool);

/// A plan's folder while its cells run.
pub(super) struct FolderState<'a> {
    folder: &'a LiveFolder,
    plan: &'a Plan,
    jobs: &'a [cells::CellJob],
    published: &'a Published,
    /// Outcomes of cells other processes finished, read back once.
    read_back: Mutex<HashMap<usize, CellOutcome>>,
    /// When the other processes' cells were last looked at.
    scanned: Mutex<Option<Instant>>,
}

/// How often a publish looks again at the cells other processes run.
const RESCAN: Duration = Duration::from_secs(30);

impl<'a> FolderState<'a> {
    /// The state of `folder`, running `plan` as `jobs`.
    pub(super) fn new(
        folder: &'a LiveFolder,
        plan: &'a Plan,
        jobs: &'a [cells::CellJob],
        published: &'a Published,
    ) -> Self {
        FolderState {
            folder,
            plan,
            jobs,
            published,
            read_back: Mutex::new(HashMap::new()),
            scanned: Mutex::new(None),
        }
    }

    /// Publishes the tables of every finished cell (this process's outcomes `own`, others' read from their
    /// folders) and the failed cells; with `last`, also `run.json`, the long tables and the report when the plan
    /// ran whole or every cell is done. Returns whether every cell is finished or failed.
    pub(super) fn publish(&self, own: &[Option<CellOutcome>], last: Option<Last<'_>>) -> Result<bool> {
        let publishing = self.folder.begin()?;
        let view = self.view(own, last.is_some());
        let failed = self.failures(&view)?;
        let complete = view
            .iter()
            .zip(self.jobs)
            .all(|(o, j)| matches!(o, Some(CellOutcome::Done(_))) || failed.iter().any(|f| f.cell == j.name));
        let rows = rows_of(self.plan.cells.iter().map(|(c, _)| c), view.iter().map(Option::as_ref));
        let staged = self.folder.staging()?;
        let dir = staged.path();
        self.published.write(dir)?;
        write_sweep_results(dir, &rows)?;
        if !failed.is_empty() {
            let json = serde_json::to_string_pretty(&failed).expect("failed cells serialise");
            write_atomic(&dir.join(FAILED_FILE), json.as_bytes())?;
        }
        if let Some((record, whole)) = last
            && (whole || complete)
        {
            self.write_report(dir, &view, rows)?;
            let json = serde_json::to_string_pretty(&record(&failed)).expect("a sweep record serialises");
            write_atomic(&dir.join("run.json"), json.as_bytes())?;
        }
        self.folder.publish(&publishing, staged, &|_| true)?;
        Ok(complete)
    }

    /// Every cell's outcome: this process's, or read back from the folder if another process finished it. The
    /// other processes' cells not yet seen finished are looked at again on the `last` publish, and otherwise at
    /// most every [`RESCAN`] (each look reads every such cell's marker: costly in a large sweep).
    fn view(&self, own: &[Option<CellOutcome>], last: bool) -> Vec<Option<CellOutcome>> {
        let mut read_back = self.read_back.lock().expect("no panics while held");
        let mut scanned = self.scanned.lock().expect("no panics while held");
        let rescan = last || scanned.is_none_or(|at| at.elapsed() >= RESCAN);
        if rescan {
            *scanned = Some(Instant::now());
        }
        own.iter()
            .enumerate()
            .map(|(i, o)| {
                if o.is_some() {
                    return o.clone();
                }
                if let Some(done) = read_back.get(&i) {
                    return Some(done.clone());
                }
                if !rescan {
                    return None;
                }
                let done = cells::finished_outcome(&self.jobs[i])?;
                read_back.insert(i, done.clone());
                Some(done)
            })
            .collect()
    }

    /// The failed cells: this process's, and those the folder lists (from any process) with the cells' current
    /// inputs that are not finished since, in cell order.
    fn failures(&self, view: &[Option<CellOutcome>]) -> Result<Vec<FailedCell>> {
        let listed = read_failed(self.folder.path())?;
        Ok(self
            .jobs
            .iter()
            .zip(view)
            .filter_map(|(job, outcome)| match outcome {
                Some(CellOutcome::Failed(error)) => Some(FailedCell {
                    cell: job.name.clone(),
                    error: error.clone(),
                    inputs_sha256: Some(job.inputs_sha256.clone()),
                }),
                Some(CellOutcome::Done(_)) => None,
                None => listed
                    .iter()
                    .find(|f| f.is_of(&job.name, Some(&job.inputs_sha256)))
                    .cloned(),
            })
            .collect())
    }

    /// Writes the long tables of the finished cells and the report into the staging folder `dir`.
    fn write_report(&self, dir: &Path, view: &[Option<CellOutcome>], rows: Vec<SweepRow>) -> Result<()> {
        let finished: Vec<CellSource> = self
            .plan
            .cells
            .iter()
            .zip(view)
            .filter(|(_, o)| matches!(o, Some(CellOutcome::Done(_))))
            .map(|((c, cell_dir), _)| CellSource::of_cell(cell_dir, c))
            .collect();
        let tables = write_long_tables(dir, &finished)?;
        let data = ReportData {
            scenario_yaml: self.plan.scenario_yaml.clone(),
            name: self.plan.name.clone(),
            rows,
            tables,
            showcase: self.plan.showcase.clone(),
            policies: self.plan.policies.clone(),
        };
        write_report(dir, &data)?;
        Ok(())
    }
}

/// The rows of the finished cells, in cell order.
fn rows_of<'a>(
    cells: impl Iterator<Item = &'a SweepCell>,
    outcomes: impl Iterator<Item = Option<&'a CellOutcome>>,
) -> Vec<SweepRow> {
    cells
        .zip(outcomes)
        .flat_map(|(cell, outcome)| match outcome {
            Some(CellOutcome::Done(records)) => records
                .iter()
                .map(|r| SweepRow {
                    cell: cell.label(),
                    params: cell.params.clone(),
                    record: r.clone(),
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}
