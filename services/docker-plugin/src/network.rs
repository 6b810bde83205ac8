//! The `NetworkDriver.*` calls, each a translation between remote.md's JSON
//! and the model's [`NetworkDriver`](cnm_model::NetworkDriver).
//!
//! Retries: dockerd's plugin client resends a request whose connection broke
//! (for example because the plugin was killed mid-call and restarted), so a
//! create repeated with the same content is answered as the first one was; a
//! create repeated with different content is a conflict. Deletes, Leave and
//! Revoke of something already gone succeed.

use std::net::IpAddr;

use cnm_model::{
    CreateEndpoint, CreateNetwork, EndpointInterface as ModelInterface, EndpointOperInfo,
    EndpointRef, ErrorKind, ExternalConnectivity, InterfaceAddress, IpamData as ModelIpamData,
    JoinRequest, MacAddr, NetworkOptions, Placement, PortBinding,
};
use ipnet::IpNet;
use serde_json::{Map, Value};

use crate::error::PluginError;
use crate::options;
use crate::plugin::{model_err, Plugin};
use crate::ports;
use crate::protocol::network as proto;
use crate::publish::PortOwner;
use crate::records::{EndpointRecord, NetworkRecord};
use crate::store::{valid_key, Kind};

/// Docker's option keys in CreateNetwork's `Options`.
pub const GENERIC: &str = "com.docker.network.generic";
/// `docker network create --internal`.
pub const INTERNAL: &str = "com.docker.network.internal";

/// The sandbox interface's name prefix in Docker (`eth0`, `eth1`, ...).
const DST_PREFIX: &str = "eth";

fn check_id(what: &str, id: &str) -> Result<(), PluginError> {
    if valid_key(id) {
        Ok(())
    } else {
        Err(PluginError::invalid(format!(
            "{what} {id:?} is not a valid ID (1-128 of [A-Za-z0-9_.-])"
        )))
    }
}

fn cidr(what: &str, text: &str) -> Result<IpNet, PluginError> {
    text.parse::<IpNet>()
        .map_err(|_| PluginError::invalid(format!("{what} {text:?} is not an address/prefix")))
}

fn ipam_data(family: &str, list: &[proto::IpamData]) -> Result<Vec<ModelIpamData>, PluginError> {
    let mut out = Vec::with_capacity(list.len());
    for d in list {
        let pool = cidr(&format!("{family} pool"), &d.pool)?;
        let want_v4 = family == "IPv4Data";
        if matches!(pool, IpNet::V4(_)) != want_v4 {
            return Err(PluginError::invalid(format!(
                "{family}: pool {pool} is of the other address family"
            )));
        }
        let gateway = match d.gateway.as_str() {
            "" => None,
            g => Some(cidr(&format!("{family} gateway"), g)?),
        };
        if let Some(g) = gateway {
            if !pool.contains(&g.addr()) {
                return Err(PluginError::invalid(format!(
                    "{family}: gateway {g} is outside pool {pool}"
                )));
            }
        }
        let mut aux = std::collections::BTreeMap::new();
        for (k, v) in d.aux_addresses.iter().flatten() {
            let text = v.as_str().ok_or_else(|| {
                PluginError::invalid(format!("{family}: aux address {k} is not a string"))
            })?;
            aux.insert(k.clone(), cidr(&format!("{family} aux address {k}"), text)?);
        }
        out.push(ModelIpamData {
            address_space: d.address_space.clone(),
            pool,
            gateway,
            aux_addresses: aux,
        });
    }
    Ok(out)
}

/// The network's name as the driver and the firewall see it.
fn network_name(id: &str) -> String {
    format!("docker-{}", &id[..id.len().min(12)])
}

/// The default bridge name: `cnm-` and the first 11 characters of the ID (15 in all, the
/// kernel's limit).
pub fn default_bridge(id: &str) -> String {
    format!("cnm-{}", &id[..id.len().min(11)])
}

fn bool_opt(opts: &Map<String, Value>, key: &str) -> Result<bool, PluginError> {
    match opts.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" || s == "false" => Ok(s == "true"),
        Some(other) => Err(PluginError::invalid(format!(
            "option {key}: expected a boolean, got {other}"
        ))),
    }
}

