//! `parley report`: usage per month from audit logs.
//!
//! What counts: instant messages (`type = "im"`) that were delivered or spooled — refused and
//! bounced ones are traffic, not usage. Each message has a local end (the address on the
//! operator's platform, `--local-platform`, SIP by default) and a remote end (the partner's).
//! Per month:
//! - per local domain: distinct local users of that domain who sent or received, messages;
//! - per remote domain: distinct remote users of that domain, messages;
//! - per platform pair (`sip→xmpp`, `xmpp→sip`): distinct senders, messages;
//!
//! and over the whole range the top partner (remote) domains by messages. The range is the
//! trailing 12 months ending with the current month (UTC) unless `--from`/`--to` say otherwise.
//! Output: an aligned table, CSV, or an SVG chart (messages per month per platform pair and for
//! the top partners).

mod render;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use super::read;

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    /// Year.
    pub year: i32,
    /// 1–12.
    pub month: u8,
}

impl Month {
    /// The month after this one.
    pub fn next(self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// `n` months earlier.
    pub fn minus(self, n: u32) -> Month {
        let total = self.year * 12 + i32::from(self.month) - 1 - n as i32;
        Month {
            year: total.div_euclid(12),
            month: (total.rem_euclid(12) + 1) as u8,
        }
    }

    /// The current month, UTC.
    pub fn current() -> Month {
        let now = time::OffsetDateTime::now_utc();
        Month {
            year: now.year(),
            month: u8::from(now.month()),
        }
    }

    /// The month of an RFC 3339 time (`YYYY-MM-…`).
    pub fn of_time(t: &str) -> Option<Month> {
        t.get(..7)?.parse().ok()
    }
}

impl FromStr for Month {
    type Err = String;
    fn from_str(s: &str) -> Result<Month, String> {
        let bad = || format!("{s:?} is not a month (YYYY-MM)");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month: u8 = m.parse().map_err(|_| bad())?;
        if !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Month { year, month })
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// Which platform is the operator's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LocalPlatform {
    /// SIP domains are local, XMPP domains are partners.
    Sip,
    /// XMPP domains are local, SIP domains are partners.
    Xmpp,
}

impl LocalPlatform {
    fn as_str(self) -> &'static str {
        match self {
            LocalPlatform::Sip => "sip",
            LocalPlatform::Xmpp => "xmpp",
        }
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text tables.
    Table,
    /// `section,month,key,users,messages`.
    Csv,
    /// An SVG chart.
    Svg,
}

/// Report settings.
#[derive(Debug, Clone)]
pub struct Options {
    /// First month.
    pub from: Month,
    /// Last month (inclusive).
    pub to: Month,
    /// The operator's platform.
    pub local: LocalPlatform,
    /// How many top partners.
    pub top: usize,
}

/// Users and messages of one group in one month.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cell {
    /// Distinct users.
    pub users: usize,
    /// Messages.
    pub messages: u64,
}

/// A partner domain over the whole range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The remote domain.
    pub domain: String,
    /// Distinct remote users.
    pub users: usize,
    /// Messages.
    pub messages: u64,
}

/// The computed report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Every month of the range, in order.
    pub months: Vec<Month>,
    /// (month, local domain) → cell.
    pub local: BTreeMap<(Month, String), Cell>,
    /// (month, remote domain) → cell.
    pub remote: BTreeMap<(Month, String), Cell>,
    /// (month, `source→destination`) → cell.
    pub pairs: BTreeMap<(Month, String), Cell>,
    /// Top partner domains, most messages first.
    pub partners: Vec<Partner>,
    /// Lines counted.
    pub counted: u64,
    /// Lines that did not parse.
    pub unparsed: usize,
}

#[derive(Default)]
struct Acc {
    users: HashSet<String>,
    messages: u64,
}

type Groups = HashMap<(Month, String), Acc>;

fn add(groups: &mut Groups, month: Month, key: &str, user: &str) {
    let acc = groups.entry((month, key.to_owned())).or_default();
    acc.messages += 1;
    if !acc.users.contains(user) {
        acc.users.insert(user.to_owned());
    }
}

fn cells(groups: Groups) -> BTreeMap<(Month, String), Cell> {
    groups
        .into_iter()
        .map(|(k, a)| {
            let cell = Cell {
                users: a.users.len(),
                messages: a.messages,
            };
            (k, cell)
        })
        .collect()
}

