//! Configuration from flags, environment, `_FILE` companions, systemd
//! credentials and presets.

pub mod credentials;
pub mod reload;
pub mod server;