/// Build the network record from the request (no side effects).
fn network_record(req: &proto::CreateNetworkRequest) -> Result<NetworkRecord, PluginError> {
    check_id("NetworkID", &req.network_id)?;
    let empty = Map::new();
    let opts = req.options.as_ref().unwrap_or(&empty);
    let generic = match opts.get(GENERIC) {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m),
        Some(other) => {
            return Err(PluginError::invalid(format!(
                "option {GENERIC}: expected an object, got {other}"
            )))
        }
    };
    let internal = bool_opt(opts, INTERNAL)?;
    let parsed = options::parse(generic)?;
    let mut bridge = Map::new();
    bridge.insert(
        "bridge".into(),
        Value::from(default_bridge(&req.network_id)),
    );
    bridge.insert("isGateway".into(), Value::Bool(!internal));
    bridge.insert("ipMasq".into(), Value::Bool(!internal));
    for (k, v) in parsed.bridge {
        bridge.insert(k, v);
    }
    let masquerade = bridge.get("ipMasq") == Some(&Value::Bool(true));
    let ipv4 = ipam_data("IPv4Data", req.ipv4_data.as_deref().unwrap_or_default())?;
    let ipv6 = ipam_data("IPv6Data", req.ipv6_data.as_deref().unwrap_or_default())?;
    if ipv4.is_empty() && ipv6.is_empty() {
        return Err(PluginError::invalid(
            "the network has no IPv4Data and no IPv6Data: an IPAM driver must provide a pool",
        ));
    }
    Ok(NetworkRecord {
        create: CreateNetwork {
            id: req.network_id.clone(),
            name: network_name(&req.network_id),
            options: NetworkOptions(bridge),
            ipv4,
            ipv6,
        },
        internal,
        masquerade,
        host_binding_ipv4: parsed.host_binding_ipv4,
    })
}

fn pools(rec: &NetworkRecord) -> impl Iterator<Item = IpNet> + '_ {
    rec.create
        .ipv4
        .iter()
        .chain(rec.create.ipv6.iter())
        .map(|d| d.pool.trunc())
}

fn bridge_of(rec: &NetworkRecord) -> Option<&str> {
    rec.create.options.0.get("bridge").and_then(Value::as_str)
}

impl Plugin {
    /// `NetworkDriver.GetCapabilities`.
    pub fn capabilities(&self) -> proto::CapabilitiesReply {
        proto::CapabilitiesReply {
            scope: "local",
            connectivity_scope: "local",
        }
    }

    /// `NetworkDriver.CreateNetwork`.
    pub fn create_network(&self, req: &proto::CreateNetworkRequest) -> Result<(), PluginError> {
        let rec = network_record(req)?;
        let _g = self.locked();
        if let Some(old) = self
            .store
            .get::<NetworkRecord>(Kind::Network, &req.network_id)?
        {
            if old == rec {
                // A retry: make sure the driver has it (idempotent) and answer as before.
                return self
                    .driver
                    .create_network(&rec.create)
                    .map_err(|e| model_err("creating the network", e));
            }
            return Err(PluginError::Conflict(format!(
                "network {} exists with other settings",
                req.network_id
            )));
        }
        for (id, other) in self.store.list::<NetworkRecord>(Kind::Network)? {
            if let Some(p) = pools(&rec).find(|p| {
                pools(&other).any(|q| p.contains(&q.network()) || q.contains(&p.network()))
            }) {
                return Err(PluginError::Conflict(format!(
                    "pool {p} overlaps network {id} of this driver"
                )));
            }
            if bridge_of(&rec).is_some() && bridge_of(&rec) == bridge_of(&other) {
                return Err(PluginError::Conflict(format!(
                    "bridge {} is used by network {id}",
                    bridge_of(&rec).unwrap_or_default()
                )));
            }
        }
        // Recorded first: a kill during the driver's work leaves a record that the restart
        // replays and DeleteNetwork removes.
        self.store.put(Kind::Network, &req.network_id, &rec)?;
        if let Err(e) = self.driver.create_network(&rec.create) {
            let undo = vec![
                (
                    "deleting the network",
                    self.driver
                        .delete_network(&rec.create.id)
                        .map_err(|e| e.to_string()),
                ),
                (
                    "removing its record",
                    self.store
                        .remove(Kind::Network, &req.network_id)
                        .map_err(|e| e.to_string()),
                ),
            ];
            return Err(model_err("creating the network", e).rolled_back(undo));
        }
        Ok(())
    }

