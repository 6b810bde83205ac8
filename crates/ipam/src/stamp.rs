//! Boot stamps on reservation files: the boot ID is kept in the extended
//! attribute `user.cnm.boot_id`, so the file content (`<containerID>\r\n<ifname>`)
//! and the file list stay exactly those of the reference host-local.
//! A file re-created by another implementation is a new inode without the stamp.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::SystemTime;

use nix::errno::Errno;

use crate::boot::{parse_boot_id, BootInfo};

/// Name of the extended attribute holding the boot ID.
#[cfg_attr(not(feature = "internals"), allow(dead_code))]
pub const BOOT_XATTR: &str = "user.cnm.boot_id";
const BOOT_XATTR_C: &std::ffi::CStr = c"user.cnm.boot_id";
/// Longer attribute values are not ours.
const MAX_STAMP_LEN: usize = 128;

/// What a reservation file says about its boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    /// A valid boot ID.
    Boot(String),
    /// The filesystem supports user xattrs but the file has no (valid) stamp:
    /// written by another implementation (e.g. the reference) or before stamping existed.
    Missing,
    /// The filesystem does not support user xattrs, or the attribute is unreadable.
    Unsupported,
}

/// Whether a reservation was made in the running boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    ThisBoot,
    /// Made before the last reboot: its container cannot be running any more.
    EarlierBoot,
    /// Cannot tell; treated like `ThisBoot` (never reclaimed).
    Unknown,
}

/// Stamps the open file with `boot_id`. Filesystems without user xattrs are not
/// an error (`Ok(false)`): the reservation is then simply unstamped.
pub fn write(fd: BorrowedFd<'_>, boot_id: &str) -> Result<bool, Errno> {
    // SAFETY: fd is a valid open descriptor for the duration of the call; the
    // name is a NUL-terminated C string; value/size describe a live byte slice.
    let rc = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            BOOT_XATTR_C.as_ptr(),
            boot_id.as_ptr().cast(),
            boot_id.len(),
            0,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    match Errno::last() {
        Errno::ENOTSUP | Errno::EPERM | Errno::EACCES => Ok(false),
        e => Err(e),
    }
}

/// Reads the stamp of the open file.
pub fn read(fd: BorrowedFd<'_>) -> Stamp {
    let mut buf = [0u8; MAX_STAMP_LEN];
    // SAFETY: fd is a valid open descriptor; the name is NUL-terminated; the
    // kernel writes at most buf.len() bytes into buf.
    let n = unsafe {
        libc::fgetxattr(
            fd.as_raw_fd(),
            BOOT_XATTR_C.as_ptr(),
            buf.as_mut_ptr().cast(),
            buf.len(),
        )
    };
    if n < 0 {
        return match Errno::last() {
            Errno::ENODATA => Stamp::Missing,
            _ => Stamp::Unsupported,
        };
    }
    let len = usize::try_from(n).unwrap_or(0).min(buf.len());
    parse(&buf[..len])
}

/// Interprets an attribute value: a valid boot ID or `Missing`.
pub fn parse(value: &[u8]) -> Stamp {
    parse_boot_id(value).map_or(Stamp::Missing, Stamp::Boot)
}

/// The policy: a stamp naming another boot is `EarlierBoot`; an unstamped file
/// on a filesystem with xattrs is `EarlierBoot` when its mtime is before the boot
/// time; everything else (unknown boot, no xattr support) is never reclaimed.
pub fn classify(stamp: &Stamp, mtime: Option<SystemTime>, boot: &BootInfo) -> Era {
    let Some(current) = boot.id.as_deref() else {
        return Era::Unknown;
    };
    match stamp {
        Stamp::Boot(id) if id == current => Era::ThisBoot,
        Stamp::Boot(_) => Era::EarlierBoot,
        Stamp::Missing => match (mtime, boot.time) {
            (Some(m), Some(b)) if m < b => Era::EarlierBoot,
            (Some(_), Some(_)) => Era::ThisBoot,
            _ => Era::Unknown,
        },
        Stamp::Unsupported => Era::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn boot(id: &str, t: u64) -> BootInfo {
        BootInfo {
            id: Some(id.into()),
            time: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(t)),
        }
    }

    #[test]
    fn policy() {
        let b = boot("bb", 1000);
        let before = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(999));
        let after = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1001));
        assert_eq!(
            classify(&Stamp::Boot("bb".into()), before, &b),
            Era::ThisBoot
        );
        assert_eq!(
            classify(&Stamp::Boot("aa".into()), after, &b),
            Era::EarlierBoot
        );
        assert_eq!(classify(&Stamp::Missing, before, &b), Era::EarlierBoot);
        assert_eq!(classify(&Stamp::Missing, after, &b), Era::ThisBoot);
        assert_eq!(classify(&Stamp::Missing, None, &b), Era::Unknown);
        assert_eq!(classify(&Stamp::Unsupported, before, &b), Era::Unknown);
        let unknown = BootInfo::default();
        assert_eq!(
            classify(&Stamp::Boot("aa".into()), before, &unknown),
            Era::Unknown
        );
        let no_time = BootInfo {
            id: Some("bb".into()),
            time: None,
        };
        assert_eq!(classify(&Stamp::Missing, before, &no_time), Era::Unknown);
    }

    #[test]
    fn parse_values() {
        assert_eq!(parse(b"aa-01"), Stamp::Boot("aa-01".into()));
        assert_eq!(parse(b""), Stamp::Missing);
        assert_eq!(parse(b"\xff"), Stamp::Missing);
    }
}
