//! Man pages generated from the CLI definition (clap_mangen), for the Debian package:
//! `parley(1)` and one page per subcommand (`parley-run(1)`, …).

use std::io;
use std::path::Path;

/// Write `NAME.1` for the command and `NAME-SUB.1` for each subcommand into `dir`.
pub fn generate(command: clap::Command, dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    clap_mangen::generate_to(command, dir)
}

/// `parley man DIR`: exit 0, or 73 (EX_CANTCREAT) when the pages cannot be written.
pub fn run_cli(command: clap::Command, dir: &Path) -> std::process::ExitCode {
    match generate(command, dir) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("man: {}: {e}", dir.display());
            std::process::ExitCode::from(73)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn pages_for_command_and_subcommands() {
        let cmd = clap::Command::new("parley")
            .about("gateway")
            .subcommand(clap::Command::new("run").about("Run it"));
        let dir = std::env::temp_dir().join(format!("parley-man-{}", std::process::id()));
        super::generate(cmd, &dir).unwrap();
        let page = std::fs::read_to_string(dir.join("parley.1")).unwrap();
        assert!(page.contains(".TH parley 1"), "{page}");
        assert!(dir.join("parley-run.1").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
