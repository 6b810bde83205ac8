//! A gRPC channel to the CRI over a unix socket (tonic with a custom
//! connector: the URI is a placeholder, every connection dials the socket).

use crate::error::Error;
use hyper_util::rt::TokioIo;
use k8s_cri::v1::runtime_service_client::RuntimeServiceClient;
use std::path::PathBuf;
use std::time::Duration;
use tokio::net::UnixStream;
use tonic::transport::{Channel, Endpoint, Uri};
use tower::service_fn;

/// The runtime service of one CRI endpoint (API version v1).
pub struct Cri {
    pub runtime: RuntimeServiceClient<Channel>,
}

/// Connects to the CRI socket at `socket`; every call is bounded by `timeout`.
pub async fn connect(socket: PathBuf, timeout: Duration) -> Result<Cri, Error> {
    let shown = socket.display().to_string();
    let channel = Endpoint::from_static("http://cri.invalid")
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect_with_connector(service_fn(move |_: Uri| {
            let socket = socket.clone();
            async move { Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?)) }
        }))
        .await
        .map_err(|source| Error::Connect {
            socket: shown,
            source,
        })?;
    Ok(Cri {
        runtime: RuntimeServiceClient::new(channel),
    })
}
