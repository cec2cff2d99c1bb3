//! Running a sweep or study on a Slurm cluster with Slurm itself as the scheduler: an sbatch array script whose
//! tasks each run one shard of the cells (`--shard $SLURM_ARRAY_TASK_ID/N`, cells claimed in the shared output
//! folder), and a gather script, submitted with `--dependency=afterany:<array>`, that runs `ddmsim report`. Both
//! are written into the output folder's `slurm/`, and Slurm's logs go to `slurm/logs/`. The scripts use only
//! options Slurm 22.05 accepts. The output folder, the model cache beside it, the scenario and the ddmsim binary
//! must be on a file system every node sees at the same path.

use crate::error::{Error, Result};
use crate::store::{FolderKind, LiveFolder, Protected};
use crate::sweep::Plan;
use std::path::{Path, PathBuf};

/// The array script's path inside the output folder.
pub const ARRAY_SCRIPT: &str = "slurm/array.sbatch";

/// The gather script's path inside the output folder.
pub const GATHER_SCRIPT: &str = "slurm/gather.sbatch";

/// How to lay a sweep or study out as Slurm jobs (`ddmsim slurm`'s flags).
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The output folder (shared by every node).
    pub out_dir: PathBuf,
    /// Array tasks running at once (`--array=0-N%K`; `None`: as many as Slurm allows).
    pub array_parallelism: Option<usize>,
    /// Cells per array task, at most.
    pub cells_per_task: usize,
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time` of each task.
    pub time: Option<String>,
    /// `--mem` of each task (`None`: ddmsim's estimate for its cells).
    pub mem: Option<String>,
    /// `--cpus-per-task`, also the task's worker threads.
    pub cpus_per_task: usize,
    /// More `#SBATCH` options, verbatim (each starts with `-`).
    pub extra: Vec<String>,
    /// Pass `--no-cache` to the tasks.
    pub no_cache: bool,
}

/// A multi-run to lay out: its file, whether it is a study, and its plan.
#[derive(Debug, Clone)]
pub struct SlurmJob<'a> {
    /// The sweep scenario or study file.
    pub file: &'a Path,
    /// Whether `file` is a study (run with `ddmsim study`) rather than a sweep (`ddmsim run`).
    pub study: bool,
    /// The planned cells.
    pub plan: &'a Plan,
}

/// The two scripts and how the cells fall into tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripts {
    /// The array script.
    pub array: String,
    /// The gather script.
    pub gather: String,
    /// Array tasks (shards).
    pub tasks: usize,
    /// Cells in the plan.
    pub cells: usize,
    /// The `--mem` of each task.
    pub mem: String,
}

/// Builds the scripts for `job` with `options`; `ddmsim` is the binary the nodes run and `workdir` the folder
/// they start in. Every path is made absolute.
pub fn scripts(job: &SlurmJob<'_>, options: &SlurmOptions, ddmsim: &Path, workdir: &Path) -> Result<Scripts> {
    check_options(options)?;
    let out = crate::store::absolute(&options.out_dir)?;
    let file = crate::store::absolute(job.file)?;
    for (what, path) in [
        ("--out", &out),
        ("the scenario", &file),
        ("ddmsim", &ddmsim.to_path_buf()),
    ] {
        plain_path(what, path)?;
    }
    plain_path("the working folder", workdir)?;
    let cells = job.plan.cells.len();
    let tasks = cells.div_ceil(options.cells_per_task).max(1);
    check_tasks(cells, tasks, max_array_size())?;
    let estimates = cell_estimates(job.plan)?;
    let mem = match &options.mem {
        Some(mem) => mem.clone(),
        None => task_mem(&estimates, options),
    };
    let places = Places {
        ddmsim,
        workdir,
        out: &out,
        file: &file,
    };
    Ok(Scripts {
        array: array_script(job, options, &places, tasks, &mem),
        gather: gather_script(job, options, &places, &gather_mem(&estimates)),
        tasks,
        cells,
        mem,
    })
}

