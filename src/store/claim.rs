//! Claiming a cell of a sweep or study before running it, so that any number of processes on any number of hosts
//! sharing the output folder (overlapping shards, a requeued Slurm task, a second submission) never run one cell
//! twice. A claim is a file beside the cell's folder, `.<cell>.ddmsim-claim-<n>`, created exclusively
//! (`O_EXCL`, atomic on local and network file systems) and holding its claimant: host, process, start time and
//! Slurm job. The holder keeps an advisory lock on it and refreshes its modification time every [`HEARTBEAT`].
//!
//! A claim whose holder is gone is taken over by creating the next number: only one process can create it, and
//! a taker that finds a higher number after creating its own backs off, so the highest claim is the one live
//! holder. A holder is gone when its lock is free (same host only: locks are not trusted across hosts), when it is
//! an earlier run of the taker's own requeued Slurm job, when `squeue` no longer lists its Slurm job as running,
//! or when its heartbeat is older than the stale timeout. Every claim, takeover, release and wait is appended to
//! the folder's claim log.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

/// How often a holder refreshes its claim's modification time.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// The default age of a heartbeat after which a claim from another host counts as abandoned.
pub const DEFAULT_STALE: Duration = Duration::from_secs(300);

/// The shortest stale timeout allowed: three heartbeats, so a live holder on a busy file system is never judged
/// gone.
pub const MIN_STALE: Duration = Duration::from_secs(3 * HEARTBEAT.as_secs());

/// Part of the names of claim files.
pub const CLAIM_INFIX: &str = ".ddmsim-claim-";

/// Name of the claim log in a sweep's or study's folder.
pub const CLAIM_LOG: &str = "claims.log";

/// How long an unreadable claim (its holder is writing it) counts as live.
const UNREADABLE_GRACE: Duration = Duration::from_secs(60);

/// Who claims: written into every claim file and log line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claimant {
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
    /// When the process started claiming (RFC 3339, UTC).
    pub started: String,
    /// `SLURM_JOB_ID`, when run by Slurm.
    #[serde(default)]
    pub slurm_job: Option<String>,
    /// `SLURM_ARRAY_JOB_ID_SLURM_ARRAY_TASK_ID`, when run as an array task.
    #[serde(default)]
    pub slurm_task: Option<String>,
    /// `SLURM_RESTART_COUNT`: how many times Slurm requeued the job (0 when not run by Slurm).
    #[serde(default)]
    pub restart: u32,
    /// The shard the process runs, `I/N`.
    pub shard: String,
}

impl Claimant {
    /// This process, running shard `shard` (`I/N`), as Slurm's environment describes it.
    pub fn this_process(shard: &str) -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let slurm_task = match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
            (Some(job), Some(task)) => Some(format!("{job}_{task}")),
            _ => None,
        };
        Claimant {
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            started: now_rfc3339(),
            slurm_job: var("SLURM_JOB_ID"),
            slurm_task,
            restart: var("SLURM_RESTART_COUNT").and_then(|v| v.parse().ok()).unwrap_or(0),
            shard: shard.to_string(),
        }
    }

    /// `host pid N (Slurm task T)`, for messages.
    pub fn describe(&self) -> String {
        let job = match (&self.slurm_task, &self.slurm_job) {
            (Some(task), _) => format!(", Slurm task {task}"),
            (None, Some(job)) => format!(", Slurm job {job}"),
            _ => String::new(),
        };
        format!("{} pid {}{job}, since {}", self.host, self.pid, self.started)
    }
}

/// The current time in RFC 3339 (UTC, seconds).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

/// The claim log of a sweep's or study's folder: one tab-separated line per event (time, host, pid, Slurm task,
/// shard, event, cell, detail), appended with one write each.
#[derive(Debug, Clone)]
pub struct ClaimLog {
    path: PathBuf,
    me: Claimant,
}

impl ClaimLog {
    /// The log at `path`, written as `me`.
    pub fn new(path: PathBuf, me: Claimant) -> Self {
        ClaimLog { path, me }
    }

    /// Who writes.
    pub fn claimant(&self) -> &Claimant {
        &self.me
    }

