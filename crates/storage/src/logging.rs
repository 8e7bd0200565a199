//! One line per event on stderr, prefixed with the sd-daemon priority
//! (`<3>` error … `<6>` info) so journald keeps the level. Callers pass
//! names, counts and codes — never a secret, token, password, certificate
//! or the path of a credential file.

use std::fmt;
use std::io::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error = 3,
    Warning = 4,
    Notice = 5,
    Info = 6,
}

pub fn emit(level: Level, args: fmt::Arguments<'_>) {
    let line = format!("<{}>red: {}\n", level as u8, args);
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

#[macro_export]
macro_rules! log_error { ($($t:tt)*) => { $crate::logging::emit($crate::logging::Level::Error, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_warn { ($($t:tt)*) => { $crate::logging::emit($crate::logging::Level::Warning, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_notice { ($($t:tt)*) => { $crate::logging::emit($crate::logging::Level::Notice, format_args!($($t)*)) } }
#[macro_export]
macro_rules! log_info { ($($t:tt)*) => { $crate::logging::emit($crate::logging::Level::Info, format_args!($($t)*)) } }
