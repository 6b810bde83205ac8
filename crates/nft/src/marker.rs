//! Marker files that let `ensure_masquerade` skip the nft exec when the same batch was already
//! applied (state dir default `/run/cnm/nft`, tmpfs, so markers vanish at reboot).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use crate::error::NftError;

fn path(dir: &Path, chain: &str) -> PathBuf {
    dir.join(chain)
}

/// The digest stored for `chain`, None when absent or unreadable (an unreadable marker only costs an exec).
pub fn read(dir: &Path, chain: &str) -> Option<String> {
    fs::read_to_string(path(dir, chain)).ok()
}

/// Store the digest (write to a temporary file, then rename). Best effort: a failure only means
/// the next ensure runs nft again, so it is reported to the caller for logging, never fatal.
pub fn write(dir: &Path, chain: &str, digest: &str) -> Result<(), NftError> {
    let target = path(dir, chain);
    let err = |source| NftError::State {
        path: target.clone(),
        source,
    };
    fs::create_dir_all(dir).map_err(err)?;
    let tmp = dir.join(format!(".{chain}.{}", std::process::id()));
    fs::write(&tmp, digest).map_err(err)?;
    fs::rename(&tmp, &target).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        err(source)
    })
}

/// Forget the marker; a missing marker is fine, any other failure is an error (a stale marker would lie).
pub fn remove(dir: &Path, chain: &str) -> Result<(), NftError> {
    let target = path(dir, chain);
    match fs::remove_file(&target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(source) => Err(NftError::State {
            path: target,
            source,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_read_remove() {
        let dir = std::env::temp_dir().join(format!("cnm-nft-marker-{}", std::process::id()));
        assert_eq!(read(&dir, "masq-1"), None);
        write(&dir, "masq-1", "abc\n").unwrap();
        assert_eq!(read(&dir, "masq-1").as_deref(), Some("abc\n"));
        remove(&dir, "masq-1").unwrap();
        remove(&dir, "masq-1").unwrap();
        assert_eq!(read(&dir, "masq-1"), None);
        let _ = fs::remove_dir_all(&dir);
    }
}
