//! The commands of part B as a user runs them: `entra decode`, `call`, `doctor` and
//! `completions`, against an emulator (and a small local API) over loopback.

mod common;

mod call;
mod completions;
mod decode;
mod doctor;
