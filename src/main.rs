//! The `lockwarden` binary: everything happens in `lockwarden_cli`.

// The analysis allocates many small values from both rayon workers; glibc's
// malloc spent about a quarter of a check's time (perf, drivers/gpu/drm).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    lockwarden_cli::main()
}
