fn main() -> std::process::ExitCode {
    sidekick_cli::main()
}
