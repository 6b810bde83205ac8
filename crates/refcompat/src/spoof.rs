//! The reference bridge's MAC spoof check (`macspoofchk`, containernetworking
//! plugins 1.0+ via nftables): table `bridge nat`, a `PREROUTING` rule
//! `iifname <host veth> jump cni-br-iface-<id>-<ifname>` and the chains
//! `cni-br-iface-<id>-<ifname>` and `...-mac`, every rule commented
//! `macspoofchk-<id>-<ifname>`. Its names carry no network, so only DEL
//! (which knows the attachment) removes it, never GC.

use std::path::PathBuf;

use crate::exec::run;
use crate::RefError;

/// `<container id>-<ifname>`, the reference's unique ID of an attachment.
fn unique(container_id: &str, ifname: &str) -> String {
    format!("{container_id}-{ifname}")
}

/// The per-attachment chain the PREROUTING rule jumps to.
pub fn chain(container_id: &str, ifname: &str) -> String {
    format!("cni-br-iface-{}", unique(container_id, ifname))
}

/// The comment on every rule of it.
pub fn comment(container_id: &str, ifname: &str) -> String {
    format!("macspoofchk-{}", unique(container_id, ifname))
}

/// The handles of the `PREROUTING` rules carrying `comment`, from
/// `nft -a list chain bridge nat PREROUTING`.
pub fn handles(listing: &str, comment: &str) -> Vec<u64> {
    let tag = format!("comment \"{comment}\"");
    listing
        .lines()
        .filter(|l| l.contains(&tag))
        .filter_map(|l| l.rsplit_once("# handle ")?.1.trim().parse().ok())
        .collect()
}

/// The `nft -f -` batch removing the spoof check of one attachment.
pub fn removal_script(container_id: &str, ifname: &str, handles: &[u64]) -> String {
    let c = chain(container_id, ifname);
    let mut s = String::new();
    for h in handles {
        s.push_str(&format!("delete rule bridge nat PREROUTING handle {h}\n"));
    }
    s.push_str(&format!(
        "flush chain bridge nat {c}\nflush chain bridge nat {c}-mac\n\
         delete chain bridge nat {c}\ndelete chain bridge nat {c}-mac\n"
    ));
    s
}

/// `nft`, looked up in the system directories.
fn nft() -> Option<PathBuf> {
    ["/usr/sbin", "/sbin", "/usr/local/sbin", "/usr/bin", "/bin"]
        .iter()
        .map(|d| PathBuf::from(d).join("nft"))
        .find(|p| p.is_file())
}

/// True when the names can go into an nft script as they are (CNI allows
/// container IDs of letters, digits, `_`, `.`, `-`; interface names are
/// stricter still).
pub fn plain(container_id: &str, ifname: &str) -> bool {
    let ok = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    };
    ok(container_id) && ok(ifname)
}

/// Remove the reference's spoof check of this attachment (the caller
/// probed that its chain exists).
pub fn remove(container_id: &str, ifname: &str) -> Result<(), RefError> {
    if !plain(container_id, ifname) {
        return Err(RefError::Exec {
            command: "nft".into(),
            reason: format!(
                "container ID {container_id:?} or ifname {ifname:?} cannot be written in an nft script"
            ),
        });
    }
    let nft = nft().ok_or_else(|| RefError::Exec {
        command: "nft".into(),
        reason: "not found in the system directories".into(),
    })?;
    let listing = run(
        &nft,
        &["-a", "list", "chain", "bridge", "nat", "PREROUTING"],
        "",
    )?;
    let script = removal_script(
        container_id,
        ifname,
        &handles(&listing, &comment(container_id, ifname)),
    );
    run(&nft, &["-f", "-"], &script).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `nft -a list chain bridge nat PREROUTING` after the reference bridge
    /// (1.1.1) with macspoofchk for container "msc", eth0.
    const LISTING: &str = r#"table bridge nat {
	chain PREROUTING { # handle 1
		type filter hook prerouting priority dstnat; policy accept;
		iifname "veth78170bef" jump cni-br-iface-msc-eth0 comment "macspoofchk-msc-eth0" # handle 4
		iifname "veth11111111" jump cni-br-iface-msc-eth01 comment "macspoofchk-msc-eth01" # handle 9
	}
}"#;

    #[test]
    fn names_and_handles() {
        assert_eq!(chain("msc", "eth0"), "cni-br-iface-msc-eth0");
        assert_eq!(comment("msc", "eth0"), "macspoofchk-msc-eth0");
        assert_eq!(handles(LISTING, &comment("msc", "eth0")), vec![4]);
        assert_eq!(handles(LISTING, &comment("msc", "eth01")), vec![9]);
        assert!(handles(LISTING, &comment("other", "eth0")).is_empty());
        let s = removal_script("msc", "eth0", &[4]);
        assert!(
            s.starts_with("delete rule bridge nat PREROUTING handle 4\n"),
            "{s}"
        );
        assert!(
            s.ends_with("delete chain bridge nat cni-br-iface-msc-eth0-mac\n"),
            "{s}"
        );
        assert!(plain("Abc_1.2-3", "eth0"));
        assert!(!plain("a;b", "eth0") && !plain("a", "eth0 x") && !plain("", "eth0"));
        assert!(remove("a b", "eth0").is_err());
    }
}
