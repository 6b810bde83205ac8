//! Protocol-level tests: JSON in through the router, as dockerd sends it, over
//! the model's bridge driver on the fake kernel (no root), the model's
//! host-local IPAM driver in a temporary directory and the fake port
//! publisher.

use std::sync::Arc;

use cnm_bridge::BridgeDriver;
use cnm_ipam::HostLocalIpam;
use cnm_kernel::fake::FakeSystem;
use cnm_kernel::KernelSandboxes;
use cnm_model::Controller;
use serde_json::{json, Value};

use crate::http::{Handler, Reply};
use crate::publish::FakePublisher;
use crate::store::{Kind, Store};
use crate::Plugin;

const NID: &str = "6e0b5c47a1e2b9f5d3c4a8b7e6f5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b";
const EID: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const EID2: &str = "b1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
const SANDBOX: &str = "/var/run/docker/netns/0123456789ab";

struct Fixture {
    plugin: Plugin,
    system: cnm_kernel::fake::Shared,
    publisher: Arc<FakePublisher>,
    dir: tempfile::TempDir,
}

fn open_with(
    dir: tempfile::TempDir,
    state: Option<cnm_kernel::fake::Shared>,
    publisher: Arc<FakePublisher>,
) -> Fixture {
    let mut sys = FakeSystem::new(SANDBOX);
    if let Some(st) = state {
        sys.state = st;
    }
    let shared = sys.state.clone();
    let system = Arc::new(sys);
    let controller = Controller::new(Arc::new(KernelSandboxes::new(Arc::clone(&system))));
    controller
        .register_driver("bridge", Arc::new(BridgeDriver::new(system)))
        .unwrap();
    let driver = controller.driver("bridge").unwrap();
    let ipam = Arc::new(HostLocalIpam::new(dir.path().join("ipam")));
    let store = Store::open(dir.path()).unwrap();
    let (plugin, warnings) = Plugin::open(driver, ipam, publisher.clone(), store).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    Fixture {
        plugin,
        system: shared,
        publisher,
        dir,
    }
}

fn fixture() -> Fixture {
    open_with(
        tempfile::tempdir().unwrap(),
        None,
        Arc::new(FakePublisher::default()),
    )
}

