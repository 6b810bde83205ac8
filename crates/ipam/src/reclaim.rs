//! Reclaiming reservations left over from earlier boots (no container of an
//! earlier boot can still be running). Used only when an allocation needs it:
//! when a range set is exhausted, when a requested address is held, and when
//! the same attachment is added again after a reboot. See docs/ipam-reboots.md.

use std::fs::File;
use std::net::IpAddr;
use std::os::fd::AsFd;

use nix::fcntl::{openat, OFlag};
use nix::sys::stat::Mode;

use crate::boot::BootInfo;
use crate::error::IpamError;
use crate::stamp::{self, Era};
use crate::store::Locked;

impl Locked<'_> {
    /// The boot era of reservation file `name`. Missing, non-regular or
    /// unreadable files are `Era::Unknown` (never reclaimed).
    pub fn era(&self, name: &str, boot: &BootInfo) -> Era {
        if boot.id.is_none() {
            return Era::Unknown;
        }
        let fd = match openat(
            self.dir(),
            name,
            OFlag::O_RDONLY
                | OFlag::O_NOFOLLOW
                | OFlag::O_CLOEXEC
                | OFlag::O_NONBLOCK
                | OFlag::O_NOCTTY,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(_) => return Era::Unknown,
        };
        let file = File::from(fd);
        let Ok(meta) = file.metadata() else {
            return Era::Unknown;
        };
        if !meta.is_file() {
            return Era::Unknown;
        }
        stamp::classify(&stamp::read(file.as_fd()), meta.modified().ok(), boot)
    }

    /// Removes every reservation made in an earlier boot; returns their addresses.
    /// Does nothing when the boot is unknown. A file that vanished meanwhile is skipped.
    pub fn reclaim_earlier_boots(&self, boot: &BootInfo) -> Result<Vec<IpAddr>, IpamError> {
        if boot.id.is_none() {
            return Ok(Vec::new());
        }
        let mut released = Vec::new();
        for (ip, name) in self.reservations()? {
            if self.era(&name, boot) == Era::EarlierBoot && self.remove(&name)? {
                released.push(ip);
            }
        }
        Ok(released)
    }

    /// Removes the reservation of `ip` if it was made in an earlier boot.
    pub fn reclaim_if_earlier(&self, ip: IpAddr, boot: &BootInfo) -> Result<bool, IpamError> {
        let name = ip.to_string();
        if self.era(&name, boot) != Era::EarlierBoot {
            return Ok(false);
        }
        self.remove(&name)
    }
}