    /// Appends `event` about `cell`.
    pub fn append(&self, event: &str, cell: &str, detail: &str) -> Result<()> {
        let me = &self.me;
        let task = me.slurm_task.as_deref().or(me.slurm_job.as_deref()).unwrap_or("-");
        let clean = |s: &str| s.replace(['\t', '\n', '\r'], " ");
        let line = format!(
            "{}\t{}\t{}\t{task}\t{}\t{event}\t{}\t{}\n",
            now_rfc3339(),
            clean(&me.host),
            me.pid,
            me.shard,
            clean(cell),
            clean(detail)
        );
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| Error::write(&self.path, e))?;
        file.write_all(line.as_bytes()).map_err(|e| Error::write(&self.path, e))
    }
}

/// A claim held by this process; released (its file removed) when dropped, logging `abandoned` unless
/// [`Claim::release`] said otherwise.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    cell: String,
    log: ClaimLog,
    file: Option<File>,
    heartbeat: Option<mpsc::Sender<()>>,
    released: bool,
    _forced: crate::interrupt::ForcedExitAction,
}

impl Claim {
    /// Releases the claim after `event` (`finished`, `failed`, ...) with `detail`.
    pub fn release(mut self, event: &str, detail: &str) -> Result<()> {
        self.released = true;
        self.remove();
        self.log.append(event, &self.cell, detail)
    }

    /// Drops a claim that lost a race without logging it (it was never announced).
    fn released_silently(mut self) {
        self.released = true;
        self.remove();
    }

    fn remove(&mut self) {
        self.heartbeat.take();
        // Removed while still locked: a taker that opened it sees it is gone.
        let _ = std::fs::remove_file(&self.path);
        if let Some(file) = self.file.take() {
            let _ = file.unlock();
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        if !self.released {
            self.remove();
            let why = crate::interrupt::received()
                .map(|s| format!("{} received", crate::interrupt::signal_name(s)))
                .unwrap_or_else(|| "the run stopped".into());
            let _ = self.log.append("abandoned", &self.cell, &why);
        }
    }
}

/// What came of trying to claim a cell.
#[derive(Debug)]
pub enum Attempt {
    /// The cell is ours to run.
    Taken(Box<Claim>),
    /// Another live process holds it (described).
    Busy(String),
}

/// Tries to claim the cell whose folder is `cell_dir` (`label` names it in the log); a claim from another host
/// counts as abandoned once its heartbeat is older than `stale`.
pub fn try_claim(cell_dir: &Path, label: &str, log: &ClaimLog, stale: Duration) -> Result<Attempt> {
    let parent = super::parent_of(cell_dir);
    std::fs::create_dir_all(&parent).map_err(|e| Error::io("creating", &parent, e))?;
    let prefix = claim_prefix(cell_dir);
    for _ in 0..100 {
        let existing = claims(&parent, &prefix)?;
        let (number, took_over) = match existing.last() {
            None => (0, None),
            Some((n, path)) => match judge(path, log.claimant(), stale)? {
                Judgement::Live(holder) => return Ok(Attempt::Busy(holder)),
                Judgement::Gone(holder, why) => {
                    let next = n.checked_add(1).ok_or_else(|| {
                        Error::Refused(format!(
                            "{}: is numbered past what ddmsim writes; remove it",
                            path.display()
                        ))
                    })?;
                    (next, Some(format!("took over from {holder}: {why}")))
                }
                Judgement::Vanished => continue,
            },
        };
        let path = parent.join(format!("{prefix}{number}"));
        let Some(file) = create_exclusive(&path)? else {
            continue;
        };
        write_claimant(&file, &path, log.claimant())?;
        let higher = claims(&parent, &prefix)?.into_iter().any(|(n, _)| n > number);
        let claim = held(path, file, label, log);
        if higher {
            claim.released_silently();
            continue;
        }
        for (n, old) in existing {
            if n < number {
                let _ = std::fs::remove_file(old);
            }
        }
        log.append("claimed", label, took_over.as_deref().unwrap_or(""))?;
        return Ok(Attempt::Taken(Box::new(claim)));
    }
    Err(Error::Refused(format!(
        "{}: its claim files keep changing under ddmsim; is another program removing them?",
        cell_dir.display()
    )))
}

/// Removes the claims left beside finished cells (`cells`: folder and label) by holders that are gone (a process killed
/// between finishing a cell and releasing it), logging each: a claim on a finished cell is never taken over.
/// Each parent folder is listed once.
pub fn clear_finished(cells: &[(&Path, &str)], log: &ClaimLog, stale: Duration) -> Result<()> {
    let mut listed: std::collections::HashMap<PathBuf, Vec<String>> = std::collections::HashMap::new();
    for &(cell_dir, label) in cells {
        let parent = super::parent_of(cell_dir);
        if !listed.contains_key(&parent) {
            listed.insert(parent.clone(), claim_names(&parent)?);
        }
        let prefix = claim_prefix(cell_dir);
        if !listed[&parent].iter().any(|name| name.starts_with(&prefix)) {
            continue;
        }
        for (_, path) in claims(&parent, &prefix)? {
            if let Judgement::Gone(holder, why) = judge(&path, log.claimant(), stale)?
                && std::fs::remove_file(&path).is_ok()
            {
                log.append(
                    "cleared",
                    label,
                    &format!("claim of {holder} on a finished cell: {why}"),
                )?;
            }
        }
    }
    Ok(())
}

/// The names of the claim files in `parent` (none if it does not exist).
fn claim_names(parent: &Path) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(parent) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::read(parent, e)),
    };
    Ok(entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(CLAIM_INFIX))
        .collect())
}

