//! `entra completions SHELL`: a completion script for bash, zsh, fish, PowerShell or
//! elvish, generated from the same clap definition that parses the flags.

use crate::exit::CliError;

const EXAMPLES: &str = "\
EXAMPLES:
  entra completions bash > ~/.local/share/bash-completion/completions/entra
  entra completions zsh > \"${fpath[1]}/_entra\"
  entra completions fish > ~/.config/fish/completions/entra.fish
  entra completions powershell >> $PROFILE";

#[derive(clap::Args)]
#[command(after_help = EXAMPLES)]
pub(crate) struct CompletionsArgs {
    /// The shell to write a completion script for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Writes the script for `command` (the whole `entra` CLI) to stdout.
pub(crate) fn run(args: CompletionsArgs, mut command: clap::Command) -> Result<(), CliError> {
    clap_complete::generate(args.shell, &mut command, "entra", &mut std::io::stdout());
    Ok(())
}