impl Fixture {
    fn call(&self, path: &str, body: Value) -> (u16, Value) {
        let reply: Reply = self.plugin.handle(path, body.to_string().as_bytes());
        let v: Value = serde_json::from_slice(&reply.body).expect("every reply is JSON");
        (reply.status, v)
    }
    /// A call that must succeed: 200 without Err.
    fn ok(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.call(path, body.clone());
        assert_eq!(status, 200, "{path} {body}: {v}");
        assert!(v.get("Err").is_none(), "{path} {body}: {v}");
        v
    }
    /// A call that must fail with a 200 and an error naming `needle`.
    fn err(&self, path: &str, body: Value, needle: &str) -> String {
        let (status, v) = self.call(path, body.clone());
        assert_eq!(status, 200, "{path} {body}: {v}");
        let e = v["Err"]
            .as_str()
            .unwrap_or_else(|| panic!("{path} {body}: no Err in {v}"));
        assert_eq!(v["Error"], v["Err"], "both error fields carry the message");
        assert!(e.contains(needle), "{path}: {e:?} lacks {needle:?}");
        e.to_string()
    }
    fn records(&self, kind: Kind) -> usize {
        self.plugin.store.list::<Value>(kind).unwrap().len()
    }
    /// host-local's reservation files (not its lock and last-reserved markers).
    fn reservations(&self) -> Vec<String> {
        let mut out = Vec::new();
        for d in std::fs::read_dir(self.dir.path().join("ipam"))
            .into_iter()
            .flatten()
            .flatten()
        {
            if d.file_name().to_string_lossy().starts_with('.') {
                continue; // host-local's owner index, not reservations
            }
            for f in std::fs::read_dir(d.path()).into_iter().flatten().flatten() {
                let n = f.file_name().to_string_lossy().into_owned();
                let file = f.file_type().map(|t| t.is_file()).unwrap_or(false);
                if file && n != "lock" && !n.starts_with("last_reserved_ip") {
                    out.push(n);
                }
            }
        }
        out
    }
    fn host_links(&self) -> Vec<String> {
        self.system.borrow().host.keys().cloned().collect()
    }
    /// Pools and addresses as Docker gets them, then the network.
    fn create_network(&self) -> (String, String) {
        let caps = self.ok("/IpamDriver.GetDefaultAddressSpaces", Value::Null);
        let space = caps["LocalDefaultAddressSpace"]
            .as_str()
            .unwrap()
            .to_string();
        let p4 = self.ok(
            "/IpamDriver.RequestPool",
            json!({"AddressSpace": space, "Pool": "10.40.0.0/24", "Options": {}, "V6": false}),
        );
        assert_eq!(p4["Pool"], "10.40.0.0/24");
        assert_eq!(p4["Data"]["com.docker.network.gateway"], "10.40.0.1/24");
        let p6 = self.ok(
            "/IpamDriver.RequestPool",
            json!({"AddressSpace": space, "Pool": "fd40::/64", "V6": true}),
        );
        self.ok(
            "/NetworkDriver.CreateNetwork",
            json!({
                "NetworkID": NID,
                "Options": {
                    "com.docker.network.enable_ipv6": true,
                    "com.docker.network.generic": {"mtu": "1400", "com.docker.network.bridge.name": "br-test"}
                },
                "IPv4Data": [{"AddressSpace": space, "Pool": "10.40.0.0/24", "Gateway": "10.40.0.1/24", "AuxAddresses": null}],
                "IPv6Data": [{"AddressSpace": space, "Pool": "fd40::/64", "Gateway": "fd40::1/64"}]
            }),
        );
        (
            p4["PoolID"].as_str().unwrap().into(),
            p6["PoolID"].as_str().unwrap().into(),
        )
    }
    fn create_endpoint(&self, pool4: &str, eid: &str) -> (String, Value) {
        let a = self.ok(
            "/IpamDriver.RequestAddress",
            json!({"PoolID": pool4, "Address": "", "Options": null}),
        );
        let addr = a["Address"].as_str().unwrap().to_string();
        let reply = self.ok(
            "/NetworkDriver.CreateEndpoint",
            json!({"NetworkID": NID, "EndpointID": eid, "Interface": {"Address": addr, "AddressIPv6": "", "MacAddress": ""}, "Options": {}}),
        );
        (addr, reply)
    }
}

#[test]
fn handshake_capabilities_and_unknown_paths() {
    let f = fixture();
    let v = f.ok("/Plugin.Activate", Value::Null);
    assert_eq!(v, json!({"Implements": ["NetworkDriver", "IpamDriver"]}));
    assert_eq!(
        f.ok("/NetworkDriver.GetCapabilities", Value::Null),
        json!({"Scope": "local", "ConnectivityScope": "local"})
    );
    assert_eq!(
        f.ok("/IpamDriver.GetCapabilities", Value::Null),
        json!({"RequiresMACAddress": false, "RequiresRequestReplay": false})
    );
    let (status, v) = f.call("/NetworkDriver.Nope", json!({}));
    assert_eq!(status, 404);
    assert!(v["Err"].as_str().unwrap().contains("Nope"));
    assert_eq!(
        f.ok(
            "/NetworkDriver.DiscoverNew",
            json!({"DiscoveryType": 1, "DiscoveryData": {"Address": "10.0.0.1", "self": true}})
        ),
        json!({})
    );
    assert_eq!(
        f.ok("/NetworkDriver.DiscoverDelete", json!({"DiscoveryType": 1})),
        json!({})
    );
    assert_eq!(
        f.ok("/NetworkDriver.AllocateNetwork", json!({"NetworkID": NID})),
        json!({"Options": {}})
    );
    assert_eq!(
        f.ok("/NetworkDriver.FreeNetwork", json!({"NetworkID": NID})),
        json!({})
    );
}

