//! `weft-bench`: measures the zero-copy table of `zero-copy-notes.md` on
//! this machine. See the crate docs of `weft_benches`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use weft_benches::{render_tables, run, write_json, write_svg, Config};

/// Measures file -> socket copy paths and gathered frame writes over loopback.
#[derive(Debug, Parser)]
#[command(name = "weft-bench", version, about)]
struct Args {
    /// File size in MiB (default 256; 32 with --quick).
    #[arg(long, value_name = "MIB")]
    size: Option<u64>,
    /// Runs per path; the median is reported (default 5; 3 with --quick).
    #[arg(long, value_name = "N")]
    runs: Option<usize>,
    /// A short run (32 MiB, 3 runs, short frame cells): at most ~15 s.
    #[arg(long)]
    quick: bool,
    /// Write every row as a JSON array to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Draw the copy table as an SVG bar chart to FILE.
    #[arg(long, value_name = "FILE")]
    svg: Option<PathBuf>,
    /// Wall-time budget of each frame-table cell, in milliseconds
    /// (default 400; 100 with --quick).
    #[arg(long, value_name = "MS")]
    frame_ms: Option<u64>,
    /// No progress indicator on stderr.
    #[arg(long)]
    no_progress: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut cfg = if args.quick {
        Config::quick()
    } else {
        Config::default()
    };
    if let Some(mib) = args.size {
        cfg.size = mib.saturating_mul(1 << 20);
    }
    if let Some(runs) = args.runs {
        cfg.runs = runs.max(1);
    }
    if let Some(ms) = args.frame_ms {
        cfg.frame_budget = std::time::Duration::from_millis(ms);
    }
    cfg.progress = !args.no_progress;
    let rows = match run(&cfg) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("weft-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", render_tables(&rows));
    if let Some(path) = &args.json {
        if let Err(e) = write_json(path, &rows) {
            eprintln!("weft-bench: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = &args.svg {
        if let Err(e) = write_svg(path, &rows) {
            eprintln!("weft-bench: writing {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
