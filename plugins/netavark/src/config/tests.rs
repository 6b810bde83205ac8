//! Tests of the validation of setup/teardown input (create's are in
//! `create.rs`): netavark's own test inputs are accepted, every bad field
//! is refused with a message naming it.

use serde_json::{json, Value};

use super::*;

const NET_ID: &str = "53ce4390f2adb1681eb1a90ec8b48c49c015e0a8d336c197637e7f65e365fa9e";

/// netavark's test/testfiles/simplebridge.json as one plugin input.
fn input() -> Value {
    json!({
        "container_id": "6ce776ea58b5",
        "container_name": "testcontainer",
        "port_mappings": null,
        "network": {
            "dns_enabled": false, "driver": "cnm", "id": NET_ID,
            "internal": false, "ipv6_enabled": false, "name": "podman",
            "network_interface": "podman0",
            "subnets": [{"gateway": "10.88.0.1", "subnet": "10.88.0.0/16"}]
        },
        "network_options": {"interface_name": "eth0", "static_ips": ["10.88.0.2"],
            "aliases": null, "static_mac": null, "options": null}
    })
}

fn check(v: Value) -> Result<(NetworkConfig, Attachment), PluginError> {
    let exec: NetworkPluginExec = serde_json::from_value(v).expect("shape");
    let net = check_network(&exec.network, Stage::Attach)?;
    let att = check_attachment(&exec, &net, "/run/netns/c1")?;
    Ok((net, att))
}

fn refused(v: Value, want: &str) {
    let e = check(v.clone()).expect_err(want);
    assert!(e.to_string().contains(want), "{v}: {e}");
}

#[test]
fn netavarks_test_input_is_accepted() {
    let (net, att) = check(input()).expect("valid");
    assert_eq!(net.bridge.as_deref(), Some("podman0"));
    assert_eq!(net.ipam, IpamMode::Podman);
    assert_eq!(
        net.subnets[0].gateway,
        Some("10.88.0.1".parse().expect("ip"))
    );
    assert_eq!(att.ifname, "eth0");
    assert_eq!(
        att.static_ips,
        vec!["10.88.0.2".parse::<IpAddr>().expect("ip")]
    );
    assert_eq!(att.netns, "/run/netns/c1");
    assert!(att.mac.is_none() && att.ports.is_empty());
}

#[test]
fn mac_ports_and_dual_stack() {
    let mut v = input();
    v["network"]["subnets"] = json!([
        {"subnet": "10.89.3.0/24", "gateway": "10.89.3.1"},
        {"subnet": "fd10:88:a::/64", "gateway": "fd10:88:a::1"}
    ]);
    v["network"]["ipv6_enabled"] = json!(true);
    v["network_options"]["static_ips"] = json!(["10.89.3.2", "fd10:88:a::2"]);
    v["network_options"]["static_mac"] = json!("aa:bb:cc:dd:aa:00");
    v["port_mappings"] = json!([{"container_port": 80, "host_ip": "", "host_port": 8080,
        "protocol": "tcp", "range": 2}]);
    let (net, att) = check(v).expect("valid");
    assert_eq!(net.subnets.len(), 2);
    assert_eq!(att.static_ips.len(), 2);
    assert_eq!(
        att.mac.map(|m| m.to_string()).as_deref(),
        Some("aa:bb:cc:dd:aa:00")
    );
    assert_eq!(att.ports.len(), 2);
}

#[test]
fn a_network_without_bridge_name_gets_the_derived_one() {
    let mut v = input();
    if let Some(n) = v["network"].as_object_mut() {
        n.remove("network_interface");
    }
    let (net, _) = check(v).expect("valid");
    assert_eq!(net.bridge.as_deref(), Some("cnm-53ce4390f2a"));
}

#[test]
fn bad_attachments_are_refused() {
    let mut v = input();
    v["network_options"]["interface_name"] = json!("a-name-longer-than-15");
    refused(
        v,
        "interface_name: interface name \"a-name-longer-than-15\" is longer than 15",
    );
    let mut v = input();
    v["network_options"]["interface_name"] = json!("eth 0");
    refused(v, "interface_name");
    let mut v = input();
    v["network_options"]["static_mac"] = json!("01:00:5e:00:00:01");
    refused(v, "static_mac");
    let mut v = input();
    v["network_options"]["static_mac"] = json!("not-a-mac");
    refused(v, "static_mac");
    let mut v = input();
    v["network_options"]["static_ips"] = json!(["10.99.0.2"]);
    refused(v, "in none of the network's subnets (10.88.0.0/16)");
    let mut v = input();
    v["network_options"]["static_ips"] = json!(["10.88.0.1"]);
    refused(v, "gateway address");
    let mut v = input();
    v["network_options"]["static_ips"] = json!(["10.88.0.2", "10.88.0.3"]);
    refused(v, "two static IPs in subnet 10.88.0.0/16");
    let mut v = input();
    v["network_options"]["options"] = json!({"host_interface_name": "veth9"});
    refused(v, "host_interface_name: not supported");
    let mut v = input();
    v["container_id"] = json!("../../etc");
    refused(v, "container_id");
    let mut v = input();
    v["container_id"] = json!("");
    refused(v, "container_id");
    let mut v = input();
    v["port_mappings"] = json!([{"container_port": 80, "host_ip": "", "host_port": 0,
        "protocol": "tcp", "range": 1}]);
    refused(v, "must be 1-65535");
}

