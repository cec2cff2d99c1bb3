//! Who took part in a round, counted for `training_loss.csv`: online, selected, returned, dropped, stragglers,
//! rejected, clipped and Byzantine participants.

use serde::{Deserialize, Serialize};

/// The participation counts of one round of one model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Participation {
    /// Clients online (all of the model's clients without an availability model or an outage).
    pub online: usize,
    /// Clients selected, among the online ones.
    pub selected: usize,
    /// Selected clients whose update reached the server.
    pub returned: usize,
    /// Selected clients whose update did not arrive: dropouts, and stragglers past the deadline under `drop`.
    pub dropped: usize,
    /// Selected stragglers (whether or not their update arrived).
    pub stragglers: usize,
    /// Their mean share of the full local steps (`None` when no straggler was selected).
    pub straggler_work: Option<f64>,
    /// Returned updates the server rejected for not being finite.
    pub rejected: usize,
    /// Returned updates whose norm the server clipped (and kept).
    pub clipped: usize,
    /// Byzantine clients among those whose update reached the server.
    pub byzantine: usize,
}

impl Participation {
    /// A round in which all `clients` took part with nothing going wrong (pooled training).
    pub fn everyone(clients: usize) -> Self {
        Participation {
            online: clients,
            selected: clients,
            returned: clients,
            ..Participation::default()
        }
    }

    /// Updates the server aggregated.
    pub fn aggregated(&self) -> usize {
        self.returned - self.rejected
    }
}
