//! Renderers turn a [`Registry`](crate::registry::Registry) into the content of files: one
//! module per kind of output.
//!
//! They are pure functions of the registry: no I/O, no clock, no environment. The same
//! registry always gives byte-identical text, so `muster gen --check` can compare generated
//! files with what is on disk, and the callers (`muster graph`, `muster gen`) decide where the
//! text goes.

pub mod compose;
pub mod docs;
pub mod env_example;
pub mod graph;
pub mod kubernetes;
pub mod nomad;
pub mod swarm;
pub mod yaml;
