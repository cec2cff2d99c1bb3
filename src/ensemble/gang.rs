//! Several models' FedAvg rounds on one device as one batch: each model's round loop runs on its own thread and
//! hands its round's local updates to the gang; once every model still training has handed in its round, one
//! device call runs all their clients together (8 experts with one client per round make one batch of 8, not 8
//! batches of 1).
//!
//! A client's result depends only on its start weights, rows and random stream, never on who shares its batch,
//! so results do not depend on the order in which the models arrive.

use super::DenoiserDevice;
use crate::diffusion::DenoiserTask;
use crate::error::{Error, Result};
use crate::federated::{BatchedLocal, ClientWork, LocalResult};
use crate::rng::Rng;
use crate::scenario::OptimizerConfig;
use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};

/// The local training settings of a round: steps, batch size and optimizer (the same for every model of an
/// ensemble).
type Settings = (usize, usize, OptimizerConfig);

/// One model's round handed to the gang: its global weights, its clients' rows (copied) and random streams, and
/// its settings.
struct Request {
    global: Vec<f32>,
    rows: Vec<Vec<usize>>,
    rngs: Vec<Rng>,
    settings: Settings,
}

/// A request's results, or the device's error message.
type Outcome = std::result::Result<Vec<LocalResult>, String>;

/// What the members share.
#[derive(Default)]
struct State {
    /// Members still training.
    active: usize,
    /// Rounds handed in and not yet run, with their tickets.
    pending: Vec<(u64, Request)>,
    /// Results not yet collected, by ticket.
    done: HashMap<u64, Outcome>,
    /// The next ticket.
    next_ticket: u64,
    /// Whether a member is running a batch on the device.
    running: bool,
}

/// The models training on one device together.
pub struct Gang<'a> {
    device: &'a dyn DenoiserDevice,
    task: &'a DenoiserTask<'a>,
    state: Mutex<State>,
    turn: Condvar,
}

impl<'a> Gang<'a> {
    /// A gang of `members` models training `task` on `device`; take exactly `members` handles with
    /// [`Gang::member`] (a handle that is dropped leaves the gang).
    pub fn new(device: &'a dyn DenoiserDevice, task: &'a DenoiserTask<'a>, members: usize) -> Self {
        Gang {
            device,
            task,
            state: Mutex::new(State {
                active: members,
                ..State::default()
            }),
            turn: Condvar::new(),
        }
    }

