//! The `entra` binary as a user runs it, one module per command: flags, exit codes,
//! the text it prints, the files it writes, signals; against an in-process emulator
//! (entra-testkit's harness) over loopback. Everything runs in the hermetic environment
//! of [`common`].
//!
//! One test: `cargo nextest run -p entra-cli -E 'test(decode::)'`.

mod common;

mod broker;
mod call;
mod completions;
mod decode;
mod demo;
mod doctor;
mod emulator;
mod fabric;
mod login;
mod token;
mod up;
mod validate;
