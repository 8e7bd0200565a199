//! The daemon: event loop, protocols, signals and systemd notification.

use crate::cli::server::Opened;
use crate::config::credentials::Environment;
use crate::config::server::ServerConfig;
use crate::error::Result;

/// Runs the daemon until it is told to stop; returns the exit code.
pub fn run(config: ServerConfig, opened: Opened, _env: Environment) -> Result<i32> {
    match opened {
        Opened::Unsealed(_) => eprintln!(
            "<5>red: vault unsealed: {} (not yet serving: the network daemon is not built yet)",
            config.path.display()
        ),
        Opened::Sealed(_) => eprintln!(
            "<5>red: sealed: {} (not yet serving: the network daemon is not built yet)",
            config.path.display()
        ),
    }
    Ok(0)
}
