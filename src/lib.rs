//! muster: one registry (`muster.yaml`) as the single source of truth of a stack of services,
//! and everything derived from it. See `../README.md` and `docs/`.

pub mod check;
pub mod cli;
pub mod diagnostic;
pub mod examples;
pub mod fsutil;
pub mod generate;
pub mod graph;
pub mod import;
pub mod registry;
pub mod render;
pub mod runtime;
pub mod secrets;
pub mod source;
