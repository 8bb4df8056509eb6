//! Running the stack on Docker: observe what runs, plan what to start, start it phase by
//! phase through the user's Compose CLI (create) and the Engine API (start, wait), and tell
//! the truth about the result.
//!
//! Docker sits behind [`docker::Engine`] so plans and the phase runner are tested without a
//! daemon. Nothing here prints: commands in `cli` turn results and progress into output.

pub mod compose;
pub mod diagnose;
pub mod docker;
pub mod execute;
pub mod hosts;
pub mod live;
pub mod lock;
pub mod observe;
pub mod plan;
pub mod probe;
pub mod progress;
pub mod state;
pub mod tunnel;
pub mod verdict;
