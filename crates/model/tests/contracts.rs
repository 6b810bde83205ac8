//! The model alone, with stub drivers and stub sandbox operations (no
//! kernel crate): the network allocates every endpoint's addresses through
//! its IPAM driver once, releases them when the driver fails (not when it
//! says the endpoint is live), teardown runs every step in order and
//! returns every error, and a sandbox hands each interface its gateway and
//! routes in one placement.

use std::sync::{Arc, Mutex};

use cnm_model::*;

/// What the stubs saw, in order.
#[derive(Default)]
struct Log(Mutex<Vec<String>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(s.into());
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

struct StubOps(Arc<Log>);

impl SandboxOps for StubOps {
    fn create(&self, key: &str) -> Result<(), SandboxError> {
        self.0.push(format!("create {key}"));
        Ok(())
    }
    fn check(&self, _key: &str, _allow_own: bool) -> Result<(), SandboxError> {
        Ok(())
    }
    fn remove(&self, key: &str) -> Result<(), SandboxError> {
        self.0.push(format!("remove {key}"));
        Ok(())
    }
    fn has_interface(&self, _key: &str, _own: bool, _name: &str) -> Result<bool, SandboxError> {
        Ok(false)
    }
    fn place_interface(
        &self,
        _key: &str,
        _allow_own: bool,
        iface: &PlaceInterface<'_>,
    ) -> Result<String, SandboxError> {
        let name = match &iface.dst {
            DstName::Exact(n) => n.to_string(),
            DstName::Prefix { prefix, taken } => format!("{prefix}{}", taken.len()),
        };
        let routes: Vec<String> = iface
            .routes
            .iter()
            .map(|r| format!("{}>{:?}", r.destination, r.next_hop))
            .collect();
        self.0.push(format!(
            "place {} as {name} dad={} routes=[{}]",
            iface.src_name,
            iface.dad,
            routes.join(",")
        ));
        Ok(name)
    }
    fn add_routes(
        &self,
        _key: &str,
        _allow_own: bool,
        dev: &str,
        routes: &[StaticRoute],
    ) -> Result<(), SandboxError> {
        self.0.push(format!("route {} dev {dev}", routes.len()));
        Ok(())
    }
}

/// A driver that fails `create_endpoint` with `fail` when set, and
/// `delete_endpoint` when `fail_delete`.
struct StubDriver {
    log: Arc<Log>,
    fail: Mutex<Option<ErrorKind>>,
    fail_delete: Mutex<bool>,
}

impl NetworkDriver for StubDriver {
    fn name(&self) -> &str {
        "stub"
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    fn create_network(&self, _req: &CreateNetwork) -> Result<(), DriverError> {
        Ok(())
    }
    fn delete_network(&self, _id: &str) -> Result<(), DriverError> {
        self.log.push("delete network");
        Err(DriverError::new(ErrorKind::Kernel, "bridge busy", ""))
    }
    fn create_endpoint(&self, req: &CreateEndpoint) -> Result<CreatedEndpoint, DriverError> {
        self.log.push(format!(
            "create {} with {} address(es)",
            req.endpoint_id,
            req.interface.addresses.len()
        ));
        if let Some(kind) = *self.fail.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(DriverError::new(kind, "refused", ""));
        }
        Ok(CreatedEndpoint {
            interface: req.interface.clone(),
            ..Default::default()
        })
    }
    fn join(&self, req: &JoinRequest) -> Result<JoinInfo, DriverError> {
        Ok(JoinInfo {
            interfaces: vec![JoinInterface {
                placement: Placement::Host {
                    src_name: format!("vsb-{}", req.endpoint_id),
                },
                dst_name: None,
                dst_prefix: "eth".into(),
                addresses: vec![InterfaceAddress {
                    address: "10.9.0.2/24"
                        .parse()
                        .map_err(|_| DriverError::not_found("", ""))?,
                    gateway: None,
                }],
                mac: None,
                mtu: None,
                dad: true,
                ipv6_link_local: false,
            }],
            gateway: "10.9.0.1".parse().ok(),
            gateway6: None,
            static_routes: vec![StaticRoute::new(
                "10.77.0.0/16"
                    .parse()
                    .map_err(|_| DriverError::not_found("", ""))?,
                None,
            )],
            configured_in_sandbox: false,
        })
    }
    fn leave(&self, _ep: &EndpointRef) -> Result<(), DriverError> {
        self.log.push("leave");
        Ok(())
    }
    fn delete_endpoint(&self, _ep: &EndpointRef) -> Result<(), DriverError> {
        self.log.push("delete endpoint");
        if *self.fail_delete.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(DriverError::new(ErrorKind::Kernel, "veth busy", ""));
        }
        Ok(())
    }
    fn endpoint_info(&self, _ep: &EndpointRef) -> Result<EndpointOperInfo, DriverError> {
        Ok(EndpointOperInfo::default())
    }
}

