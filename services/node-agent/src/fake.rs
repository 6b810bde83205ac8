//! In-memory stand-ins for the unit tests: a cluster store over cluster
//! IPAM's `FakeKv` (leases, revisions, switchable unavailability) and a
//! dataplane (one VXLAN device's routes, neighbours and FDB entries, a
//! VTEP MAC the test can change as a re-created device would).

use std::collections::BTreeMap;
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};

use cnm_cluster_ipam::fake::FakeKv;
use cnm_cluster_ipam::{Kv, KvError};
use ipnet::IpNet;

use crate::cluster::{Cluster, Event, Kvs, SessionTasks, Watch};
use crate::dataplane::{Dataplane, DpError, LocalNet, Op, Programmed};

#[derive(Default)]
struct Leases {
    next: i64,
    /// lease -> keys under it
    keys: BTreeMap<i64, Vec<String>>,
    rev: i64,
}

/// A cluster store shared by the agents of one test (clones see the same data).
#[derive(Clone, Default)]
pub struct FakeCluster {
    pub kv: FakeKv,
    leases: Arc<Mutex<Leases>>,
}

struct NoTasks;
impl SessionTasks for NoTasks {}

impl FakeCluster {
    fn leases(&self) -> std::sync::MutexGuard<'_, Leases> {
        self.leases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The lease expires: its keys go.
    pub fn expire(&self, lease: i64) {
        let keys = self.leases().keys.remove(&lease).unwrap_or_default();
        for k in keys {
            self.kv.remove(&k);
        }
    }

    /// The leases granted and not expired.
    pub fn live_leases(&self) -> Vec<i64> {
        self.leases().keys.keys().copied().collect()
    }

    fn bump(&self) -> i64 {
        let mut l = self.leases();
        l.rev += 1;
        l.rev
    }

    fn check_up(&mut self) -> Result<(), KvError> {
        self.kv.get("/").map(|_| ())
    }
}

impl Kv for FakeCluster {
    fn create(&mut self, key: &str, value: &[u8]) -> Result<bool, KvError> {
        self.bump();
        self.kv.create(key, value)
    }
    fn replace(&mut self, key: &str, expect: &[u8], value: &[u8]) -> Result<bool, KvError> {
        self.bump();
        self.kv.replace(key, expect, value)
    }
    fn delete_if(&mut self, key: &str, expect: &[u8]) -> Result<bool, KvError> {
        self.bump();
        self.kv.delete_if(key, expect)
    }
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        self.kv.get(key)
    }
    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        self.kv.list(prefix)
    }
}

impl Cluster for FakeCluster {
    fn grant(&mut self, _ttl: i64) -> Result<i64, KvError> {
        self.check_up()?;
        let mut l = self.leases();
        l.next += 1;
        let id = l.next;
        l.keys.insert(id, Vec::new());
        Ok(id)
    }
    fn put_leased(&mut self, key: &str, value: &[u8], lease: i64) -> Result<(), KvError> {
        self.check_up()?;
        let mut l = self.leases();
        if !l.keys.contains_key(&lease) {
            return Err(KvError::Other("requested lease not found".into()));
        }
        // A key belongs to one lease: a put under another moves it (etcd's rule).
        for keys in l.keys.values_mut() {
            keys.retain(|k| k != key);
        }
        if let Some(keys) = l.keys.get_mut(&lease) {
            keys.push(key.to_string());
        }
        l.rev += 1;
        drop(l);
        self.kv.put(key, value);
        Ok(())
    }
    fn revoke(&mut self, lease: i64) -> Result<(), KvError> {
        self.check_up()?;
        self.expire(lease);
        Ok(())
    }
    fn delete(&mut self, key: &str) -> Result<(), KvError> {
        self.check_up()?;
        self.bump();
        self.kv.remove(key);
        Ok(())
    }
    fn list_at(&mut self, prefix: &str) -> Result<(Kvs, i64), KvError> {
        let kvs = self.kv.list(prefix)?;
        Ok((kvs, self.bump()))
    }
    fn start(
        &mut self,
        _lease: i64,
        _ttl: i64,
        _watches: Vec<Watch>,
        _tx: Sender<Event>,
    ) -> Box<dyn SessionTasks> {
        Box::new(NoTasks)
    }
}

/// One host's kernel: the VXLAN device's state and its gateways.
#[derive(Clone, Default)]
pub struct FakeDp(pub Arc<Mutex<FakeDpState>>);

#[derive(Default)]
pub struct FakeDpState {
    pub programmed: Programmed,
    pub gateways: Vec<IpNet>,
    pub mac: [u8; 6],
    pub ensured: usize,
}

impl FakeDp {
    pub fn new(mac_last: u8) -> FakeDp {
        let d = FakeDp::default();
        d.state().mac = [2, 0, 0, 0, 0, mac_last];
        d
    }
    pub fn state(&self) -> std::sync::MutexGuard<'_, FakeDpState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Dataplane for FakeDp {
    fn ensure_local(&mut self, _: &LocalNet) -> Result<[u8; 6], DpError> {
        let mut s = self.state();
        s.ensured += 1;
        Ok(s.mac)
    }
    fn ensure_gateways(&mut self, _: &LocalNet, blocks: &[IpNet]) -> Result<(), DpError> {
        self.state().gateways = blocks.to_vec();
        Ok(())
    }
    fn programmed(&mut self, _: &LocalNet) -> Result<Programmed, DpError> {
        Ok(self.state().programmed.clone())
    }
    fn apply(&mut self, _: &LocalNet, op: &Op) -> Result<(), DpError> {
        let mut g = self.state();
        let s = &mut g.programmed;
        match *op {
            Op::SetFdb(m, ip) => {
                s.fdb.insert((m, ip));
            }
            Op::SetNeigh(ip, m) => {
                s.neighs.insert(ip, m);
            }
            Op::SetRoute(d, gw) => {
                s.routes.insert(d, gw);
            }
            Op::DelRoute(d, _) => {
                s.routes.remove(&d);
            }
            Op::DelNeigh(ip) => {
                s.neighs.remove(&ip);
            }
            Op::DelFdb(m, ip) => {
                s.fdb.remove(&(m, ip));
            }
        }
        Ok(())
    }
}
