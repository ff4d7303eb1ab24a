//! `ocrchat`: the command-line entry point. `ocrchat serve` runs the REST
//! API, `ocrchat token …` manages accounts, `ocrchat ocr FILE…` runs the
//! engine locally.

mod cli_ocr;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ocrchat::config::{Config, Overrides, default_data_dir};

#[derive(Parser)]
#[command(name = "ocrchat", version, about = "Self-hostable OCR: engine, CLI and API server")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Recognise text in image files and print or write the result.
    Ocr(cli_ocr::OcrArgs),
    /// Run the REST API server (and the web app when built).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080; port 0 picks a free port).
        #[arg(long, env = "OCRCHAT_ADDR")]
        addr: Option<String>,
        /// Directory for the database, uploads and results.
        #[arg(long, env = "OCRCHAT_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// `sqlite://PATH` or `postgres://…` (default: SQLite in the data directory).
        #[arg(long)]
        database_url: Option<String>,
        /// Directory holding the OCR models.
        #[arg(long, env = "OCRCHAT_MODELS_DIR")]
        models_dir: Option<PathBuf>,
        /// Built web app to serve at `/` (default: `dist/` when present).
        #[arg(long, env = "OCRCHAT_WEB_DIR")]
        web_dir: Option<PathBuf>,
        /// Config file (default: ./ocrchat.toml when present).
        #[arg(long, env = "OCRCHAT_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Manage API tokens (accounts).
    Token {
        #[command(subcommand)]
        action: TokenAction,
        /// The server's data directory.
        #[arg(long, env = "OCRCHAT_DATA_DIR", global = true)]
        data_dir: Option<PathBuf>,
        /// `sqlite://PATH` or `postgres://…` (default: SQLite in the data directory).
        #[arg(long, env = "OCRCHAT_DATABASE_URL", global = true)]
        database_url: Option<String>,
    },
}

#[derive(Subcommand)]
enum TokenAction {
    /// Create an account; prints its token alone on the last line.
    Create {
        /// free (monthly page bucket) or paid (credits, higher caps, priority).
        #[arg(long, default_value = "free", value_parser = ["free", "paid"])]
        plan: String,
        /// Purchased credits (pages) for a paid account.
        #[arg(long, default_value_t = 0)]
        credits: i64,
        /// A note to recognise the account by.
        #[arg(long)]
        label: Option<String>,
    },
    /// List accounts.
    List,
    /// Revoke an account by id, token prefix or token.
    Revoke {
        /// Account id, token prefix (as listed) or the token.
        which: String,
    },
    /// Add credits to an account.
    Credit {
        /// Account id.
        account: i64,
        /// Credits (pages) to add.
        credits: i64,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OCRCHAT_LOG").unwrap_or_else(|_| "warn,ocrchat=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only on a terminal, not in log files or CI output.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Ocr(args) => return cli_ocr::run(args),
        Command::Serve { addr, data_dir, database_url, models_dir, web_dir, config } => {
            serve(config, Overrides { addr, data_dir, database_url, models_dir, web_dir })
        }
        Command::Token { action, data_dir, database_url } => {
            token(action, &data_dir.unwrap_or_else(default_data_dir), database_url.as_deref())
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().enable_all().build()?)
}

fn serve(config_file: Option<PathBuf>, overrides: Overrides) -> anyhow::Result<()> {
    let config = Config::load(config_file.as_deref(), &overrides).map_err(|e| anyhow::anyhow!("configuration: {e}"))?;
    // Before the runtime starts its threads (bounded memory; see `alloc`).
    let tuning = ocrchat::alloc::tune(config.workers);
    // Debug level: a server that cannot start says so in one stderr line
    // (tests/cluster.rs); the settings matter only to someone profiling.
    tracing::debug!(?tuning, "malloc settings");
    runtime()?.block_on(ocrchat::serve::run(config, |addr| {
        // Tests and scripts read the bound address (port 0) from this line.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }))
}

fn token(action: TokenAction, data_dir: &Path, url: Option<&str>) -> anyhow::Result<()> {
    let db = ocrchat::tokens::Database { url, data_dir };
    let rt = runtime()?;
    let mut out = std::io::stdout().lock();
    rt.block_on(async {
        match action {
            TokenAction::Create { plan, credits, label } => {
                ocrchat::tokens::create(&db, &plan, credits, label.as_deref(), &mut out).await
            }
            TokenAction::List => ocrchat::tokens::list(&db, &mut out).await,
            TokenAction::Revoke { which } => ocrchat::tokens::revoke(&db, &which, &mut out).await,
            TokenAction::Credit { account, credits } => ocrchat::tokens::credit(&db, account, credits, &mut out).await,
        }
    })
}
