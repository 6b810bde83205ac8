//! `BridgeFixture`: a throwaway "host" namespace in which a main plugin
//! (the reference `bridge` or our `simplebridge`) runs, a CNI_PATH, a dataDir,
//! a unique bridge name and /24, and container namespaces created on demand.
//! Used by the `tests/bridge_*.rs` files.

use crate::alloc::{bridge_name, host4, net_name, subnet_v4};
use crate::bins::{CniPath, Impl};
use crate::conf::bytes;
use crate::exec::{run_plugin, Env, Output};
use crate::ns::Netns;
use crate::store::{reservations, Reservation};
use crate::tmp::TempDir;
use ipnet::Ipv4Net;
use serde_json::{json, Value};

/// Which main plugin drives the bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Main {
    /// The reference Go `bridge` (Debian: cniVersion <= 1.0.0).
    RefBridge,
    /// Our `simplebridge`.
    SimpleBridge,
}

impl Main {
    pub fn type_name(self) -> &'static str {
        match self {
            Main::RefBridge => "bridge",
            Main::SimpleBridge => "simplebridge",
        }
    }
}

/// Per-test state for a bridge network. Field order matters for drop: the
/// host namespace (and with it the bridge) goes first.
#[derive(Debug)]
pub struct BridgeFixture {
    pub host: Netns,
    pub main: Main,
    pub ipam: Impl,
    pub cni_path: CniPath,
    pub data: TempDir,
    pub bridge: String,
    pub net: String,
    pub v4: Ipv4Net,
}

impl BridgeFixture {
    pub fn new(main: Main, ipam: Impl) -> BridgeFixture {
        BridgeFixture {
            host: Netns::new("host"),
            main,
            ipam,
            cni_path: CniPath::new(),
            data: TempDir::new("data"),
            bridge: bridge_name(),
            net: net_name(),
            v4: subnet_v4(),
        }
    }

    /// A container namespace.
    pub fn container(&self, tag: &str) -> Netns {
        Netns::new(tag)
    }

    /// `{cniVersion, name, type, bridge, isGateway, isDefaultGateway, ipam}`;
    /// tests add or change keys on the returned value.
    pub fn conf(&self, version: &str) -> Value {
        json!({
            "cniVersion": version,
            "name": self.net,
            "type": self.main.type_name(),
            "bridge": self.bridge,
            "isGateway": true,
            "isDefaultGateway": true,
            "ipam": {
                "type": self.ipam.host_local_type(),
                "dataDir": self.data.path_str(),
                "ranges": [[{"subnet": self.v4.to_string()}]],
            }
        })
    }

    /// n-th host address of the subnet.
    pub fn host_ip(&self, n: u32) -> String {
        host4(self.v4, n).to_string()
    }

    /// Parameters for `(id, ifname)` in container `ns`, run inside the host ns.
    pub fn env(&self, id: &str, ns: &Netns, ifname: &str) -> Env {
        Env::attach(id, ns.path_str(), ifname, self.cni_path.path_str()).in_ns(self.host.path())
    }

    /// Run the main plugin.
    pub fn run(&self, command: &str, env: &Env, conf: &Value) -> Output {
        run_plugin(
            &self.cni_path.bin(self.main.type_name()),
            command,
            env,
            &bytes(conf),
        )
    }

    /// ADD `(id, eth0)` into `ns`; must succeed. Returns the result.
    pub fn add(&self, id: &str, ns: &Netns, conf: &Value) -> Value {
        self.run("ADD", &self.env(id, ns, "eth0"), conf).ok()
    }

    /// Reservations in the IPAM store.
    pub fn reservations(&self) -> Vec<Reservation> {
        reservations(self.data.path(), &self.net)
    }
}
