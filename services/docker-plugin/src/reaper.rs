//! Reaping the children cnm-nft forks: after deleting port-mapping elements
//! it hands the netfilter socket to a forked copy of this process, which
//! closes it (paying the kernel's RCU grace period) and exits, unreaped. A
//! one-shot CNI plugin never notices; a daemon would collect zombies. Only
//! exited children that are copies of this process are reaped (their `comm`
//! is the name of the thread that forked: one of our threads' names); the
//! `nft` children that `std::process` waits for itself are left alone.

use std::collections::HashSet;
use std::fs;

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;

/// `pid`, parent pid, state and comm of `/proc/<pid>/stat`.
fn parse_stat(text: &str) -> Option<(i32, i32, char, &str)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let pid = text[..open].trim().parse().ok()?;
    let comm = &text[open + 1..close];
    let mut rest = text[close + 1..].split_whitespace();
    let state = rest.next()?.chars().next()?;
    let ppid = rest.next()?.parse().ok()?;
    Some((pid, ppid, state, comm))
}

/// Reap this process's exited children named like itself; returns how many.
pub fn reap_forked_children() -> usize {
    let me = std::process::id() as i32;
    // The names of our threads (a forked child carries its forking thread's name).
    let own: HashSet<String> = fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|t| fs::read_to_string(t.path().join("comm")).ok())
        .map(|c| c.trim_end().to_string())
        .collect();
    if own.contains("nft") {
        return 0;
    }
    let Ok(dir) = fs::read_dir("/proc") else {
        return 0;
    };
    let mut reaped = 0;
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let ours = matches!(parse_stat(&stat),
            Some((_, ppid, 'Z', comm)) if ppid == me && own.contains(comm));
        if ours && waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)).is_ok() {
            reaped += 1;
        }
    }
    reaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse() {
        assert_eq!(
            parse_stat("123 (cnm-docker-plu) Z 45 0 0"),
            Some((123, 45, 'Z', "cnm-docker-plu"))
        );
        assert_eq!(
            parse_stat("7 (a (b) c) S 1 2"),
            Some((7, 1, 'S', "a (b) c"))
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reaps_only_zombie_copies_of_this_process() {
        // A child that is not a copy of us (another comm) is never taken from its waiter.
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        std::thread::sleep(std::time::Duration::from_millis(100));
        reap_forked_children();
        assert!(child
            .wait()
            .expect("the waiter still gets its child")
            .success());
    }
}
