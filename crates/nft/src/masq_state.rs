//! Per-network masquerade state: the union of every subnet ever ensured for a network, kept in
//! `<state_dir>/<netns inode>-<netns cookie>/masq-<hash>` (one subnet per line) so the network
//! chain always excludes all of them. Keyed by the network namespace (see `netns_key`), because
//! rules live per namespace. Writers hold an flock on `masq.lock` in the same directory (one
//! lock per namespace: taking a subnet over changes two networks' state). The file helpers
//! (`read_text`, `write_text`, `remove`) are shared with the port-mapping state (`pm_state`).

use std::collections::BTreeSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipnet::IpNet;

use crate::error::NftError;

/// The subnets recorded for one network.
pub type Subnets = BTreeSet<IpNet>;

static TMP_COUNTER: AtomicUsize = AtomicUsize::new(0);

fn state_err(path: &Path) -> impl Fn(std::io::Error) -> NftError + '_ {
    move |source| NftError::State {
        path: path.to_path_buf(),
        source,
    }
}

fn ensure_dir(dir: &Path) -> Result<(), NftError> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(state_err(dir))
}

/// Exclusive flock on the network's lock file; released when the returned file is dropped.
pub fn lock(dir: &Path, chain: &str) -> Result<File, NftError> {
    ensure_dir(dir)?;
    let path = dir.join(format!("{chain}.lock"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(state_err(&path))?;
    file.lock().map_err(state_err(&path))?;
    Ok(file)
}

/// The text of file `name` in `dir`, None when it does not exist (symlinks are refused).
pub fn read_text(dir: &Path, name: &str) -> Result<Option<String>, NftError> {
    let path = dir.join(name);
    let err = state_err(&path);
    let mut file = match OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(err(e)),
    };
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(&err)?;
    Ok(Some(text))
}

/// The error for invalid content of state file `name` in `dir`.
pub fn invalid(dir: &Path, name: &str, msg: String) -> NftError {
    state_err(&dir.join(name))(std::io::Error::new(ErrorKind::InvalidData, msg))
}

/// The recorded subnets, None when the network has no state file in this namespace.
pub fn read(dir: &Path, chain: &str) -> Result<Option<Subnets>, NftError> {
    let Some(text) = read_text(dir, chain)? else {
        return Ok(None);
    };
    let mut out = Subnets::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let net: IpNet = line.parse().map_err(|_| {
            invalid(
                dir,
                chain,
                format!("line {}: {line:?} is not a subnet", i + 1),
            )
        })?;
        out.insert(net.trunc());
    }
    Ok(Some(out))
}

/// Replace the state file atomically (temporary file in the same directory, then rename).
pub fn write(dir: &Path, chain: &str, subnets: &Subnets) -> Result<(), NftError> {
    let text: String = subnets.iter().map(|n| format!("{n}\n")).collect();
    write_text(dir, chain, &text)
}

/// Replace file `name` in `dir` (created 0700) atomically with `text`: a temporary file (0600,
/// O_NOFOLLOW, O_EXCL) in the same directory, then rename.
pub fn write_text(dir: &Path, name: &str, text: &str) -> Result<(), NftError> {
    ensure_dir(dir)?;
    let path = dir.join(name);
    let tmp = dir.join(format!(
        ".{name}.{}.{}",
        std::process::id(),
        TMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| fs::rename(&tmp, &path));
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        state_err(&path)(e)
    })
}

/// Remove state file `name` (a network's or an owner's); a missing file is fine.
pub fn remove(dir: &Path, name: &str) -> Result<(), NftError> {
    let path = dir.join(name);
    match fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(state_err(&path)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    struct Tmp(PathBuf);
    impl Drop for Tmp {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn tmp(tag: &str) -> Tmp {
        Tmp(std::env::temp_dir().join(format!("cnm-nft-state-{tag}-{}", std::process::id())))
    }

    fn nets(v: &[&str]) -> Subnets {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn write_read_remove_with_modes() {
        let t = tmp("rw");
        let dir = t.0.join("4026531840");
        assert_eq!(read(&dir, "masq-1").unwrap(), None);
        let _guard = lock(&dir, "masq-1").unwrap();
        let s = nets(&["10.1.0.0/24", "fd00::/64", "10.0.0.0/24"]);
        write(&dir, "masq-1", &s).unwrap();
        assert_eq!(read(&dir, "masq-1").unwrap(), Some(s));
        assert_eq!(
            fs::read_to_string(dir.join("masq-1")).unwrap(),
            "10.0.0.0/24\n10.1.0.0/24\nfd00::/64\n"
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join("masq-1")), 0o600);
        assert_eq!(mode(&dir.join("masq-1.lock")), 0o600);
        // Only the state and lock files are left (no temporary files).
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        remove(&dir, "masq-1").unwrap();
        remove(&dir, "masq-1").unwrap();
        assert_eq!(read(&dir, "masq-1").unwrap(), None);
    }

    #[test]
    fn rejects_symlink_and_garbage() {
        let t = tmp("bad");
        fs::create_dir_all(&t.0).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", t.0.join("masq-2")).unwrap();
        let e = read(&t.0, "masq-2").unwrap_err().to_string();
        assert!(e.contains("masq-2"), "{e}");
        fs::write(t.0.join("masq-3"), "10.0.0.0/8\nnot a net\n").unwrap();
        let e = read(&t.0, "masq-3").unwrap_err().to_string();
        assert!(e.contains("masq-3") && e.contains("line 2"), "{e}");
    }
}
