//! Which boot of the machine is running: the kernel's boot ID and the wall-clock
//! boot time. Injected into the verbs as a [`BootSource`] so tests can simulate a
//! reboot; [`SystemBoot`] reads `/proc`.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Kernel file holding a random UUID chosen at every boot.
pub const BOOT_ID_PATH: &str = "/proc/sys/kernel/random/boot_id";
/// Kernel file whose `btime` line is the boot time in seconds since the epoch.
pub const PROC_STAT_PATH: &str = "/proc/stat";
/// Longest boot ID accepted (a UUID is 36 characters).
const MAX_BOOT_ID_LEN: usize = 64;

/// Tells which boot is running. `None` means unknown: then reservations are not
/// stamped and nothing is ever reclaimed.
pub trait BootSource: Send + Sync {
    /// The current boot's ID.
    fn boot_id(&self) -> Option<String>;
    /// When the current boot started (wall clock).
    fn boot_time(&self) -> Option<SystemTime>;
}

/// The running kernel's boot (read once per process and cached).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemBoot;

impl BootSource for SystemBoot {
    fn boot_id(&self) -> Option<String> {
        static ID: OnceLock<Option<String>> = OnceLock::new();
        ID.get_or_init(|| {
            std::fs::read(BOOT_ID_PATH)
                .ok()
                .and_then(|b| parse_boot_id(&b))
        })
        .clone()
    }

    fn boot_time(&self) -> Option<SystemTime> {
        static TIME: OnceLock<Option<SystemTime>> = OnceLock::new();
        *TIME.get_or_init(|| {
            let stat = std::fs::read(PROC_STAT_PATH).ok()?;
            let secs = parse_btime(std::str::from_utf8(&stat).ok()?)?;
            UNIX_EPOCH.checked_add(Duration::from_secs(secs))
        })
    }
}

/// A fixed boot, for tests and for callers that know the boot themselves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FixedBoot {
    pub id: Option<String>,
    pub time: Option<SystemTime>,
}

impl FixedBoot {
    /// A boot with this ID that started at `time`.
    pub fn new(id: &str, time: SystemTime) -> FixedBoot {
        FixedBoot {
            id: Some(id.to_string()),
            time: Some(time),
        }
    }
}

impl BootSource for FixedBoot {
    fn boot_id(&self) -> Option<String> {
        self.id.clone()
    }
    fn boot_time(&self) -> Option<SystemTime> {
        self.time
    }
}

/// The boot an operation runs in, resolved once per operation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootInfo {
    pub id: Option<String>,
    pub time: Option<SystemTime>,
}

impl BootInfo {
    /// Asks `src` for the ID and time; an invalid ID counts as unknown.
    pub fn from_source(src: &dyn BootSource) -> BootInfo {
        BootInfo {
            id: src.boot_id().and_then(|id| parse_boot_id(id.as_bytes())),
            time: src.boot_time(),
        }
    }
}

/// A boot ID as found in `boot_id` or in a reservation's stamp: trimmed, 1 to 64
/// characters of `[0-9a-fA-F-]`; anything else is `None`.
pub fn parse_boot_id(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let ok = !text.is_empty()
        && text.len() <= MAX_BOOT_ID_LEN
        && text.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    ok.then(|| text.to_ascii_lowercase())
}

/// The `btime` value of `/proc/stat` content (seconds since the epoch).
pub fn parse_btime(proc_stat: &str) -> Option<u64> {
    proc_stat.lines().find_map(|line| {
        let mut words = line.split_ascii_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("btime"), Some(v), None) => v.parse().ok(),
            _ => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boot_id_parsing() {
        assert_eq!(
            parse_boot_id(b"98E0B589-086b-4f62-8f41-14fc7a15f7d2\n").as_deref(),
            Some("98e0b589-086b-4f62-8f41-14fc7a15f7d2")
        );
        assert_eq!(parse_boot_id(b""), None);
        assert_eq!(parse_boot_id(b" \n"), None);
        assert_eq!(parse_boot_id(b"abc def"), None);
        assert_eq!(parse_boot_id(b"../x"), None);
        assert_eq!(parse_boot_id(&[0xff, 0xfe]), None);
        assert_eq!(parse_boot_id("a".repeat(65).as_bytes()), None);
    }

    #[test]
    fn btime_parsing() {
        let stat = "cpu  1 2 3\nintr 5 6\nbtime 1795815511\nprocesses 9\n";
        assert_eq!(parse_btime(stat), Some(1_795_815_511));
        assert_eq!(parse_btime("btime\n"), None);
        assert_eq!(parse_btime("btime x\n"), None);
        assert_eq!(parse_btime("btime 1 2\n"), None);
        assert_eq!(parse_btime("cpu 1\n"), None);
    }

    #[test]
    fn system_boot_reads_proc() {
        if std::path::Path::new(BOOT_ID_PATH).exists() {
            let b = BootInfo::from_source(&SystemBoot);
            assert!(b.id.is_some(), "boot id unreadable");
            let t = b.time.expect("btime unreadable");
            assert!(t <= SystemTime::now());
        } else {
            println!("skipped: no {BOOT_ID_PATH}");
        }
    }

    #[test]
    fn invalid_injected_id_is_unknown() {
        let b = BootInfo::from_source(&FixedBoot {
            id: Some("not a boot id".into()),
            time: None,
        });
        assert_eq!(b.id, None);
    }
}
