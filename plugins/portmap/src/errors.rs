//! Mapping of firewall errors to CNI errors.

use cni_protocol::{code, CniError};
use cnm_nft::NftError;

/// Turn an [`NftError`] into a CNI error; `msg` says which portmap step failed.
pub fn from_nft(msg: &str, e: NftError) -> CniError {
    let code = match &e {
        NftError::InvalidName { .. }
        | NftError::InvalidMapping { .. }
        | NftError::PortConflict { .. } => code::INVALID_NETWORK_CONFIG,
        _ => code::KERNEL,
    };
    CniError::new(code, msg, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes() {
        let e = from_nft(
            "x",
            NftError::InvalidMapping {
                owner: "n,c,eth0".into(),
                reason: "dup".into(),
            },
        );
        assert_eq!(e.code, code::INVALID_NETWORK_CONFIG);
        assert!(e.details.contains("n,c,eth0"));
        let e = from_nft(
            "y",
            NftError::Timeout {
                operation: "op".into(),
                secs: 1,
            },
        );
        assert_eq!((e.code, e.msg.as_str()), (code::KERNEL, "y"));
    }
}
