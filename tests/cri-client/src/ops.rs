//! The kubelet's pod calls against the CRI runtime service, one function per
//! command; each returns the text the command prints.

use crate::args::Command;
use crate::connect::Cri;
use crate::error::Error;
use crate::pod::PodSpec;
use crate::status::PodStatus;
use k8s_cri::v1 as cri;
use std::collections::BTreeMap;

/// Runs one command and returns its output lines.
pub async fn run(cri: &mut Cri, command: Command) -> Result<Vec<String>, Error> {
    match command {
        Command::Version => version(cri).await,
        Command::NetworkReady => Ok(vec![network_ready(cri).await?.to_string()]),
        Command::RuntimeConfig { pod_cidr } => {
            runtime_config(cri, &pod_cidr).await?;
            Ok(vec![])
        }
        Command::Run(spec) => Ok(vec![run_pod(cri, &spec).await?]),
        Command::Status { id } => Ok(vec![status(cri, &id).await?.to_json().to_string()]),
        Command::List { labels } => Ok(list(cri, &labels)
            .await?
            .into_iter()
            .map(|p| {
                let meta = p.metadata.unwrap_or_default();
                let state = if p.state == cri::PodSandboxState::SandboxReady as i32 {
                    "READY"
                } else {
                    "NOTREADY"
                };
                format!("{} {state} {}/{}", p.id, meta.namespace, meta.name)
            })
            .collect()),
        Command::Stop { id } => {
            stop(cri, &id).await?;
            Ok(vec![])
        }
        Command::Remove { id } => {
            remove(cri, &id).await?;
            Ok(vec![])
        }
        Command::RunMany {
            count,
            prefix,
            template,
        } => run_many(cri, count, &prefix, &template).await,
        Command::RemoveAll { labels } => Ok(vec![remove_all(cri, &labels).await?.to_string()]),
    }
}

async fn version(cri: &mut Cri) -> Result<Vec<String>, Error> {
    let v = cri
        .runtime
        .version(cri::VersionRequest {
            version: "v1".into(),
        })
        .await
        .map_err(Error::call("Version"))?
        .into_inner();
    Ok(vec![format!(
        "{} {} (CRI {})",
        v.runtime_name, v.runtime_version, v.runtime_api_version
    )])
}

/// The runtime's `NetworkReady` condition (false until a CNI config loaded).
pub async fn network_ready(cri: &mut Cri) -> Result<bool, Error> {
    let s = cri
        .runtime
        .status(cri::StatusRequest { verbose: false })
        .await
        .map_err(Error::call("Status"))?
        .into_inner();
    let conditions = s.status.map(|s| s.conditions).unwrap_or_default();
    Ok(conditions
        .iter()
        .any(|c| c.r#type == "NetworkReady" && c.status))
}

/// What the kubelet does once it learns the node's pod CIDR(s).
pub async fn runtime_config(cri: &mut Cri, pod_cidr: &str) -> Result<(), Error> {
    cri.runtime
        .update_runtime_config(cri::UpdateRuntimeConfigRequest {
            runtime_config: Some(cri::RuntimeConfig {
                network_config: Some(cri::NetworkConfig {
                    pod_cidr: pod_cidr.to_string(),
                }),
            }),
        })
        .await
        .map_err(Error::call("UpdateRuntimeConfig"))?;
    Ok(())
}

pub async fn run_pod(cri: &mut Cri, spec: &PodSpec) -> Result<String, Error> {
    let id = cri
        .runtime
        .run_pod_sandbox(cri::RunPodSandboxRequest {
            config: Some(spec.to_config()),
            runtime_handler: String::new(),
        })
        .await
        .map_err(Error::call("RunPodSandbox"))?
        .into_inner()
        .pod_sandbox_id;
    if id.is_empty() {
        return Err(Error::Answer {
            call: "RunPodSandbox",
            detail: "empty sandbox ID".into(),
        });
    }
    Ok(id)
}

pub async fn status(cri: &mut Cri, id: &str) -> Result<PodStatus, Error> {
    let r = cri
        .runtime
        .pod_sandbox_status(cri::PodSandboxStatusRequest {
            pod_sandbox_id: id.to_string(),
            verbose: true,
        })
        .await
        .map_err(Error::call("PodSandboxStatus"))?
        .into_inner();
    PodStatus::from_response(&r)
}

pub async fn list(
    cri: &mut Cri,
    labels: &BTreeMap<String, String>,
) -> Result<Vec<cri::PodSandbox>, Error> {
    Ok(cri
        .runtime
        .list_pod_sandbox(cri::ListPodSandboxRequest {
            filter: Some(cri::PodSandboxFilter {
                label_selector: labels.clone().into_iter().collect(),
                ..Default::default()
            }),
        })
        .await
        .map_err(Error::call("ListPodSandbox"))?
        .into_inner()
        .items)
}

pub async fn stop(cri: &mut Cri, id: &str) -> Result<(), Error> {
    cri.runtime
        .stop_pod_sandbox(cri::StopPodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await
        .map_err(Error::call("StopPodSandbox"))?;
    Ok(())
}

pub async fn remove(cri: &mut Cri, id: &str) -> Result<(), Error> {
    cri.runtime
        .remove_pod_sandbox(cri::RemovePodSandboxRequest {
            pod_sandbox_id: id.to_string(),
        })
        .await
        .map_err(Error::call("RemovePodSandbox"))?;
    Ok(())
}

/// `count` pods from `template`, named `<prefix>-<n>` (UID `<prefix>-uid-<n>`),
/// created one after the other as a kubelet filling a node does; every pod
/// must be READY with an address. Returns `ID IP` lines.
async fn run_many(
    cri: &mut Cri,
    count: u32,
    prefix: &str,
    template: &PodSpec,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::with_capacity(count as usize);
    for n in 1..=count {
        let spec = PodSpec {
            name: format!("{prefix}-{n}"),
            uid: format!("{prefix}-uid-{n}"),
            ..template.clone()
        };
        let id = run_pod(cri, &spec).await?;
        let st = status(cri, &id).await?;
        if !st.ready || st.ip.is_empty() {
            return Err(Error::Answer {
                call: "PodSandboxStatus",
                detail: format!("pod {} ({id}) is not READY with an address", spec.name),
            });
        }
        out.push(format!("{id} {}", st.ip));
    }
    Ok(out)
}

/// Stops and removes every pod matching `labels` (what the kubelet does when
/// pods are deleted); returns how many.
async fn remove_all(cri: &mut Cri, labels: &BTreeMap<String, String>) -> Result<usize, Error> {
    let pods = list(cri, labels).await?;
    for p in &pods {
        stop(cri, &p.id).await?;
        remove(cri, &p.id).await?;
    }
    Ok(pods.len())
}
