//! The world: simulated time, the event queue, the network, the processes, the clients, their history and the
//! trace. It knows processes and messages; what a process does with them is its protocol's business
//! (`crate::protocol`).

pub mod net;
pub mod rng;
pub mod sim;
pub mod time;
pub mod trace;