#[test]
fn malformed_bodies_are_400_and_never_panic() {
    let f = fixture();
    let paths = [
        "/NetworkDriver.CreateNetwork",
        "/NetworkDriver.DeleteNetwork",
        "/NetworkDriver.CreateEndpoint",
        "/NetworkDriver.DeleteEndpoint",
        "/NetworkDriver.EndpointOperInfo",
        "/NetworkDriver.Join",
        "/NetworkDriver.Leave",
        "/NetworkDriver.ProgramExternalConnectivity",
        "/NetworkDriver.RevokeExternalConnectivity",
        "/NetworkDriver.AllocateNetwork",
        "/NetworkDriver.FreeNetwork",
        "/NetworkDriver.DiscoverNew",
        "/IpamDriver.RequestPool",
        "/IpamDriver.ReleasePool",
        "/IpamDriver.RequestAddress",
        "/IpamDriver.ReleaseAddress",
    ];
    let bodies: [&[u8]; 7] = [
        b"{\"NetworkID\": \"abc\", \"IPv4Data\": [{\"Pool\": \"10.9",
        b"{\"NetworkID\": 5}",
        b"[1,2,3]",
        b"\xff\xfe",
        b"\"text\"",
        b"{\"EndpointID\": {\"x\": []}, \"PoolID\": [], \"V6\": \"yes\"}",
        b"{{{{",
    ];
    for p in paths {
        for b in bodies {
            let r = f.plugin.handle(p, b);
            assert!(
                r.status == 400 || r.status == 200,
                "{p} {b:?}: {}",
                r.status
            );
            let v: Value = serde_json::from_slice(&r.body).unwrap();
            if r.status == 400 {
                assert!(v["Err"].is_string(), "{p}: {v}");
            }
        }
    }
    let r = f.plugin.handle("/NetworkDriver.CreateNetwork", bodies[0]);
    assert_eq!(r.status, 400);
    assert_eq!(f.records(Kind::Network), 0);
    assert!(f.host_links().is_empty());
}

