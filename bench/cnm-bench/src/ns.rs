//! Throwaway network namespaces (`/run/netns/cnmb-<pid>-...`), removed on drop,
//! and moving the main thread between them so children inherit the namespace
//! without an `nsenter` exec in the timed path.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::PathBuf;

/// Prefix of every namespace this benchmark creates.
pub const PREFIX: &str = "cnmb-";

/// Namespaces created by this process; all removed when dropped.
pub struct Namespaces {
    created: Vec<String>,
    seq: u64,
}

impl Namespaces {
    pub fn new() -> Namespaces {
        Namespaces {
            created: Vec::new(),
            seq: 0,
        }
    }

    /// Create `cnmb-<pid>-<seq>-<role>` and return its name.
    pub fn create(&mut self, role: &str) -> Result<String, String> {
        self.seq += 1;
        let name = format!("{PREFIX}{}-{}-{role}", std::process::id(), self.seq);
        netns::create_named(&name).map_err(|e| format!("creating netns {name}: {e}"))?;
        self.created.push(name.clone());
        Ok(name)
    }

    /// Remove the given namespaces now (errors are printed, not fatal).
    pub fn remove(&mut self, names: &[String]) {
        for n in names {
            if let Err(e) = netns::remove_named(n) {
                eprintln!("cnm-bench: removing netns {n}: {e}");
            }
        }
        self.created.retain(|c| !names.contains(c));
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        let all = std::mem::take(&mut self.created);
        self.remove(&all);
    }
}

/// `/run/netns/<name>`.
pub fn path(name: &str) -> PathBuf {
    PathBuf::from(netns::NETNS_RUN_DIR).join(name)
}

/// Remove namespaces left by an earlier, killed run of this benchmark
/// (`cnmb-<pid>-...` whose pid is no longer alive).
pub fn remove_stale() {
    let Ok(dir) = std::fs::read_dir(netns::NETNS_RUN_DIR) else {
        return;
    };
    for entry in dir.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if !pid.is_empty() && std::path::Path::new("/proc").join(pid).exists() {
            continue;
        }
        match netns::remove_named(&name) {
            Ok(()) => eprintln!("cnm-bench: removed stale netns {name}"),
            Err(e) => eprintln!("cnm-bench: removing stale netns {name}: {e}"),
        }
    }
}

/// Moves the main thread into namespaces; returns it home when dropped.
pub struct Mover {
    home: File,
}

impl Mover {
    /// Remember the current namespace of this thread as home.
    pub fn new() -> Result<Mover, String> {
        let home = File::open("/proc/thread-self/ns/net")
            .map_err(|e| format!("opening /proc/thread-self/ns/net: {e}"))?;
        Ok(Mover { home })
    }

    /// Enter namespace `name` on the calling thread.
    pub fn enter(&self, name: &str) -> Result<(), String> {
        let p = path(name);
        let f = File::open(&p).map_err(|e| format!("opening {}: {e}", p.display()))?;
        setns(&f).map_err(|e| format!("setns into {}: {e}", p.display()))
    }

    /// Return to the namespace the benchmark started in.
    pub fn home(&self) -> Result<(), String> {
        setns(&self.home).map_err(|e| format!("setns back to the original netns: {e}"))
    }
}

impl Drop for Mover {
    fn drop(&mut self) {
        if let Err(e) = self.home() {
            eprintln!("cnm-bench: {e}");
        }
    }
}

fn setns(f: &File) -> std::io::Result<()> {
    // SAFETY: setns on an open namespace fd; it only affects the calling thread.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
