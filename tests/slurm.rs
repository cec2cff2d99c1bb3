//! A real single-node Slurm on localhost (Debian's `slurm-wlm` and `munge`), started by the test in a temporary
//! folder: `ddmsim slurm --submit` runs a 6-cell sweep as an array of 3 tasks of 2 cells plus the gather job, and
//! the gathered table equals a single-machine run's; then a task is cancelled mid-cell and requeued, and the table
//! is still identical. Runs when `DDMSIM_SLURM_TEST=1` (`.ci/run` sets it and installs Slurm); otherwise it says
//! why it is skipped. It refuses to start when a Slurm daemon is already running, and stops only the daemons it
//! started, by the PIDs in their pid files. Its transcript goes to stderr and to `target/tmp/slurm-ci.log`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SWITCH: &str = "DDMSIM_SLURM_TEST";

/// The test's transcript: stderr and a file under the target folder.
struct Transcript {
    file: std::fs::File,
}

impl Transcript {
    fn new() -> Self {
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("slurm-ci.log");
        Transcript {
            file: std::fs::File::create(path).unwrap(),
        }
    }

    fn say(&mut self, text: &str) {
        eprintln!("{text}");
        writeln!(self.file, "{text}").unwrap();
    }
}

/// Runs `program args`, returning stdout; panics with stderr on failure.
fn run(program: &str, args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut command = Command::new(program);
    command.args(args);
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether `program` is running (by exact name).
fn running(program: &str) -> bool {
    Command::new("pgrep")
        .args(["-x", program])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The daemons this test started, stopped by PID on drop.
struct Cluster {
    dir: tempfile::TempDir,
    conf: PathBuf,
    pids: Vec<(String, PathBuf)>,
}

impl Cluster {
    fn start(say: &mut Transcript) -> Cluster {
        for daemon in ["slurmctld", "slurmd"] {
            assert!(
                !running(daemon),
                "a {daemon} is already running: this test starts its own Slurm and stops only what it started; stop \
                 the running one first"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let mut cluster = Cluster {
            conf: dir.path().join("slurm.conf"),
            dir,
            pids: Vec::new(),
        };
        cluster.start_munge(say);
        cluster.write_conf();
        let conf = cluster.conf.to_string_lossy().into_owned();
        run("/usr/sbin/slurmctld", &["-f", &conf, "-i"], &[]);
        cluster
            .pids
            .push(("slurmctld".into(), cluster.dir.path().join("ctld.pid")));
        run("/usr/sbin/slurmd", &["-f", &conf], &[]);
        cluster.pids.push(("slurmd".into(), cluster.dir.path().join("d.pid")));
        let started = Instant::now();
        loop {
            let state = cluster.slurm("sinfo", &["-h", "-o", "%T"]);
            if state.trim() == "idle" {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the node never became idle: {state}"
            );
            std::thread::sleep(Duration::from_millis(500));
        }
        say.say(&format!("slurm: {}", cluster.slurm("sinfo", &[]).trim_end()));
        cluster
    }

    /// Starts munged unless a working one is there (then it is not ours to stop).
    fn start_munge(&mut self, say: &mut Transcript) {
        let works = || {
            Command::new("sh")
                .args(["-c", "munge -n | unmunge"])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if works() {
            say.say("munge: already running");
            return;
        }
        let key = Path::new("/etc/munge/munge.key");
        if !key.exists() {
            run(
                "dd",
                &["if=/dev/urandom", "bs=1", "count=1024", "of=/etc/munge/munge.key"],
                &[],
            );
        }
        std::fs::create_dir_all("/run/munge").unwrap();
        run("chown", &["-R", "munge:munge", "/etc/munge", "/run/munge"], &[]);
        run("chmod", &["400", "/etc/munge/munge.key"], &[]);
        run("su", &["-s", "/bin/sh", "munge", "-c", "/usr/sbin/munged"], &[]);
        self.pids
            .push(("munged".into(), PathBuf::from("/run/munge/munged.pid")));
        let started = Instant::now();
        while !works() {
            assert!(started.elapsed() < Duration::from_secs(20), "munged did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        say.say("munge: started");
    }

    fn write_conf(&self) {
        let d = self.dir.path().display();
        let host = run("hostname", &["-s"], &[]).trim().to_string();
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        for sub in ["state", "spool"] {
            std::fs::create_dir_all(self.dir.path().join(sub)).unwrap();
        }
        let conf = format!(
            "ClusterName=local\nSlurmctldHost={host}\nAuthType=auth/munge\nProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\nSlurmUser=root\nStateSaveLocation={d}/state\nSlurmdSpoolDir={d}/spool\n\
             SlurmctldLogFile={d}/ctld.log\nSlurmdLogFile={d}/d.log\nSlurmctldPidFile={d}/ctld.pid\n\
             SlurmdPidFile={d}/d.pid\nSchedulerType=sched/backfill\nSelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\nReturnToService=2\nMinJobAge=600\n\
             NodeName={host} CPUs={cpus} RealMemory=2000 State=UNKNOWN\n\
             PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP\n"
        );
        std::fs::write(&self.conf, conf).unwrap();
    }

    /// Runs a Slurm client command against this cluster.
    fn slurm(&self, program: &str, args: &[&str]) -> String {
        run(program, args, &[("SLURM_CONF", &self.conf)])
    }

    /// `job state` lines of the jobs `ids` (finished ones included).
    fn states(&self, ids: &[&str]) -> Vec<(String, String)> {
        let list = ids.join(",");
        self.slurm("squeue", &["-h", "-t", "all", "-j", &list, "-o", "%i %T"])
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_string(), b.to_string())))
            .collect()
    }

    /// Waits until none of `ids` is pending or running.
    fn wait_done(&self, ids: &[&str], limit: Duration) -> Vec<(String, String)> {
        let started = Instant::now();
        loop {
            let states = self.states(ids);
            let live = states.iter().any(|(_, s)| {
                matches!(
                    s.as_str(),
                    "PENDING" | "RUNNING" | "CONFIGURING" | "COMPLETING" | "REQUEUED"
                )
            });
            if !live && !states.is_empty() {
                return states;
            }
            assert!(
                started.elapsed() < limit,
                "jobs still running after {limit:?}: {states:?}"
            );
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (name, pid_file) in self.pids.iter().rev() {
            if let Ok(pid) = std::fs::read_to_string(pid_file) {
                let pid = pid.trim();
                let _ = Command::new("kill").arg(pid).status();
                eprintln!("stopped {name} (pid {pid})");
            }
        }
    }
}

/// The 6-cell tiny sweep with `rounds` federated rounds per model, written as `name` into `dir`.
fn sweep_file(dir: &Path, name: &str, rounds: usize) -> PathBuf {
    let tiny = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tiny.yaml")).unwrap();
    assert!(
        tiny.contains("federation: { rounds: 3,"),
        "tiny.yaml changed: update this test"
    );
    let text = tiny.replace("federation: { rounds: 3,", &format!("federation: {{ rounds: {rounds},"));
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!("{text}\nsweep: {{ clients.partition.alpha: [0.3, 1000, 1], seed: [3, 4] }}\n"),
    )
    .unwrap();
    path
}

/// Runs the sweep on this machine alone (the reference table).
fn single_machine(file: &Path, out: &Path) {
    let status = Command::new(env!("CARGO_BIN_EXE_ddmsim"))
        .args(["run", "--quiet", "--no-cache", "--out"])
        .arg(out)
        .arg(file)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Submits `file` with `ddmsim slurm ... --submit`; returns the array and gather job ids.
fn submit(cluster: &Cluster, file: &Path, out: &Path, extra: &[&str], say: &mut Transcript) -> (String, String) {
    let mut args = vec!["slurm", file.to_str().unwrap(), "--out", out.to_str().unwrap()];
    args.extend(["--cells-per-task", "2", "--no-cache", "--submit"]);
    args.extend(extra);
    let stdout = run(env!("CARGO_BIN_EXE_ddmsim"), &args, &[("SLURM_CONF", &cluster.conf)]);
    say.say(&format!("$ ddmsim {}\n{}", args.join(" "), stdout.trim_end()));
    // "submitted array job A (3 tasks) and gather job G (after the array)"
    let line = stdout
        .lines()
        .find(|l| l.starts_with("submitted"))
        .expect("no job ids printed");
    let words: Vec<&str> = line.split_whitespace().collect();
    (words[3].to_string(), words[9].to_string())
}

fn same_table(a: &Path, b: &Path) -> bool {
    std::fs::read(a.join("results.parquet")).unwrap() == std::fs::read(b.join("results.parquet")).unwrap()
}

#[test]
fn a_sweep_runs_as_a_slurm_array_and_survives_a_cancelled_and_requeued_task() {
    if std::env::var(SWITCH).as_deref() != Ok("1") {
        eprintln!(
            "skipped: set {SWITCH}=1 to run the Slurm test (it needs root and Debian's slurm-wlm and munge, which \
             .ci/run installs; it starts and stops its own single-node Slurm)"
        );
        return;
    }
    let mut say = Transcript::new();
    let cluster = Cluster::start(&mut say);
    let work = tempfile::tempdir().unwrap();
    let w = work.path();

    // 1. Six cells as three array tasks of two cells, and the gather job after them.
    let fast = sweep_file(w, "sweep.yaml", 3);
    let (array, gather) = submit(&cluster, &fast, &w.join("out"), &[], &mut say);
    single_machine(&fast, &w.join("reference"));
    let states = cluster.wait_done(&[&array, &gather], Duration::from_secs(600));
    say.say(&format!("job states: {states:?}"));
    assert_eq!(states.len(), 4, "3 tasks and the gather job: {states:?}");
    assert!(states.iter().all(|(_, s)| s == "COMPLETED"), "{states:?}");
    let gathered = std::fs::read_to_string(w.join(format!("out/slurm/logs/gather-{gather}.log"))).unwrap();
    say.say(&format!("gather log:\n{}", gathered.trim_end()));
    assert!(gathered.contains("gathered 6 of 6 cells"), "{gathered}");
    assert!(
        same_table(&w.join("out"), &w.join("reference")),
        "the gathered table differs"
    );
    say.say("results.parquet: identical to the single-machine run (results tables hold no timing columns)");

    // 2. A slower sweep, one task at a time: task 0 is cancelled mid-cell, then requeued.
    let slow = sweep_file(w, "slow.yaml", 800);
    let out = w.join("slow-out");
    let (array, gather) = submit(&cluster, &slow, &out, &["--array-parallelism", "1"], &mut say);
    let task = format!("{array}_0");
    let started = Instant::now();
    loop {
        let claimed = std::fs::read_to_string(out.join("claims.log")).unwrap_or_default();
        if claimed
            .lines()
            .filter(|l| l.contains(&task) && l.contains("\tclaimed\t"))
            .count()
            >= 2
        {
            break; // its second cell is under way
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "task 0 never reached its second cell"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    cluster.slurm("scancel", &[&task]);
    let cancelled = cluster.wait_done(&[&task], Duration::from_secs(120));
    say.say(&format!("after scancel {task}: {cancelled:?}"));
    assert_eq!(cancelled[0].1, "CANCELLED");
    let log = std::fs::read_to_string(out.join("claims.log")).unwrap();
    let abandoned: Vec<&str> = log.lines().filter(|l| l.contains("\tabandoned\t")).collect();
    assert_eq!(abandoned.len(), 1, "{log}");
    assert!(
        abandoned[0].contains("SIGTERM received") && abandoned[0].contains(&task),
        "{log}"
    );
    let cell = abandoned[0].split('\t').nth(6).unwrap().to_string();
    cluster.slurm("scontrol", &["requeue", &task]);
    // Slurm holds a requeued job back for a while (its begin time); let it start at once.
    cluster.slurm("scontrol", &["update", &format!("JobId={task}"), "StartTime=now"]);
    say.say(&format!("scontrol requeue {task}: {:?}", cluster.states(&[&task])));
    single_machine(&slow, &w.join("slow-reference"));
    let states = cluster.wait_done(&[&array, &gather], Duration::from_secs(900));
    say.say(&format!("job states: {states:?}"));
    assert!(states.iter().all(|(_, s)| s == "COMPLETED"), "{states:?}");
    let log = std::fs::read_to_string(out.join("claims.log")).unwrap();
    say.say(&format!("claims.log:\n{}", log.trim_end()));
    let finished: Vec<&str> = log.lines().filter(|l| l.contains("\tfinished\t")).collect();
    assert_eq!(finished.len(), 6, "every cell finished exactly once:\n{log}");
    assert!(
        finished.iter().any(|l| l.contains(&cell) && l.contains(&task)),
        "the requeued task did not finish the cell it abandoned:\n{log}"
    );
    assert!(
        same_table(&out, &w.join("slow-reference")),
        "the table differs after the requeue"
    );
    say.say("results.parquet after the requeue: identical to the single-machine run");
}
