//! Finding what a test needs outside Rust (the repository's interop folder, its Python
//! venv, `redis-server`), at run time, with one clear message when it is missing.
//!
//! A missing tool is a failure, not a skip: a test that silently passes without its
//! peer proves nothing.

use std::path::{Path, PathBuf};

/// The repository root: `ENTRA_REPO_ROOT` when set, else the nearest directory at or
/// above the current one that holds both `Cargo.toml` and `tests/interop` (cargo and
/// nextest run a test in its crate's directory, inside the repository).
pub fn repo_root() -> PathBuf {
    if let Some(root) = std::env::var_os("ENTRA_REPO_ROOT") {
        return PathBuf::from(root);
    }
    let start = std::env::current_dir().expect("the current directory is readable");
    find_repo_root(&start).unwrap_or_else(|| {
        panic!(
            "no entrakit repository (Cargo.toml beside tests/interop) at or above {}: \
             run the tests from the repository, or set ENTRA_REPO_ROOT",
            start.display()
        )
    })
}

fn find_repo_root(start: &Path) -> Option<PathBuf> {
    start
        .ancestors()
        .find(|dir| dir.join("Cargo.toml").is_file() && dir.join("tests/interop").is_dir())
        .map(Path::to_path_buf)
}

/// The interop venv's Python (`scripts/setup-test-deps` makes it), or `ENTRA_TEST_PYTHON`.
pub fn python() -> PathBuf {
    let p = std::env::var_os("ENTRA_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin/python"));
    assert!(
        p.exists(),
        "MSAL Python interop needs {}: run scripts/setup-test-deps (it creates .venv with msal), or set ENTRA_TEST_PYTHON to a Python with msal installed",
        p.display()
    );
    p
}

/// `redis-server`: `ENTRA_TEST_REDIS_SERVER` when set, else the first on `PATH`.
pub fn redis_server() -> PathBuf {
    if let Some(p) = std::env::var_os("ENTRA_TEST_REDIS_SERVER") {
        return PathBuf::from(p);
    }
    on_path("redis-server").unwrap_or_else(|| {
        panic!(
            "these tests need a real redis-server and none is on PATH: run scripts/setup-test-deps \
             (Debian: apt-get install redis-server), or set ENTRA_TEST_REDIS_SERVER"
        )
    })
}

/// The first executable file called `name` in a directory of `PATH`.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_is_found_from_a_crate_directory() {
        let here = Path::new(env!("CARGO_MANIFEST_DIR"));
        let root = find_repo_root(here).expect("the testkit lives in the repository");
        assert!(root.join("tests/interop").is_dir());
        assert!(find_repo_root(Path::new("/")).is_none());
    }
}