    /// Undo a create of endpoint `id`: the driver's part, then its record;
    /// how each step ended.
    fn undo_endpoint(
        &self,
        rec: &EndpointRecord,
        id: &str,
    ) -> Vec<(&'static str, Result<(), String>)> {
        vec![
            (
                "deleting the endpoint",
                self.driver
                    .delete_endpoint(&ep_ref(rec))
                    .map_err(|e| e.to_string()),
            ),
            (
                "removing its record",
                self.store
                    .remove(Kind::Endpoint, id)
                    .map_err(|e| e.to_string()),
            ),
        ]
    }

    /// `NetworkDriver.DeleteNetwork`: endpoints still recorded (from a killed run) go first.
    pub fn delete_network(&self, req: &proto::NetworkRequest) -> Result<(), PluginError> {
        check_id("NetworkID", &req.network_id)?;
        let _g = self.locked();
        for (eid, ep) in self.store.list::<EndpointRecord>(Kind::Endpoint)? {
            if ep.create.network_id == req.network_id {
                self.remove_endpoint(&req.network_id, &eid)?;
            }
        }
        self.driver
            .delete_network(&req.network_id)
            .map_err(|e| model_err("deleting the network", e))?;
        self.store.remove(Kind::Network, &req.network_id)
    }

    fn network(&self, id: &str) -> Result<NetworkRecord, PluginError> {
        check_id("NetworkID", id)?;
        self.store
            .get::<NetworkRecord>(Kind::Network, id)?
            .ok_or_else(|| PluginError::not_found("network", id))
    }

    fn endpoint(&self, nid: &str, eid: &str) -> Result<EndpointRecord, PluginError> {
        check_id("EndpointID", eid)?;
        let rec = self
            .store
            .get::<EndpointRecord>(Kind::Endpoint, eid)?
            .ok_or_else(|| PluginError::not_found("endpoint", eid))?;
        if rec.create.network_id != nid {
            return Err(PluginError::not_found(
                "endpoint",
                &format!("{eid} in network {nid}"),
            ));
        }
        Ok(rec)
    }

    /// `NetworkDriver.CreateEndpoint`.
    pub fn create_endpoint(
        &self,
        req: &proto::CreateEndpointRequest,
    ) -> Result<proto::CreateEndpointReply, PluginError> {
        check_id("EndpointID", &req.endpoint_id)?;
        let given = req.interface.clone().unwrap_or_default();
        let mut addresses = Vec::new();
        for (what, text) in [
            ("Address", &given.address),
            ("AddressIPv6", &given.address_ipv6),
        ] {
            if !text.is_empty() {
                addresses.push(InterfaceAddress {
                    address: cidr(&format!("Interface.{what}"), text)?,
                    gateway: None,
                });
            }
        }
        let mac = match given.mac_address.as_str() {
            "" => None,
            m => Some(
                m.parse::<MacAddr>()
                    .map_err(|e| PluginError::invalid(format!("Interface.MacAddress: {e}")))?,
            ),
        };
        let create = CreateEndpoint {
            network_id: req.network_id.clone(),
            endpoint_id: req.endpoint_id.clone(),
            interface: ModelInterface {
                mac,
                addresses,
                routes: Vec::new(),
            },
            sandbox: None,
            options: req.options.clone().unwrap_or_default(),
        };
        let _g = self.locked();
        let net = self.network(&req.network_id)?;
        for a in &create.interface.addresses {
            if !pools(&net).any(|p| p.contains(&a.address.addr())) {
                return Err(PluginError::invalid(format!(
                    "address {} is outside the pools of network {}",
                    a.address, req.network_id
                )));
            }
        }
        if let Some(old) = self
            .store
            .get::<EndpointRecord>(Kind::Endpoint, &req.endpoint_id)?
        {
            match (&old.reply, old.create == create) {
                (Some(reply), true) => return Ok(reply_of(reply)),
                (None, true) => {
                    // A killed create: undo whatever it made, then create again.
                    let _ = self.driver.delete_endpoint(&ep_ref(&old));
                }
                _ => {
                    return Err(PluginError::Conflict(format!(
                        "endpoint {} exists with other settings",
                        req.endpoint_id
                    )))
                }
            }
        }
        let mut rec = EndpointRecord {
            create,
            created: None,
            reply: None,
            join: None,
            ports: Vec::new(),
        };
        self.store.put(Kind::Endpoint, &req.endpoint_id, &rec)?;
        let created = match self.driver.create_endpoint(&rec.create) {
            Ok(c) => c,
            Err(e) => {
                let undo = self.undo_endpoint(&rec, &req.endpoint_id);
                return Err(model_err("creating the endpoint", e).rolled_back(undo));
            }
        };
        // Only what Docker did not give: it refuses a reply that changes its own values.
        let mut reply = proto::EndpointInterface::default();
        if given.mac_address.is_empty() {
            if let Some(m) = created.interface.mac {
                reply.mac_address = m.to_string();
            }
        }
        for a in &created.interface.addresses {
            match a.address {
                IpNet::V4(_) if given.address.is_empty() => reply.address = a.address.to_string(),
                IpNet::V6(_) if given.address_ipv6.is_empty() => {
                    reply.address_ipv6 = a.address.to_string()
                }
                _ => {}
            }
        }
        rec.created = Some(created);
        rec.reply = Some(reply.clone());
        if let Err(e) = self.store.put(Kind::Endpoint, &req.endpoint_id, &rec) {
            let undo = self.undo_endpoint(&rec, &req.endpoint_id);
            return Err(e.rolled_back(undo));
        }
        Ok(reply_of(&reply))
    }

