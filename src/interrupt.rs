//! Stopping cleanly on SIGTERM or SIGINT (a Slurm preemption or time limit, `scancel`, Ctrl-C). The signal is
//! recorded; the work in progress sees it at its next federated round, routing policy or cell and unwinds, and
//! everything it had under way is removed on the way out (its staging folder, its cell's claim), so the process
//! exits non-zero leaving nothing half-written. Should the work not have unwound within [`GRACE`] (or a second
//! signal arrive), the actions registered with [`on_forced_exit`] run and the process exits at once.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::time::Duration;

/// How long the work may take to unwind after a signal before the process is ended by force.
pub const GRACE: Duration = Duration::from_secs(10);

/// The signal received (0: none).
static RECEIVED: AtomicI32 = AtomicI32::new(0);

/// Actions to run before a forced exit, by registration id.
type Actions = BTreeMap<u64, Box<dyn FnOnce() + Send>>;

static FORCED_EXIT_ACTIONS: Mutex<Actions> = Mutex::new(BTreeMap::new());

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Listens for SIGTERM and SIGINT on a thread of its own (the binary calls this once at start).
pub fn install() -> std::io::Result<()> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])?;
    std::thread::Builder::new()
        .name("ddmsim-signals".into())
        .spawn(move || {
            let mut arrived = signals.forever();
            let Some(first) = arrived.next() else {
                return;
            };
            RECEIVED.store(first, Ordering::SeqCst);
            crate::progress::warn(&format!(
                "{} received: stopping at the work's next checkpoint (a second signal ends it at once)",
                signal_name(first)
            ));
            std::thread::spawn(move || {
                std::thread::sleep(GRACE);
                forced_exit(first, &format!("the work did not stop within {} s", GRACE.as_secs()));
            });
            if let Some(second) = arrived.next() {
                forced_exit(first, &format!("a second signal ({}) arrived", signal_name(second)));
            }
        })?;
    Ok(())
}

/// The signal received so far, if any.
pub fn received() -> Option<i32> {
    match RECEIVED.load(Ordering::SeqCst) {
        0 => None,
        signal => Some(signal),
    }
}

/// An [`Error::Interrupted`] once a signal has arrived: the work in progress calls this at its checkpoints.
pub fn check() -> Result<()> {
    match received() {
        None => Ok(()),
        Some(number) => Err(Error::Interrupted {
            signal: signal_name(number),
            number,
        }),
    }
}

/// A registered forced-exit action; dropping it unregisters the action (the work unwound normally).
#[derive(Debug)]
pub struct ForcedExitAction {
    id: u64,
}

impl Drop for ForcedExitAction {
    fn drop(&mut self) {
        if let Ok(mut actions) = FORCED_EXIT_ACTIONS.lock() {
            actions.remove(&self.id);
        }
    }
}

/// Registers `action` (e.g. removing a claim or a staging folder) to run if the process is ended by force while
/// the returned value is alive.
pub fn on_forced_exit(action: impl FnOnce() + Send + 'static) -> ForcedExitAction {
    let id = NEXT_ID.fetch_add(1, Ordering::SeqCst);
    if let Ok(mut actions) = FORCED_EXIT_ACTIONS.lock() {
        actions.insert(id, Box::new(action));
    }
    ForcedExitAction { id }
}

/// Runs every registered action and exits with 128 + the signal's number, saying `why`.
fn forced_exit(signal: i32, why: &str) -> ! {
    let actions = match FORCED_EXIT_ACTIONS.lock() {
        Ok(mut actions) => std::mem::take(&mut *actions),
        Err(_) => BTreeMap::new(),
    };
    for action in actions.into_values() {
        action();
    }
    crate::progress::warn(&format!(
        "{}: {why}; the partial files of the work in progress were removed and ddmsim exits now",
        signal_name(signal)
    ));
    std::process::exit(128 + signal)
}

/// `SIGTERM`, `SIGINT`, or `signal N`.
pub fn signal_name(number: i32) -> String {
    match number {
        signal_hook::consts::SIGTERM => "SIGTERM".into(),
        signal_hook::consts::SIGINT => "SIGINT".into(),
        other => format!("signal {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_registration_no_longer_runs() {
        let kept = on_forced_exit(|| {});
        let id = kept.id;
        assert!(FORCED_EXIT_ACTIONS.lock().unwrap().contains_key(&id));
        drop(kept);
        assert!(!FORCED_EXIT_ACTIONS.lock().unwrap().contains_key(&id));
        assert!(check().is_ok(), "no signal was sent, yet check() failed");
    }
}