/// An IPAM driver handing out 10.9.0.2/24; `release` fails when told to.
struct StubIpam {
    log: Arc<Log>,
    fail_release: Mutex<bool>,
}

impl IpamDriver for StubIpam {
    fn name(&self) -> &str {
        "stub-ipam"
    }
    fn default_address_spaces(&self) -> Result<AddressSpaces, DriverError> {
        Err(DriverError::not_supported("spaces"))
    }
    fn request_pool(&self, _req: &PoolRequest) -> Result<Pool, DriverError> {
        Err(DriverError::not_supported("pools"))
    }
    fn release_pool(&self, _id: &str) -> Result<(), DriverError> {
        Ok(())
    }
    fn request_address(&self, _req: &AddressRequest) -> Result<Address, DriverError> {
        Err(DriverError::not_supported("addresses"))
    }
    fn release_address(&self, _req: &AddressRelease) -> Result<(), DriverError> {
        Ok(())
    }
    fn allocate(
        &self,
        net: &IpamNetwork<'_>,
        req: &AllocationRequest,
    ) -> Result<Allocation, DriverError> {
        self.log.push(format!(
            "allocate {} for {}/{} requested {:?}",
            net.name, req.owner.container_id, req.owner.ifname, req.requested
        ));
        Ok(Allocation {
            addresses: vec![InterfaceAddress {
                address: "10.9.0.2/24"
                    .parse()
                    .map_err(|_| DriverError::ipam("", ""))?,
                gateway: "10.9.0.1".parse().ok(),
            }],
            routes: Vec::new(),
            dns: DnsSettings {
                nameservers: vec!["10.9.0.53".into()],
                ..Default::default()
            },
        })
    }
    fn release(&self, _net: &IpamNetwork<'_>, owner: &OwnerKey) -> Result<(), DriverError> {
        self.log.push(format!("release {}", owner.container_id));
        if *self.fail_release.lock().unwrap_or_else(|p| p.into_inner()) {
            return Err(DriverError::ipam("store locked", ""));
        }
        Ok(())
    }
}

struct World {
    log: Arc<Log>,
    driver: Arc<StubDriver>,
    ipam: Arc<StubIpam>,
    network: Network,
    controller: Controller,
}

fn world() -> World {
    let log = Arc::new(Log::default());
    let controller = Controller::new(Arc::new(StubOps(Arc::clone(&log))));
    let driver = Arc::new(StubDriver {
        log: Arc::clone(&log),
        fail: Mutex::new(None),
        fail_delete: Mutex::new(false),
    });
    let ipam = Arc::new(StubIpam {
        log: Arc::clone(&log),
        fail_release: Mutex::new(false),
    });
    assert!(controller.driver_names().is_empty(), "nothing built in");
    controller
        .register_driver("stub", driver.clone())
        .expect("driver");
    controller
        .register_ipam_driver("stub-ipam", ipam.clone())
        .expect("ipam");
    let network = controller
        .restore_network(NetworkRecord {
            id: "n1".into(),
            name: "n1".into(),
            driver: "stub".into(),
            options: NetworkOptions::new(),
            ipv4: Vec::new(),
            ipv6: Vec::new(),
            ipam: Some(IpamRecord {
                driver: "stub-ipam".into(),
                pools: Vec::new(),
                options: None,
            }),
        })
        .expect("network");
    log.take();
    World {
        log,
        driver,
        ipam,
        network,
        controller,
    }
}

fn owner(cid: &str) -> Option<OwnerKey> {
    Some(OwnerKey {
        container_id: cid.into(),
        ifname: "eth0".into(),
    })
}

#[test]
fn the_network_allocates_once_and_the_endpoint_keeps_what_ipam_said() {
    let w = world();
    let ep = w
        .network
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                owner: owner("c1"),
                requested: vec!["10.9.0.7".parse().expect("ip")],
                ..Default::default()
            },
        )
        .expect("endpoint");
    assert_eq!(
        w.log.take(),
        [
            "allocate n1 for c1/eth0 requested [10.9.0.7]",
            "create c1/eth0 with 1 address(es)"
        ]
    );
    assert_eq!(
        ep.interface().addresses[0].address.to_string(),
        "10.9.0.2/24"
    );
    assert_eq!(ep.dns().nameservers, ["10.9.0.53"]);
    assert_eq!(ep.owner(), owner("c1").expect("owner"));
    // Addresses given: IPAM is not asked.
    w.network
        .create_endpoint(
            "c2/eth0",
            EndpointSpec {
                interface: ep.interface().clone(),
                ..Default::default()
            },
        )
        .expect("endpoint");
    assert_eq!(w.log.take(), ["create c2/eth0 with 1 address(es)"]);
}

