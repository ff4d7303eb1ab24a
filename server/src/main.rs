//! `ocrchat`: the command-line entry point. `ocrchat serve` runs the REST
//! API, `ocrchat token …` manages accounts, `ocrchat ocr FILE…` runs the
//! engine locally.

mod cli_ocr;

use std::io::Write;
use std::path::PathBuf;
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
        Command::Serve { addr, data_dir, models_dir, web_dir, config } => {
            serve(config, Overrides { addr, data_dir, models_dir, web_dir })
        }
        Command::Token { action, data_dir } => token(action, data_dir.unwrap_or_else(default_data_dir)),
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
    runtime()?.block_on(ocrchat::serve::run(config, |addr| {
        // Tests and scripts read the bound address (port 0) from this line.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    }))
}

fn token(action: TokenAction, data_dir: PathBuf) -> anyhow::Result<()> {
    let rt = runtime()?;
    let mut out = std::io::stdout().lock();
    rt.block_on(async {
        match action {
            TokenAction::Create { plan, credits, label } => {
                ocrchat::tokens::create(&data_dir, &plan, credits, label.as_deref(), &mut out).await
            }
            TokenAction::List => ocrchat::tokens::list(&data_dir, &mut out).await,
            TokenAction::Revoke { which } => ocrchat::tokens::revoke(&data_dir, &which, &mut out).await,
            TokenAction::Credit { account, credits } => {
                ocrchat::tokens::credit(&data_dir, account, credits, &mut out).await
            }
        }
    })
}
