//! Per-network masquerade state: the network, its bridge and the union of every subnet ever
//! ensured for it, kept in `<state_dir>/<netns inode>-<netns cookie>/masq-<hash>` so the network
//! chain always excludes all of them and a firewall reload can rebuild the chain (`restore`).
//! Keyed by the network namespace (see `netns_key`), because rules live per namespace. Writers
//! hold an flock on `masq.lock` in the same directory (one lock per namespace: taking a subnet
//! over changes two networks' state). The file helpers (`read_text`, `write_text`, `remove`,
//! the locks) are shared with the port-mapping and spoof-check state (`pm_state`, `spoof_state`).
//!
//! Format (older files have the subnet lines only; they are read, but not restored, and an
//! ensure rewrites them):
//! ```text
//! network <name>
//! bridge <name>
//! <subnet>
//! ```

use std::collections::BTreeSet;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use ipnet::IpNet;

use crate::error::NftError;
use crate::name::{masq_chain, validate_ifname, validate_network};

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

/// Exclusive flock on lock file `<name>.lock`; released when the returned file is dropped.
pub fn lock(dir: &Path, name: &str) -> Result<File, NftError> {
    let (file, path) = open_lock(dir, name)?;
    file.lock().map_err(state_err(&path))?;
    Ok(file)
}

/// Shared flock on lock file `<name>.lock` (many holders at once, none while someone holds it
/// exclusively); released when the returned file is dropped.
pub fn lock_shared(dir: &Path, name: &str) -> Result<File, NftError> {
    let (file, path) = open_lock(dir, name)?;
    file.lock_shared().map_err(state_err(&path))?;
    Ok(file)
}

fn open_lock(dir: &Path, name: &str) -> Result<(File, std::path::PathBuf), NftError> {
    ensure_dir(dir)?;
    let path = dir.join(format!("{name}.lock"));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(&path)
        .map_err(state_err(&path))?;
    Ok((file, path))
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

/// What is recorded for one network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MasqRecord {
    /// The network (None in files written before it was recorded).
    pub network: Option<String>,
    /// Its bridge (None in files written before it was recorded).
    pub bridge: Option<String>,
    /// Every subnet ensured for it.
    pub subnets: Subnets,
}

/// The record of chain `chain` (`masq-<hash>`), None when the network has no state file in this
/// namespace. A header naming a network whose chain is not `chain` is invalid.
pub fn read_record(dir: &Path, chain: &str) -> Result<Option<MasqRecord>, NftError> {
    let Some(text) = read_text(dir, chain)? else {
        return Ok(None);
    };
    let mut out = MasqRecord::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let bad = |what: &str| invalid(dir, chain, format!("line {}: {line:?} {what}", i + 1));
        if line.is_empty() {
            continue;
        }
        if let Some(name) = line.strip_prefix("network ") {
            if validate_network(name).is_err() || masq_chain(name) != chain {
                return Err(bad("is not this chain's network"));
            }
            out.network = Some(name.to_string());
        } else if let Some(name) = line.strip_prefix("bridge ") {
            validate_ifname("bridge name", name).map_err(|_| bad("is not a bridge name"))?;
            out.bridge = Some(name.to_string());
        } else {
            let net: IpNet = line.parse().map_err(|_| bad("is not a subnet"))?;
            out.subnets.insert(net.trunc());
        }
    }
    Ok(Some(out))
}

/// The recorded subnets, None when the network has no state file in this namespace.
pub fn read(dir: &Path, chain: &str) -> Result<Option<Subnets>, NftError> {
    Ok(read_record(dir, chain)?.map(|r| r.subnets))
}

/// Replace the record atomically (temporary file in the same directory, then rename).
pub fn write_record(dir: &Path, chain: &str, rec: &MasqRecord) -> Result<(), NftError> {
    let mut text = String::new();
    if let Some(n) = &rec.network {
        text.push_str(&format!("network {n}\n"));
    }
    if let Some(b) = &rec.bridge {
        text.push_str(&format!("bridge {b}\n"));
    }
    for n in &rec.subnets {
        text.push_str(&format!("{n}\n"));
    }
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

    fn nets(v: &[&str]) -> Subnets {
        v.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn record(network: &str, subnets: &[&str]) -> MasqRecord {
        MasqRecord {
            network: Some(network.into()),
            bridge: Some("cnm0".into()),
            subnets: nets(subnets),
        }
    }

    #[test]
    fn write_read_remove_with_modes() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("4026531840");
        let chain = masq_chain("n1");
        assert_eq!(read(&dir, &chain).unwrap(), None);
        let _guard = lock(&dir, &chain).unwrap();
        let r = record("n1", &["10.1.0.0/24", "fd00::/64", "10.0.0.0/24"]);
        write_record(&dir, &chain, &r).unwrap();
        assert_eq!(read_record(&dir, &chain).unwrap(), Some(r.clone()));
        assert_eq!(read(&dir, &chain).unwrap(), Some(r.subnets));
        assert_eq!(
            fs::read_to_string(dir.join(&chain)).unwrap(),
            "network n1\nbridge cnm0\n10.0.0.0/24\n10.1.0.0/24\nfd00::/64\n"
        );
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(&chain)), 0o600);
        assert_eq!(mode(&dir.join(format!("{chain}.lock"))), 0o600);
        // Only the state and lock files are left (no temporary files).
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 2);
        remove(&dir, &chain).unwrap();
        remove(&dir, &chain).unwrap();
        assert_eq!(read(&dir, &chain).unwrap(), None);
    }

    #[test]
    fn old_files_without_header_are_read() {
        let t = tempfile::tempdir().unwrap();
        let chain = masq_chain("n1");
        fs::write(t.path().join(&chain), "10.0.0.0/24\n").unwrap();
        let r = read_record(t.path(), &chain).unwrap().unwrap();
        assert_eq!((r.network, r.bridge), (None, None));
        assert_eq!(r.subnets, nets(&["10.0.0.0/24"]));
    }

    #[test]
    fn shared_locks_exclude_the_exclusive_one() {
        let t = tempfile::tempdir().unwrap();
        let a = lock_shared(t.path(), "fw").unwrap();
        let b = lock_shared(t.path(), "fw").unwrap();
        let probe = File::open(t.path().join("fw.lock")).unwrap();
        assert!(
            probe.try_lock().is_err(),
            "exclusive while shared holders exist"
        );
        drop((a, b));
        assert!(probe.try_lock().is_ok());
    }

    #[test]
    fn rejects_symlink_garbage_and_foreign_headers() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("masq-2")).unwrap();
        let e = read(dir, "masq-2").unwrap_err().to_string();
        assert!(e.contains("masq-2"), "{e}");
        fs::write(dir.join("masq-3"), "10.0.0.0/8\nnot a net\n").unwrap();
        let e = read(dir, "masq-3").unwrap_err().to_string();
        assert!(e.contains("masq-3") && e.contains("line 2"), "{e}");
        // A header naming another network's chain, or a bad bridge name.
        let chain = masq_chain("n1");
        fs::write(dir.join(&chain), "network n2\n10.0.0.0/8\n").unwrap();
        assert!(read_record(dir, &chain).is_err());
        fs::write(dir.join(&chain), "network n1\nbridge a\"b\n").unwrap();
        assert!(read_record(dir, &chain).is_err());
    }
}