    /// `NetworkDriver.DeleteEndpoint` (success when already gone).
    pub fn delete_endpoint(&self, req: &proto::EndpointRequest) -> Result<(), PluginError> {
        check_id("NetworkID", &req.network_id)?;
        check_id("EndpointID", &req.endpoint_id)?;
        let _g = self.locked();
        self.remove_endpoint(&req.network_id, &req.endpoint_id)
    }

    /// Revoke, leave and delete an endpoint, then forget it. Caller holds the lock.
    fn remove_endpoint(&self, nid: &str, eid: &str) -> Result<(), PluginError> {
        let rec = match self.store.get::<EndpointRecord>(Kind::Endpoint, eid)? {
            Some(r) if r.create.network_id == nid => r,
            Some(_) => {
                return Err(PluginError::not_found(
                    "endpoint",
                    &format!("{eid} in network {nid}"),
                ))
            }
            None => {
                // Unknown to us: still let the driver remove what ids alone can find.
                let r = EndpointRef {
                    network_id: nid.to_string(),
                    endpoint_id: eid.to_string(),
                    sandbox: None,
                };
                return self
                    .driver
                    .delete_endpoint(&r)
                    .map_err(|e| model_err("deleting the endpoint", e));
            }
        };
        let r = ep_ref(&rec);
        if !rec.ports.is_empty() {
            if let Some(net) = self.store.get::<NetworkRecord>(Kind::Network, nid)? {
                self.unpublish(&net, &rec)?;
            }
        }
        if rec.join.is_some() {
            self.driver
                .leave(&r)
                .map_err(|e| model_err("leaving the sandbox", e))?;
        }
        self.driver
            .delete_endpoint(&r)
            .map_err(|e| model_err("deleting the endpoint", e))?;
        self.store.remove(Kind::Endpoint, eid)
    }