/// The prefix of the claim files of `cell_dir`, in its parent folder.
fn claim_prefix(cell_dir: &Path) -> String {
    let name = cell_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cell".into());
    format!(".{name}{CLAIM_INFIX}")
}

/// The claim files with `prefix` in `parent`, by number.
fn claims(parent: &Path, prefix: &str) -> Result<Vec<(u64, PathBuf)>> {
    let entries = std::fs::read_dir(parent).map_err(|e| Error::read(parent, e))?;
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(n) = name.strip_prefix(prefix).and_then(|n| n.parse::<u64>().ok()) {
            found.push((n, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Creates `path` exclusively and locks it; `None` if it exists already.
fn create_exclusive(path: &Path) -> Result<Option<File>> {
    let file = match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(Error::io("creating", path, e)),
    };
    // A file system without locks (some cluster mounts) still has the heartbeat.
    let _ = file.try_lock();
    Ok(Some(file))
}

fn write_claimant(mut file: &File, path: &Path, me: &Claimant) -> Result<()> {
    let json = serde_json::to_string_pretty(me).expect("a claimant serialises");
    file.write_all(json.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| Error::write(path, e))
}

/// A claim held from now on: heartbeat started, removal registered for a forced exit.
fn held(path: PathBuf, file: File, label: &str, log: &ClaimLog) -> Claim {
    let heartbeat = file.try_clone().ok().map(|beat| {
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(HEARTBEAT) {
                let _ = beat.set_modified(SystemTime::now());
            }
        });
        stop
    });
    let (forced_path, forced_log, forced_cell) = (path.clone(), log.clone(), label.to_string());
    let forced = crate::interrupt::on_forced_exit(move || {
        let _ = std::fs::remove_file(&forced_path);
        let _ = forced_log.append("abandoned", &forced_cell, "ended by force after a signal");
    });
    Claim {
        path,
        cell: label.to_string(),
        log: log.clone(),
        file: Some(file),
        heartbeat,
        released: false,
        _forced: forced,
    }
}

/// Whether a claim's holder is alive.
enum Judgement {
    /// Alive: its description.
    Live(String),
    /// Gone: its description and why it counts as gone.
    Gone(String, String),
    /// The claim file disappeared while being looked at.
    Vanished,
}

/// Judges the claim at `path` (see the module's rules).
fn judge(path: &Path, me: &Claimant, stale: Duration) -> Result<Judgement> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_file() => {
            let why = "not a claim file (ddmsim writes only files there)".to_string();
            return Ok(Judgement::Gone("something else at a claim's name".into(), why));
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Judgement::Vanished),
        Err(e) => return Err(Error::read(path, e)),
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Judgement::Vanished),
        Err(e) => return Err(Error::read(path, e)),
    };
    let Some(age) = heartbeat_age(path) else {
        return Ok(Judgement::Vanished);
    };
    let Ok(holder) = serde_json::from_slice::<Claimant>(&bytes) else {
        return Ok(if age > UNREADABLE_GRACE {
            Judgement::Gone(
                "an unreadable claim".into(),
                format!("unchanged for {} s", age.as_secs()),
            )
        } else {
            Judgement::Live("a claimant still writing its claim".into())
        });
    };
    let who = holder.describe();
    if holder.slurm_job.is_some() && holder.slurm_job == me.slurm_job && holder.restart < me.restart {
        let why = format!("an earlier run of this Slurm job (restart {})", holder.restart);
        return Ok(Judgement::Gone(who, why));
    }
    if holder.host == me.host {
        match lock_is_free(path) {
            // Released between reading and locking: the holder finished, it did not die.
            Some(true) if heartbeat_age(path).is_none() => return Ok(Judgement::Vanished),
            Some(true) => return Ok(Judgement::Gone(who, "its process ended (its lock is free)".into())),
            Some(false) => return Ok(Judgement::Live(who)),
            None => {}
        }
    }
    // Slurm's word comes before the heartbeat: a suspended job sends none but is alive.
    match holder.slurm_job.as_deref().and_then(slurm_job_ended) {
        Some(true) => {
            let job = holder.slurm_job.as_deref().unwrap_or_default();
            return Ok(Judgement::Gone(who, format!("Slurm job {job} is no longer running")));
        }
        Some(false) => return Ok(Judgement::Live(who)),
        None => {}
    }
    if age > stale {
        let why = format!("no heartbeat for {} s", age.as_secs());
        return Ok(Judgement::Gone(who, why));
    }
    Ok(Judgement::Live(who))
}

