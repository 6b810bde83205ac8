//! The kernel floor: the veth work of an ADD done with `ip` commands and no
//! plugin around it (one `ip -batch` in the host namespace, one in the
//! container), the same work by the lean `cnm-floor` program (one static
//! binary, bench/cnm-floor), and the DEL floor: `ip link del` of one veth.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::run::{run_ok, Spec};
use crate::side::CHILD_PATH;

/// Find `prog` in [`CHILD_PATH`].
pub fn which(prog: &str) -> Option<PathBuf> {
    CHILD_PATH
        .split(':')
        .map(|d| Path::new(d).join(prog))
        .find(|p| p.is_file())
}

/// The `ip` tool and the bridge the floor attaches to.
pub struct Floor {
    pub ip: PathBuf,
    pub bridge: String,
    pub gateway: String,
    env: Vec<(String, String)>,
}

impl Floor {
    pub fn new(ip: PathBuf, bridge: &str, gateway: &str) -> Floor {
        Floor {
            ip,
            bridge: bridge.to_owned(),
            gateway: gateway.to_owned(),
            env: vec![("PATH".to_owned(), CHILD_PATH.to_owned())],
        }
    }

    fn batch(&self, args: &[&str], script: &str, what: &str) -> Result<Duration, String> {
        let o = run_ok(
            &Spec {
                program: &self.ip,
                args,
                env: &self.env,
                stdin: script.as_bytes(),
            },
            what,
        )?;
        Ok(o.wall)
    }

    /// Create the bridge with the gateway address (untimed setup; the caller
    /// is in the floor's host namespace).
    pub fn setup(&self, prefix_len: u8) -> Result<(), String> {
        let script = format!(
            "link add {b} type bridge\naddr add {g}/{prefix_len} dev {b}\nlink set {b} up\n",
            b = self.bridge,
            g = self.gateway
        );
        self.batch(&["-batch", "-"], &script, "floor bridge setup")
            .map(|_| ())
    }

    /// The ADD floor: veth with its peer created in the container, attached,
    /// up; address, link up and default route in the container. Two processes.
    pub fn add(&self, veth: &str, container_ns: &str, addr_cidr: &str) -> Result<Duration, String> {
        let host = format!(
            "link add {veth} type veth peer name eth0 netns {container_ns}\n\
             link set {veth} master {b}\nlink set {veth} up\n",
            b = self.bridge
        );
        let cont = format!(
            "addr add {addr_cidr} dev eth0\nlink set eth0 up\nroute add default via {g}\n",
            g = self.gateway
        );
        let a = self.batch(&["-batch", "-"], &host, "floor ADD (host side)")?;
        let b = self.batch(
            &["-n", container_ns, "-batch", "-"],
            &cont,
            "floor ADD (container side)",
        )?;
        Ok(a + b)
    }

    /// The ADD floor program: `cnm-floor <bridge> <veth> <netns> <addr> <gw>`.
    pub fn program(
        &self,
        bin: &Path,
        veth: &str,
        container_ns: &str,
        addr_cidr: &str,
    ) -> Result<crate::run::Outcome, String> {
        let netns = crate::ns::path(container_ns).to_string_lossy().into_owned();
        run_ok(
            &Spec {
                program: bin,
                args: &[&self.bridge, veth, &netns, addr_cidr, &self.gateway],
                env: &self.env,
                stdin: b"",
            },
            "floor program ADD",
        )
    }

    /// The DEL floor: `ip link del <veth>` (the peer goes with it).
    pub fn del(&self, veth: &str) -> Result<Duration, String> {
        self.del_outcome(veth).map(|o| o.wall)
    }

    /// [`Floor::del`] with the whole outcome (CPU time too).
    pub fn del_outcome(&self, veth: &str) -> Result<crate::run::Outcome, String> {
        run_ok(
            &Spec {
                program: &self.ip,
                args: &["link", "del", veth],
                env: &self.env,
                stdin: b"",
            },
            "floor DEL",
        )
    }
}
