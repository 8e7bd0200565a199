//! A small, strict command-line flag parser: `--name value`, `--name=value`
//! and boolean `--switch`. Unknown flags, missing values and repeated flags
//! are usage errors that name the flag.

use crate::error::{Error, Result};
use std::collections::{HashMap, HashSet};

pub struct Flags {
    values: HashMap<&'static str, String>,
    switches: HashSet<&'static str>,
}

impl Flags {
    /// Parses `args` (without the program and subcommand names).
    pub fn parse(
        args: &[String],
        with_value: &[&'static str],
        switches: &[&'static str],
    ) -> Result<Self> {
        let mut values = HashMap::new();
        let mut on = HashSet::new();
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            let Some(body) = arg.strip_prefix("--") else {
                return Err(Error::Usage(format!("unexpected argument '{arg}'")));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (body, None),
            };
            if let Some(flag) = with_value.iter().find(|f| **f == name) {
                let value = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| Error::Usage(format!("--{name} needs a value")))?,
                };
                if values.insert(*flag, value).is_some() {
                    return Err(Error::Usage(format!("--{name} given twice")));
                }
            } else if let Some(flag) = switches.iter().find(|f| **f == name) {
                if inline.is_some() {
                    return Err(Error::Usage(format!("--{name} takes no value")));
                }
                on.insert(*flag);
            } else {
                return Err(Error::Usage(format!(
                    "unknown flag --{name} (see 'red help')"
                )));
            }
        }
        Ok(Self {
            values,
            switches: on,
        })
    }

    pub fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    pub fn required(&self, name: &str) -> Result<&str> {
        self.value(name)
            .ok_or_else(|| Error::Usage(format!("--{name} is required")))
    }

    pub fn on(&self, name: &str) -> bool {
        self.switches.contains(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn forms_and_errors() {
        let f = Flags::parse(
            &s(&["--path", "a", "--user=b", "--vault"]),
            &["path", "user"],
            &["vault"],
        )
        .unwrap();
        assert_eq!(f.value("path"), Some("a"));
        assert_eq!(f.value("user"), Some("b"));
        assert!(f.on("vault"));
        assert!(Flags::parse(&s(&["--nope"]), &[], &[]).is_err());
        assert!(Flags::parse(&s(&["--path"]), &["path"], &[]).is_err());
        assert!(Flags::parse(&s(&["--path", "a", "--path", "b"]), &["path"], &[]).is_err());
        assert!(Flags::parse(&s(&["--vault=1"]), &[], &["vault"]).is_err());
        assert!(Flags::parse(&s(&["x"]), &[], &[]).is_err());
    }
}