#[test]
fn full_lifecycle_leaves_nothing() {
    let f = fixture();
    let (pool4, pool6) = f.create_network();
    assert_eq!(f.records(Kind::Network), 1);
    assert_eq!(f.records(Kind::Pool), 2);
    // The gateway comes with the pool: Docker asking for it again gets it without a
    // second reservation.
    let gw = f.ok("/IpamDriver.RequestAddress", json!({"PoolID": pool4, "Address": "10.40.0.1", "Options": {"RequestAddressType": "com.docker.network.gateway"}}));
    assert_eq!(gw["Address"], "10.40.0.1/24");
    let a6 = f.ok("/IpamDriver.RequestAddress", json!({"PoolID": pool6}));
    let addr6 = a6["Address"].as_str().unwrap().to_string();
    assert_eq!(addr6, "fd40::2/64");
    let addr4 = f.ok("/IpamDriver.RequestAddress", json!({"PoolID": pool4}))["Address"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(addr4, "10.40.0.2/24");
    let reply = f.ok(
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID, "Interface": {"Address": addr4, "AddressIPv6": addr6, "MacAddress": ""}, "Options": {"com.docker.network.endpoint.exposedports": []}}),
    );
    // Only the MAC, which Docker did not give.
    let iface = reply["Interface"].as_object().unwrap();
    assert_eq!(iface.keys().collect::<Vec<_>>(), ["MacAddress"], "{reply}");
    let join = f.ok(
        "/NetworkDriver.Join",
        json!({"NetworkID": NID, "EndpointID": EID, "SandboxKey": SANDBOX, "Options": {}}),
    );
    let src = join["InterfaceName"]["SrcName"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(join["InterfaceName"]["DstPrefix"], "eth");
    assert_eq!(join["Gateway"], "10.40.0.1");
    assert_eq!(join["GatewayIPv6"], "fd40::1");
    assert_eq!(join["DisableGatewayService"], false);
    {
        let st = f.system.borrow();
        assert!(
            st.host.contains_key(&src),
            "the interface Docker moves is in the host: {:?}",
            st.host.keys()
        );
        let br = st
            .host
            .get("br-test")
            .expect("the bridge from -o com.docker.network.bridge.name");
        assert!(
            br.addrs.iter().any(|a| a.to_string() == "10.40.0.1/24"),
            "{:?}",
            br.addrs
        );
    }
    f.ok(
        "/NetworkDriver.ProgramExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID, "Options": {
            "com.docker.network.portmap": [{"Proto": 6, "IP": "", "Port": 80, "HostIP": "", "HostPort": 8080, "HostPortEnd": 8080}],
            "com.docker.network.endpoint.exposedports": [{"Proto": 6, "Port": 80}]
        }}),
    );
    assert_eq!(f.publisher.published.lock().unwrap().len(), 1);
    let info = f.ok(
        "/NetworkDriver.EndpointOperInfo",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    assert_eq!(info["Value"]["sandbox"], SANDBOX);
    assert!(
        info["Value"]["com.docker.network.portmap"].is_array(),
        "{info}"
    );
    f.ok(
        "/NetworkDriver.RevokeExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    assert!(f.publisher.published.lock().unwrap().is_empty());
    f.ok(
        "/NetworkDriver.Leave",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    f.ok(
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    assert_eq!(f.records(Kind::Endpoint), 0);
    assert!(!f.host_links().contains(&src));
    f.ok(
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": pool4, "Address": "10.40.0.2"}),
    );
    f.ok(
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": pool6, "Address": "fd40::2"}),
    );
    f.ok("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NID}));
    f.ok(
        "/IpamDriver.ReleaseAddress",
        json!({"PoolID": pool4, "Address": "10.40.0.1"}),
    );
    f.ok("/IpamDriver.ReleasePool", json!({"PoolID": pool4}));
    f.ok("/IpamDriver.ReleasePool", json!({"PoolID": pool6}));
    for k in [Kind::Network, Kind::Endpoint, Kind::Pool] {
        assert_eq!(f.records(k), 0, "{k:?}");
    }
    assert!(f.reservations().is_empty(), "{:?}", f.reservations());
    assert!(f.host_links().is_empty(), "left: {:?}", f.host_links());
    assert!(f.system.borrow().masquerade.is_empty());
    // Deletes of what is gone succeed (dockerd retries).
    f.ok(
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    f.ok("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NID}));
    f.ok("/IpamDriver.ReleasePool", json!({"PoolID": pool4}));
    let _ = &f.dir;
}

#[test]
fn repeated_creates_are_retries_and_conflicts_are_refused() {
    let f = fixture();
    let (pool4, _) = f.create_network();
    let net = f.plugin.store.get::<Value>(Kind::Network, NID).unwrap();
    // The same CreateNetwork again: a retry.
    f.ok(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": NID, "Options": {"com.docker.network.enable_ipv6": true,
            "com.docker.network.generic": {"mtu": "1400", "com.docker.network.bridge.name": "br-test"}},
            "IPv4Data": [{"AddressSpace": "LocalDefault", "Pool": "10.40.0.0/24", "Gateway": "10.40.0.1/24"}],
            "IPv6Data": [{"AddressSpace": "LocalDefault", "Pool": "fd40::/64", "Gateway": "fd40::1/64"}]}),
    );
    // Same ID, other settings: refused, nothing changed.
    f.err(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": NID, "IPv4Data": [{"AddressSpace": "x", "Pool": "10.41.0.0/24", "Gateway": "10.41.0.1/24"}]}),
        "exists with other settings",
    );
    assert_eq!(
        f.plugin.store.get::<Value>(Kind::Network, NID).unwrap(),
        net
    );
    // Another network overlapping the pool, or on the same bridge: refused.
    let other = "7".repeat(64);
    f.err(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": other, "IPv4Data": [{"Pool": "10.40.0.128/25", "Gateway": "10.40.0.129/25"}]}),
        "overlaps",
    );
    f.err(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": other, "Options": {"com.docker.network.generic": {"bridge": "br-test"}},
               "IPv4Data": [{"Pool": "10.42.0.0/24", "Gateway": "10.42.0.1/24"}]}),
        "bridge br-test",
    );
    assert_eq!(f.records(Kind::Network), 1);
    let (addr, first) = f.create_endpoint(&pool4, EID);
    let links = f.host_links();
    let again = f.ok(
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID, "Interface": {"Address": addr, "MacAddress": ""}, "Options": {}}),
    );
    assert_eq!(again, first, "a retried create answers as the first did");
    assert_eq!(f.host_links(), links, "and creates nothing more");
    f.err(
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID, "Interface": {"Address": "10.40.0.77/24"}}),
        "exists with other settings",
    );
    assert_eq!(f.host_links(), links);
}

