//! etcd through the `etcd-client` crate (docs/adr/0012-etcd-client-and-cluster-blocks.md):
//! connecting (TLS with client certificates when configured), the
//! synchronous [`Kv`] facade cluster IPAM uses, and the lease and watch the
//! agent needs. Every call is bounded by a timeout.

use std::time::Duration;

use cnm_cluster_ipam::{Kv, KvError};
use etcd_client::{
    Certificate, Client, Compare, CompareOp, ConnectOptions, GetOptions, Identity, PutOptions,
    TlsOptions, Txn, TxnOp,
};
use tokio::runtime::Handle;

use crate::config::Tls;

/// Bound of one etcd call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// An etcd failure as cluster IPAM sees it.
pub fn kv_error(e: etcd_client::Error) -> KvError {
    match &e {
        etcd_client::Error::GRpcStatus(s)
            if !matches!(
                s.code(),
                tonic::Code::Unavailable | tonic::Code::DeadlineExceeded | tonic::Code::Unknown
            ) =>
        {
            KvError::Other(e.to_string())
        }
        _ => KvError::Unavailable(e.to_string()),
    }
}

/// Reads the PEM files and builds the TLS options.
pub fn tls_options(tls: &Tls) -> Result<TlsOptions, String> {
    let read =
        |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let mut o = TlsOptions::new().ca_certificate(Certificate::from_pem(read(&tls.ca)?));
    if let Some((cert, key)) = &tls.identity {
        o = o.identity(Identity::from_pem(read(cert)?, read(key)?));
    }
    Ok(o)
}

/// Connects to the endpoints (lazily: the first call fails when none answers).
pub async fn connect(endpoints: &[String], tls: Option<&TlsOptions>) -> Result<Client, KvError> {
    let mut opts = ConnectOptions::new()
        .with_connect_timeout(Duration::from_secs(2))
        .with_timeout(CALL_TIMEOUT)
        .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
    if let Some(t) = tls {
        opts = opts.with_tls(t.clone());
    }
    tokio::time::timeout(CALL_TIMEOUT, Client::connect(endpoints, Some(opts)))
        .await
        .map_err(|_| KvError::Unavailable("connecting timed out".into()))?
        .map_err(kv_error)
}

/// Runs `fut` with the call timeout.
pub async fn bounded<T>(
    fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, KvError> {
    tokio::time::timeout(CALL_TIMEOUT, fut)
        .await
        .map_err(|_| KvError::Unavailable(format!("no answer within {CALL_TIMEOUT:?}")))?
        .map_err(kv_error)
}

/// The synchronous [`Kv`] over an etcd client, for code running outside
/// the runtime (the agent's main thread).
pub struct EtcdKv {
    pub client: Client,
    pub rt: Handle,
}

impl EtcdKv {
    fn run<T>(
        &mut self,
        fut: impl std::future::Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, KvError> {
        self.rt.block_on(bounded(fut))
    }

    fn txn(&mut self, txn: Txn) -> Result<bool, KvError> {
        let mut c = self.client.clone();
        self.run(async move { c.txn(txn).await })
            .map(|r| r.succeeded())
    }
}

impl Kv for EtcdKv {
    fn create(&mut self, key: &str, value: &[u8]) -> Result<bool, KvError> {
        self.txn(
            Txn::new()
                .when([Compare::create_revision(key, CompareOp::Equal, 0)])
                .and_then([TxnOp::put(key, value, None)]),
        )
    }

    fn replace(&mut self, key: &str, expect: &[u8], value: &[u8]) -> Result<bool, KvError> {
        self.txn(
            Txn::new()
                .when([Compare::value(key, CompareOp::Equal, expect)])
                .and_then([TxnOp::put(key, value, None)]),
        )
    }

    fn delete_if(&mut self, key: &str, expect: &[u8]) -> Result<bool, KvError> {
        self.txn(
            Txn::new()
                .when([Compare::value(key, CompareOp::Equal, expect)])
                .and_then([TxnOp::delete(key, None)]),
        )
    }

    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, KvError> {
        let mut c = self.client.clone();
        let key = key.to_string();
        let r = self.run(async move { c.get(key, None).await })?;
        Ok(r.kvs().first().map(|kv| kv.value().to_vec()))
    }

    fn list(&mut self, prefix: &str) -> Result<Vec<(String, Vec<u8>)>, KvError> {
        let mut c = self.client.clone();
        let prefix = prefix.to_string();
        let r = self.run(async move {
            c.get(
                prefix,
                Some(
                    GetOptions::new()
                        .with_prefix()
                        .with_sort(etcd_client::SortTarget::Key, etcd_client::SortOrder::Ascend),
                ),
            )
            .await
        })?;
        Ok(r.kvs()
            .iter()
            .map(|kv| {
                (
                    String::from_utf8_lossy(kv.key()).into_owned(),
                    kv.value().to_vec(),
                )
            })
            .collect())
    }
}

impl EtcdKv {
    /// A new lease of `ttl` seconds.
    pub fn grant(&mut self, ttl: i64) -> Result<i64, KvError> {
        let mut c = self.client.clone();
        self.run(async move { c.lease_grant(ttl, None).await })
            .map(|r| r.id())
    }

    /// Puts `key` under `lease`.
    pub fn put_leased(&mut self, key: &str, value: &[u8], lease: i64) -> Result<(), KvError> {
        let mut c = self.client.clone();
        let (key, value) = (key.to_string(), value.to_vec());
        self.run(async move {
            c.put(key, value, Some(PutOptions::new().with_lease(lease)))
                .await
        })
        .map(|_| ())
    }

    /// Revokes `lease` (its keys go at once).
    pub fn revoke(&mut self, lease: i64) -> Result<(), KvError> {
        let mut c = self.client.clone();
        self.run(async move { c.lease_revoke(lease).await })
            .map(|_| ())
    }
}
