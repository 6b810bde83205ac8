//! The resolver's control protocol, over the unix stream socket
//! `resolver.sock` of the store: one request line, one reply line.
//!
//! ```text
//! ping\n    -> ok <pid> <generation> <listen,listen,...|->\n
//! reload\n  -> ok <pid> <generation> <listen,...|->\n   (after the new records are in use)
//!           -> err <message>\n                          (e.g. a listen address could not be bound)
//! stop\n    -> ok <pid> <generation> -\n                 (then the resolver exits)
//! ```
//!
//! A writer of the store sends `reload` after each change while it holds the
//! store's lock, so when ADD or DEL returns the resolver already answers from
//! the new records.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::IpAddr;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Longest request or reply line.
pub const MAX_LINE: usize = 64 * 1024;

/// A control request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Are you there, and what do you serve?
    Ping,
    /// Read the store again, bind or close listeners, then answer.
    Reload,
    /// Clean up and exit.
    Stop,
}

impl Request {
    /// Parses one request line (without its newline).
    pub fn parse(line: &str) -> Option<Request> {
        match line.trim() {
            "ping" => Some(Request::Ping),
            "reload" => Some(Request::Reload),
            "stop" => Some(Request::Stop),
            _ => None,
        }
    }

    /// The wire form (without newline).
    pub fn as_str(&self) -> &'static str {
        match self {
            Request::Ping => "ping",
            Request::Reload => "reload",
            Request::Stop => "stop",
        }
    }
}

/// A successful reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The resolver's pid.
    pub pid: u32,
    /// How many times it loaded the store.
    pub generation: u64,
    /// The addresses it listens on (UDP and TCP port 53).
    pub listening: Vec<IpAddr>,
}

impl Status {
    /// The reply line (without newline).
    pub fn to_line(&self) -> String {
        let addrs = if self.listening.is_empty() {
            "-".to_string()
        } else {
            self.listening
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        };
        format!("ok {} {} {addrs}", self.pid, self.generation)
    }
}

/// A reply: the status or the resolver's error message.
pub type Reply = Result<Status, String>;

/// Parses a reply line.
pub fn parse_reply(line: &str) -> Option<Reply> {
    let line = line.trim_end_matches(['\n', '\r']);
    if let Some(msg) = line.strip_prefix("err ") {
        return Some(Err(msg.to_string()));
    }
    let mut parts = line.strip_prefix("ok ")?.split(' ');
    let pid = parts.next()?.parse().ok()?;
    let generation = parts.next()?.parse().ok()?;
    let listening = match parts.next()? {
        "-" => Vec::new(),
        list => list
            .split(',')
            .map(|a| a.parse().ok())
            .collect::<Option<Vec<IpAddr>>>()?,
    };
    if parts.next().is_some() {
        return None;
    }
    Some(Ok(Status {
        pid,
        generation,
        listening,
    }))
}

/// Why a control call failed.
#[derive(Debug)]
pub enum CallError {
    /// Nobody listens on the socket (no resolver, or a dead one's socket).
    NotRunning(io::Error),
    /// Connected, but no well-formed reply in time: the resolver is stuck.
    NoReply(String),
}

/// Sends `req` and reads the reply, each step bounded by `timeout`.
pub fn call(socket: &Path, req: Request, timeout: Duration) -> Result<Reply, CallError> {
    let stream = UnixStream::connect(socket).map_err(CallError::NotRunning)?;
    let io_err = |e: io::Error| CallError::NoReply(format!("{}: {e}", req.as_str()));
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_err)?;
    (&stream)
        .write_all(format!("{}\n", req.as_str()).as_bytes())
        .map_err(io_err)?;
    let mut line = String::new();
    BufReader::new((&stream).take(MAX_LINE as u64))
        .read_line(&mut line)
        .map_err(io_err)?;
    parse_reply(&line)
        .ok_or_else(|| CallError::NoReply(format!("{}: malformed reply {line:?}", req.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_round_trip() {
        let s = Status {
            pid: 12,
            generation: 3,
            listening: vec!["10.88.0.1".parse().unwrap(), "fd00::1".parse().unwrap()],
        };
        assert_eq!(s.to_line(), "ok 12 3 10.88.0.1,fd00::1");
        assert_eq!(parse_reply(&format!("{}\n", s.to_line())), Some(Ok(s)));
        let empty = Status {
            pid: 1,
            generation: 0,
            listening: vec![],
        };
        assert_eq!(parse_reply("ok 1 0 -"), Some(Ok(empty)));
        assert_eq!(
            parse_reply("err bind 10.0.0.1:53: in use"),
            Some(Err("bind 10.0.0.1:53: in use".into()))
        );
        for bad in [
            "",
            "ok",
            "ok x 1 -",
            "ok 1 1 nope",
            "ok 1 1 - extra",
            "hello",
        ] {
            assert_eq!(parse_reply(bad), None, "{bad}");
        }
    }

    #[test]
    fn requests_parse() {
        assert_eq!(Request::parse("ping\n"), Some(Request::Ping));
        assert_eq!(Request::parse("reload"), Some(Request::Reload));
        assert_eq!(Request::parse("stop"), Some(Request::Stop));
        assert_eq!(Request::parse("rm -rf"), None);
    }

    #[test]
    fn call_without_a_resolver_is_not_running() {
        let d = tempfile::tempdir().unwrap();
        let r = call(
            &d.path().join("none.sock"),
            Request::Ping,
            Duration::from_millis(100),
        );
        assert!(matches!(r, Err(CallError::NotRunning(_))));
    }
}
