//! The client's error type: bad command lines, transport failures and CRI
//! answers that are not what a kubelet expects.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum Error {
    #[error("usage: {0}")]
    Usage(String),
    #[error("cannot connect to {socket}: {source}")]
    Connect {
        socket: String,
        #[source]
        source: tonic::transport::Error,
    },
    #[error("{call} failed: {status}")]
    Call {
        call: &'static str,
        #[source]
        status: Box<tonic::Status>,
    },
    #[error("{call}: unexpected answer: {detail}")]
    Answer { call: &'static str, detail: String },
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl Error {
    /// Wraps a failed gRPC call with the name of the CRI method.
    pub fn call(call: &'static str) -> impl FnOnce(tonic::Status) -> Error {
        move |status| Error::Call {
            call,
            status: Box::new(status),
        }
    }
}