#[test]
fn a_driver_failure_releases_unless_the_endpoint_is_live() {
    let w = world();
    *w.driver.fail.lock().expect("lock") = Some(ErrorKind::Kernel);
    let e = w
        .network
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                owner: owner("c1"),
                ..Default::default()
            },
        )
        .expect_err("refused");
    assert!(matches!(e, ModelError::Driver { .. }), "{e}");
    assert_eq!(w.log.take()[2], "release c1");
    // The release fails too: the error says so.
    *w.ipam.fail_release.lock().expect("lock") = true;
    let e = w
        .network
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                owner: owner("c1"),
                ..Default::default()
            },
        )
        .expect_err("refused");
    let d = e.driver_error().expect("driver error");
    assert_eq!(d.details, "; rollback failed: release IPAM: store locked");
    w.log.take();
    // A live endpoint: its reservation stays.
    *w.driver.fail.lock().expect("lock") = Some(ErrorKind::AlreadyExists);
    w.network
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                owner: owner("c1"),
                ..Default::default()
            },
        )
        .expect_err("live");
    assert!(!w.log.take().iter().any(|l| l.starts_with("release")));
}

#[test]
fn teardown_releases_first_runs_every_step_and_returns_every_error() {
    let w = world();
    let ep = w
        .network
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                owner: owner("c1"),
                ..Default::default()
            },
        )
        .expect("endpoint");
    let sb = w.controller.detached_sandbox("/run/netns/x", false);
    w.log.take();
    *w.ipam.fail_release.lock().expect("lock") = true;
    *w.driver.fail_delete.lock().expect("lock") = true;
    let e = ep.clone().teardown(Some(&sb)).expect_err("both fail");
    assert_eq!(w.log.take(), ["release c1", "leave", "delete endpoint"]);
    let ModelError::List(list) = &e else {
        panic!("a list: {e}");
    };
    assert_eq!(list.errors().len(), 2);
    assert!(matches!(list.errors()[0], ModelError::Ipam { .. }));
    assert!(matches!(list.errors()[1], ModelError::Driver { .. }));
    assert_eq!(
        e.driver_error().map(|d| d.msg.as_str()),
        Some("store locked")
    );
    // An endpoint known only by id releases its owner's addresses too.
    *w.ipam.fail_release.lock().expect("lock") = false;
    *w.driver.fail_delete.lock().expect("lock") = false;
    w.network
        .endpoint_by_id("c9/eth0", None, owner("c9"))
        .delete()
        .expect("delete");
    assert_eq!(w.log.take(), ["release c9", "delete endpoint"]);
    // The network's own delete: the driver fails, and that is returned.
    assert!(matches!(
        w.network.clone().delete(),
        Err(ModelError::Driver { .. })
    ));
}

#[test]
fn a_sandbox_places_each_interface_with_its_gateway_and_routes_in_one_step() {
    let w = world();
    let sb = w.controller.new_sandbox("/run/netns/sb").expect("sandbox");
    let mut ep = w
        .network
        .create_endpoint("e1", EndpointSpec::default())
        .expect("endpoint");
    let info = ep.join(&sb).expect("join");
    w.log.take();
    let names = sb.apply("e1", &info).expect("apply");
    assert_eq!(names, ["eth0"]);
    assert_eq!(
        w.log.take(),
        ["place vsb-e1 as eth0 dad=true routes=[0.0.0.0/0>Some(10.9.0.1),10.77.0.0/16>None]"]
    );
    assert_eq!(sb.interfaces()[0].name, "eth0");
    // Later routes go through the interface whose subnet holds the next hop.
    let via = |dst: &str, hop: &str| StaticRoute::new(dst.parse().expect("net"), hop.parse().ok());
    sb.add_route(&via("10.88.0.0/16", "10.9.0.254"))
        .expect("route");
    assert_eq!(w.log.take(), ["route 1 dev eth0"]);
    let e = sb
        .add_route(&via("10.88.0.0/16", "192.168.5.1"))
        .expect_err("no interface reaches the next hop");
    assert!(matches!(e, ModelError::Invalid { .. }), "{e}");
}

/// A name service that logs its calls and can refuse registrations.
struct StubNames {
    log: Arc<Log>,
    refuse: Mutex<bool>,
}

