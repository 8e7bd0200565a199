//! `red version`: version, commit, and the hardening this build carries.

use crate::error::{Error, Result};

pub const HELP: &str = "red version

Prints the version, the git commit it was built from, and the hardening
features compiled in.";

pub fn run(args: &[String]) -> Result<i32> {
    if let Some(a) = args.first() {
        return Err(Error::Usage(format!(
            "red version takes no arguments (got '{a}')"
        )));
    }
    println!(
        "red {} (commit {})",
        env!("CARGO_PKG_VERSION"),
        env!("REDDB_GIT_COMMIT")
    );
    println!(
        "storage: AES-256-GCM pages, Argon2id vault key (m=16 MiB, t=3, p=1), format version {}",
        crate::pager::meta::FORMAT_VERSION
    );
    println!("key memory: guarded pages (memsec: guard pages, canary, mlock, MADV_DONTDUMP), zeroized on drop");
    Ok(0)
}
