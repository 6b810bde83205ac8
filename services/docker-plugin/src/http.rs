//! The HTTP/1.1 server on a unix socket (hyper on a current-thread tokio
//! runtime; docs/adr/0010-docker-plugin-http.md): the socket is created mode
//! 0600, a live socket of another instance is never taken over (a stale one is
//! replaced), request heads must arrive within the header timeout and bodies
//! within the body timeout and size limit, at most `max_connections` are
//! served at once, and SIGTERM/SIGINT stop accepting, let running requests
//! finish (bounded) and remove the socket.
//!
//! Requests are handed to a [`Handler`] on tokio's blocking pool: the model's
//! kernel calls are synchronous.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::UnixListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::Semaphore;

use crate::error::PluginError;
use crate::protocol::{ErrorReply, CONTENT_TYPE as PLUGIN_CONTENT_TYPE};

/// One reply: HTTP status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// JSON body.
    pub body: Vec<u8>,
}

impl Reply {
    /// 200 with `value` as JSON.
    pub fn ok<T: serde::Serialize>(value: &T) -> Reply {
        match serde_json::to_vec(value) {
            Ok(body) => Reply { status: 200, body },
            Err(e) => Reply::error(500, format!("encoding the reply: {e}")),
        }
    }

    /// `status` with `{"Err": msg, "Error": msg}`.
    pub fn error(status: u16, msg: impl Into<String>) -> Reply {
        let body = serde_json::to_vec(&ErrorReply::new(msg))
            .unwrap_or_else(|_| b"{\"Err\":\"error\"}".to_vec());
        Reply { status, body }
    }
}

/// What answers requests: path and body in, reply out. Must never panic; the
/// server still turns a panic into a 500 reply.
pub trait Handler: Send + Sync + 'static {
    /// Answer one POST.
    fn handle(&self, path: &str, body: &[u8]) -> Reply;
}

/// Server limits.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest accepted request body.
    pub max_body: usize,
    /// Time allowed for a request head.
    pub header_timeout: Duration,
    /// Time allowed for a request body.
    pub body_timeout: Duration,
    /// Connections served at once (others wait in the listen backlog).
    pub max_connections: usize,
    /// How long running requests may take to finish at shutdown.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 1 << 20,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            max_connections: 64,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Bind `path` with mode 0600: a stale socket file is replaced, a live one (another instance
/// answers) or a non-socket file is an error. The parent directory is created (0755).
pub fn bind(path: &Path) -> Result<std::os::unix::net::UnixListener, PluginError> {
    let err =
        |what: &str, e: io::Error| PluginError::Socket(format!("{what} {}: {e}", path.display()));
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| err("creating the directory of", e))?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(PluginError::Socket(format!(
                    "{} is served by another process",
                    path.display()
                )));
            }
            std::fs::remove_file(path).map_err(|e| err("removing the stale socket", e))?;
        }
        Ok(_) => {
            return Err(PluginError::Socket(format!(
                "{} exists and is not a socket",
                path.display()
            )))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(err("inspecting", e)),
    }
    // No moment with a wider mode: the umask covers bind's creation.
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o177));
    let bound = std::os::unix::net::UnixListener::bind(path);
    nix::sys::stat::umask(old);
    let listener = bound.map_err(|e| err("binding", e))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err("setting the mode of", e))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| err("configuring", e))?;
    Ok(listener)
}

/// Serve until SIGTERM or SIGINT, then remove the socket. Blocks the calling thread.
pub fn serve(
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    handler: Arc<dyn Handler>,
    limits: Limits,
) -> Result<(), PluginError> {
    serve_until(listener, path, handler, limits, async {
        let sig = |k: SignalKind| {
            signal(k).map_err(|e| PluginError::Socket(format!("signal handler: {e}")))
        };
        let (mut term, mut int) = (sig(SignalKind::terminate())?, sig(SignalKind::interrupt())?);
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        Ok(())
    })
}