impl NameService for StubNames {
    fn register(
        &self,
        settings: &NetworkNames,
        reg: &NameRegistration<'_>,
    ) -> Result<DnsSettings, DriverError> {
        self.log.push(format!(
            "register {} {}/{} as {} {:?} at {:?}",
            reg.network,
            reg.owner.container_id,
            reg.owner.ifname,
            reg.names.name,
            reg.names.aliases,
            reg.addresses
        ));
        if *self.refuse.lock().expect("lock") {
            return Err(DriverError::new(
                ErrorKind::TryAgainLater,
                "cannot listen",
                "10.9.0.1:53 in use",
            ));
        }
        Ok(DnsSettings {
            nameservers: settings.listen.iter().map(ToString::to_string).collect(),
            search: settings.domain.iter().cloned().collect(),
            ..Default::default()
        })
    }

    fn unregister(&self, network: &str, owner: &OwnerKey) -> Result<(), DriverError> {
        self.log.push(format!(
            "unregister {network} {}/{}",
            owner.container_id, owner.ifname
        ));
        Ok(())
    }

    fn check(&self, reg: &NameRegistration<'_>) -> Result<(), DriverError> {
        self.log.push(format!("check {}", reg.names.name));
        Ok(())
    }

    fn gc(&self, network: &str, keep: &[OwnerKey]) -> Result<(), DriverError> {
        self.log.push(format!("gc {network} keep {}", keep.len()));
        Ok(())
    }
}

#[test]
fn endpoints_register_their_names_at_join_and_unregister_at_leave_and_delete() {
    let w = world();
    let names = Arc::new(StubNames {
        log: Arc::clone(&w.log),
        refuse: Mutex::new(false),
    });
    let settings = NetworkNames {
        domain: Some("dns.podman".into()),
        listen: vec!["10.9.0.1".parse().expect("ip")],
        ..Default::default()
    };
    let network = w
        .network
        .clone()
        .with_names(settings.clone(), names.clone());
    assert_eq!(network.names(), Some(&settings));
    assert!(
        w.network.names().is_none(),
        "the original value is unchanged"
    );
    let mut ep = network
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                owner: owner("c1"),
                ..Default::default()
            },
        )
        .expect("endpoint");
    let sb = w.controller.detached_sandbox("/run/netns/x", false);
    w.log.take();
    let web = EndpointNames {
        name: "web".into(),
        aliases: vec!["www".into()],
    };
    ep.join_with_names(&sb, &web).expect("join");
    assert_eq!(
        w.log.take(),
        ["register n1 c1/eth0 as web [\"www\"] at [10.9.0.2]"]
    );
    // The name server comes first, IPAM's after it; the domain is searched.
    assert_eq!(ep.dns().nameservers, ["10.9.0.1", "10.9.0.53"]);
    assert_eq!(ep.dns().search, ["dns.podman"]);
    ep.leave(&sb).expect("leave");
    assert_eq!(w.log.take(), ["unregister n1 c1/eth0", "leave"]);
    // Delete unregisters too (idempotent), with every other step.
    ep.clone().delete().expect("delete");
    assert_eq!(
        w.log.take(),
        ["release c1", "unregister n1 c1/eth0", "delete endpoint"]
    );
    network.gc_names(&[]).expect("gc");
    assert_eq!(w.log.take(), ["gc n1 keep 0"]);
}

#[test]
fn a_refused_registration_leaves_the_sandbox_again() {
    let w = world();
    let names = Arc::new(StubNames {
        log: Arc::clone(&w.log),
        refuse: Mutex::new(true),
    });
    let network = w.network.clone().with_names(NetworkNames::default(), names);
    let mut ep = network
        .create_endpoint(
            "c1/eth0",
            EndpointSpec {
                owner: owner("c1"),
                ..Default::default()
            },
        )
        .expect("endpoint");
    let sb = w.controller.detached_sandbox("/run/netns/x", false);
    w.log.take();
    let e = ep
        .join_with_names(
            &sb,
            &EndpointNames {
                name: "web".into(),
                aliases: vec![],
            },
        )
        .expect_err("refused");
    assert_eq!(
        e.driver_error().map(|d| d.kind),
        Some(ErrorKind::TryAgainLater)
    );
    let log = w.log.take();
    assert!(log[0].starts_with("register"), "{log:?}");
    assert_eq!(&log[1..], ["unregister n1 c1/eth0", "leave"]);
    // Without names, join_with_names is a plain join.
    let mut plain = w
        .network
        .create_endpoint(
            "c2/eth0",
            EndpointSpec {
                owner: owner("c2"),
                ..Default::default()
            },
        )
        .expect("endpoint");
    w.log.take();
    plain
        .join_with_names(
            &sb,
            &EndpointNames {
                name: "x".into(),
                aliases: vec![],
            },
        )
        .expect("join");
    assert!(!w.log.take().iter().any(|l| l.contains("register")));
}
