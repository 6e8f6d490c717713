//! The `lockwarden` binary: everything happens in `lockwarden_cli`.

fn main() -> std::process::ExitCode {
    lockwarden_cli::main()
}
