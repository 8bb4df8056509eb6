//! The `muster` binary: all behaviour lives in the library; this only hands over the exit code.

fn main() -> std::process::ExitCode {
    muster::cli::main()
}
