//! The names and comments the reference plugins (containernetworking/plugins,
//! `pkg/utils`) give their per-container iptables state: the chain is
//! `CNI-` + `<prefix>` + the hex SHA-512 of `network + containerID`, cut at 28
//! bytes; the comment is Go's `name: %q id: %q`.

use sha2::{Digest, Sha512};

/// iptables' longest chain name the reference uses.
const MAX_CHAIN_LEN: usize = 28;

fn chain(prefix: &str, network: &str, container_id: &str) -> String {
    let digest = Sha512::digest(format!("{network}{container_id}").as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    let mut name = format!("CNI-{prefix}{hex}");
    name.truncate(MAX_CHAIN_LEN);
    name
}

/// The reference bridge's `ipMasq` chain of one container (`utils.FormatChainName`).
pub fn masq_chain(network: &str, container_id: &str) -> String {
    chain("", network, container_id)
}

/// The reference portmap's per-container DNAT chain (`CNI-DN-...`).
pub fn dnat_chain(network: &str, container_id: &str) -> String {
    chain("DN-", network, container_id)
}

/// The per-container SNAT chain of portmap releases before 0.8 (`CNI-SN-...`).
pub fn old_snat_chain(network: &str, container_id: &str) -> String {
    chain("SN-", network, container_id)
}

/// Go's `%q` for the plain strings CNI allows (network names, container IDs).
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The comment of the reference bridge's masquerade rules (`utils.FormatComment`).
pub fn masq_comment(network: &str, container_id: &str) -> String {
    format!("name: {} id: {}", go_quote(network), go_quote(container_id))
}

/// The comment of the reference portmap's entry rules in `CNI-HOSTPORT-DNAT`.
pub fn dnat_comment(network: &str, container_id: &str) -> String {
    format!("dnat {}", masq_comment(network, container_id))
}

/// The container ID of a comment `[dnat ]name: "<network>" id: "<id>"` of
/// `network`, with whether it is a portmap (`dnat`) comment.
pub fn parse_comment(comment: &str, network: &str) -> Option<(bool, String)> {
    let (dnat, rest) = match comment.strip_prefix("dnat ") {
        Some(rest) => (true, rest),
        None => (false, comment),
    };
    let rest = rest.strip_prefix(&format!("name: {} id: ", go_quote(network)))?;
    let id = rest.strip_prefix('"')?.strip_suffix('"')?;
    if id.contains(['"', '\\']) || id.is_empty() {
        return None;
    }
    Some((dnat, id.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_the_reference() {
        // Read back from iptables-save after the reference bridge + portmap
        // (containernetworking-plugins 1.1.1) ran for network "refnet", container "ctr-abc".
        assert_eq!(
            masq_chain("refnet", "ctr-abc"),
            "CNI-9c1503aca18ec08d1ecd9bfa"
        );
        assert_eq!(
            dnat_chain("refnet", "ctr-abc"),
            "CNI-DN-9c1503aca18ec08d1ecd9"
        );
        assert_eq!(old_snat_chain("refnet", "ctr-abc").len(), 28);
        assert_eq!(
            masq_comment("refnet", "ctr-abc"),
            r#"name: "refnet" id: "ctr-abc""#
        );
        assert_eq!(
            dnat_comment("refnet", "ctr-abc"),
            r#"dnat name: "refnet" id: "ctr-abc""#
        );
    }

    #[test]
    fn comments_parse_back() {
        let m = masq_comment("n1", "c1");
        assert_eq!(parse_comment(&m, "n1"), Some((false, "c1".into())));
        assert_eq!(parse_comment(&m, "n2"), None);
        let d = dnat_comment("n1", "c2");
        assert_eq!(parse_comment(&d, "n1"), Some((true, "c2".into())));
        assert_eq!(parse_comment("CNI portfwd masquerade mark", "n1"), None);
        assert_eq!(parse_comment(r#"name: "n1" id: """#, "n1"), None);
    }
}
