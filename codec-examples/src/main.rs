//! `weft`: run one of Weft's example protocol servers.

use clap::{Parser, Subcommand};

/// Weft's example protocol servers.
#[derive(Debug, Parser)]
#[command(name = "weft", version, about)]
struct Cli {
    /// Event-loop threads for the server: N > 0 runs N threads, each with
    /// its own runtime and its own SO_REUSEPORT listener (thread per core;
    /// the default is one per core); 0 runs it on the process's tokio
    /// runtime.
    #[arg(long, global = true, default_value_t = weft_examples::common::default_threads())]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    // Each server adds its variant here: `Name(weft_examples::name::NameArgs)`.
    /// HTTP/1.1 static file server (GET/HEAD, keep-alive, ranges, sendfile).
    Http(weft_examples::http::HttpArgs),
    /// Echo server for length-prefixed or line-framed messages.
    Echo(weft_examples::echo::EchoArgs),
    /// TCP proxy relaying with splice (or a copy loop, for comparison).
    Proxy(weft_examples::proxy::ProxyArgs),
    /// RESP2 (Redis protocol) in-memory key-value server.
    Resp(weft_examples::resp::RespArgs),
    /// Append-only log broker (segments, mmap index, sendfile fetch).
    Log(weft_examples::log::LogArgs),
    /// Produce to or fetch from a `weft log` broker.
    LogClient(weft_examples::log::LogClientArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    weft_examples::common::set_threads(cli.threads);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("weft: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result: std::io::Result<()> = runtime.block_on(async move {
        match cli.command {
            Command::Http(args) => weft_examples::http::run(args).await,
            Command::Echo(args) => weft_examples::echo::run(args).await,
            Command::Proxy(args) => weft_examples::proxy::run(args).await,
            Command::Resp(args) => weft_examples::resp::run(args).await,
            Command::Log(args) => weft_examples::log::run(args).await,
            Command::LogClient(args) => weft_examples::log::run_client(args).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("weft: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
