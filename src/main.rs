//! The `muster` binary: all behaviour lives in the library; this only hands over the exit code.

// Loading a registry allocates many small nodes and strings; mimalloc makes that about a
// quarter cheaper than the system allocator (see `cargo bench --bench registry`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    muster::cli::main()
}
