//! The two implementations under test and how each is invoked.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::run::{self, Outcome, Spec};

/// PATH given to every child (the reference needs `iptables`, ours `nft`).
pub const CHILD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Which implementation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Ours,
    Ref,
    /// An earlier build of ours (`--baseline-dir`): our configs, "before".
    Baseline,
}

/// One implementation: its bridge binary, its CNI_PATH and its IPAM type.
#[derive(Clone, Debug)]
pub struct Side {
    pub kind: Kind,
    pub plugin: PathBuf,
    pub ipam_bin: PathBuf,
    pub cni_path: PathBuf,
}

/// Parameters of one network (identical for both sides apart from types).
#[derive(Clone, Debug)]
pub struct Net {
    pub name: String,
    pub bridge: String,
    pub subnet: String,
    pub ip_masq: bool,
    pub data_dir: PathBuf,
}

impl Side {
    pub fn ours(dir: &Path) -> Side {
        Side {
            kind: Kind::Ours,
            plugin: dir.join("simplebridge"),
            ipam_bin: dir.join("ipam-host-local"),
            cni_path: dir.to_owned(),
        }
    }

    /// An earlier build of ours, in the reference's slot.
    pub fn baseline(dir: &Path) -> Side {
        Side {
            kind: Kind::Baseline,
            ..Side::ours(dir)
        }
    }

    pub fn reference(dir: &Path) -> Side {
        Side {
            kind: Kind::Ref,
            plugin: dir.join("bridge"),
            ipam_bin: dir.join("host-local"),
            cni_path: dir.to_owned(),
        }
    }

    pub fn label(&self) -> &'static str {
        match self.kind {
            Kind::Ours => "ours",
            Kind::Ref => "ref",
            Kind::Baseline => "before",
        }
    }

    /// The network config (cniVersion 1.0.0) this side is given.
    pub fn conf(&self, net: &Net) -> Vec<u8> {
        let (ty, ipam_ty) = match self.kind {
            Kind::Ours | Kind::Baseline => ("simplebridge", "ipam-host-local"),
            Kind::Ref => ("bridge", "host-local"),
        };
        let v: Value = json!({
            "cniVersion": "1.0.0",
            "name": net.name,
            "type": ty,
            "bridge": net.bridge,
            "isGateway": true,
            "ipMasq": net.ip_masq,
            "ipam": {
                "type": ipam_ty,
                "ranges": [[{"subnet": net.subnet}]],
                "routes": [{"dst": "0.0.0.0/0"}],
                "dataDir": net.data_dir.to_string_lossy(),
            }
        });
        v.to_string().into_bytes()
    }

    fn env(&self, cmd: &str, container_id: &str, netns: &str) -> Vec<(String, String)> {
        [
            ("PATH", CHILD_PATH.to_owned()),
            ("CNI_COMMAND", cmd.to_owned()),
            ("CNI_CONTAINERID", container_id.to_owned()),
            ("CNI_NETNS", netns.to_owned()),
            ("CNI_IFNAME", "eth0".to_owned()),
            ("CNI_PATH", self.cni_path.to_string_lossy().into_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Start one ADD or DEL (the caller is in the host namespace).
    pub fn start(
        &self,
        cmd: &str,
        net: &Net,
        container_id: &str,
        netns: &str,
    ) -> Result<run::Running, String> {
        let env = self.env(cmd, container_id, netns);
        let conf = self.conf(net);
        run::start(&Spec {
            program: &self.plugin,
            args: &[],
            env: &env,
            stdin: &conf,
        })
    }

    /// One ADD or DEL that must succeed.
    pub fn invoke(
        &self,
        cmd: &str,
        net: &Net,
        container_id: &str,
        netns: &str,
    ) -> Result<Outcome, String> {
        let o = run::finish(self.start(cmd, net, container_id, netns)?)?;
        if o.ok() {
            Ok(o)
        } else {
            Err(format!(
                "{} {cmd} of {container_id} in {netns} failed ({})",
                self.label(),
                o.describe()
            ))
        }
    }
}

/// The container addresses listed in an ADD result.
pub fn result_addresses(stdout: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(stdout) else {
        return Vec::new();
    };
    v.get("ips")
        .and_then(Value::as_array)
        .map(|ips| {
            ips.iter()
                .filter_map(|ip| ip.get("address").and_then(Value::as_str))
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confs_differ_only_in_types() {
        let net = Net {
            name: "n".into(),
            bridge: "b0".into(),
            subnet: "10.9.0.0/16".into(),
            ip_masq: true,
            data_dir: "/tmp/x".into(),
        };
        let o: Value = serde_json::from_slice(&Side::ours(Path::new("/o")).conf(&net)).unwrap();
        let r: Value =
            serde_json::from_slice(&Side::reference(Path::new("/r")).conf(&net)).unwrap();
        assert_eq!(o["type"], "simplebridge");
        assert_eq!(r["type"], "bridge");
        assert_eq!(o["ipam"]["type"], "ipam-host-local");
        assert_eq!(r["ipam"]["type"], "host-local");
        assert_eq!(o["ipMasq"], true);
        assert_eq!(o["ipam"]["ranges"], r["ipam"]["ranges"]);
    }

    #[test]
    fn addresses_from_result() {
        let out = br#"{"cniVersion":"1.0.0","ips":[{"address":"10.9.0.2/16"}]}"#;
        assert_eq!(result_addresses(out), vec!["10.9.0.2/16".to_owned()]);
        assert!(result_addresses(b"nope").is_empty());
    }
}
