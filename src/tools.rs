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
