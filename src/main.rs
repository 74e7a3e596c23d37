//! The `parley` command: the daemon (`run`) and its tools.
//!
//! Start-up order: tracing → config (exit 64 when invalid, before anything is bound) → TLS
//! material and listeners (exit 71 when they fail) → log every bound address → ready → wait
//! for SIGTERM/SIGINT → drain under the configured deadline → exit 0.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use parley::admin::control::{self, Request};
use parley::app::App;
use parley::config::{Config, LogFormat};

/// jemalloc: under load (many short-lived messages, buffers and tasks, often freed on another
/// thread than the one that made them) it costs less CPU per message than glibc's malloc,
/// within the idle-connection memory budget (figures in `benches/compare/README.md`).
#[global_allocator]
static ALLOC: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Exit status for an invalid config (sysexits EX_USAGE).
const EXIT_CONFIG: u8 = 64;
/// Exit status when the daemon cannot start (sysexits EX_OSERR).
const EXIT_START: u8 = 71;

#[derive(Debug, Parser)]
#[command(
    name = "parley",
    version,
    about = "SIP SIMPLE / XMPP federation gateway"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway (with the built-in loopback config when no --config is given).
    Run {
        /// Config file (TOML).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Validate a config file without binding anything; exit 64 when invalid.
    CheckConfig {
        /// Config file (TOML).
        file: PathBuf,
    },
    /// Print SIP messages or XMPP stanzas as JSON as parley's codecs read them, or the error
    /// parley would answer; exit 1 when any input is invalid.
    Decode(parley::tools::DecodeArgs),
    /// Print what parley would send on the other side for each message (`--json`: the
    /// canonical events), or why it would refuse it; exit 1 when any input is refused.
    Translate(parley::tools::TranslateArgs),
    /// Read pcap/pcapng captures of SIP and XMPP: print each message's canonical events and
    /// translation as JSON lines (default), compare with a golden file (--check), or replay
    /// one side to a live target (--send).
    Replay(parley::tools::ReplayArgs),
    /// Usage per month from audit logs: unique users and messages per domain and platform
    /// pair, top partners; as a table, CSV or an SVG chart.
    Report(parley::audit::report::ReportArgs),
    /// Erase everything parley stores about ADDRESS (consent, blocks, subscriptions,
    /// spooled messages) for a data-protection request; the audit log is kept. Acts on the
    /// running daemon through its admin socket (`admin.sock` in the state directory), or on
    /// the state file when the daemon is not running.
    Forget {
        /// The address, `user@domain`.
        address: String,
        /// Config file (TOML), for its state_dir; the built-in default when absent.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// USER blocks SENDER: no message crosses between them, either way (running daemon or
    /// state file, as for `forget`).
    Block {
        /// The user who blocks, `user@domain`.
        user: String,
        /// The address blocked, `user@domain`.
        sender: String,
        /// Config file (TOML), for its state_dir; the built-in default when absent.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Lift USER's block of SENDER.
    Unblock {
        /// The user who blocked, `user@domain`.
        user: String,
        /// The address blocked, `user@domain`.
        sender: String,
        /// Config file (TOML), for its state_dir; the built-in default when absent.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// List the addresses USER blocked.
    Blocks {
        /// The user, `user@domain`.
        user: String,
        /// Config file (TOML), for its state_dir; the built-in default when absent.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Write the man pages generated from this command line into DIR.
    #[command(hide = true)]
    Man {
        /// Output directory.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { config } => run(config),
        Command::Report(args) => parley::audit::report::run_cli(args),
        Command::Decode(args) => parley::tools::decode(&args),
        Command::Translate(args) => parley::tools::translate(&args),
        Command::Forget { address, config } => admin(config.as_ref(), &[&address], |a| {
            Request::Forget(a[0].clone())
        }),
        Command::Block {
            user,
            sender,
            config,
        } => admin(config.as_ref(), &[&user, &sender], |a| {
            Request::Block(a[0].clone(), a[1].clone(), true)
        }),
        Command::Unblock {
            user,
            sender,
            config,
        } => admin(config.as_ref(), &[&user, &sender], |a| {
            Request::Block(a[0].clone(), a[1].clone(), false)
        }),
        Command::Blocks { user, config } => {
            admin(config.as_ref(), &[&user], |a| Request::Blocks(a[0].clone()))
        }
        Command::Replay(args) => parley::tools::replay(&args),
        Command::Man { dir } => parley::manpage::run_cli(Cli::command(), &dir),
        Command::CheckConfig { file } => match load(Some(&file)) {
            Ok(_) => {
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(EXIT_CONFIG)
            }
        },
    }
}

fn load(path: Option<&PathBuf>) -> Result<Config, String> {
    let config = match path {
        Some(p) => Config::load(p).map_err(|e| format!("config error: {e}"))?,
        None => Config::builtin(),
    };
    let origin = path
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "built-in default".into());
    config
        .validate()
        .map_err(|e| format!("config error in {origin}: {e}"))?;
    Ok(config)
}

/// An admin request (`forget`, `block`, `unblock`, `blocks`) on the running daemon or, when
/// none runs, on the state file.
fn admin(
    config: Option<&PathBuf>,
    addresses: &[&String],
    request: impl FnOnce(&[String]) -> Request,
) -> ExitCode {
    let config = match load(config) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let mut checked = Vec::new();
    for a in addresses {
        match control::check_address(a) {
            Ok(a) => checked.push(a),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(EXIT_CONFIG);
            }
        }
    }
    let state_dir = config.state_dir();
    match control::run_cli(&state_dir, config.policy.max_blocks, &request(&checked)) {
        Ok((out, via)) => {
            print!("{out}");
            match via {
                control::Via::Daemon => eprintln!("(done by the running daemon)"),
                control::Via::StateFile => eprintln!(
                    "(no daemon running; done on {})",
                    state_dir.join("state.redb").display()
                ),
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(EXIT_START)
        }
    }
}

fn init_tracing(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match config.log.format {
        LogFormat::Plain => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

fn run(path: Option<PathBuf>) -> ExitCode {
    let config = match load(path.as_ref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    init_tracing(&config);
    let ops = match parley::admin::Ops::start(&config) {
        Ok(ops) => ops,
        Err(e) => {
            error!(error = %e, "cannot start metrics, admin server or audit log");
            return ExitCode::from(EXIT_START);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::from(EXIT_START);
        }
    };
    runtime.block_on(async move {
        let grace = config.drain_timeout();
        let config_path = path.clone();
        let origin = path
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "built-in default config".into());
        let domains: Vec<String> = config
            .domains
            .iter()
            .map(|d| format!("{} ({})", d.name, d.side.as_str()))
            .collect();
        let cancel = CancellationToken::new();
        let state_dir = config.state_dir();
        let app = match App::build(config, cancel.clone()).await {
            Ok(app) => app,
            Err(e) => {
                error!(error = %e, "cannot start");
                return ExitCode::from(EXIT_START);
            }
        };
        // Without the admin channel the gateway still serves; `parley forget` then needs
        // the daemon stopped.
        if let Err(e) = control::start(app.gateway(), &control::socket_path(&state_dir)) {
            error!(error = %e, "cannot open the admin channel");
        }
        let (sip, xmpp, xmpp_tls) = app.local_addrs();
        for a in &sip {
            info!(addr = %a, "listening: SIP over TLS");
        }
        for a in &xmpp {
            info!(addr = %a, "listening: XMPP server-to-server (STARTTLS)");
        }
        for a in &xmpp_tls {
            info!(addr = %a, "listening: XMPP server-to-server (direct TLS)");
        }
        info!(config = %origin, domains = ?domains, "parley ready");
        notify(&[sd_notify::NotifyState::Ready]);
        ops.set_ready();
        parley::admin::spawn_watchdog();
        tokio::spawn(wait_for_signal(cancel.clone()));
        tokio::spawn(reload_on_sighup(app.gateway(), config_path, cancel));
        if app.run(grace).await {
            info!("stopped");
        } else {
            warn!("drain deadline passed; remaining work aborted");
        }
        ExitCode::SUCCESS
    })
}

async fn wait_for_signal(cancel: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("cannot install signal handlers");
        return;
    };
    tokio::select! {
        _ = term.recv() => info!("SIGTERM: shutting down"),
        _ = int.recv() => info!("SIGINT: shutting down"),
    }
    notify(&[sd_notify::NotifyState::Stopping]);
    cancel.cancel();
}

/// SIGHUP: read the config file again and put it in force (domains, policy, rate limits,
/// certificates) without touching established connections. A file that does not load or
/// validate is logged and the config in force kept.
async fn reload_on_sighup(
    gw: std::sync::Arc<parley::routing::Gateway>,
    path: Option<PathBuf>,
    cancel: CancellationToken,
) {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        error!("cannot install the SIGHUP handler");
        return;
    };
    loop {
        tokio::select! {
            r = hup.recv() => if r.is_none() { return },
            () = cancel.cancelled() => return,
        }
        let Some(path) = &path else {
            info!("SIGHUP: running on the built-in config, nothing to reload");
            continue;
        };
        let mut states = vec![sd_notify::NotifyState::Reloading];
        states.extend(sd_notify::NotifyState::monotonic_usec_now().ok());
        notify(&states);
        let result = Config::load(path)
            .map_err(|e| e.to_string())
            .and_then(|c| parley::app::reload(&gw, c).map_err(|e| e.to_string()));
        match result {
            Ok(()) => info!(config = %path.display(), "SIGHUP: configuration reloaded"),
            Err(e) => {
                error!(config = %path.display(), error = %e, "SIGHUP: new configuration rejected; keeping the one in force")
            }
        }
        notify(&[sd_notify::NotifyState::Ready]);
    }
}

/// Tell systemd (Type=notify) about a state change; a no-op outside systemd.
fn notify(states: &[sd_notify::NotifyState<'_>]) {
    if let Err(e) = sd_notify::notify(states) {
        warn!(error = %e, "systemd notification failed");
    }
}
