//! The `validation` check: how `entra validate` checks RSA signatures here.

use super::report::{Check, Status};
use crate::config::Config;

/// How this machine checks token signatures (`entra validate`, entra-validate): the RSA
/// implementation in use and what decided it (the CPU, `ENTRA_RSA_BACKEND`, or the
/// `[validate] rsa_backend` setting, whose value and layer are the detail line).
pub(super) fn check(config: &Config) -> Check {
    let setting = &config.rsa_backend;
    Check::new(
        "validation",
        Status::Ok,
        entra_jose::RsaBackend::describe_for(setting.value),
    )
    .detail(format!(
        "rsa_backend = \"{}\" ({})",
        setting.value.name(),
        setting.source
    ))
}
