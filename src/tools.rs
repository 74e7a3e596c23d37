//! The offline tools of the command line: `parley decode` (what the codecs see in a captured
//! message) and `parley translate` (what parley would send on the other side).

use std::path::PathBuf;
use std::process::ExitCode;

use crate::translate::{self, Protocol};

/// Exit status when an input file cannot be read (sysexits EX_NOINPUT).
const EXIT_NO_INPUT: u8 = 66;

/// Which codec reads the inputs; detected per file when neither flag is given.
#[derive(Debug, Clone, clap::Args)]
pub struct ProtocolArgs {
    /// Read the files as SIP messages.
    #[arg(long, conflicts_with = "xmpp")]
    pub sip: bool,
    /// Read the files as XMPP stanzas (or stream fragments).
    #[arg(long)]
    pub xmpp: bool,
}

impl ProtocolArgs {
    fn forced(&self) -> Option<Protocol> {
        match (self.sip, self.xmpp) {
            (true, _) => Some(Protocol::Sip),
            (_, true) => Some(Protocol::Xmpp),
            _ => None,
        }
    }
}

/// `parley decode`.
#[derive(Debug, Clone, clap::Args)]
pub struct DecodeArgs {
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Files, one message (or stream fragment) each.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// `parley translate`.
#[derive(Debug, Clone, clap::Args)]
pub struct TranslateArgs {
    #[command(flatten)]
    protocol: ProtocolArgs,
    /// Print the canonical events as JSON instead of the wire form.
    #[arg(long)]
    json: bool,
    /// Files, one message each.
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Print each file as JSON (or the error parley would answer); exit 1 when any is invalid.
pub fn decode(args: &DecodeArgs) -> ExitCode {
    each_file(&args.files, |bytes| {
        let protocol = args
            .protocol
            .forced()
            .unwrap_or_else(|| translate::detect(bytes));
        let (json, valid) = match protocol {
            Protocol::Sip => crate::sip::decode::decode_to_json(bytes),
            Protocol::Xmpp => crate::xmpp::decode::decode_to_json(bytes),
        };
        let text = serde_json::to_string_pretty(&json).unwrap_or_default() + "\n";
        (text, valid)
    })
}

/// Print what parley would send for each file; exit 1 when any is refused.
pub fn translate(args: &TranslateArgs) -> ExitCode {
    each_file(&args.files, |bytes| {
        translate::translate_file(bytes, args.protocol.forced(), args.json)
    })
}

fn each_file(files: &[PathBuf], mut f: impl FnMut(&[u8]) -> (String, bool)) -> ExitCode {
    let mut all_ok = true;
    for path in files {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("{}: {e}", path.display());
                return ExitCode::from(EXIT_NO_INPUT);
            }
        };
        let (text, ok) = f(&bytes);
        if files.len() > 1 {
            println!("==> {} <==", path.display());
        }
        print!("{text}");
        all_ok &= ok;
    }
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `parley replay`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReplayArgs {
    /// pcap or pcapng files, read in this order as one capture.
    #[arg(required = true)]
    captures: Vec<PathBuf>,
    /// Compare the translation with this golden JSON-lines file; differences exit 1.
    #[arg(long, value_name = "GOLDEN", conflicts_with = "send")]
    check: Option<PathBuf>,
    /// Replay one side of the capture to a live target (`host:port`).
    #[arg(long, value_name = "TARGET")]
    send: Option<std::net::SocketAddr>,
    /// Transport for --send.
    #[arg(long, value_enum, default_value = "tcp", requires = "send")]
    transport: TransportArg,
    /// For --send over TLS: the name to verify the target's certificate against.
    #[arg(long, requires = "send")]
    server_name: Option<String>,
    /// For --send over TLS: the CA certificates (PEM) to trust.
    #[arg(long, requires = "send")]
    ca: Option<PathBuf>,
    /// For --send over TLS to a target that requires mutual TLS: certificate chain (PEM).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Private key (PEM) for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// For --send: only this protocol's messages.
    #[arg(long, value_enum)]
    protocol: Option<ProtoArg>,
    /// For --send: the messages sent by this endpoint (IP or IP:port).
    #[arg(long)]
    from: Option<String>,
    /// For --send: capture timing divided by this factor (default: as fast as possible).
    #[arg(long)]
    speed: Option<f64>,
    /// Ports that mean SIP (repeatable; default 5060 and 5062).
    #[arg(long = "sip-port")]
    sip_ports: Vec<u16>,
    /// Ports that mean XMPP (repeatable; default 5222 and 5269).
    #[arg(long = "xmpp-port")]
    xmpp_ports: Vec<u16>,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
}

/// `--transport`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TransportArg {
    /// One datagram per SIP message.
    Udp,
    /// One TCP connection.
    Tcp,
    /// One TLS connection.
    Tls,
}

/// `--protocol`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ProtoArg {
    /// SIP.
    Sip,
    /// XMPP.
    Xmpp,
}

/// Run `parley replay`; exit status as documented in [`crate::replay`].
pub fn replay(args: &ReplayArgs) -> ExitCode {
    use crate::replay::{Mode, Proto, ReplayOptions, SendOptions, SendTransport};
    let mut opts = ReplayOptions::new(args.captures.clone());
    if !args.sip_ports.is_empty() {
        opts.sip_ports = args.sip_ports.clone();
    }
    if !args.xmpp_ports.is_empty() {
        opts.xmpp_ports = args.xmpp_ports.clone();
    }
    opts.progress = !args.no_progress;
    opts.mode = match (&args.check, args.send) {
        (Some(golden), _) => Mode::Check {
            golden: golden.clone(),
        },
        (None, Some(target)) => {
            let transport = match args.transport {
                TransportArg::Udp => SendTransport::Udp,
                TransportArg::Tcp => SendTransport::Tcp,
                TransportArg::Tls => {
                    let (Some(server_name), Some(ca_file)) =
                        (args.server_name.clone(), args.ca.clone())
                    else {
                        eprintln!("--transport tls needs --server-name and --ca");
                        return ExitCode::from(64);
                    };
                    SendTransport::Tls {
                        server_name,
                        ca_file,
                        client_cert: args.cert.clone().zip(args.key.clone()),
                    }
                }
            };
            let mut send = SendOptions::new(target, transport);
            send.protocol = args.protocol.map(|p| match p {
                ProtoArg::Sip => Proto::Sip,
                ProtoArg::Xmpp => Proto::Xmpp,
            });
            send.from = args.from.clone();
            send.speed = args.speed;
            Mode::Send(send)
        }
        (None, None) => Mode::Translate,
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    ExitCode::from(crate::replay::run(&opts, &mut out))
}