/// The absolute paths the scripts name.
struct Places<'a> {
    ddmsim: &'a Path,
    workdir: &'a Path,
    out: &'a Path,
    file: &'a Path,
}

/// The array script: `tasks` tasks, each a shard of the cells.
fn array_script(job: &SlurmJob<'_>, options: &SlurmOptions, at: &Places<'_>, tasks: usize, mem: &str) -> String {
    let mut head = vec![
        format!("--job-name=ddmsim-{}", job.plan.name),
        match options.array_parallelism {
            Some(k) => format!("--array=0-{}%{k}", tasks - 1),
            None => format!("--array=0-{}", tasks - 1),
        },
        format!("--cpus-per-task={}", options.cpus_per_task),
        format!("--mem={mem}"),
    ];
    head.extend(options.time.iter().map(|t| format!("--time={t}")));
    head.extend(options.partition.iter().map(|p| format!("--partition={p}")));
    head.extend([
        "--requeue".to_string(),
        "--open-mode=append".to_string(),
        format!("--output={}/slurm/logs/task-%A_%a.log", at.out.display()),
        format!("--chdir={}", at.workdir.display()),
    ]);
    head.extend(options.extra.iter().cloned());
    format!(
        "#!/bin/bash\n\
         # Written by ddmsim {version}: {kind} `{plan}`, {cells} cells as {tasks} array tasks of at most {per} cells.\n\
         # Task I runs the cells whose index is I modulo {tasks}, claiming each in the shared output folder: a\n\
         # requeued, repeated or overlapping task never runs a cell twice, and finished cells are skipped.\n\
         # SIGTERM (preemption, time limit, scancel) abandons the cell in progress cleanly; requeue the task to\n\
         # resume it. Submit with ddmsim slurm --submit, or see `ddmsim slurm --help`.\n\
         {sbatch}\
         echo \"ddmsim shard ${{SLURM_ARRAY_TASK_ID}}/{tasks} on $(hostname), restart ${{SLURM_RESTART_COUNT:-0}}\"\n\
         exec {ddmsim} {command} {file} --out {out} --shard \"${{SLURM_ARRAY_TASK_ID}}/{tasks}\" \\\n    \
         --threads \"${{SLURM_CPUS_PER_TASK:-{cpus}}}\" --quiet{cache}\n",
        version = env!("CARGO_PKG_VERSION"),
        kind = if job.study { "study" } else { "sweep" },
        plan = job.plan.name,
        cells = job.plan.cells.len(),
        per = options.cells_per_task,
        sbatch = sbatch_lines(&head),
        ddmsim = at.ddmsim.display(),
        command = if job.study { "study" } else { "run" },
        file = at.file.display(),
        out = at.out.display(),
        cpus = options.cpus_per_task,
        cache = if options.no_cache { " --no-cache" } else { "" },
    )
}

/// The gather script: `ddmsim report` on the output folder.
fn gather_script(job: &SlurmJob<'_>, options: &SlurmOptions, at: &Places<'_>, mem: &str) -> String {
    let mut head = vec![
        format!("--job-name=ddmsim-{}-gather", job.plan.name),
        "--cpus-per-task=1".to_string(),
        format!("--mem={mem}"),
        "--open-mode=append".to_string(),
        format!("--output={}/slurm/logs/gather-%j.log", at.out.display()),
        format!("--chdir={}", at.workdir.display()),
    ];
    head.extend(options.time.iter().map(|t| format!("--time={t}")));
    head.extend(options.partition.iter().map(|p| format!("--partition={p}")));
    head.extend(options.extra.iter().cloned());
    format!(
        "#!/bin/bash\n\
         # Written by ddmsim {version}: gathers the finished cells of `{plan}` into its tables and report once the\n\
         # array is over (submitted with --dependency=afterany:<array job>); it says which cells are missing.\n\
         {sbatch}\
         exec {ddmsim} report {out}\n",
        version = env!("CARGO_PKG_VERSION"),
        plan = job.plan.name,
        sbatch = sbatch_lines(&head),
        ddmsim = at.ddmsim.display(),
        out = at.out.display(),
    )
}

