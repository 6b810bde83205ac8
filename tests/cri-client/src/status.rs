//! A pod sandbox's status reduced to what the network tests need: state,
//! addresses, and the network namespace path (from containerd's verbose info,
//! whose `runtimeSpec` names the namespace the sandbox joined).

use crate::error::Error;
use k8s_cri::v1 as cri;
use serde_json::{json, Value};

/// The fields the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodStatus {
    pub id: String,
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub ready: bool,
    pub ip: String,
    pub additional_ips: Vec<String>,
    pub netns: Option<String>,
    /// The sandbox (pause) process, from the verbose info.
    pub pid: Option<u64>,
}

impl PodStatus {
    /// Reads a `PodSandboxStatus` answer (asked with verbose = true).
    pub fn from_response(r: &cri::PodSandboxStatusResponse) -> Result<Self, Error> {
        let s = r.status.as_ref().ok_or_else(|| Error::Answer {
            call: "PodSandboxStatus",
            detail: "no status".into(),
        })?;
        let meta = s.metadata.clone().unwrap_or_default();
        let net = s.network.clone().unwrap_or_default();
        let (netns, pid) = match r.info.get("info") {
            Some(raw) => {
                let info = parse_info(raw)?;
                (
                    netns_from_info(&info),
                    info.get("pid").and_then(Value::as_u64).filter(|p| *p > 0),
                )
            }
            None => (None, None),
        };
        Ok(PodStatus {
            id: s.id.clone(),
            name: meta.name,
            namespace: meta.namespace,
            uid: meta.uid,
            ready: s.state == cri::PodSandboxState::SandboxReady as i32,
            ip: net.ip,
            additional_ips: net.additional_ips.into_iter().map(|p| p.ip).collect(),
            netns,
            pid,
        })
    }

    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "state": if self.ready { "READY" } else { "NOTREADY" },
            "ip": self.ip,
            "additionalIps": self.additional_ips,
            "netns": self.netns,
            "pid": self.pid,
        })
    }
}

/// containerd's verbose sandbox info (a JSON document in the `info` key).
fn parse_info(raw: &str) -> Result<Value, Error> {
    serde_json::from_str(raw).map_err(|e| Error::Answer {
        call: "PodSandboxStatus",
        detail: format!("verbose info is not JSON: {e}"),
    })
}

/// The `path` of the network namespace in the verbose info's runtime spec.
fn netns_from_info(info: &Value) -> Option<String> {
    info.pointer("/runtimeSpec/linux/namespaces")
        .and_then(Value::as_array)?
        .iter()
        .find(|n| n.get("type").and_then(Value::as_str) == Some("network"))
        .and_then(|n| n.get("path"))
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .map(String::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_network_namespace() {
        let info = r#"{"pid":1,"runtimeSpec":{"linux":{"namespaces":[
            {"type":"pid"},{"type":"network","path":"/var/run/netns/cni-1"}]}}}"#;
        let info = parse_info(info).unwrap();
        assert_eq!(
            netns_from_info(&info).as_deref(),
            Some("/var/run/netns/cni-1")
        );
        assert_eq!(netns_from_info(&parse_info(r#"{"pid":1}"#).unwrap()), None);
        assert!(parse_info("not json").is_err());
    }

    #[test]
    fn reads_state_and_addresses() {
        let r = cri::PodSandboxStatusResponse {
            status: Some(cri::PodSandboxStatus {
                id: "abc".into(),
                state: cri::PodSandboxState::SandboxReady as i32,
                network: Some(cri::PodSandboxNetworkStatus {
                    ip: "10.1.0.2".into(),
                    additional_ips: vec![cri::PodIp {
                        ip: "fd00::2".into(),
                    }],
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = PodStatus::from_response(&r).unwrap();
        assert!(s.ready);
        assert_eq!(s.ip, "10.1.0.2");
        assert_eq!(s.additional_ips, vec!["fd00::2"]);
        assert_eq!(s.to_json()["state"], "READY");
        assert!(PodStatus::from_response(&cri::PodSandboxStatusResponse::default()).is_err());
    }
}
