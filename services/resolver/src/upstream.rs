//! Where queries that are not ours go: the host's resolvers (the
//! `nameserver` lines of `/etc/resolv.conf`, or the file given with
//! `--resolv-conf`), re-read when the file changes (checked at most once a
//! second, by its device, inode, size and mtime: a rewrite in place or a
//! rename over it both show), or a network's own upstreams.
//!
//! Forwarding sends the client's query bytes unchanged (its ID, its EDNS
//! size) from a fresh socket per query (a random source port; only the
//! upstream can answer a connected socket), accepts only a reply to that
//! query (ID, QR, same question), and tries the servers in order (as
//! dnsmasq's strict-order, which dnsname configures), each for
//! [`UDP_TRY_TIMEOUT`]. UDP clients are forwarded over UDP (a truncated
//! upstream answer is relayed as is: the client retries over TCP), TCP
//! clients over TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::answer::is_reply_to;

/// How long one upstream has to answer over UDP.
pub const UDP_TRY_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long one upstream has over TCP (connect, send, answer).
pub const TCP_TRY_TIMEOUT: Duration = Duration::from_secs(3);
/// At most this many servers are tried for one query.
pub const MAX_TRIES: usize = 3;
/// How often the resolv.conf file is looked at, at most.
pub const RECHECK: Duration = Duration::from_secs(1);
/// Largest resolv.conf read.
const MAX_RESOLV_CONF: u64 = 64 * 1024;

/// The `nameserver` addresses of a resolv.conf text (port 53; IPv6
/// link-local ones, which need a zone we cannot know, are skipped).
pub fn parse_resolv_conf(text: &str) -> Vec<SocketAddr> {
    let mut out = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let Some(addr) = words.next() else { continue };
        let addr = addr.split('%').next().unwrap_or(addr);
        let Ok(ip) = addr.parse::<IpAddr>() else {
            continue;
        };
        if let IpAddr::V6(v6) = ip {
            if v6.segments()[0] & 0xffc0 == 0xfe80 {
                continue;
            }
        }
        let sa = SocketAddr::new(ip, 53);
        if !out.contains(&sa) {
            out.push(sa);
        }
    }
    out
}

type Stamp = (u64, u64, u64, i64, i64);

/// The host's resolvers, from a resolv.conf file.
#[derive(Debug)]
pub struct HostResolvers {
    path: PathBuf,
    servers: Vec<SocketAddr>,
    stamp: Option<Stamp>,
    checked: Option<Instant>,
}

impl HostResolvers {
    /// Reads `path` now.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let mut h = HostResolvers {
            path: path.into(),
            servers: Vec::new(),
            stamp: None,
            checked: None,
        };
        h.refresh(true);
        h
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn stamp(&self) -> Option<Stamp> {
        std::fs::metadata(&self.path)
            .ok()
            .map(|m| (m.dev(), m.ino(), m.size(), m.mtime(), m.mtime_nsec()))
    }

    /// Re-reads the file if it changed (or `force`); true when the list changed.
    pub fn refresh(&mut self, force: bool) -> bool {
        self.checked = Some(Instant::now());
        let stamp = self.stamp();
        if !force && stamp == self.stamp {
            return false;
        }
        self.stamp = stamp;
        let text = read_bounded(&self.path).unwrap_or_default();
        let servers = parse_resolv_conf(&text);
        let changed = servers != self.servers;
        self.servers = servers;
        changed
    }

    /// The servers, the file looked at again if the last look is older than
    /// [`RECHECK`]; addresses in `exclude` (our own listen addresses) are
    /// left out, so we never forward to ourselves.
    pub fn servers(&mut self, exclude: &[IpAddr]) -> Vec<SocketAddr> {
        if self.checked.is_none_or(|t| t.elapsed() >= RECHECK) {
            self.refresh(false);
        }
        self.servers
            .iter()
            .filter(|s| !exclude.contains(&s.ip()))
            .copied()
            .collect()
    }
}

fn read_bounded(path: &Path) -> Option<String> {
    use std::io::Read;
    let f = std::fs::File::open(path).ok()?;
    let mut s = String::new();
    f.take(MAX_RESOLV_CONF).read_to_string(&mut s).ok()?;
    Some(s)
}