/// Writes the scripts into the `kind` output folder (created if needed, refused as `ddmsim run` would refuse it)
/// and makes `slurm/logs/` for Slurm's logs.
pub fn write(scripts: &Scripts, out_dir: &Path, kind: FolderKind, protected: &Protected) -> Result<()> {
    let what = format!("--out {}", out_dir.display());
    let folder = LiveFolder::open(out_dir, kind, protected, &what)?;
    let publishing = folder.begin()?;
    let staged = folder.staging()?;
    for (name, text) in [(ARRAY_SCRIPT, &scripts.array), (GATHER_SCRIPT, &scripts.gather)] {
        let path = staged.path().join(name);
        std::fs::create_dir_all(path.parent().expect("in slurm/")).map_err(|e| Error::io("creating", &path, e))?;
        crate::atomic::write_atomic(&path, text.as_bytes())?;
    }
    let logs = out_dir.join("slurm/logs");
    std::fs::create_dir_all(&logs).map_err(|e| Error::io("creating", &logs, e))?;
    folder.publish(&publishing, staged, &|_| false)
}

/// Submits the array script and then the gather script after it; returns their job ids. If the gather job
/// cannot be submitted, the error names the array job already submitted and the command that submits the gather.
pub fn submit(out_dir: &Path) -> Result<(String, String)> {
    let array = sbatch(&[], &out_dir.join(ARRAY_SCRIPT), out_dir)?;
    let dependency = format!("--dependency=afterany:{array}");
    let gather_script = out_dir.join(GATHER_SCRIPT);
    let gather = sbatch(std::slice::from_ref(&dependency), &gather_script, out_dir).map_err(|e| {
        Error::Refused(format!(
            "array job {array} is submitted, but the gather job is not ({e}); once that is fixed, submit it with: \
             sbatch {dependency} {}",
            gather_script.display()
        ))
    })?;
    Ok((array, gather))
}

/// The shell command (one line) that submits the two scripts of `out_dir`, the gather after the array.
pub fn submit_commands(out_dir: &Path) -> String {
    let out = out_dir.display();
    format!(
        "array=$(sbatch --parsable {out}/{ARRAY_SCRIPT}) && sbatch --dependency=afterany:${{array%%;*}} \
         {out}/{GATHER_SCRIPT}"
    )
}

/// Runs `sbatch --parsable ARGS script` (of the output folder `out_dir`) and returns the job id.
fn sbatch(args: &[String], script: &Path, out_dir: &Path) -> Result<String> {
    let output = std::process::Command::new("sbatch")
        .arg("--parsable")
        .args(args)
        .arg(script)
        .output()
        .map_err(|e| {
            Error::Refused(format!(
                "--submit: cannot run sbatch ({e}); is this a Slurm login node? Submit the scripts yourself: {}",
                submit_commands(out_dir)
            ))
        })?;
    if !output.status.success() {
        return Err(Error::Refused(format!(
            "sbatch {} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    // --parsable prints `id` or `id;cluster`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Refused(format!(
            "sbatch {}: printed `{}`, not a job id",
            script.display(),
            text.trim()
        )));
    }
    Ok(id)
}

/// `#SBATCH` lines of `options`.
fn sbatch_lines(options: &[String]) -> String {
    options.iter().map(|o| format!("#SBATCH {o}\n")).collect()
}

/// Refuses flag values that cannot be written into an `#SBATCH` line as they are.
fn check_options(o: &SlurmOptions) -> Result<()> {
    if o.cells_per_task == 0 {
        return Err(Error::invalid("--cells-per-task", "must be at least 1"));
    }
    if o.cpus_per_task == 0 {
        return Err(Error::invalid("--cpus-per-task", "must be at least 1"));
    }
    if o.array_parallelism == Some(0) {
        return Err(Error::invalid("--array-parallelism", "must be at least 1"));
    }
    let values = [("--partition", &o.partition), ("--time", &o.time), ("--mem", &o.mem)];
    for (flag, value) in values {
        if let Some(v) = value
            && (v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control() || c == '#'))
        {
            return Err(Error::invalid(flag, format!("`{v}` is empty or holds spaces or `#`")));
        }
    }
    for extra in &o.extra {
        check_extra(extra)?;
    }
    Ok(())
}

