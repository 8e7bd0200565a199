//! What `red migrate` has done so far: the per-type counts it prints at
//! the end, and the state file that lets an interrupted run continue
//! (`--state FILE`, `--resume`).
//!
//! The state file is a few `name value` lines: the source and target as
//! `HOST:PORT/DB` (never a credential, never a key name), the SCAN cursor
//! after the last committed batch, whether the scan had finished, and the
//! counts. It is written atomically (a temporary file in the same
//! directory, fsync, rename, fsync of the directory), mode 0600.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The value types reddb holds, in the order the summary prints them.
pub const KINDS: [&str; 5] = ["string", "list", "set", "hash", "zset"];

/// Largest state file read back.
const MAX_STATE_FILE: u64 = 64 * 1024;

/// First line of a state file.
const MAGIC: &str = "red-migrate-state 1";

/// Counts of one migration (across resumes).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Keys copied in the scan, per [`KINDS`] entry.
    pub copied: [u64; 5],
    /// Keys copied again because they changed on the source meanwhile (or
    /// by a full pass after a resume).
    pub recopied: u64,
    /// Keys gone from the source between SCAN and read, or deleted there
    /// during the copy: deleted on the target.
    pub vanished: u64,
    /// `red.secret.*` keys: refused by name.
    pub refused_secret: u64,
    /// Keys or values larger than reddb holds: refused by name.
    pub refused_too_large: u64,
    /// Types reddb lacks (stream, module types), by type name.
    pub unsupported: BTreeMap<String, u64>,
}

impl Counts {
    pub fn copied_total(&self) -> u64 {
        self.copied.iter().sum()
    }

    pub fn unsupported_total(&self) -> u64 {
        self.unsupported.values().sum()
    }

    pub fn count_copied(&mut self, kind: usize) {
        if let Some(c) = self.copied.get_mut(kind) {
            *c += 1;
        }
    }

    /// Counts one key of a type reddb lacks (names that are not plain
    /// words are counted as `other`).
    pub fn count_unsupported(&mut self, type_name: &str) {
        let name = if !type_name.is_empty()
            && type_name.len() <= 32
            && type_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            type_name
        } else {
            "other"
        };
        *self.unsupported.entry(name.to_string()).or_default() += 1;
    }
}

/// Where an interrupted migration stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationState {
    /// `HOST:PORT/DB` of the source and the target.
    pub source: String,
    pub target: String,
    /// The SCAN cursor after the last committed batch (0: start).
    pub cursor: u64,
    /// The current pass finished; only the changed keys remained.
    pub scan_complete: bool,
    pub counts: Counts,
}

impl MigrationState {
    pub fn new(source: String, target: String) -> Self {
        Self {
            source,
            target,
            cursor: 0,
            scan_complete: false,
            counts: Counts::default(),
        }
    }

    pub fn encode(&self) -> String {
        let c = &self.counts;
        let mut out = format!(
            "{MAGIC}\nsource {}\ntarget {}\ncursor {}\nscan_complete {}\n",
            self.source,
            self.target,
            self.cursor,
            u8::from(self.scan_complete)
        );
        for (name, n) in KINDS.iter().zip(c.copied) {
            out.push_str(&format!("copied.{name} {n}\n"));
        }
        out.push_str(&format!(
            "recopied {}\nvanished {}\nrefused_secret {}\nrefused_too_large {}\n",
            c.recopied, c.vanished, c.refused_secret, c.refused_too_large
        ));
        for (name, n) in &c.unsupported {
            out.push_str(&format!("unsupported.{name} {n}\n"));
        }
        out
    }

