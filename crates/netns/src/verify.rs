//! Checks that an open file really is a network namespace: nsfs/procfs magic, then
//! the namespace type (ioctl NS_GET_NSTYPE, or the "net:[inode]" link name on old kernels).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::statfs::{fstatfs, NSFS_MAGIC, PROC_SUPER_MAGIC};

use crate::NetnsError;

/// Verify that `file` (opened from `path`) is a network namespace.
pub(crate) fn verify_netns(file: &File, path: &Path) -> Result<(), NetnsError> {
    let fs = fstatfs(file).map_err(|e| NetnsError::errno("fstatfs", path, e))?;
    let magic = fs.filesystem_type();
    if magic != NSFS_MAGIC && magic != PROC_SUPER_MAGIC {
        return Err(NetnsError::NotNetns {
            path: path.to_owned(),
            // Magic numbers are small positive constants; widening keeps them intact.
            magic: magic.0 as u64,
        });
    }
    match ns_type_ioctl(file) {
        Ok(nstype) if nstype == libc::CLONE_NEWNET => Ok(()),
        Ok(nstype) => Err(NetnsError::WrongNsType {
            path: path.to_owned(),
            kind: kind_name(nstype),
        }),
        // Kernel without NS_GET_NSTYPE (< 4.11), or a procfs file that is no namespace.
        Err(Errno::ENOTTY) | Err(Errno::EINVAL) => verify_by_link_name(file, path, magic.0 as u64),
        Err(e) => Err(NetnsError::errno("ioctl NS_GET_NSTYPE", path, e)),
    }
}

/// ioctl(fd, NS_GET_NSTYPE): the CLONE_NEW* type of the namespace.
fn ns_type_ioctl(file: &File) -> Result<libc::c_int, Errno> {
    // SAFETY: NS_GET_NSTYPE takes no argument and only reads the fd, which is
    // valid for the duration of the call because `file` is borrowed.
    let r = unsafe { libc::ioctl(file.as_raw_fd(), libc::NS_GET_NSTYPE) };
    Errno::result(r)
}

/// Fallback: a namespace fd's /proc/self/fd link reads "net:[4026531840]".
fn verify_by_link_name(file: &File, path: &Path, magic: u64) -> Result<(), NetnsError> {
    let link = format!("/proc/self/fd/{}", file.as_raw_fd());
    let target = std::fs::read_link(&link).map_err(|source| NetnsError::Io {
        op: "readlink (namespace type of)",
        path: path.to_owned(),
        source,
    })?;
    let target = target.to_string_lossy();
    match target.split_once(":[") {
        Some(("net", rest)) if rest.ends_with(']') => Ok(()),
        Some((kind, rest)) if rest.ends_with(']') && !kind.contains('/') => {
            Err(NetnsError::WrongNsType {
                path: path.to_owned(),
                kind: kind.to_owned(),
            })
        }
        _ => Err(NetnsError::NotNetns {
            path: path.to_owned(),
            magic,
        }),
    }
}

/// Human name of a CLONE_NEW* namespace type.
fn kind_name(nstype: libc::c_int) -> String {
    match nstype {
        libc::CLONE_NEWNS => "mnt".to_owned(),
        libc::CLONE_NEWUTS => "uts".to_owned(),
        libc::CLONE_NEWIPC => "ipc".to_owned(),
        libc::CLONE_NEWUSER => "user".to_owned(),
        libc::CLONE_NEWPID => "pid".to_owned(),
        libc::CLONE_NEWCGROUP => "cgroup".to_owned(),
        0x80 => "time".to_owned(), // CLONE_NEWTIME
        other => format!("unknown (type {other:#x})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_names() {
        assert_eq!(kind_name(libc::CLONE_NEWNS), "mnt");
        assert_eq!(kind_name(libc::CLONE_NEWUSER), "user");
        assert_eq!(kind_name(0x80), "time");
        assert_eq!(kind_name(0x3), "unknown (type 0x3)");
    }

    #[test]
    fn own_mount_namespace_is_wrong_type() {
        // Opening one's own namespace files needs no privilege.
        let p = Path::new("/proc/self/ns/mnt");
        let f = File::open(p).unwrap();
        match verify_netns(&f, p) {
            Err(NetnsError::WrongNsType { kind, .. }) => assert_eq!(kind, "mnt"),
            other => panic!("expected WrongNsType, got {other:?}"),
        }
    }

    #[test]
    fn proc_file_that_is_no_namespace_is_rejected() {
        let p = Path::new("/proc/self/status");
        let f = File::open(p).unwrap();
        match verify_netns(&f, p) {
            Err(NetnsError::NotNetns { magic, .. }) => assert_eq!(magic, 0x9fa0),
            other => panic!("expected NotNetns, got {other:?}"),
        }
    }

    #[test]
    fn own_net_namespace_is_accepted() {
        let p = Path::new("/proc/self/ns/net");
        let f = File::open(p).unwrap();
        verify_netns(&f, p).unwrap();
    }
}