#[test]
fn unknown_ids_and_bad_values_are_errors_that_create_nothing() {
    let f = fixture();
    f.err(
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": "nosuch", "EndpointID": EID, "Interface": {"Address": "10.9.0.2/24"}}),
        "not found",
    );
    f.err(
        "/NetworkDriver.Join",
        json!({"NetworkID": "nosuch", "EndpointID": EID, "SandboxKey": SANDBOX}),
        "not found",
    );
    f.err(
        "/NetworkDriver.EndpointOperInfo",
        json!({"NetworkID": NID, "EndpointID": EID}),
        "not found",
    );
    f.err(
        "/NetworkDriver.ProgramExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID}),
        "not found",
    );
    f.err(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": "../../etc", "IPv4Data": [{"Pool": "10.9.0.0/24"}]}),
        "not a valid ID",
    );
    f.err(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": NID}),
        "no IPv4Data",
    );
    f.err(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": NID, "IPv4Data": [{"Pool": "10.9.0.0/24", "Gateway": "10.8.0.1/24"}]}),
        "outside pool",
    );
    f.err(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": NID, "IPv4Data": [{"Pool": "fd00::/64"}]}),
        "other address family",
    );
    f.err("/NetworkDriver.CreateNetwork", json!({"NetworkID": NID, "Options": {"com.docker.network.generic": {"nosuch": "1"}}, "IPv4Data": [{"Pool": "10.9.0.0/24"}]}), "unknown network option");
    f.err("/NetworkDriver.CreateNetwork", json!({"NetworkID": NID, "Options": {"com.docker.network.generic": {"mtu": "9"}}, "IPv4Data": [{"Pool": "10.9.0.0/24", "Gateway": "10.9.0.1/24"}]}), "mtu");
    f.err(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "x", "SubPool": "10.9.0.0/25"}),
        "SubPool without Pool",
    );
    f.err(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "x", "Pool": "10.9.0.0/24", "V6": true}),
        "V6",
    );
    f.err(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "x", "Pool": "10.9.0.0/24", "Options": {"name": "../x"}}),
        "name",
    );
    f.err(
        "/IpamDriver.RequestAddress",
        json!({"PoolID": "nosuch"}),
        "not found",
    );
    f.err(
        "/IpamDriver.RequestAddress",
        json!({"PoolID": ""}),
        "PoolID",
    );
    // Deletes and leaves of unknown things succeed (idempotent), and create nothing.
    f.ok(
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    f.ok(
        "/NetworkDriver.Leave",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    f.ok(
        "/NetworkDriver.RevokeExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    f.ok("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NID}));
    f.ok("/IpamDriver.ReleasePool", json!({"PoolID": "nosuch"}));
    f.err(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "x", "Pool": "10.9.0.0/24", "SubPool": "10.9.0.128/25"}),
        "--ip-range",
    );
    for k in [Kind::Network, Kind::Endpoint, Kind::Pool] {
        assert_eq!(f.records(k), 0, "{k:?}");
    }
    assert!(f.host_links().is_empty(), "{:?}", f.host_links());
}