    /// `NetworkDriver.EndpointOperInfo`.
    pub fn endpoint_info(
        &self,
        req: &proto::EndpointRequest,
    ) -> Result<proto::OperInfoReply, PluginError> {
        let _g = self.locked();
        let rec = self.endpoint(&req.network_id, &req.endpoint_id)?;
        // A driver restarted since the create may not know the endpoint any more: what the
        // record holds is still the answer.
        let info = match self.driver.endpoint_info(&ep_ref(&rec)) {
            Ok(i) => i,
            Err(e) if e.kind == ErrorKind::NotFound => EndpointOperInfo::default(),
            Err(e) => return Err(model_err("reading the endpoint", e)),
        };
        let mut value = info.data;
        if let Some(c) = &rec.created {
            if let Some(m) = c.interface.mac {
                value.insert(
                    "com.docker.network.endpoint.macaddress".into(),
                    Value::from(m.to_string()),
                );
            }
            let addrs: Vec<Value> = c
                .interface
                .addresses
                .iter()
                .map(|a| Value::from(a.address.to_string()))
                .collect();
            value.insert("addresses".into(), Value::from(addrs));
        }
        let links: Vec<Value> = info
            .links
            .iter()
            .map(|l| Value::from(l.name.clone()))
            .collect();
        value.insert("links".into(), Value::from(links));
        if let Some((key, _)) = &rec.join {
            value.insert("sandbox".into(), Value::from(key.clone()));
        }
        if !rec.ports.is_empty() {
            let ports = serde_json::to_value(&rec.ports).unwrap_or(Value::Null);
            value.insert("com.docker.network.portmap".into(), ports);
        }
        Ok(proto::OperInfoReply { value })
    }

    /// `NetworkDriver.Join`: the driver prepares the interface in our (Docker's) namespace and
    /// Docker moves it into the sandbox, names it, and sets its addresses and routes.
    pub fn join(&self, req: &proto::JoinRequest) -> Result<proto::JoinReply, PluginError> {
        if req.sandbox_key.is_empty() {
            return Err(PluginError::invalid("SandboxKey is empty"));
        }
        let _g = self.locked();
        let net = self.network(&req.network_id)?;
        let mut rec = self.endpoint(&req.network_id, &req.endpoint_id)?;
        if rec.created.is_none() {
            return Err(PluginError::Conflict(format!(
                "endpoint {} was not completely created",
                req.endpoint_id
            )));
        }
        if let Some((key, _)) = &rec.join {
            if key != &req.sandbox_key {
                return Err(PluginError::Conflict(format!(
                    "endpoint {} has joined sandbox {key}",
                    req.endpoint_id
                )));
            }
            // A retried join: prepare the interface again.
            let _ = self.driver.leave(&ep_ref(&rec));
        }
        let jreq = JoinRequest {
            network_id: req.network_id.clone(),
            endpoint_id: req.endpoint_id.clone(),
            sandbox_key: req.sandbox_key.clone(),
            options: req.options.clone().unwrap_or_default(),
        };
        let info = match self.driver.join(&jreq) {
            // The driver keeps join data in memory: after a restart of the plugin it does not
            // know an endpoint created before. One never joined is made again as it was
            // (same names, addresses and MAC), then joined.
            Err(e) if e.kind == ErrorKind::NotFound && rec.join.is_none() => {
                self.recreate(&rec)?;
                self.driver.join(&jreq)
            }
            other => other,
        }
        .map_err(|e| model_err("joining", e))?;
        let reply = match join_reply(&net, &info) {
            Ok(r) => r,
            Err(e) => {
                let undo = vec![(
                    "leaving",
                    self.driver.leave(&ep_ref(&rec)).map_err(|e| e.to_string()),
                )];
                return Err(e.rolled_back(undo));
            }
        };
        rec.join = Some((req.sandbox_key.clone(), info));
        if let Err(e) = self.store.put(Kind::Endpoint, &req.endpoint_id, &rec) {
            let undo = vec![(
                "leaving",
                self.driver.leave(&ep_ref(&rec)).map_err(|e| e.to_string()),
            )];
            return Err(e.rolled_back(undo));
        }
        Ok(reply)
    }

    /// Make a recorded, never joined endpoint again in the driver (see `join`).
    fn recreate(&self, rec: &EndpointRecord) -> Result<(), PluginError> {
        let mut create = rec.create.clone();
        if let Some(c) = &rec.created {
            create.interface.mac = c.interface.mac.or(create.interface.mac);
        }
        self.driver
            .delete_endpoint(&ep_ref(rec))
            .map_err(|e| model_err("re-creating the endpoint", e))?;
        self.driver
            .create_endpoint(&create)
            .map(drop)
            .map_err(|e| model_err("re-creating the endpoint", e))
    }

