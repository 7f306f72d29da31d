//! `entra completions SHELL`: a script for each shell that names every subcommand.

use crate::common::*;

/// The subcommands `entra --help` lists.
async fn subcommands(dir: &std::path::Path) -> Vec<String> {
    let mut cmd = entra(dir);
    cmd.arg("--help");
    let out = run(cmd, None).await;
    let list = out.stdout.split("Commands:\n").nth(1).unwrap();
    list.lines()
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .filter(|c| c != "help")
        .collect()
}

#[tokio::test]
async fn every_shell_gets_every_subcommand() {
    let dir = temp_dir("completions");
    let commands = subcommands(&dir).await;
    for expected in ["emulator", "decode", "call", "doctor", "completions"] {
        assert!(commands.iter().any(|c| c == expected), "{commands:?}");
    }
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let mut cmd = entra(&dir);
        cmd.args(["completions", shell]);
        let out = run(cmd, None).await;
        assert_eq!(out.code, Some(0), "{shell}: {}", out.stderr);
        for c in &commands {
            assert!(out.stdout.contains(c.as_str()), "{shell} script lacks {c}");
        }
    }
    let mut cmd = entra(&dir);
    cmd.args(["completions", "tcsh"]);
    assert_eq!(run(cmd, None).await.code, Some(2));
}