/// The sbatch options ddmsim's scripts set themselves, with the `ddmsim slurm` flag that sets each (if any).
const SET_BY_DDMSIM: [(&str, Option<&str>); 12] = [
    ("--array", Some("--cells-per-task and --array-parallelism")),
    ("--cpus-per-task", Some("--cpus-per-task")),
    ("--mem", Some("--mem")),
    ("--time", Some("--time")),
    ("--partition", Some("--partition")),
    ("--job-name", None),
    ("--output", None),
    ("--error", None),
    ("--chdir", None),
    ("--requeue", None),
    ("--open-mode", None),
    ("--dependency", None),
];

/// Refuses an `--extra` value that is not one long sbatch option (`--name` or `--name=value`) on one line, or
/// that is one the scripts set themselves.
fn check_extra(extra: &str) -> Result<()> {
    let name = extra.split_once('=').map_or(extra, |(name, _)| name);
    let well_formed = name.len() > 2
        && name.starts_with("--")
        && name[2..]
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !extra.chars().any(char::is_control);
    if !well_formed {
        return Err(Error::invalid(
            "--extra",
            format!("`{extra}` is not one long sbatch option on one line (write e.g. --extra '--account=lab')"),
        ));
    }
    if let Some((_, flag)) = SET_BY_DDMSIM.iter().find(|(set, _)| *set == name) {
        let instead = match flag {
            Some(flag) => format!("use ddmsim slurm's {flag}"),
            None => "the scripts rely on their own value".to_string(),
        };
        return Err(Error::invalid(
            "--extra",
            format!("`{extra}`: ddmsim's scripts set {name} themselves; {instead}"),
        ));
    }
    Ok(())
}

/// The largest array Slurm accepts here (`MaxArraySize`, asked of `scontrol`; Slurm's default 1001 when it
/// cannot be asked).
fn max_array_size() -> usize {
    let asked = std::process::Command::new("scontrol")
        .args(["show", "config"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines()
                .find_map(|l| l.strip_prefix("MaxArraySize"))
                .and_then(|rest| rest.trim().trim_start_matches('=').trim().parse().ok())
        });
    asked.unwrap_or(1001)
}

/// Refuses more array tasks than Slurm's `max` array size allows, saying how many cells per task fit.
fn check_tasks(cells: usize, tasks: usize, max: usize) -> Result<()> {
    if tasks <= max {
        return Ok(());
    }
    Err(Error::invalid(
        "--cells-per-task",
        format!(
            "{cells} cells make {tasks} array tasks, more than Slurm's MaxArraySize of {max} here; use \
             --cells-per-task {} or more",
            cells.div_ceil(max.max(1))
        ),
    ))
}

/// Refuses a path Slurm's `#SBATCH` lines and the script's command line could not carry unquoted.
fn plain_path(what: &str, path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "'\"$`\\%#;&|<>()*?".contains(c))
    {
        return Err(Error::Refused(format!(
            "{what}: {text} holds a space or a character special to the shell or to Slurm's file patterns; use a \
             path without them"
        )));
    }
    Ok(())
}

/// The estimated peak memory of each cell's run, in bytes.
fn cell_estimates(plan: &Plan) -> Result<Vec<f64>> {
    plan.cells
        .iter()
        .map(|(cell, _)| Ok(crate::experiment::estimate_scenario(&cell.scenario, &plan.base_dir)?.total()))
        .collect()
}

/// Memory per task: the largest cell's estimate, times the cells a task runs at once (one per CPU, at most its
/// cells), with a quarter more and 256 MiB for the process, in MiB.
fn task_mem(estimates: &[f64], o: &SlurmOptions) -> String {
    let largest = estimates.iter().copied().fold(0.0, f64::max);
    let at_once = o.cpus_per_task.min(o.cells_per_task) as f64;
    let mib = (largest * at_once * 1.25 / MIB).ceil() as u64 + 256;
    format!("{mib}M")
}