#[test]
fn ports_refused_or_failing_leave_nothing_published() {
    let f = fixture();
    let (pool4, _) = f.create_network();
    f.create_endpoint(&pool4, EID);
    f.ok(
        "/NetworkDriver.Join",
        json!({"NetworkID": NID, "EndpointID": EID, "SandboxKey": SANDBOX}),
    );
    f.err(
        "/NetworkDriver.ProgramExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID, "Options": {"com.docker.network.portmap": [{"Proto": 6, "Port": 80, "HostPort": 0}]}}),
        "explicit host port",
    );
    *f.publisher.fail.lock().unwrap() = true;
    f.err(
        "/NetworkDriver.ProgramExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID, "Options": {"com.docker.network.portmap": [{"Proto": 6, "Port": 80, "HostPort": 8080}]}}),
        "injected",
    );
    assert!(f.publisher.published.lock().unwrap().is_empty());
    let rec: crate::records::EndpointRecord =
        f.plugin.store.get(Kind::Endpoint, EID).unwrap().unwrap();
    assert!(rec.ports.is_empty(), "a failed publish is not recorded");
    // A host port held by another endpoint: refused, the first keeps it.
    *f.publisher.fail.lock().unwrap() = false;
    let pm = json!([{"Proto": 17, "Port": 53, "HostPort": 5353}]);
    f.ok(
        "/NetworkDriver.ProgramExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID, "Options": {"com.docker.network.portmap": pm}}),
    );
    f.create_endpoint(&pool4, EID2);
    f.err("/NetworkDriver.ProgramExternalConnectivity", json!({"NetworkID": NID, "EndpointID": EID2, "Options": {"com.docker.network.portmap": pm}}), "host port held");
    assert_eq!(f.publisher.published.lock().unwrap().len(), 1);
    // Deleting the endpoint withdraws its ports.
    f.ok(
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    assert!(f.publisher.published.lock().unwrap().is_empty());
}

#[test]
fn a_restarted_plugin_serves_what_it_recorded() {
    let f = fixture();
    let (pool4, _) = f.create_network();
    f.create_endpoint(&pool4, EID);
    let join = f.ok(
        "/NetworkDriver.Join",
        json!({"NetworkID": NID, "EndpointID": EID, "SandboxKey": SANDBOX}),
    );
    let src = join["InterfaceName"]["SrcName"]
        .as_str()
        .unwrap()
        .to_string();
    let Fixture {
        plugin,
        system,
        publisher,
        dir,
    } = f;
    drop(plugin);
    // A new process: a new controller and driver over the same kernel, the same state dir.
    let g = open_with(dir, Some(system), publisher);
    let info = g.ok(
        "/NetworkDriver.EndpointOperInfo",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    assert_eq!(info["Value"]["sandbox"], SANDBOX);
    // New endpoints on the recorded network work, and so does the IPAM pool; one created
    // before a restart and never joined is joined with the same interface and MAC.
    let (_, created) = g.create_endpoint(&pool4, EID2);
    let links = g.host_links();
    let Fixture {
        plugin,
        system,
        publisher,
        dir,
    } = g;
    drop(plugin);
    let g = open_with(dir, Some(system), publisher);
    let j2 = g.ok(
        "/NetworkDriver.Join",
        json!({"NetworkID": NID, "EndpointID": EID2, "SandboxKey": SANDBOX}),
    );
    assert_eq!(g.host_links(), links, "the same links, made again");
    let mac = created["Interface"]["MacAddress"]
        .as_str()
        .unwrap()
        .to_string();
    let src2 = j2["InterfaceName"]["SrcName"].as_str().unwrap().to_string();
    let got = g.system.borrow().host.get(&src2).map(|l| l.state.mac);
    let told: cnm_model::MacAddr = mac.parse().unwrap();
    assert_eq!(got, Some(told), "the MAC Docker was told");
    g.ok(
        "/NetworkDriver.Leave",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    g.ok(
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    assert!(!g.host_links().contains(&src));
    g.ok(
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID2}),
    );
    g.ok("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NID}));
    assert!(g.host_links().is_empty(), "{:?}", g.host_links());
    assert_eq!(g.records(Kind::Network), 0);
}

#[test]
fn a_killed_create_is_finished_or_undone() {
    let f = fixture();
    let (pool4, _) = f.create_network();
    // What a kill between the record and the driver's work leaves: a record without
    // `created`. The retried create cleans up and succeeds.
    let (addr, _) = f.create_endpoint(&pool4, EID);
    let mut rec: crate::records::EndpointRecord =
        f.plugin.store.get(Kind::Endpoint, EID).unwrap().unwrap();
    rec.created = None;
    rec.reply = None;
    f.plugin.store.put(Kind::Endpoint, EID, &rec).unwrap();
    let reply = f.ok(
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID, "Interface": {"Address": addr, "AddressIPv6": "", "MacAddress": ""}, "Options": {}}),
    );
    assert!(reply["Interface"]["MacAddress"].is_string(), "{reply}");
    f.ok("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NID}));
    assert_eq!(
        f.records(Kind::Endpoint),
        0,
        "DeleteNetwork removes endpoints left behind"
    );
    assert!(f.host_links().is_empty(), "{:?}", f.host_links());
}

#[test]
fn concurrent_requests_are_consistent() {
    let f = Arc::new(fixture());
    let (pool4, _) = f.create_network();
    let ids: Vec<String> = (0..8).map(|i| format!("{i:064x}")).collect();
    std::thread::scope(|s| {
        for id in &ids {
            let f = f.clone();
            let pool4 = pool4.clone();
            s.spawn(move || {
                f.create_endpoint(&pool4, id);
                f.ok(
                    "/NetworkDriver.Join",
                    json!({"NetworkID": NID, "EndpointID": id, "SandboxKey": SANDBOX}),
                );
            });
        }
    });
    assert_eq!(f.records(Kind::Endpoint), 8);
    let pool: crate::records::PoolRecord = f
        .plugin
        .store
        .list::<crate::records::PoolRecord>(Kind::Pool)
        .unwrap()
        .into_iter()
        .map(|(_, p)| p)
        .find(|p| p.id == pool4)
        .unwrap();
    assert_eq!(pool.addresses.len(), 8, "eight distinct addresses");
    std::thread::scope(|s| {
        for id in &ids {
            let f = f.clone();
            s.spawn(move || {
                f.ok(
                    "/NetworkDriver.DeleteEndpoint",
                    json!({"NetworkID": NID, "EndpointID": id}),
                );
            });
        }
    });
    assert_eq!(f.records(Kind::Endpoint), 0);
}

#[test]
fn internal_networks_have_no_gateway_and_no_ports() {
    let f = fixture();
    f.ok(
        "/NetworkDriver.CreateNetwork",
        json!({"NetworkID": NID, "Options": {"com.docker.network.internal": true},
               "IPv4Data": [{"Pool": "10.43.0.0/24", "Gateway": "10.43.0.1/24"}]}),
    );
    f.ok(
        "/NetworkDriver.CreateEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID, "Interface": {"Address": "10.43.0.2/24"}}),
    );
    let join = f.ok(
        "/NetworkDriver.Join",
        json!({"NetworkID": NID, "EndpointID": EID, "SandboxKey": SANDBOX}),
    );
    assert!(join.get("Gateway").is_none(), "{join}");
    assert_eq!(join["DisableGatewayService"], true);
    f.err(
        "/NetworkDriver.ProgramExternalConnectivity",
        json!({"NetworkID": NID, "EndpointID": EID, "Options": {"com.docker.network.portmap": [{"Proto": 6, "Port": 80, "HostPort": 8080}]}}),
        "internal",
    );
    assert!(
        f.system.borrow().masquerade.is_empty(),
        "no masquerade on an internal network"
    );
}

#[test]
fn pools_without_a_subnet_come_from_the_defaults() {
    let f = fixture();
    let a = f.ok(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "LocalDefault", "Pool": "", "V6": false}),
    );
    assert_eq!(a["Pool"], "10.200.0.0/24");
    let b = f.ok(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "LocalDefault", "V6": false}),
    );
    assert_eq!(b["Pool"], "10.200.1.0/24", "the next free one");
    let c = f.ok(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "LocalDefault", "V6": true}),
    );
    assert_eq!(c["Pool"], "fd63:6e6d:6400::/64");
    f.ok("/IpamDriver.ReleasePool", json!({"PoolID": a["PoolID"]}));
    let d = f.ok(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "LocalDefault"}),
    );
    assert_eq!(d["Pool"], "10.200.0.0/24", "released pools are reused");
    // An explicit pool overlapping a default one makes the defaults skip it.
    f.ok(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "LocalDefault", "Pool": "10.200.2.0/23"}),
    );
    let e = f.ok(
        "/IpamDriver.RequestPool",
        json!({"AddressSpace": "LocalDefault"}),
    );
    assert_eq!(e["Pool"], "10.200.4.0/24");
}

