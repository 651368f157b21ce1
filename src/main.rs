//! The `tilannekuva` command.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = tilannekuva::cli::Cli::parse();
    tilannekuva::cli::init_logging(cli.verbose, cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(tilannekuva::cli::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", tilannekuva::cli::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