/// How long ago the claim at `path` was last refreshed (`None`: it is gone).
fn heartbeat_age(path: &Path) -> Option<Duration> {
    let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    Some(SystemTime::now().duration_since(modified).unwrap_or_default())
}

/// Whether nobody holds the lock on `path` (`None`: the file system cannot say, or the file is gone).
fn lock_is_free(path: &Path) -> Option<bool> {
    match super::FileLock::try_existing(path) {
        Ok(Some(_free)) => Some(true),
        Ok(None) if path.exists() => Some(false),
        Ok(None) | Err(_) => None,
    }
}

/// How long `squeue`'s answer about a job is reused (waiting cells are looked at every few seconds; Slurm's
/// controller should not be asked that often).
const SQUEUE_TTL: Duration = Duration::from_secs(30);

/// Whether Slurm job `job` ended, as `squeue` said within the last [`SQUEUE_TTL`] (see [`ask_squeue`]).
fn slurm_job_ended(job: &str) -> Option<bool> {
    type Answers = std::collections::HashMap<String, (std::time::Instant, Option<bool>)>;
    static ANSWERS: std::sync::Mutex<Option<Answers>> = std::sync::Mutex::new(None);
    let mut answers = ANSWERS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let answers = answers.get_or_insert_with(Answers::new);
    if let Some((at, answer)) = answers.get(job)
        && at.elapsed() < SQUEUE_TTL
    {
        return *answer;
    }
    let answer = ask_squeue(job);
    answers.insert(job.to_string(), (std::time::Instant::now(), answer));
    answer
}