/// Memory of the gather job: `ddmsim report` holds every cell's tables at once, so its peak grows by a part of
/// each cell's estimate. Measured with `/usr/bin/time -v ddmsim report` (peak RSS): about 38 MB plus 7 MB per
/// cell of `scenarios/sweep_skew_k.yaml` (estimate 12 MiB a cell; 3, 9 and 18 cells: 59, 103 and 166 MB) and
/// 37 MB plus 27.5 MB per cell of `scenarios/studies/lost_experts_digits.yaml` (estimate 122 MiB; 3, 6 and 10
/// cells: 119, 202 and 312 MB). 128 MiB plus 0.6 of each cell's estimate covers both, with room.
fn gather_mem(estimates: &[f64]) -> String {
    let mib = 128 + (estimates.iter().map(|e| 0.6 * e).sum::<f64>() / MIB).ceil() as u64;
    format!("{mib}M")
}

/// Bytes in a MiB.
const MIB: f64 = 1024.0 * 1024.0;

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> SlurmOptions {
        SlurmOptions {
            out_dir: PathBuf::from("/shared/out"),
            array_parallelism: Some(2),
            cells_per_task: 2,
            partition: Some("debug".into()),
            time: Some("01:00:00".into()),
            mem: Some("2G".into()),
            cpus_per_task: 4,
            extra: vec!["--account=lab".into()],
            no_cache: false,
        }
    }

    #[test]
    fn bad_flag_values_are_refused_naming_the_flag() {
        let mut o = options();
        o.time = Some("1 h".into());
        assert!(check_options(&o).unwrap_err().to_string().starts_with("--time"));
        for bad in [
            "account=lab",
            "-",
            "--",
            "-A lab",
            "--account lab",
            "--output=x.log",
            "--array=0-3",
        ] {
            let mut o = options();
            o.extra = vec![bad.into()];
            let err = check_options(&o).unwrap_err().to_string();
            assert!(err.starts_with("--extra"), "{bad}: {err}");
        }
        let mut o = options();
        o.extra = vec!["--account=lab".into(), "--exclusive".into(), "--gres=gpu:1".into()];
        check_options(&o).unwrap();
        let err = check_tasks(2500, 2500, 1001).unwrap_err().to_string();
        assert!(err.contains("--cells-per-task 3 or more"), "{err}");
        check_tasks(1001, 1001, 1001).unwrap();
        let mut o = options();
        o.cells_per_task = 0;
        assert!(
            check_options(&o)
                .unwrap_err()
                .to_string()
                .starts_with("--cells-per-task")
        );
        assert!(plain_path("--out", Path::new("/a b")).is_err());
        assert!(plain_path("--out", Path::new("/a/b-c_d.e")).is_ok());
    }

    /// The gather job's memory for `file` (a sweep or study of the bundled ones), in MB.
    fn gather_mb(file: &str) -> f64 {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(file);
        let out = Path::new("/tmp/unused");
        let plan = if crate::study::is_study_file(&path).unwrap() {
            crate::study::plan_study(&crate::study::load(&path).unwrap(), out)
        } else {
            crate::sweep::plan_sweep(&crate::scenario::load(&path).unwrap(), out).unwrap()
        };
        let mem = gather_mem(&cell_estimates(&plan).unwrap());
        mem.trim_end_matches('M').parse::<f64>().unwrap() * MIB / 1e6
    }

    #[test]
    fn the_gather_job_asks_for_more_than_the_measured_peak_of_ddmsim_report() {
        // Peak RSS of `ddmsim report` on the finished folders (see gather_mem): 166 MB and 312 MB.
        let gmm = gather_mb("scenarios/sweep_skew_k.yaml");
        assert!((166.0 * 1.2..166.0 * 4.0).contains(&gmm), "{gmm} MB");
        let digits = gather_mb("scenarios/studies/lost_experts_digits.yaml");
        assert!((312.0 * 1.2..312.0 * 4.0).contains(&digits), "{digits} MB");
    }
}
