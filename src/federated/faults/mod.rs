//! The faults one model's training meets, as the round loop consults them: who is online, who drops out, how
//! much of its work a straggler finishes, what a Byzantine client sends, and what the server screens out.
//!
//! Who is Byzantine or a straggler is fixed for the run (by client id, from the root seed; see
//! [`crate::partition::Roster`]); every per-round draw comes from the [`Stream::Faults`] stream keyed by model,
//! round and client, so results do not depend on the thread count.

mod attack;
mod fednova;
mod presence;
mod screen;

pub use attack::attack;
pub use fednova::normalise;
pub use screen::{Screened, clip_update, screen};

use crate::rng::{Stream, derive};
use crate::scenario::{AttackKind, AvailabilityConfig, OnNonFinite, StragglerPolicy};
use rand::Rng as _;
use std::sync::Arc;

/// Tags of the fault draws under [`Stream::Faults`], so that no two kinds of draw share a stream.
#[derive(Debug, Clone, Copy)]
#[repr(u64)]
enum Draw {
    /// A client's Bernoulli availability p_i.
    Availability = 1,
    /// Whether a client is online in a round.
    Online = 2,
    /// A client's diurnal phase.
    Phase = 3,
    /// Whether a selected client drops out.
    Dropout = 4,
    /// A straggler's share of work in a round.
    Work = 5,
    /// A Gaussian attacker's noise.
    Noise = 6,
}

/// The generator of one fault draw.
fn draw(seed: u64, what: Draw, tags: &[u64]) -> crate::rng::Rng {
    let mut path = vec![what as u64];
    path.extend_from_slice(tags);
    derive(seed, Stream::Faults, &path)
}

/// The faults of one model's training (the default: none).
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Probability that a selected client fails to return its update.
    pub dropout: f64,
    /// When clients are online.
    pub availability: AvailabilityConfig,
    /// Rounds (inclusive spans) in which every client of the model is offline.
    pub outages: Vec<(usize, usize)>,
    /// Straggler flag by client id (empty: none).
    pub stragglers: Arc<Vec<bool>>,
    /// A straggler's share of its local steps, drawn uniformly from [low, high] each round.
    pub work: [f64; 2],
    /// What the server does with a straggler's partial update.
    pub straggler_policy: StragglerPolicy,
    /// Byzantine flag by client id (empty: none).
    pub byzantine: Arc<Vec<bool>>,
    /// What a Byzantine client sends.
    pub attack: AttackKind,
    /// The attack's strength.
    pub scale: f64,
    /// What the server does with a non-finite update.
    pub on_nonfinite: OnNonFinite,
}

/// A selected client's local work in a round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Work {
    /// Local steps it runs.
    pub steps: usize,
    /// A straggler's drawn share of the full local steps (`None` for a client that is not a straggler).
    pub share: Option<f64>,
}

impl Faults {
    /// Whether client `id` is Byzantine.
    pub fn is_byzantine(&self, id: usize) -> bool {
        self.byzantine.get(id).copied().unwrap_or(false)
    }

    /// Whether any client is a straggler (their updates then run one by one with their own step counts).
    pub fn has_stragglers(&self) -> bool {
        self.stragglers.iter().any(|&s| s)
    }

    /// Whether selected client `id` drops out of `round` of the model tagged `tag`.
    pub fn drops_out(&self, seed: u64, tag: u64, round: usize, id: usize) -> bool {
        self.dropout > 0.0 && draw(seed, Draw::Dropout, &[tag, round as u64, id as u64]).random::<f64>() < self.dropout
    }

    /// The local work of client `id` in `round`: all `steps` for a client that is not a straggler; for a
    /// straggler the share w ~ U[low, high] of them, rounded up (at least one step).
    pub fn work(&self, seed: u64, tag: u64, round: usize, id: usize, steps: usize) -> Work {
        if !self.stragglers.get(id).copied().unwrap_or(false) {
            return Work { steps, share: None };
        }
        let [low, high] = self.work;
        let u: f64 = draw(seed, Draw::Work, &[tag, round as u64, id as u64]).random();
        let share = low + (high - low) * u;
        let done = ((share * steps as f64).ceil() as usize).clamp(1, steps);
        Work {
            steps: done,
            share: Some(share),
        }
    }
}