    /// One model's handle: what its round loop calls for local updates.
    pub fn member(&self) -> Member<'_, 'a> {
        Member { gang: self }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Hands in a round and waits for its results; the member that completes the set runs the batch.
    fn call(&self, request: Request) -> Outcome {
        let mut state = self.lock();
        let ticket = state.next_ticket;
        state.next_ticket += 1;
        state.pending.push((ticket, request));
        loop {
            if let Some(outcome) = state.done.remove(&ticket) {
                return outcome;
            }
            if !state.running && !state.pending.is_empty() && state.pending.len() >= state.active {
                state.running = true;
                let batch = std::mem::take(&mut state.pending);
                drop(state);
                let results = self.run(batch);
                state = self.lock();
                state.running = false;
                state.done.extend(results);
                self.turn.notify_all();
                continue;
            }
            state = self.turn.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// A member is done: the others no longer wait for it.
    fn leave(&self) {
        let mut state = self.lock();
        state.active -= 1;
        self.turn.notify_all();
    }

    /// Runs a batch of rounds as one device call, all their clients at once.
    fn run(&self, mut batch: Vec<(u64, Request)>) -> Vec<(u64, Outcome)> {
        let (steps, batch_size, optimizer) = batch[0].1.settings.clone();
        assert!(
            batch
                .iter()
                .all(|(_, r)| r.settings == (steps, batch_size, optimizer.clone())),
            "the models of a gang share their local training settings"
        );
        let rngs: Vec<Rng> = batch
            .iter_mut()
            .flat_map(|(_, r)| std::mem::take(&mut r.rngs))
            .collect();
        let starts: Vec<&[f32]> = batch
            .iter()
            .flat_map(|(_, r)| r.rows.iter().map(|_| &r.global[..]))
            .collect();
        let mut work: Vec<ClientWork> = batch
            .iter()
            .flat_map(|(_, r)| r.rows.iter())
            .zip(rngs)
            .map(|(rows, rng)| ClientWork { rows, rng })
            .collect();
        let outcome = self
            .device
            .local_updates(self.task, &starts, &mut work, steps, batch_size, &optimizer);
        match outcome {
            Ok(all) => {
                let mut all = all.into_iter();
                batch
                    .iter()
                    .map(|(ticket, r)| (*ticket, Ok(all.by_ref().take(r.rows.len()).collect())))
                    .collect()
            }
            Err(e) => {
                let message = match e {
                    Error::Gpu(message) => message,
                    other => other.to_string(),
                };
                batch
                    .iter()
                    .map(|(ticket, _)| (*ticket, Err(message.clone())))
                    .collect()
            }
        }
    }
}

/// One model's place in a [`Gang`].
pub struct Member<'g, 'a> {
    gang: &'g Gang<'a>,
}

impl BatchedLocal for Member<'_, '_> {
    fn local_updates(
        &self,
        global: &[f32],
        clients: &mut [ClientWork],
        steps: usize,
        batch_size: usize,
        optimizer: &OptimizerConfig,
    ) -> Result<Vec<LocalResult>> {
        let request = Request {
            global: global.to_vec(),
            rows: clients.iter().map(|w| w.rows.to_vec()).collect(),
            rngs: clients.iter().map(|w| w.rng.clone()).collect(),
            settings: (steps, batch_size, optimizer.clone()),
        };
        self.gang.call(request).map_err(Error::Gpu)
    }
}

impl Drop for Member<'_, '_> {
    fn drop(&mut self) {
        self.gang.leave();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diffusion::{LoadedNets, Objective};
    use crate::nn::TimeNet;
    use crate::rng::{Stream, derive};
    use ndarray::Array2;

    /// A device that records how many clients each call carried and answers client k with
    /// (start + first row of k, loss = number of rows of k).
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<usize>>,
    }

    impl DenoiserDevice for Recorder {
        fn local_updates(
            &self,
            _task: &DenoiserTask,
            starts: &[&[f32]],
            clients: &mut [ClientWork],
            _steps: usize,
            _batch_size: usize,
            _optimizer: &OptimizerConfig,
        ) -> Result<Vec<LocalResult>> {
            self.calls.lock().unwrap().push(clients.len());
            Ok(starts
                .iter()
                .zip(clients.iter())
                .map(|(s, w)| (vec![s[0] + w.rows[0] as f32], Ok(w.rows.len() as f32)))
                .collect())
        }

        fn load_nets(&self, _nets: &[(&TimeNet, &[f32])]) -> Result<Box<dyn LoadedNets + '_>> {
            Err(Error::Gpu("not used here".into()))
        }

        fn describe(&self) -> String {
            "recorder".into()
        }
    }

    #[test]
    fn every_model_still_training_shares_each_call_and_gets_its_own_results() {
        let data = Array2::zeros((1, 1));
        let task = DenoiserTask {
            net: TimeNet::new(1, 2, &[2], 1, false),
            objective: Objective::Flow,
            data: &data,
            condition: None,
        };
        let device = Recorder::default();
        // Model m has m + 1 clients (rows 100 m + 10 c ..) and trains 3 + m rounds, so the gang shrinks as the
        // shorter ones finish: three rounds of 1 + 2 + 3 clients, then one of 2 + 3, then one of 3.
        let rows: Vec<Vec<Vec<usize>>> = (0..3)
            .map(|m| (0..=m).map(|c| vec![100 * m + 10 * c; c + 1]).collect())
            .collect();
        let gang = Gang::new(&device, &task, 3);
        let config = OptimizerConfig::default();
        std::thread::scope(|scope| {
            for (m, clients) in rows.iter().enumerate() {
                let member = gang.member();
                let config = &config;
                scope.spawn(move || {
                    for round in 0..3 + m {
                        let global = vec![1000.0 * round as f32];
                        let mut work: Vec<ClientWork> = clients
                            .iter()
                            .map(|r| ClientWork {
                                rows: r,
                                rng: derive(0, Stream::Local, &[m as u64]),
                            })
                            .collect();
                        let results = member.local_updates(&global, &mut work, 1, 1, config).unwrap();
                        assert_eq!(results.len(), clients.len());
                        for (r, (params, loss)) in clients.iter().zip(results) {
                            assert_eq!(params, vec![global[0] + r[0] as f32], "model {m} got another's result");
                            assert_eq!(loss, Ok(r.len() as f32));
                        }
                    }
                });
            }
        });
        assert_eq!(*device.calls.lock().unwrap(), vec![6, 6, 6, 5, 3]);
    }
}
