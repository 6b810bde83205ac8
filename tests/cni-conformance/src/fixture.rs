//! `IpamFixture`: everything one host-local test needs (its own dataDir, network
//! name, /24, CNI_PATH and a container namespace for CNI_NETNS), for either
//! implementation.

use crate::alloc::{host4, net_name, subnet_v4};
use crate::bins::{CniPath, Impl};
use crate::conf::{bytes, host_local_conf};
use crate::exec::{run_plugin, Env, Output};
use crate::ns::Netns;
use crate::store::{reservations, Reservation};
use crate::tmp::TempDir;
use ipnet::Ipv4Net;
use serde_json::{json, Value};

/// Per-test state for driving a host-local binary.
#[derive(Debug)]
pub struct IpamFixture {
    pub imp: Impl,
    pub data: TempDir,
    pub net: String,
    pub cni_path: CniPath,
    /// Container namespace passed as CNI_NETNS (host-local does not enter it).
    pub ns: Netns,
    pub v4: Ipv4Net,
}

impl IpamFixture {
    pub fn new(imp: Impl) -> IpamFixture {
        IpamFixture {
            imp,
            data: TempDir::new("data"),
            net: net_name(),
            cni_path: CniPath::new(),
            ns: Netns::new("c"),
            v4: subnet_v4(),
        }
    }

    /// `[[{"subnet": <this test's /24>}]]`
    pub fn default_ranges(&self) -> Value {
        json!([[{ "subnet": self.v4.to_string() }]])
    }

    /// Config at the implementation's highest version.
    pub fn conf(&self, ranges: Value) -> Value {
        self.conf_v(self.imp.max_version(), ranges)
    }

    /// Config at `version`.
    pub fn conf_v(&self, version: &str, ranges: Value) -> Value {
        host_local_conf(self.imp, version, &self.net, self.data.path_str(), ranges)
    }

    /// The n-th address of this test's /24 as a string.
    pub fn host(&self, n: u32) -> String {
        host4(self.v4, n).to_string()
    }

    /// ADD/DEL/CHECK parameters for `(id, ifname)`.
    pub fn env(&self, id: &str, ifname: &str) -> Env {
        Env::attach(id, self.ns.path_str(), ifname, self.cni_path.path_str())
    }

    /// Run `command` for `(id, eth0)` with `conf` on stdin.
    pub fn run(&self, command: &str, id: &str, conf: &Value) -> Output {
        self.run_env(command, &self.env(id, "eth0"), conf)
    }

    /// Run `command` with explicit parameters.
    pub fn run_env(&self, command: &str, env: &Env, conf: &Value) -> Output {
        run_plugin(&self.imp.host_local(), command, env, &bytes(conf))
    }

    /// ADD for `(id, eth0)` that must succeed; returns the result.
    pub fn add_ok(&self, id: &str, conf: &Value) -> Value {
        self.run("ADD", id, conf).ok()
    }

    /// The single address (`ips[0].address`, without prefix) of an ADD result.
    pub fn first_ip(result: &Value) -> String {
        result["ips"][0]["address"]
            .as_str()
            .and_then(|a| a.split('/').next())
            .unwrap_or_default()
            .to_owned()
    }

    /// Reservation files in this test's store.
    pub fn reservations(&self) -> Vec<Reservation> {
        reservations(self.data.path(), &self.net)
    }

    /// Reserved IPs (file names) in this test's store.
    pub fn reserved_ips(&self) -> Vec<String> {
        self.reservations().into_iter().map(|r| r.ip).collect()
    }

    /// Run `command` with raw stdin bytes (for malformed input).
    pub fn run_env_raw(&self, command: &str, env: &Env, stdin: &[u8]) -> Output {
        run_plugin(&self.imp.host_local(), command, env, stdin)
    }
}