/// Serve until `stop` completes (or fails), then remove the socket. Blocks the calling
/// thread.
pub fn serve_until<F>(
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    handler: Arc<dyn Handler>,
    limits: Limits,
    stop: F,
) -> Result<(), PluginError>
where
    F: Future<Output = Result<(), PluginError>>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(8)
        .build()
        .map_err(|e| PluginError::Socket(format!("starting the runtime: {e}")))?;
    let result = rt.block_on(run(listener, handler, limits, stop));
    let _ = std::fs::remove_file(&path);
    // Blocking tasks still running (past the grace period) are abandoned.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn run<F>(
    listener: std::os::unix::net::UnixListener,
    handler: Arc<dyn Handler>,
    limits: Limits,
    stop: F,
) -> Result<(), PluginError>
where
    F: Future<Output = Result<(), PluginError>>,
{
    let listener = UnixListener::from_std(listener)
        .map_err(|e| PluginError::Socket(format!("registering the socket: {e}")))?;
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let limits = Arc::new(limits);
    let mut stop = std::pin::pin!(stop);
    let mut stopped = Ok(());
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            r = &mut stop => { stopped = r; break }
        };
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => {
                    eprintln!("cnm-docker-plugin: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            r = &mut stop => { stopped = r; break }
        };
        let handler = handler.clone();
        let limits2 = limits.clone();
        let service = hyper::service::service_fn(move |req| {
            let handler = handler.clone();
            let limits = limits2.clone();
            async move { Ok::<_, Infallible>(answer(req, handler, &limits).await) }
        });
        let conn = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_timeout)
            .keep_alive(true)
            .serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!("cnm-docker-plugin: requests still running after the grace period");
    }
    stopped
}

fn respond(reply: Reply) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(reply.body)));
    *r.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(PLUGIN_CONTENT_TYPE));
    r
}

async fn answer(
    req: Request<Incoming>,
    handler: Arc<dyn Handler>,
    limits: &Limits,
) -> Response<Full<Bytes>> {
    if req.method() != Method::POST {
        return respond(Reply::error(
            405,
            format!(
                "method {} not allowed: the plugin API is POST only",
                req.method()
            ),
        ));
    }
    let path = req.uri().path().to_string();
    let body = Limited::new(req.into_body(), limits.max_body);
    let bytes = match tokio::time::timeout(limits.body_timeout, body.collect()).await {
        Err(_) => return respond(Reply::error(408, "request body not received in time")),
        Ok(Err(e)) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                return respond(Reply::error(
                    413,
                    format!("request body larger than {} bytes", limits.max_body),
                ));
            }
            return respond(Reply::error(400, format!("reading the request body: {e}")));
        }
        Ok(Ok(c)) => c.to_bytes(),
    };
    let work = tokio::task::spawn_blocking(move || handler.handle(&path, &bytes));
    match work.await {
        Ok(reply) => respond(reply),
        Err(e) => respond(Reply::error(500, format!("internal error: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    struct Echo;
    impl Handler for Echo {
        fn handle(&self, path: &str, body: &[u8]) -> Reply {
            if path == "/panic" {
                panic!("handler panic");
            }
            Reply::ok(&serde_json::json!({"path": path, "len": body.len()}))
        }
    }

    fn exchange(sock: &Path, raw: &[u8]) -> String {
        let mut s = UnixStream::connect(sock).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(raw).unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        String::from_utf8_lossy(&out).into_owned()
    }

    fn post(path: &str, body: &str) -> Vec<u8> {
        format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn serves_limits_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("t.sock");
        let listener = bind(&sock).unwrap();
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A live socket is not taken over.
        assert!(bind(&sock).is_err());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let limits = Limits {
            max_body: 1000,
            header_timeout: Duration::from_millis(300),
            body_timeout: Duration::from_millis(300),
            ..Limits::default()
        };
        let path = sock.clone();
        let server = std::thread::spawn(move || {
            serve_until(listener, path, Arc::new(Echo), limits, async {
                let _ = rx.await;
                Ok(())
            })
        });
        let ok = exchange(&sock, &post("/A.B", "{}"));
        assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
        assert!(ok.contains(PLUGIN_CONTENT_TYPE), "{ok}");
        assert!(ok.contains(r#""path":"/A.B""#), "{ok}");
        let big = exchange(&sock, &post("/A.B", &"x".repeat(5000)));
        assert!(big.starts_with("HTTP/1.1 413"), "{big}");
        let get = exchange(
            &sock,
            b"GET /A.B HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        assert!(get.starts_with("HTTP/1.1 405"), "{get}");
        let panic = exchange(&sock, &post("/panic", "{}"));
        assert!(panic.starts_with("HTTP/1.1 500"), "{panic}");
        // A body that never comes: answered 408 after the body timeout.
        let slow = exchange(
            &sock,
            b"POST /A.B HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n{",
        );
        assert!(slow.starts_with("HTTP/1.1 408"), "{slow}");
        // A head that never completes: the connection is closed.
        let head = exchange(&sock, b"POST /A.B HTTP/1.1\r\n");
        assert!(!head.contains("200 OK"), "{head}");
        // Still serving.
        assert!(exchange(&sock, &post("/A.B", "{}")).starts_with("HTTP/1.1 200"));
        tx.send(()).unwrap();
        server.join().unwrap().unwrap();
        assert!(!sock.exists(), "the socket is removed at stop");
        // A stale socket file (no server) is replaced.
        let stale = std::os::unix::net::UnixListener::bind(&sock).unwrap();
        drop(stale);
        assert!(bind(&sock).is_ok());
    }
}