/// Whether `squeue` says Slurm job `job` no longer runs the process that claimed (`Some(false)`: it is running,
/// suspended or ending; `None`: Slurm cannot be asked here).
fn ask_squeue(job: &str) -> Option<bool> {
    let out = std::process::Command::new("squeue")
        .args(["--noheader", "--jobs", job, "--format", "%T"])
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return String::from_utf8_lossy(&out.stderr)
            .contains("Invalid job id")
            .then_some(true);
    }
    // Only a job that runs (or is suspended, or still unwinding) can hold a claim: a pending or requeued job's
    // claims are from an earlier run of it.
    let live = ["RUNNING", "COMPLETING", "SUSPENDED", "STOPPED", "RESIZING"];
    Some(!stdout.lines().any(|state| live.contains(&state.trim())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(dir: &Path, host: &str, job: Option<&str>, restart: u32) -> ClaimLog {
        let mut me = Claimant::this_process("0/1");
        me.host = host.into();
        me.slurm_job = job.map(String::from);
        me.restart = restart;
        ClaimLog::new(dir.join(CLAIM_LOG), me)
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_held_claim_is_busy_for_others_and_gone_once_released() {
        let dir = tempfile::tempdir().unwrap();
        let cell = dir.path().join("cells/a");
        let me = log(dir.path(), "h", None, 0);
        let Attempt::Taken(claim) = try_claim(&cell, "a", &me, DEFAULT_STALE).unwrap() else {
            panic!("a free cell was not claimed")
        };
        assert!(matches!(
            try_claim(&cell, "a", &me, DEFAULT_STALE).unwrap(),
            Attempt::Busy(_)
        ));
        claim.release("finished", "").unwrap();
        assert!(names(&dir.path().join("cells")).is_empty(), "a released claim was left");
        let Attempt::Taken(again) = try_claim(&cell, "a", &me, DEFAULT_STALE).unwrap() else {
            panic!("a released cell could not be claimed again")
        };
        drop(again);
        let text = std::fs::read_to_string(dir.path().join(CLAIM_LOG)).unwrap();
        let events: Vec<&str> = text.lines().map(|l| l.split('\t').nth(5).unwrap()).collect();
        assert_eq!(events, ["claimed", "finished", "claimed", "abandoned"]);
    }

    /// A claim file left by a process that died (its lock is free) on this host.
    fn dead_claim(cells: &Path, holder: &Claimant, number: u64) -> PathBuf {
        std::fs::create_dir_all(cells).unwrap();
        let path = cells.join(format!(".a{CLAIM_INFIX}{number}"));
        std::fs::write(&path, serde_json::to_string(holder).unwrap()).unwrap();
        path
    }

    #[test]
    fn a_dead_holder_on_this_host_is_taken_over_with_the_next_number() {
        let dir = tempfile::tempdir().unwrap();
        let cells = dir.path().join("cells");
        let me = log(dir.path(), "h", None, 0);
        let mut dead = me.claimant().clone();
        dead.pid = 1;
        dead_claim(&cells, &dead, 4);
        let Attempt::Taken(claim) = try_claim(&cells.join("a"), "a", &me, DEFAULT_STALE).unwrap() else {
            panic!("a dead claim was not taken over")
        };
        assert_eq!(names(&cells), [format!(".a{CLAIM_INFIX}5")], "the dead claim was kept");
        drop(claim);
        let text = std::fs::read_to_string(dir.path().join(CLAIM_LOG)).unwrap();
        assert!(text.contains("took over from h pid 1"), "{text}");
    }

    #[test]
    fn a_remote_holder_is_live_until_its_heartbeat_is_stale_or_its_job_is_an_earlier_run() {
        let dir = tempfile::tempdir().unwrap();
        let cells = dir.path().join("cells");
        let me = log(dir.path(), "here", Some("77"), 1);
        let mut remote = me.claimant().clone();
        remote.host = "elsewhere".into();
        remote.slurm_job = Some("12".into());
        // Its lock is free here, but a lock says nothing across hosts: live while its heartbeat is fresh.
        let path = dead_claim(&cells, &remote, 0);
        let busy = try_claim(&cells.join("a"), "a", &me, DEFAULT_STALE).unwrap();
        assert!(
            matches!(busy, Attempt::Busy(ref who) if who.contains("elsewhere")),
            "{busy:?}"
        );
        let old = SystemTime::now() - Duration::from_secs(400);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(matches!(
            try_claim(&cells.join("a"), "a", &me, DEFAULT_STALE).unwrap(),
            Attempt::Taken(_)
        ));
        // An earlier run (restart 0) of this process's own requeued job (restart 1), fresh heartbeat and all.
        let mut earlier = me.claimant().clone();
        earlier.host = "elsewhere".into();
        earlier.restart = 0;
        dead_claim(&cells, &earlier, 9);
        assert!(matches!(
            try_claim(&cells.join("a"), "a", &me, DEFAULT_STALE).unwrap(),
            Attempt::Taken(_)
        ));
    }

    #[test]
    fn racing_claimants_never_both_hold_a_cell() {
        let dir = tempfile::tempdir().unwrap();
        let cell = dir.path().join("cells/a");
        let me = log(dir.path(), "h", None, 0);
        let holders = std::sync::atomic::AtomicUsize::new(0);
        let most = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..50 {
                        if let Attempt::Taken(claim) = try_claim(&cell, "a", &me, DEFAULT_STALE).unwrap() {
                            let now = holders.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                            most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                            std::thread::sleep(Duration::from_micros(200));
                            holders.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                            claim.release("finished", "").unwrap();
                        }
                    }
                });
            }
        });
        assert_eq!(most.into_inner(), 1, "two threads held the claim at once");
    }

    #[test]
    fn malformed_claim_files_are_taken_over_or_refused_never_fatal_or_endless() {
        let dir = tempfile::tempdir().unwrap();
        let cells = dir.path().join("cells");
        std::fs::create_dir_all(&cells).unwrap();
        let me = log(dir.path(), "h", None, 0);
        let old = SystemTime::now() - Duration::from_secs(120);
        // Bytes that are not UTF-8, unchanged for longer than a claimant takes to write its claim.
        let garbage = cells.join(format!(".a{CLAIM_INFIX}0"));
        std::fs::write(&garbage, [0xff, 0xfe, 0x00]).unwrap();
        File::options()
            .write(true)
            .open(&garbage)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let Attempt::Taken(claim) = try_claim(&cells.join("a"), "a", &me, DEFAULT_STALE).unwrap() else {
            panic!("an unreadable, old claim was not taken over")
        };
        claim.release("finished", "").unwrap();
        // A folder where a claim file would be.
        std::fs::create_dir(cells.join(format!(".b{CLAIM_INFIX}3"))).unwrap();
        let Attempt::Taken(claim) = try_claim(&cells.join("b"), "b", &me, DEFAULT_STALE).unwrap() else {
            panic!("a folder at a claim's name blocked the cell")
        };
        assert!(cells.join(format!(".b{CLAIM_INFIX}4")).is_file());
        claim.release("finished", "").unwrap();
        // The highest number there is: refused with what to do, not wrapped round.
        let mut dead = me.claimant().clone();
        dead.pid = 1;
        let top = cells.join(format!(".c{CLAIM_INFIX}{}", u64::MAX));
        std::fs::write(&top, serde_json::to_string(&dead).unwrap()).unwrap();
        let err = try_claim(&cells.join("c"), "c", &me, DEFAULT_STALE)
            .unwrap_err()
            .to_string();
        assert!(err.contains("remove it"), "{err}");
    }

    #[test]
    fn claims_left_beside_finished_cells_are_cleared_unless_their_holder_lives() {
        let dir = tempfile::tempdir().unwrap();
        let cells = dir.path().join("cells");
        let me = log(dir.path(), "h", None, 0);
        let mut dead = me.claimant().clone();
        dead.pid = 1;
        let left = dead_claim(&cells, &dead, 2);
        let Attempt::Taken(live) = try_claim(&cells.join("b"), "b", &me, DEFAULT_STALE).unwrap() else {
            panic!("a free cell was not claimed")
        };
        let (a, b) = (cells.join("a"), cells.join("b"));
        clear_finished(&[(a.as_path(), "a"), (b.as_path(), "b")], &me, DEFAULT_STALE).unwrap();
        assert!(!left.exists(), "a dead holder's claim on a finished cell was kept");
        assert_eq!(names(&cells), [format!(".b{CLAIM_INFIX}0")], "a live claim was removed");
        drop(live);
        let text = std::fs::read_to_string(dir.path().join(CLAIM_LOG)).unwrap();
        assert!(text.contains("\tcleared\ta\tclaim of h pid 1"), "{text}");
    }
}
