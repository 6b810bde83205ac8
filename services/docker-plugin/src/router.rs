//! Dispatch: an HTTP path to a call of the [`Plugin`], the body decoded into
//! the call's request type. A body that is not JSON of that shape is an HTTP
//! 400; a call that fails is a 200 with `{"Err": ..., "Error": ...}` (what
//! dockerd reads as the driver's error); an unknown path is a 404, so dockerd
//! treats a call this plugin does not know as unsupported.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::PluginError;
use crate::http::{Handler, Reply};
use crate::plugin::Plugin;
use crate::protocol::{self, Empty};

/// Decode a request body; an empty body or `null` reads as `{}` (dockerd sends `null` for
/// calls without arguments).
fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Reply> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Reply::error(400, "the request body is not UTF-8"))?;
    let trimmed = text.trim();
    let text = if trimmed.is_empty() || trimmed == "null" {
        "{}"
    } else {
        trimmed
    };
    serde_json::from_str(text).map_err(|e| Reply::error(400, format!("malformed request: {e}")))
}

fn answer<T: Serialize>(r: Result<T, PluginError>) -> Reply {
    match r {
        Ok(v) => Reply::ok(&v),
        Err(e) => Reply::error(200, e.to_string()),
    }
}

fn call<Req: DeserializeOwned, T: Serialize>(
    body: &[u8],
    f: impl FnOnce(&Req) -> Result<T, PluginError>,
) -> Reply {
    match decode::<Req>(body) {
        Ok(req) => answer(f(&req)),
        Err(reply) => reply,
    }
}

fn done(r: Result<(), PluginError>) -> Result<Empty, PluginError> {
    r.map(|()| Empty {})
}

impl Handler for Plugin {
    fn handle(&self, path: &str, body: &[u8]) -> Reply {
        use protocol::ipam as ip;
        use protocol::network as nw;
        match path {
            "/Plugin.Activate" => Reply::ok(&protocol::activate()),
            "/NetworkDriver.GetCapabilities" => Reply::ok(&self.capabilities()),
            "/NetworkDriver.CreateNetwork" => call(body, |r: &nw::CreateNetworkRequest| {
                done(self.create_network(r))
            }),
            "/NetworkDriver.DeleteNetwork" => {
                call(body, |r: &nw::NetworkRequest| done(self.delete_network(r)))
            }
            "/NetworkDriver.AllocateNetwork" => call(body, |r: &nw::CreateNetworkRequest| {
                self.allocate_network(r)
            }),
            "/NetworkDriver.FreeNetwork" => call(body, |r: &nw::NetworkRequest| {
                done(
                    crate::store::valid_key(&r.network_id)
                        .then_some(())
                        .ok_or_else(|| {
                            PluginError::invalid(format!(
                                "NetworkID {:?} is not a valid ID",
                                r.network_id
                            ))
                        }),
                )
            }),
            "/NetworkDriver.CreateEndpoint" => call(body, |r: &nw::CreateEndpointRequest| {
                self.create_endpoint(r)
            }),
            "/NetworkDriver.DeleteEndpoint" => call(body, |r: &nw::EndpointRequest| {
                done(self.delete_endpoint(r))
            }),
            "/NetworkDriver.EndpointOperInfo" => {
                call(body, |r: &nw::EndpointRequest| self.endpoint_info(r))
            }
            "/NetworkDriver.Join" => call(body, |r: &nw::JoinRequest| self.join(r)),
            "/NetworkDriver.Leave" => call(body, |r: &nw::EndpointRequest| done(self.leave(r))),
            "/NetworkDriver.ProgramExternalConnectivity" => {
                call(body, |r: &nw::ExternalConnectivityRequest| {
                    done(self.program_external(r))
                })
            }
            "/NetworkDriver.RevokeExternalConnectivity" => call(body, |r: &nw::EndpointRequest| {
                done(self.revoke_external(r))
            }),
            "/NetworkDriver.DiscoverNew" | "/NetworkDriver.DiscoverDelete" => {
                // Node discovery concerns multi-host drivers; a local bridge has nothing to do.
                call(body, |_: &nw::DiscoveryRequest| Ok(Empty {}))
            }
            "/IpamDriver.GetCapabilities" => Reply::ok(&self.ipam_capabilities()),
            "/IpamDriver.GetDefaultAddressSpaces" => answer(self.address_spaces()),
            "/IpamDriver.RequestPool" => {
                call(body, |r: &ip::RequestPoolRequest| self.request_pool(r))
            }
            "/IpamDriver.ReleasePool" => call(body, |r: &ip::ReleasePoolRequest| {
                done(self.release_pool(r))
            }),
            "/IpamDriver.RequestAddress" => call(body, |r: &ip::RequestAddressRequest| {
                self.request_address(r)
            }),
            "/IpamDriver.ReleaseAddress" => call(body, |r: &ip::ReleaseAddressRequest| {
                done(self.release_address(r))
            }),
            _ => Reply::error(404, format!("{path}: no such call")),
        }
    }
}
