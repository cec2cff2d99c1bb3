//! `ddmsim slurm`: its arguments; it loads a sweep or study, writes its Slurm scripts into the output folder, and
//! submits them or says the commands that do.

use anyhow::{Context, Result};
use ddmsim::slurm::{SlurmJob, SlurmOptions};
use ddmsim::store::{FolderKind, Protected};
use ddmsim::sweep::Plan;
use std::path::{Path, PathBuf};

/// `ddmsim slurm`'s arguments.
#[derive(Debug, clap::Args)]
pub struct SlurmArgs {
    /// The sweep scenario (a scenario with `sweep:`) or study file.
    pub(crate) file: PathBuf,
    /// Output folder, on a file system every node shares (default: reports/<name in the file>).
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Array tasks running at once (default: as many as the cluster allows).
    #[arg(long, value_name = "K")]
    pub(crate) array_parallelism: Option<usize>,
    /// Cells per array task (schedulers dislike many tiny jobs).
    #[arg(long, value_name = "M", default_value_t = 1)]
    pub(crate) cells_per_task: usize,
    /// Slurm partition of every job.
    #[arg(long)]
    pub(crate) partition: Option<String>,
    /// Time limit of each array task, as sbatch takes it (e.g. 02:00:00).
    #[arg(long)]
    pub(crate) time: Option<String>,
    /// Memory of each array task, as sbatch takes it (default: ddmsim's estimate for the cells a task runs at
    /// once).
    #[arg(long)]
    pub(crate) mem: Option<String>,
    /// CPUs of each array task; the task runs that many worker threads.
    #[arg(long, default_value_t = 1)]
    pub(crate) cpus_per_task: usize,
    /// One more long sbatch option for every job, e.g. --extra '--account=lab' (repeatable; not one the scripts set
    /// themselves, such as --array or --output).
    #[arg(long = "extra", value_name = "OPTION", allow_hyphen_values = true)]
    pub(crate) extra: Vec<String>,
    /// Submit the jobs with sbatch and print their ids (otherwise print the commands that submit them).
    #[arg(long)]
    pub(crate) submit: bool,
    /// The tasks always train (no model cache).
    #[arg(long)]
    pub(crate) no_cache: bool,
}

/// Loads the sweep or study `file` and plans it into `out` (default `reports/<name>`): the plan, whether it is a
/// study, and the absolute output folder.
fn load_plan(file: &Path, out: Option<&Path>) -> Result<(Plan, bool, PathBuf)> {
    let out_of = |name: &str| -> Result<PathBuf> {
        let out = out.map_or_else(|| PathBuf::from("reports").join(name), Path::to_path_buf);
        Ok(ddmsim::store::absolute(&out)?)
    };
    if ddmsim::study::is_study_file(file)? {
        let loaded = ddmsim::study::load(file)?;
        let out_dir = out_of(&loaded.study.name)?;
        return Ok((ddmsim::study::plan_study(&loaded, &out_dir), true, out_dir));
    }
    let loaded = ddmsim::scenario::load(file)?;
    anyhow::ensure!(
        !loaded.scenario.sweep.is_empty(),
        "{}: has no `sweep`; `ddmsim slurm` runs sweeps and studies (run a single scenario with `ddmsim run`)",
        file.display()
    );
    let out_dir = out_of(&loaded.scenario.name)?;
    Ok((ddmsim::sweep::plan_sweep(&loaded, &out_dir)?, false, out_dir))
}

/// Runs `ddmsim slurm`; returns what to print.
pub fn run(args: &SlurmArgs) -> Result<String> {
    let (plan, study, out_dir) = load_plan(&args.file, args.out.as_deref())?;
    let options = SlurmOptions {
        out_dir: out_dir.clone(),
        array_parallelism: args.array_parallelism,
        cells_per_task: args.cells_per_task,
        partition: args.partition.clone(),
        time: args.time.clone(),
        mem: args.mem.clone(),
        cpus_per_task: args.cpus_per_task,
        extra: args.extra.clone(),
        no_cache: args.no_cache,
    };
    let ddmsim_bin = std::env::current_exe().context("finding the ddmsim binary the nodes are to run")?;
    let workdir = std::env::current_dir().context("reading the working folder")?;
    let job = SlurmJob {
        file: &args.file,
        study,
        plan: &plan,
    };
    let scripts = ddmsim::slurm::scripts(&job, &options, &ddmsim_bin, &workdir)?;
    let mut inputs = vec![args.file.clone()];
    inputs.extend(plan.inputs.iter().cloned());
    let cache = (!args.no_cache).then(|| ddmsim::store::default_cache_dir(&out_dir));
    let kind = if study { FolderKind::Study } else { FolderKind::Sweep };
    ddmsim::slurm::write(&scripts, &out_dir, kind, &Protected { inputs, cache })?;
    let mut text = format!(
        "wrote {out}/{array} ({cells} cells as {tasks} array tasks of at most {per} cells, --mem={mem} each) and \
         {out}/{gather}\n",
        out = out_dir.display(),
        array = ddmsim::slurm::ARRAY_SCRIPT,
        gather = ddmsim::slurm::GATHER_SCRIPT,
        cells = scripts.cells,
        tasks = scripts.tasks,
        per = args.cells_per_task,
        mem = scripts.mem,
    );
    if args.submit {
        let (array, gather) = ddmsim::slurm::submit(&out_dir)?;
        text.push_str(&format!(
            "submitted array job {array} ({} tasks) and gather job {gather} (after the array)\n",
            scripts.tasks
        ));
    } else {
        text.push_str("submit them with:\n");
        text.push_str(&ddmsim::slurm::submit_commands(&out_dir));
        text.push('\n');
    }
    Ok(text)
}