    /// `NetworkDriver.Leave` (success when the endpoint is unknown or not joined).
    pub fn leave(&self, req: &proto::EndpointRequest) -> Result<(), PluginError> {
        check_id("NetworkID", &req.network_id)?;
        check_id("EndpointID", &req.endpoint_id)?;
        let _g = self.locked();
        let Some(mut rec) = self
            .store
            .get::<EndpointRecord>(Kind::Endpoint, &req.endpoint_id)?
        else {
            return Ok(());
        };
        if rec.create.network_id != req.network_id {
            return Err(PluginError::not_found(
                "endpoint",
                &format!("{} in network {}", req.endpoint_id, req.network_id),
            ));
        }
        self.driver
            .leave(&ep_ref(&rec))
            .map_err(|e| model_err("leaving the sandbox", e))?;
        if rec.join.take().is_some() {
            self.store.put(Kind::Endpoint, &req.endpoint_id, &rec)?;
        }
        Ok(())
    }

    /// `NetworkDriver.ProgramExternalConnectivity`: publish the sandbox's ports.
    pub fn program_external(
        &self,
        req: &proto::ExternalConnectivityRequest,
    ) -> Result<(), PluginError> {
        let _g = self.locked();
        let net = self.network(&req.network_id)?;
        let mut rec = self.endpoint(&req.network_id, &req.endpoint_id)?;
        let published =
            ports::published(req.options.as_ref(), net.host_binding_ipv4.map(IpAddr::V4))?;
        if net.internal && !published.is_empty() {
            return Err(PluginError::invalid(format!(
                "network {} is internal: no port can be published",
                req.network_id
            )));
        }
        let bindings: Vec<PortBinding> = published
            .iter()
            .map(|p| PortBinding {
                proto: p.proto.to_string(),
                container_ip: None,
                container_port: p.container_port,
                host_ip: p.host_ip,
                host_port: p.host_port,
                host_port_end: None,
            })
            .collect();
        if bindings.is_empty() {
            if !rec.ports.is_empty() {
                self.unpublish(&net, &rec)?;
                rec.ports.clear();
                self.store.put(Kind::Endpoint, &req.endpoint_id, &rec)?;
            }
            return Ok(());
        }
        // Recorded first, so that after a kill during the firewall change DeleteEndpoint
        // still revokes whatever was applied.
        rec.ports = bindings;
        self.store.put(Kind::Endpoint, &req.endpoint_id, &rec)?;
        let ext = ExternalConnectivity {
            endpoint: ep_ref(&rec),
            port_bindings: rec.ports.clone(),
            masquerade: net.masquerade,
        };
        let result = match self.driver.program_external_connectivity(&ext) {
            Err(e) if e.is_not_supported() => {
                let addrs = endpoint_addrs(&rec);
                self.publisher.publish(
                    &port_owner(&net, &rec),
                    &addrs,
                    &published,
                    bridge_of(&net).unwrap_or_default(),
                )
            }
            other => other.map_err(|e| model_err("publishing ports", e)),
        };
        if let Err(e) = result {
            // All or nothing: what an earlier call published for this endpoint is withdrawn
            // too, so the record is cleared.
            let unpublished = self.unpublish(&net, &rec).map_err(|e| e.to_string());
            rec.ports.clear();
            let stored = self
                .store
                .put(Kind::Endpoint, &req.endpoint_id, &rec)
                .map_err(|e| e.to_string());
            return Err(e.rolled_back(vec![
                ("withdrawing the ports", unpublished),
                ("recording the endpoint", stored),
            ]));
        }
        Ok(())
    }

    /// Withdraw an endpoint's published ports (driver and publisher; both idempotent).
    fn unpublish(&self, net: &NetworkRecord, rec: &EndpointRecord) -> Result<(), PluginError> {
        ignore_unsupported(self.driver.revoke_external_connectivity(&ep_ref(rec)))
            .map_err(|e| model_err("removing the published ports", e))?;
        self.publisher.unpublish(&port_owner(net, rec))
    }

