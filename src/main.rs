//! The `portcullis` command: run the gateway, check a config file, print the version.
//! anyhow and process exits live here and nowhere else.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use portcullis::config::{self, LogFormat};

/// Per-thread free lists for every size a request allocates (see Cargo.toml): the
/// binary's choice; the library and its tests use the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The demo config embedded in the binary (auth: none to the bundled echo upstream).
const DEMO_CONFIG: &str = include_str!("../config/dev.yaml");

/// portcullis — an authenticating reverse proxy gateway.
///
/// Sits in front of backend APIs and web apps: browser users get OIDC single sign-on,
/// API clients present Bearer/Token JWTs or reference tokens, and upstreams receive
/// verified identity headers. Configuration is one YAML file (see
/// config/portcullis.example.yaml); `${ENV}` references in it are expanded.
#[derive(Parser)]
#[command(name = "portcullis", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Config file for the default `run` command.
    #[arg(
        long,
        short,
        global = true,
        value_name = "FILE",
        env = "PORTCULLIS_CONFIG"
    )]
    config: Option<PathBuf>,
    /// Worker threads serving connections, each with its own event loop (default: one
    /// per CPU core), besides one control thread that accepts connections and runs the
    /// admin listener and reloads. `echo` uses them as tokio worker threads. On small
    /// machines shared with other processes, fewer workers can mean less CPU per request.
    #[arg(long, global = true, value_name = "N", env = "PORTCULLIS_WORKERS")]
    workers: Option<usize>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default command).
    ///
    /// Without --config, runs the built-in demo: the embedded config/dev.yaml proxying
    /// 127.0.0.1:8080 to a bundled echo upstream on 127.0.0.1:8081, no authentication.
    /// The config file is watched: edits (and SIGHUP) reload it without dropping
    /// connections; an invalid edit keeps the running config. SIGTERM/SIGINT drain
    /// in-flight requests for up to server.timeouts.shutdown_grace, then exit 0.
    Run,
    /// Validate a config file and print every problem with its field path.
    ///
    /// Exit status 0 and a one-line summary when valid (plus a `warning:` line on stderr
    /// for each setting that is valid but probably unintended, such as sign-in routes
    /// without server.public_url); 1 and one line per error (e.g. `routes[2].upstream:
    /// not an absolute http(s) URL`) when not.
    CheckConfig {
        /// The YAML file to check.
        file: PathBuf,
    },
    /// Run only the bundled echo upstream (answers with the request it got, as JSON).
    Echo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
    },
    /// Manage API keys for machine clients (see `api_keys` in the example config).
    #[command(subcommand)]
    ApiKey(ApiKeyCommand),
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Print a fresh API key (once: only its hash is kept) and the line to append to an
    /// `api_keys` file.
    ///
    /// stdout gets two lines, the key and the YAML entry; explanations go to stderr, so
    /// `portcullis api-key new --sub ci-bot > out` captures just those.
    New {
        /// The subject requests with this key act as (identity headers, `allow.users`).
        #[arg(long)]
        sub: String,
        /// Groups (comma-separated or repeated), for `allow.groups`.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
        /// Scopes (comma-separated or repeated), for `allow.scopes`.
        #[arg(long, value_delimiter = ',')]
        scopes: Vec<String>,
        /// When the key stops working: RFC 3339 (`2027-01-31T00:00:00Z`), a date
        /// (`2027-01-31`, midnight UTC) or a duration from now (`90d`, `12h`).
        #[arg(long)]
        expires: Option<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig { file } => check_config(&file),
        Command::Run => match run(cli.config, cli.workers) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("portcullis: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::Echo { listen } => match echo(listen, cli.workers) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("portcullis echo: {e:#}");
                ExitCode::FAILURE
            }
        },
        Command::ApiKey(ApiKeyCommand::New {
            sub,
            groups,
            scopes,
            expires,
        }) => match new_api_key(&sub, groups, scopes, expires.as_deref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("portcullis api-key new: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn new_api_key(
    sub: &str,
    groups: Vec<String>,
    scopes: Vec<String>,
    expires: Option<&str>,
) -> anyhow::Result<()> {
    use portcullis::auth::api_key::{self, time};
    let sub = sub.trim();
    anyhow::ensure!(!sub.is_empty(), "--sub must not be empty");
    let clean = |items: Vec<String>| -> Vec<String> {
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let expires = match expires {
        None => None,
        Some(text) => Some(match time::parse_timestamp(text) {
            Some(at) => at,
            None => {
                let after = config::parse_duration(text).map_err(|e| {
                    anyhow::anyhow!("--expires: not a time, date or duration ({e})")
                })?;
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?;
                i64::try_from((now + after).as_secs())?
            }
        }),
    };
    let (key, hash) =
        api_key::generate().map_err(|_| anyhow::anyhow!("no randomness available"))?;
    let mut entry = serde_json::json!({
        "sha256": hash,
        "sub": sub,
        "groups": clean(groups),
        "scopes": clean(scopes),
    });
    if let Some(at) = expires {
        entry["expires"] = serde_json::json!(time::format_timestamp(at));
    }
    eprintln!("New API key for `{sub}` (shown once: the gateway keeps only its SHA-256):");
    println!("{key}");
    eprintln!("Append this entry to an `api_keys` file (reloaded within a second):");
    // JSON is YAML: one flow-style list item, with every string safely quoted.
    println!("- {entry}");
    Ok(())
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match config::load_file(file) {
        Ok(cfg) => {
            if let Err(e) = portcullis::auth::api_key::check_files(&cfg.api_keys) {
                eprintln!("{}: 1 error(s)\n  {e}", file.display());
                return ExitCode::FAILURE;
            }
            println!("{}", cfg.summary());
            for warning in cfg.warnings() {
                eprintln!("warning: {warning}");
            }
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{}: {} error(s)", file.display(), errors.0.len());
            for issue in &errors.0 {
                eprintln!("  {issue}");
            }
            ExitCode::FAILURE
        }
    }
}

fn runtime(workers: Option<usize>) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = workers {
        anyhow::ensure!(n > 0, "--workers must be at least 1");
        builder.worker_threads(n);
    }
    Ok(builder.enable_all().build()?)
}

fn run(config_path: Option<PathBuf>, workers: Option<usize>) -> anyhow::Result<()> {
    let (cfg, demo) = match &config_path {
        Some(path) => match config::load_file(path) {
            Ok(cfg) => (cfg, false),
            Err(errors) => anyhow::bail!("invalid configuration {}:\n{errors}", path.display()),
        },
        None => match config::load_str(DEMO_CONFIG) {
            Ok(cfg) => (cfg, true),
            Err(errors) => anyhow::bail!("embedded demo config is invalid:\n{errors}"),
        },
    };
    init_logging(cfg.log.format, &cfg.log.level)?;
    for warning in cfg.warnings() {
        tracing::warn!("configuration: {warning}");
    }
    if workers == Some(0) {
        anyhow::bail!("--workers must be at least 1");
    }
    // The control runtime: accept loop, admin listener, reload, background refreshes.
    // Connections are served by the worker threads (`transport::workers`).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        if demo {
            let echo_addr = cfg
                .routes
                .first()
                .map(|r| r.upstream.authority.as_str().to_owned())
                .unwrap_or_else(|| "127.0.0.1:8081".into());
            let listener = std::net::TcpListener::bind(&echo_addr)?;
            listener.set_nonblocking(true)?;
            tracing::info!(
                "no --config given: running the built-in demo; try `curl http://{}/`",
                cfg.server.listen
            );
            tracing::info!(%echo_addr, "bundled echo upstream listening");
            // A thread of its own, off the control thread that accepts connections.
            let echo_rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            std::thread::Builder::new()
                .name("portcullis-demo-echo".into())
                .spawn(move || {
                    echo_rt.block_on(async move {
                        match tokio::net::TcpListener::from_std(listener) {
                            Ok(l) => portcullis::echo::serve(l).await,
                            Err(e) => tracing::error!(error = %e, "demo echo upstream failed"),
                        }
                    });
                })?;
        }
        let ran = portcullis::server::run(cfg, config_path, workers).await;
        // The last requests' access lines, before the process ends.
        portcullis::access_log::flush();
        ran?;
        Ok(())
    })
}

fn echo(listen: std::net::SocketAddr, workers: Option<usize>) -> anyhow::Result<()> {
    runtime(workers)?.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen).await?;
        eprintln!("echo upstream listening on {listen}");
        portcullis::echo::serve(listener).await;
        Ok(())
    })
}

fn init_logging(format: LogFormat, level: &str) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("PORTCULLIS_LOG")
        .or_else(|_| EnvFilter::try_new(level))
        .map_err(|e| anyhow::anyhow!("log.level: {e}"))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    }
    .map_err(|e| anyhow::anyhow!("logging: {e}"))?;
    let access = match format {
        LogFormat::Json => portcullis::access_log::Format::Json,
        LogFormat::Pretty => portcullis::access_log::Format::Text,
    };
    portcullis::access_log::install(access, Box::new(std::io::stdout()))?;
    Ok(())
}
