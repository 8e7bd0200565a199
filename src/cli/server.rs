//! `red server`: resolve configuration, open the file, unseal (or bootstrap
//! in `--dev` / auto-bootstrap), then hand over to the daemon.

use super::args::Flags;
use crate::config::credentials::{Environment, CERTIFICATE, PASSWORD, USERNAME};
use crate::config::server::{ServerConfig, SWITCHES, VALUES};
use crate::crypto::keys::Certificate;
use crate::crypto::password::PasswordCost;
use crate::database::{open_pager, Database};
use crate::error::{Error, Result};
use crate::pager::Pager;
use crate::service::DbState;
use std::path::{Path, PathBuf};

pub const HELP: &str = "red server --path FILE [--vault] [--auth] [--require-auth] [--no-auth]
           [--http-bind ADDR] [--wire-bind ADDR] [--dev] [--require-mlock]
           [--fsync always|everysec] [--workers N] [--metrics-loopback]
           [--max-connections N] [--max-buffer-memory BYTES]
           [--allow-remote-bootstrap] [--notify-keyspace-events FLAGS]
           [--no-scripting] [--busy-script-time MS]

Runs the daemon on FILE. The certificate comes from REDDB_CERTIFICATE,
REDDB_CERTIFICATE_FILE or $CREDENTIALS_DIRECTORY/certificate. Without one a
bootstrapped FILE starts sealed (with --vault: refused), and a fresh FILE
waits for POST /auth/bootstrap, which only loopback peers may send unless
--allow-remote-bootstrap is given. --dev bootstraps a fresh FILE and keeps
its certificate in FILE.cert (development only).
--workers N sets the Argon2 threads (default: half the cores). GET /metrics
needs an admin, or nothing from a loopback peer with --metrics-loopback.
--max-connections N (or RED_MAX_CONNECTIONS) limits open client connections,
HTTP and wire together (default 16384; lowered to fit the open-file limit).
--max-buffer-memory BYTES (or RED_MAX_BUFFER_MEMORY; a byte count, 65536 to
1099511627776, default 268435456 = 256 MiB) is the budget for bytes buffered
across all connections (requests being received, replies not yet sent);
past it the server stops reading sockets until it has room again.
--notify-keyspace-events FLAGS turns keyspace notifications on at start
(Redis's classes, e.g. KEA; CONFIG SET notify-keyspace-events changes it).
--no-scripting (or RED_NO_SCRIPTING=1; forced by the regulated preset) turns
Lua scripting (EVAL, EVALSHA, SCRIPT) off. --busy-script-time MS (or
RED_BUSY_SCRIPT_TIME, default 5000) is how long a script runs before other
wire clients are answered BUSY and SCRIPT KILL may stop it.
Defaults: --http-bind 127.0.0.1:5000, --wire-bind 127.0.0.1:5050.";

/// What start-up produced: an open database or a sealed/fresh file.
pub enum Opened {
    Unsealed(Box<Database>),
    /// No certificate: the file stays sealed (or fresh, awaiting bootstrap).
    Sealed(Box<Pager>),
}

pub fn run(args: &[String], env: Environment) -> Result<i32> {
    let flags = Flags::parse(args, &VALUES, &SWITCHES)?;
    let mut config = ServerConfig::resolve(&flags, &env)?;
    crate::harden::memory::check_full_lock_possible(config.require_mlock)?;
    // The admin token is read (and an unreadable one refused) before the
    // file is opened for writing: an open rewrites the meta pages.
    let (reload, admin) = crate::config::reload::Reloadable::capture(&env)?;
    // The listeners too (a port in use, a bad socket-activation variable):
    // a refusal must leave the file as it was.
    let listeners = crate::server::listeners::open(config.http_bind, config.wire_bind)?;
    let opened = open_database(&config, &env)?;
    // Every secret the environment held has been read: wipe them now.
    drop(env);
    // Before the seccomp filter: raise RLIMIT_NOFILE, then never accept
    // more connections than it allows (accept would fail with EMFILE).
    let fit = crate::server::limits::fit_connections_to_fd_limit(config.max_connections);
    if fit < config.max_connections {
        crate::log_notice!(
            "max connections lowered from {} to {fit}: the open-file limit allows no more (raise LimitNOFILE= / ulimit -Hn)",
            config.max_connections
        );
        config.max_connections = fit;
    }
    let db = match opened {
        Opened::Unsealed(db) => DbState::Open(db),
        Opened::Sealed(pager) if pager.header().bootstrapped => DbState::Sealed(pager),
        Opened::Sealed(pager) => DbState::Fresh(pager),
    };
    crate::server::run(
        config.daemon_settings(),
        listeners,
        db,
        admin.map(|c| c.value),
        Box::new(reload),
    )
}

/// `FILE.cert` beside the database (dev mode).
pub fn dev_certificate_path(db: &Path) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(".cert");
    PathBuf::from(s)
}