    /// `NetworkDriver.RevokeExternalConnectivity` (success when nothing is published).
    pub fn revoke_external(&self, req: &proto::EndpointRequest) -> Result<(), PluginError> {
        check_id("NetworkID", &req.network_id)?;
        check_id("EndpointID", &req.endpoint_id)?;
        let _g = self.locked();
        let Some(mut rec) = self
            .store
            .get::<EndpointRecord>(Kind::Endpoint, &req.endpoint_id)?
        else {
            return Ok(());
        };
        let Some(net) = self
            .store
            .get::<NetworkRecord>(Kind::Network, &rec.create.network_id)?
        else {
            return Ok(());
        };
        self.unpublish(&net, &rec)?;
        if !rec.ports.is_empty() {
            rec.ports.clear();
            self.store.put(Kind::Endpoint, &req.endpoint_id, &rec)?;
        }
        Ok(())
    }

    /// `NetworkDriver.AllocateNetwork` / `FreeNetwork`: swarm's global-scope allocation; a
    /// local driver has nothing to allocate, so only the request is checked.
    pub fn allocate_network(
        &self,
        req: &proto::CreateNetworkRequest,
    ) -> Result<proto::AllocateNetworkReply, PluginError> {
        check_id("NetworkID", &req.network_id)?;
        Ok(proto::AllocateNetworkReply::default())
    }
}

fn ignore_unsupported(r: Result<(), cnm_model::DriverError>) -> Result<(), cnm_model::DriverError> {
    match r {
        Err(e) if e.is_not_supported() => Ok(()),
        other => other,
    }
}

fn port_owner(net: &NetworkRecord, rec: &EndpointRecord) -> PortOwner {
    PortOwner {
        network: net.create.name.clone(),
        endpoint: rec.create.endpoint_id.clone(),
    }
}

/// The endpoint's addresses (as the driver made them, else as Docker gave them).
fn endpoint_addrs(rec: &EndpointRecord) -> Vec<IpNet> {
    let iface = rec
        .created
        .as_ref()
        .map(|c| &c.interface)
        .unwrap_or(&rec.create.interface);
    iface.addresses.iter().map(|a| a.address).collect()
}

fn ep_ref(rec: &EndpointRecord) -> EndpointRef {
    EndpointRef {
        network_id: rec.create.network_id.clone(),
        endpoint_id: rec.create.endpoint_id.clone(),
        sandbox: None,
    }
}

fn reply_of(iface: &proto::EndpointInterface) -> proto::CreateEndpointReply {
    proto::CreateEndpointReply {
        interface: (!iface.is_empty()).then(|| iface.clone()),
    }
}

/// The Join reply from the driver's join info: the one interface prepared in the host
/// namespace, the gateways (none on internal networks) and the routes other than the default
/// routes the gateways already give.
fn join_reply(
    net: &NetworkRecord,
    info: &cnm_model::JoinInfo,
) -> Result<proto::JoinReply, PluginError> {
    let iface = match info.interfaces.as_slice() {
        [one] => one,
        other => {
            return Err(PluginError::Model(format!(
                "the driver prepared {} interfaces; Docker takes exactly one",
                other.len()
            )))
        }
    };
    let Placement::Host { src_name } = &iface.placement else {
        return Err(PluginError::Model(
            "the driver placed the interface in the sandbox itself; Docker moves it".into(),
        ));
    };
    let (gw4, gw6) = if net.internal {
        (None, None)
    } else {
        (info.gateway, info.gateway6)
    };
    let mut routes = Vec::new();
    for r in &info.static_routes {
        let default = r.destination.prefix_len() == 0;
        if default && (r.next_hop.is_none() || r.next_hop == gw4 || r.next_hop == gw6) {
            continue;
        }
        routes.push(proto::StaticRoute {
            destination: r.destination.to_string(),
            route_type: if r.next_hop.is_some() { 0 } else { 1 },
            next_hop: r.next_hop.map(|h| h.to_string()).unwrap_or_default(),
        });
    }
    Ok(proto::JoinReply {
        interface_name: proto::InterfaceName {
            src_name: src_name.clone(),
            dst_prefix: if iface.dst_prefix.is_empty() {
                DST_PREFIX.to_string()
            } else {
                iface.dst_prefix.clone()
            },
        },
        gateway: gw4.map(|g| g.to_string()).unwrap_or_default(),
        gateway_ipv6: gw6.map(|g| g.to_string()).unwrap_or_default(),
        static_routes: routes,
        disable_gateway_service: net.internal,
    })
}
