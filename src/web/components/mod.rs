//! The playground's views. `app` owns the state and the browser listeners; the others are functions of the
//! model that return `Html` and send `Action`s through the dispatcher they are given.

pub mod anomalies;
pub mod app;
pub mod bench;
pub mod canvas;
pub mod client;
pub mod collab;
pub mod compare;
pub mod conflicts;
pub mod datacenters;
pub mod icons;
pub mod inspector;
pub mod jobs;
pub mod memo;
pub mod metrics;
pub mod network;
pub mod num_input;
pub mod pages;
pub mod policies;
pub mod quorum;
pub mod spacetime;
pub mod tokens;
pub mod topbar;
pub mod transport;