/// Opens or bootstraps the database according to `config` and the
/// environment. Never prints a secret except the dev/auto-bootstrap API key
/// shown once on stdout.
pub fn open_database(config: &ServerConfig, env: &Environment) -> Result<Opened> {
    let cert = match env.credential(&CERTIFICATE)? {
        Some(c) => Some(Certificate::parse_hex(&c.value)?),
        None => None,
    };
    // A fresh file is created only when no certificate was given: a
    // certificate means "open my database", so a missing file (exit 20) or
    // an empty one (exit 19) is refused before anything is written.
    let pager = open_pager(&config.path, cert.is_none())?;
    if !pager.header().bootstrapped {
        if cert.is_some() {
            return Err(Error::NotBootstrapped);
        }
        if config.dev {
            return dev_bootstrap(config, pager);
        }
        if let (Some(user), Some(pass)) = (env.credential(&USERNAME)?, env.credential(&PASSWORD)?) {
            return auto_bootstrap(config, pager, &user.value, &pass.value);
        }
        // Fresh, with or without --vault: serve POST /auth/bootstrap (the
        // certificate is then returned to the caller, never logged).
        return Ok(Opened::Sealed(Box::new(pager)));
    }
    let cert = match cert {
        Some(c) => c,
        None if config.dev => {
            let path = dev_certificate_path(&config.path);
            let text =
                crate::config::credentials::read_secret_file(&path, "the dev certificate file")?;
            eprintln!(
                "<4>red: WARNING: development mode: unsealing with {} — never use --dev in production",
                path.display()
            );
            Certificate::parse_hex(&text)?
        }
        None if config.vault => return Err(Error::MissingCertificate),
        None => return Ok(Opened::Sealed(Box::new(pager))),
    };
    Ok(Opened::Unsealed(Box::new(Database::unseal(
        pager, &cert, true,
    )?)))
}

fn dev_bootstrap(config: &ServerConfig, pager: Pager) -> Result<Opened> {
    let cert_path = dev_certificate_path(&config.path);
    if cert_path.exists() {
        return Err(Error::Usage(format!(
            "{} exists but {} is not bootstrapped: remove the stale certificate file first",
            cert_path.display(),
            config.path.display()
        )));
    }
    let password = hex::encode(crate::crypto::random::array::<12>()?);
    let (db, out) = crate::service::bootstrap::bootstrap(
        pager,
        "admin",
        password.as_bytes(),
        PasswordCost::DEFAULT,
    )?;
    write_dev_certificate(&cert_path, &out.certificate_hex)?;
    eprintln!(
        "<4>red: WARNING: development mode: the certificate is stored in {} next to the database.",
        cert_path.display()
    );
    eprintln!("<4>red: WARNING: anyone who can read that file can read every secret. Never use --dev in production.");
    println!("dev bootstrap: {}", config.path.display());
    println!("admin user created: admin");
    println!("admin password: {password}");
    println!("api key: {}", out.api_key.as_str());
    Ok(Opened::Unsealed(Box::new(first_boot(db)?)))
}

fn write_dev_certificate(path: &Path, hex: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io(format!("cannot create {}", path.display()), e))?;
    f.write_all(format!("{hex}\n").as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::io(format!("cannot write {}", path.display()), e))
}

fn auto_bootstrap(config: &ServerConfig, pager: Pager, user: &str, pass: &str) -> Result<Opened> {
    let Some(out_path) = &config.certificate_out else {
        return Err(Error::Usage(
            "auto-bootstrap needs REDDB_CERTIFICATE_OUT: the certificate is never written to a log"
                .into(),
        ));
    };
    if out_path.exists() {
        return Err(Error::Usage(format!(
            "REDDB_CERTIFICATE_OUT {} already exists; refusing to overwrite it",
            out_path.display()
        )));
    }
    let prepared = crate::service::bootstrap::PreparedFirstAdmin::prepare(
        user,
        pass.as_bytes(),
        PasswordCost::DEFAULT,
        config.min_password_len,
    )?;
    // The certificate reaches its file before the bootstrap is committed.
    super::bootstrap::write_certificate_file(out_path, &prepared.certificate_hex())?;
    let (db, out) = match prepared.finish(pager) {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_file(out_path);
            return Err(e);
        }
    };
    eprintln!(
        "<5>red: auto-bootstrap: admin user '{}' created; certificate written to REDDB_CERTIFICATE_OUT (mode 0400)",
        out.username
    );
    Ok(Opened::Unsealed(Box::new(first_boot(db)?)))
}

/// Runs the first-boot step (`red.secret.aes_key`) right after bootstrap,
/// exactly as an unseal would.
fn first_boot(mut db: Database) -> Result<Database> {
    db.complete_first_boot()?;
    Ok(db)
}
