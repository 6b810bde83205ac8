//! The identity of a CNI attachment in the model: its endpoint id.

/// The endpoint id of the attachment (container ID, ifname):
/// `<container id>/<ifname>`. Neither part may contain `/` (CNI validates
/// both), so the id is unambiguous, and the bridge derives the same host
/// veth names from it as from the pair.
pub fn endpoint_id(container_id: &str, ifname: &str) -> String {
    format!("{container_id}/{ifname}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_the_bridge_names() {
        use cnm_bridge::names::{host_veth_name, host_veth_name_for_endpoint};
        assert_eq!(endpoint_id("c1", "eth0"), "c1/eth0");
        assert_eq!(
            host_veth_name_for_endpoint(&endpoint_id("c1", "eth0")),
            host_veth_name("c1", "eth0")
        );
    }
}
