//! Systems outside the database that replication feeds or that sit beside it: an application cache (DDIA 5.1's
//! reused-key incident), a change-data-capture consumer, and the trigger-based replicator process.

pub mod cache;
pub mod cdc;
pub mod replicator;