#[test]
fn a_killed_endpoint_create_is_cleaned_up_after_a_restart() {
    // A kill during CreateEndpoint (record written, driver's work done or not, reply never
    // sent): the next start replays the network, and Docker's DeleteEndpoint and
    // DeleteNetwork remove the veth, the bridge, the masquerade and the records.
    let f = fixture();
    let (pool4, _) = f.create_network();
    f.create_endpoint(&pool4, EID);
    let Fixture {
        plugin,
        system,
        publisher,
        dir,
    } = f;
    drop(plugin);
    // The endpoint record as a kill between the record and the driver's work leaves it.
    let store = Store::open(dir.path()).unwrap();
    let mut rec: crate::records::EndpointRecord = store.get(Kind::Endpoint, EID).unwrap().unwrap();
    rec.created = None;
    rec.reply = None;
    store.put(Kind::Endpoint, EID, &rec).unwrap();
    drop(store);
    let g = open_with(dir, Some(system), publisher);
    // Docker gives up on that endpoint and deletes the network: nothing is left.
    g.ok(
        "/NetworkDriver.DeleteEndpoint",
        json!({"NetworkID": NID, "EndpointID": EID}),
    );
    g.ok("/NetworkDriver.DeleteNetwork", json!({"NetworkID": NID}));
    assert!(g.host_links().is_empty(), "{:?}", g.host_links());
    assert_eq!(g.records(Kind::Network), 0);
    assert_eq!(g.records(Kind::Endpoint), 0);
    assert!(g.system.borrow().masquerade.is_empty());
}