fn domain(address: &str) -> &str {
    address.rsplit_once('@').map_or(address, |(_, d)| d)
}

/// Compute the report over `files` (plain or gzip, directories expanded).
pub fn compute(files: &[PathBuf], opts: &Options) -> io::Result<Usage> {
    let files = read::expand(files)?;
    let (mut local, mut remote, mut pairs) = (Groups::new(), Groups::new(), Groups::new());
    let mut partners: HashMap<String, Acc> = HashMap::new();
    let mut counted = 0;
    let unparsed = read::for_each_line(&files, |l| {
        if l.kind != "im" || !matches!(l.outcome.as_str(), "delivered" | "spooled") {
            return;
        }
        let Some(month) = Month::of_time(&l.time) else {
            return;
        };
        if month < opts.from || month > opts.to {
            return;
        }
        let (mine, theirs) = if l.source == opts.local.as_str() {
            (&l.from, &l.to)
        } else {
            (&l.to, &l.from)
        };
        counted += 1;
        add(&mut local, month, domain(mine), mine);
        add(&mut remote, month, domain(theirs), theirs);
        add(
            &mut pairs,
            month,
            &format!("{}→{}", l.source, l.destination),
            &l.from,
        );
        let p = partners.entry(domain(theirs).to_owned()).or_default();
        p.messages += 1;
        p.users.insert(theirs.clone());
    })?;
    let mut partners: Vec<Partner> = partners
        .into_iter()
        .map(|(domain, a)| Partner {
            domain,
            users: a.users.len(),
            messages: a.messages,
        })
        .collect();
    partners.sort_by(|a, b| b.messages.cmp(&a.messages).then(a.domain.cmp(&b.domain)));
    partners.truncate(opts.top);
    let mut months = vec![opts.from];
    while let Some(&last) = months.last().filter(|m| **m < opts.to) {
        months.push(last.next());
    }
    Ok(Usage {
        months,
        local: cells(local),
        remote: cells(remote),
        pairs: cells(pairs),
        partners,
        counted,
        unparsed,
    })
}

/// Render `usage` in `format` to `out`.
pub fn render(
    usage: &Usage,
    opts: &Options,
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Table => render::table(usage, opts, out),
        Format::Csv => render::csv(usage, opts, out),
        Format::Svg => {
            let svg = render::svg(usage, opts).map_err(io::Error::other)?;
            out.write_all(svg.as_bytes())
        }
    }
}

/// `parley report`.
#[derive(Debug, Clone, clap::Args)]
pub struct ReportArgs {
    /// Audit logs: files (plain or .gz, rotated ones included) or directories holding them.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// First month, YYYY-MM (default: 11 months before --to).
    #[arg(long)]
    pub from: Option<Month>,
    /// Last month, YYYY-MM (default: the current month, UTC).
    #[arg(long)]
    pub to: Option<Month>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// How many top partner domains to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// The operator's own platform: its domains are local, the other platform's are partners.
    #[arg(long, value_enum, default_value_t = LocalPlatform::Sip)]
    pub local_platform: LocalPlatform,
}

/// Run `parley report`: exit 0, 64 for a bad range, 66 when a log cannot be read.
pub fn run_cli(args: ReportArgs) -> ExitCode {
    let to = args.to.unwrap_or_else(Month::current);
    let from = args.from.unwrap_or_else(|| to.minus(11));
    if from > to {
        eprintln!("report: --from {from} is after --to {to}");
        return ExitCode::from(64);
    }
    let opts = Options {
        from,
        to,
        local: args.local_platform,
        top: args.top,
    };
    let usage = match compute(&args.files, &opts) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("report: {e}");
            return ExitCode::from(66);
        }
    };
    if usage.unparsed > 0 {
        eprintln!(
            "report: {} lines were not audit records and were skipped",
            usage.unparsed
        );
    }
    let result = match &args.output {
        Some(path) => std::fs::File::create(path).and_then(|f| {
            let mut w = io::BufWriter::new(f);
            render(&usage, &opts, args.format, &mut w)?;
            w.flush()
        }),
        None => render(&usage, &opts, args.format, &mut io::stdout().lock()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("report: {e}");
            ExitCode::from(74)
        }
    }
}
