//! Logging to stderr: one line per event, `cnmd: <level>: <message>`, with
//! seconds since the epoch (journald adds its own timestamps; tests read it).

use std::time::{SystemTime, UNIX_EPOCH};

/// Writes one log line.
pub fn line(level: &str, msg: std::fmt::Arguments<'_>) {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    eprintln!("cnmd: {t:.3} {level}: {msg}");
}

#[macro_export]
macro_rules! info {
    ($($t:tt)*) => { $crate::log::line("info", format_args!($($t)*)) };
}

#[macro_export]
macro_rules! warn {
    ($($t:tt)*) => { $crate::log::line("warning", format_args!($($t)*)) };
}
