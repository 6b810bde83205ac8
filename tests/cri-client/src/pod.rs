//! What the kubelet puts into a pod sandbox request, as a typed spec, and
//! its translation into the CRI v1 `PodSandboxConfig`.

use k8s_cri::v1 as cri;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

/// Transport protocol of a hostPort mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

/// One `hostPort` of a pod: `[host_ip:]host_port:container_port[/protocol]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// The pod's DNS config (kubelet: from the cluster DNS and the pod's dnsPolicy).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dns {
    pub servers: Vec<IpAddr>,
    pub searches: Vec<String>,
    pub options: Vec<String>,
}

/// A pod as the kubelet describes it to the runtime.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodSpec {
    pub name: String,
    pub namespace: String,
    pub uid: String,
    pub hostname: Option<String>,
    pub ports: Vec<HostPort>,
    pub dns: Dns,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub cgroup_parent: Option<String>,
}

impl Protocol {
    fn to_cri(self) -> cri::Protocol {
        match self {
            Protocol::Tcp => cri::Protocol::Tcp,
            Protocol::Udp => cri::Protocol::Udp,
            Protocol::Sctp => cri::Protocol::Sctp,
        }
    }
}

impl PodSpec {
    /// The sandbox config the kubelet would send: metadata, hostname, the
    /// kubelet's own labels plus ours, annotations (e.g. the bandwidth ones),
    /// port mappings, DNS and the Linux cgroup parent; network namespace mode
    /// POD (the default), so the runtime calls CNI.
    pub fn to_config(&self) -> cri::PodSandboxConfig {
        let mut labels: HashMap<String, String> = self.labels.clone().into_iter().collect();
        labels.insert("io.kubernetes.pod.name".into(), self.name.clone());
        labels.insert("io.kubernetes.pod.namespace".into(), self.namespace.clone());
        labels.insert("io.kubernetes.pod.uid".into(), self.uid.clone());
        cri::PodSandboxConfig {
            metadata: Some(cri::PodSandboxMetadata {
                name: self.name.clone(),
                uid: self.uid.clone(),
                namespace: self.namespace.clone(),
                attempt: 0,
            }),
            hostname: self.hostname.clone().unwrap_or_else(|| self.name.clone()),
            log_directory: String::new(),
            dns_config: Some(cri::DnsConfig {
                servers: self.dns.servers.iter().map(IpAddr::to_string).collect(),
                searches: self.dns.searches.clone(),
                options: self.dns.options.clone(),
            }),
            port_mappings: self
                .ports
                .iter()
                .map(|p| cri::PortMapping {
                    protocol: p.protocol.to_cri() as i32,
                    container_port: i32::from(p.container_port),
                    host_port: i32::from(p.host_port),
                    host_ip: p.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                })
                .collect(),
            labels,
            annotations: self.annotations.clone().into_iter().collect(),
            linux: Some(cri::LinuxPodSandboxConfig {
                cgroup_parent: self.cgroup_parent.clone().unwrap_or_default(),
                ..Default::default()
            }),
            windows: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_carries_what_the_kubelet_sends() {
        let spec = PodSpec {
            name: "web-0".into(),
            namespace: "default".into(),
            uid: "u-1".into(),
            hostname: Some("web".into()),
            ports: vec![HostPort {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Udp,
            }],
            dns: Dns {
                servers: vec!["10.96.0.10".parse().unwrap()],
                searches: vec!["default.svc.cluster.local".into()],
                options: vec!["ndots:5".into()],
            },
            annotations: [(
                "kubernetes.io/ingress-bandwidth".to_string(),
                "1M".to_string(),
            )]
            .into_iter()
            .collect(),
            cgroup_parent: Some("/cnm".into()),
            ..Default::default()
        };
        let c = spec.to_config();
        let m = c.metadata.unwrap();
        assert_eq!(
            (m.name.as_str(), m.namespace.as_str(), m.uid.as_str()),
            ("web-0", "default", "u-1")
        );
        assert_eq!(c.hostname, "web");
        assert_eq!(c.port_mappings.len(), 1);
        assert_eq!(c.port_mappings[0].host_port, 8080);
        assert_eq!(c.port_mappings[0].container_port, 80);
        assert_eq!(c.port_mappings[0].protocol, cri::Protocol::Udp as i32);
        assert_eq!(c.port_mappings[0].host_ip, "");
        assert_eq!(c.dns_config.unwrap().servers, vec!["10.96.0.10"]);
        assert_eq!(c.labels["io.kubernetes.pod.name"], "web-0");
        assert_eq!(c.annotations["kubernetes.io/ingress-bandwidth"], "1M");
        assert_eq!(c.linux.unwrap().cgroup_parent, "/cnm");
    }

    #[test]
    fn hostname_defaults_to_the_pod_name() {
        let spec = PodSpec {
            name: "p".into(),
            ..Default::default()
        };
        assert_eq!(spec.to_config().hostname, "p");
    }
}
