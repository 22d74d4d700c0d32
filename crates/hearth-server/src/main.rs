//! The `hearth` binary.

fn main() -> std::process::ExitCode {
    hearth_server::cli::main()
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
