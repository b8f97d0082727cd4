//! Generates the man pages and shell completions the packages install, from the command
//! line's own definition (`edgeship::cli`), so they never drift from `--help`:
//!
//!     cargo run --locked --example package-assets -- target/assets
//!
//! writes `man/edgeship.1.gz` and one `man/edgeship-<command>.1.gz` per subcommand, and
//! `completions/edgeship.bash`, `_edgeship` (zsh) and `edgeship.fish`. Its generators are
//! dev-dependencies: the shipped binary does not carry them. The output does not depend on
//! the target, so a cross-build uses the host's run.

use clap::CommandFactory;
use clap_complete::Shell;
use edgeship::cli::Cli;
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() -> std::io::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("target/assets"));
    man_pages(&out.join("man"))?;
    completions(&out.join("completions"))?;
    println!("wrote man pages and completions to {}", out.display());
    Ok(())
}

fn man_pages(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut command = Cli::command();
    command.build(); // adds the `help` subcommand the main page lists
    write_page(dir, "edgeship", command.clone())?;
    for sub in command.get_subcommands() {
        // clap without its "string" feature takes static names; this runs once and exits.
        let name: &'static str = format!("edgeship-{}", sub.get_name()).leak();
        let page = sub.clone().name(name).version(env!("CARGO_PKG_VERSION"));
        write_page(dir, name, page)?;
    }
    Ok(())
}

fn write_page(dir: &Path, name: &str, command: clap::Command) -> std::io::Result<()> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(command).render(&mut roff)?;
    let file = std::fs::File::create(dir.join(format!("{name}.1.gz")))?;
    let mut gz = flate2::write::GzEncoder::new(file, flate2::Compression::best());
    gz.write_all(&roff)?;
    gz.finish()?;
    Ok(())
}

fn completions(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut command = Cli::command();
        clap_complete::generate_to(shell, &mut command, "edgeship", dir)?;
    }
    Ok(())
}