fn unspecified_for(addr: &SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

async fn udp_try(query: &[u8], server: SocketAddr) -> Result<Vec<u8>, String> {
    let e = |what: &str, err: std::io::Error| format!("{server} (udp): {what}: {err}");
    let sock = UdpSocket::bind(unspecified_for(&server))
        .await
        .map_err(|x| e("bind", x))?;
    sock.connect(server).await.map_err(|x| e("connect", x))?;
    sock.send(query).await.map_err(|x| e("send", x))?;
    let deadline = tokio::time::Instant::now() + UDP_TRY_TIMEOUT;
    let mut buf = vec![0u8; 65535];
    loop {
        let n = tokio::time::timeout_at(deadline, sock.recv(&mut buf))
            .await
            .map_err(|_| format!("{server} (udp): no answer in {UDP_TRY_TIMEOUT:?}"))?
            .map_err(|x| e("receive", x))?;
        if is_reply_to(query, &buf[..n]) {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

/// Forwards a UDP client's query; the first upstream's reply, or why none came.
pub async fn forward_udp(query: &[u8], servers: &[SocketAddr]) -> Result<Vec<u8>, String> {
    let mut last = "no upstream server".to_string();
    for s in servers.iter().take(MAX_TRIES) {
        match udp_try(query, *s).await {
            Ok(r) => return Ok(r),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn tcp_try(query: &[u8], server: SocketAddr) -> Result<Vec<u8>, String> {
    let e = |what: &str, err: std::io::Error| format!("{server} (tcp): {what}: {err}");
    let len = u16::try_from(query.len()).map_err(|_| format!("{server} (tcp): query too long"))?;
    let mut stream = TcpStream::connect(server)
        .await
        .map_err(|x| e("connect", x))?;
    let mut out = Vec::with_capacity(query.len() + 2);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(query);
    stream.write_all(&out).await.map_err(|x| e("send", x))?;
    let mut lenb = [0u8; 2];
    stream
        .read_exact(&mut lenb)
        .await
        .map_err(|x| e("receive", x))?;
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(lenb))];
    stream
        .read_exact(&mut buf)
        .await
        .map_err(|x| e("receive", x))?;
    if is_reply_to(query, &buf) {
        Ok(buf)
    } else {
        Err(format!("{server} (tcp): an answer to another query"))
    }
}

/// Forwards a TCP client's query over TCP; the first upstream's reply, or why none came.
pub async fn forward_tcp(query: &[u8], servers: &[SocketAddr]) -> Result<Vec<u8>, String> {
    let mut last = "no upstream server".to_string();
    for s in servers.iter().take(MAX_TRIES) {
        match timeout(TCP_TRY_TIMEOUT, tcp_try(query, *s)).await {
            Ok(Ok(r)) => return Ok(r),
            Ok(Err(e)) => last = e,
            Err(_) => last = format!("{s} (tcp): no answer in {TCP_TRY_TIMEOUT:?}"),
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_nameservers() {
        let text = "# comment\nsearch example.org\nnameserver 10.0.0.53\nnameserver  fd00::53 \n\
                    nameserver fe80::1%eth0\nnameserver 10.0.0.53\nnameserver bogus\nnameserver\n\
                    options ndots:2\n";
        assert_eq!(
            parse_resolv_conf(text),
            vec![
                "10.0.0.53:53".parse::<SocketAddr>().unwrap(),
                "[fd00::53]:53".parse().unwrap()
            ]
        );
    }

    #[test]
    fn host_resolvers_follow_the_file_and_exclude_ourselves() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("resolv.conf");
        std::fs::write(&p, "nameserver 10.0.0.1\nnameserver 10.88.0.1\n").unwrap();
        let mut h = HostResolvers::new(&p);
        let me: IpAddr = "10.88.0.1".parse().unwrap();
        assert_eq!(h.servers(&[me]), vec!["10.0.0.1:53".parse().unwrap()]);
        // Replaced by rename (as resolvconf and NetworkManager do).
        let tmp = d.path().join("new");
        std::fs::write(&tmp, "nameserver 10.0.0.2\n").unwrap();
        std::fs::rename(&tmp, &p).unwrap();
        assert!(h.refresh(false));
        assert_eq!(h.servers(&[]), vec!["10.0.0.2:53".parse().unwrap()]);
        std::fs::remove_file(&p).unwrap();
        assert!(h.refresh(false));
        assert!(h.servers(&[]).is_empty());
    }
}