#[test]
fn bad_networks_are_refused_at_setup() {
    let mut v = input();
    v["network"]["network_dns_servers"] = json!(["10.0.0.53"]);
    refused(v, "dns_enabled is not");
    let mut v = input();
    v["network"]["dns_enabled"] = json!(true);
    v["network"]["network_dns_servers"] = json!(["0.0.0.0"]);
    refused(v, "not a unicast address");
    let mut v = input();
    v["network"]["dns_enabled"] = json!(true);
    v["network"]["ipam_options"] = json!({"driver": "none"});
    v["network"]["subnets"] = json!([]);
    refused(v, "dns_enabled on a network without addresses");
    let mut v = input();
    v["network"]["options"] = json!({"isolate": "true"});
    refused(v, "isolate=true: not supported");
    let mut v = input();
    v["network"]["options"] = json!({"unknown": "1"});
    refused(v, "unknown option \"unknown\"");
    let mut v = input();
    v["network"]["ipam_options"] = json!({"driver": "none"});
    refused(v, "ipam driver none is set but subnets are given");
    let mut v = input();
    v["network"]["ipam_options"] = json!({"driver": "none"});
    v["network"]["subnets"] = json!([]);
    refused(v, "static_ips given on a network with ipam driver none");
    let mut v = input();
    v["network"]["ipam_options"] = json!({"driver": PLUGIN_IPAM});
    refused(v, "static addresses are not supported there");
    let mut v = input();
    v["network"]["options"] = json!({"driver": "overlay"});
    refused(v, "its ipam driver must be cnm");
}

#[test]
fn ipam_none_and_internal() {
    let mut v = input();
    v["network"]["ipam_options"] = json!({"driver": "none"});
    v["network"]["subnets"] = json!([]);
    v["network_options"]["static_ips"] = json!(null);
    let (net, att) = check(v).expect("layer 2");
    assert_eq!(net.ipam, IpamMode::None);
    assert!(att.static_ips.is_empty());
    let mut v = input();
    v["network"]["internal"] = json!(true);
    v["network"]["subnets"] = json!([{"subnet": "10.88.0.0/16"}]);
    let (net, _) = check(v).expect("internal");
    assert!(net.internal);
    assert_eq!(
        net.subnets[0].gateway, None,
        "internal without a gateway keeps none"
    );
}

#[test]
fn dns_enabled_networks_get_a_gateway_and_their_forwarders() {
    let mut v = input();
    v["network"]["dns_enabled"] = json!(true);
    v["network"]["internal"] = json!(true);
    v["network"]["subnets"] = json!([{"subnet": "10.88.0.0/16"}]);
    v["network"]["network_dns_servers"] = json!(["10.0.0.53", "fd00::53"]);
    v["network_options"]["aliases"] = json!(["web", "6ce776ea58b5"]);
    let (net, att) = check(v).expect("internal with names");
    assert!(net.dns_enabled && net.internal);
    assert_eq!(
        net.subnets[0].gateway,
        Some("10.88.0.1".parse().expect("ip")),
        "the resolver listens on the gateway (Podman adds it too)"
    );
    assert_eq!(net.dns_servers.len(), 2);
    assert_eq!(att.aliases, ["web", "6ce776ea58b5"]);
}

#[test]
fn routes_and_lease_ranges() {
    let mut v = input();
    v["network"]["routes"] = json!([{"destination": "10.10.0.0/16", "gateway": "10.88.0.5",
        "metric": 50}, {"destination": "10.11.0.0/16"}]);
    v["network"]["subnets"][0]["lease_range"] =
        json!({"start_ip": "10.88.0.10", "end_ip": "10.88.0.20"});
    let (net, _) = check(v).expect("valid");
    assert_eq!(net.routes.len(), 2);
    assert_eq!(net.routes[0].metric, Some(50));
    assert_eq!(
        net.subnets[0].lease,
        Some((
            "10.88.0.10".parse().expect("ip"),
            "10.88.0.20".parse().expect("ip")
        ))
    );
}