    /// Parses a state file; the error names the line.
    pub fn decode(text: &str) -> std::result::Result<Self, String> {
        let mut lines = text.lines();
        if lines.next() != Some(MAGIC) {
            return Err("not a red migrate state file".into());
        }
        let mut s = MigrationState::new(String::new(), String::new());
        for (n, line) in lines.enumerate() {
            let bad = || format!("line {} is malformed", n + 2);
            let (name, value) = line.split_once(' ').ok_or_else(bad)?;
            let number = || value.parse::<u64>().map_err(|_| bad());
            match name {
                "source" => s.source = value.to_string(),
                "target" => s.target = value.to_string(),
                "cursor" => s.cursor = number()?,
                "scan_complete" => s.scan_complete = number()? != 0,
                "recopied" => s.counts.recopied = number()?,
                "vanished" => s.counts.vanished = number()?,
                "refused_secret" => s.counts.refused_secret = number()?,
                "refused_too_large" => s.counts.refused_too_large = number()?,
                _ => {
                    if let Some(kind) = name.strip_prefix("copied.") {
                        let i = KINDS.iter().position(|k| *k == kind).ok_or_else(bad)?;
                        if let Some(c) = s.counts.copied.get_mut(i) {
                            *c = number()?;
                        }
                    } else if let Some(t) = name.strip_prefix("unsupported.") {
                        s.counts.unsupported.insert(t.to_string(), number()?);
                    } else {
                        return Err(bad());
                    }
                }
            }
        }
        if s.source.is_empty() || s.target.is_empty() {
            return Err("the source or target line is missing".into());
        }
        Ok(s)
    }

    /// Reads the state file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        use crate::small_file::{read_regular_file, SmallFileError};
        let bytes = read_regular_file(path, MAX_STATE_FILE).map_err(|e| {
            let context = format!("cannot read the state file {}", path.display());
            match e {
                SmallFileError::Io(e) => Error::io(context, e),
                SmallFileError::NotRegular => {
                    Error::InvalidInput(format!("{context}: not a regular file"))
                }
                SmallFileError::TooLarge => Error::InvalidInput(format!("{context}: too large")),
            }
        })?;
        let text = std::str::from_utf8(&bytes)
            .map_err(|_| Error::InvalidInput(format!("state file {}: not text", path.display())))?;
        Self::decode(text)
            .map_err(|e| Error::InvalidInput(format!("state file {}: {e}", path.display())))
    }

    /// Replaces the state file at `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |what: &str, e: std::io::Error| {
            Error::io(
                format!("cannot {what} the state file {}", path.display()),
                e,
            )
        };
        let mut tmp_name = path.as_os_str().to_owned();
        tmp_name.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp_name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| io("write", e))?;
        f.write_all(self.encode().as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io("write", e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| io("replace", e))?;
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("sync the directory of", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let mut s = MigrationState::new("127.0.0.1:6379/0".into(), "[::1]:5050/2".into());
        s.cursor = 123_456;
        s.scan_complete = true;
        s.counts.copied = [1, 2, 3, 4, 5];
        s.counts.recopied = 6;
        s.counts.vanished = 7;
        s.counts.refused_secret = 8;
        s.counts.refused_too_large = 9;
        s.counts.count_unsupported("stream");
        s.counts.count_unsupported("ReJSON-RL");
        s.counts.count_unsupported("we ird\n");
        assert_eq!(MigrationState::decode(&s.encode()).unwrap(), s);
        assert_eq!(s.counts.unsupported.get("other"), Some(&1));

        assert!(MigrationState::decode("").is_err());
        assert!(MigrationState::decode("red-migrate-state 2\n").is_err());
        let e = MigrationState::decode("red-migrate-state 1\nsource a\ntarget b\ncursor x\n")
            .unwrap_err();
        assert!(e.contains("line 4"), "{e}");
        assert!(MigrationState::decode("red-migrate-state 1\nsource a\n").is_err());
        assert!(
            MigrationState::decode("red-migrate-state 1\nsource a\ntarget b\nwhat 1\n").is_err()
        );
    }

    proptest::proptest! {
        #[test]
        fn any_text_decodes_or_is_refused_without_panic(
            body in "(\\PC{0,30}\n){0,12}",
        ) {
            let _ = MigrationState::decode(&format!("red-migrate-state 1\n{body}"));
        }
    }

    #[test]
    fn save_is_atomic_and_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state");
        let s = MigrationState::new("a:1/0".into(), "b:2/0".into());
        s.save(&p).unwrap();
        assert_eq!(MigrationState::load(&p).unwrap(), s);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!dir.path().join("state.tmp").exists());
    }
}
