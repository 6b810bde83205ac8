//! The key layout in the store (all under one prefix, version 1):
//!
//! ```text
//! <root>/networks/<network>          the network definition (NetworkSpec JSON)
//! <root>/blocks/<network>/<block>    a claimed block (BlockRecord JSON); block = "10.1.0.64-26"
//! <root>/hosts/<host>                a live host (under the agent's lease)
//! ```

use ipnet::IpNet;

/// The default root of every key.
pub const DEFAULT_ROOT: &str = "/cnm/v1";

/// Key of a network definition.
pub fn network(root: &str, network: &str) -> String {
    format!("{root}/networks/{network}")
}

/// Prefix of every network definition.
pub fn networks(root: &str) -> String {
    format!("{root}/networks/")
}

/// Prefix of every block of `network`.
pub fn blocks(root: &str, network: &str) -> String {
    format!("{root}/blocks/{network}/")
}

/// Key of one block.
pub fn block(root: &str, network: &str, block: &IpNet) -> String {
    format!("{}{}", blocks(root, network), block_name(block))
}

/// A block as a key component: `/` is replaced by `-`.
pub fn block_name(block: &IpNet) -> String {
    block.to_string().replace('/', "-")
}

/// The block named by a key component (inverse of [`block_name`]).
pub fn parse_block_name(name: &str) -> Option<IpNet> {
    let (addr, len) = name.rsplit_once('-')?;
    format!("{addr}/{len}").parse().ok()
}

/// Key of a live host record.
pub fn host(root: &str, host: &str) -> String {
    format!("{root}/hosts/{host}")
}

/// Prefix of every host record.
pub fn hosts(root: &str) -> String {
    format!("{root}/hosts/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_names_round_trip() {
        for s in ["10.1.0.64/26", "fd00:1::/64"] {
            let b: IpNet = s.parse().unwrap();
            assert_eq!(parse_block_name(&block_name(&b)), Some(b));
        }
        assert_eq!(parse_block_name("nonsense"), None);
        assert_eq!(
            block("/cnm/v1", "n1", &"10.1.0.64/26".parse().unwrap()),
            "/cnm/v1/blocks/n1/10.1.0.64-26"
        );
    }
}
