//! The service loop of `cnm-firewall watch`: subscribe to nf_tables changes in this network
//! namespace, restore once at start (whatever happened while it was not running), then, after
//! every change that took something of ours away, wait `debounce` (so a burst of changes is one
//! restore) and restore. A loss only of things whose records are gone (our own DELs) costs no
//! restore; a failed restore is retried with a growing pause (1 s up to 60 s). While it runs
//! it holds the owned table `inet cnm-keep` (`cnm_nft::NatKeepalive`), so established NATed
//! connections keep being translated while our rules are missing.

use std::io;
use std::time::{Duration, Instant};

use cnm_nft::{
    Firewall, Liveness, Mode, Monitor, NatKeepalive, Received, RestoreReport, Suspect, Tracker,
    Trigger, KEEP_TABLE,
};

/// Longest a transaction's notifications may stay open without their closing NEWGEN.
const OPEN_TXN: Duration = Duration::from_millis(100);
/// First and longest pause before retrying a failed restore.
const RETRY_FIRST: Duration = Duration::from_secs(1);
const RETRY_MAX: Duration = Duration::from_secs(60);

/// Losses seen and not yet restored.
#[derive(Debug, Default)]
pub struct Pending {
    suspects: Vec<Suspect>,
    since: Option<Instant>,
}

impl Pending {
    /// Add suspects seen at `now` (the debounce runs from the first one).
    pub fn add(&mut self, suspects: Vec<Suspect>, now: Instant) {
        if suspects.is_empty() {
            return;
        }
        self.since.get_or_insert(now);
        self.suspects.extend(suspects);
    }

    /// How long until a restore is due (None: nothing pending).
    pub fn wait(&self, now: Instant, debounce: Duration) -> Option<Duration> {
        self.since
            .map(|t| (t + debounce).saturating_duration_since(now))
    }

    /// Take everything pending when it is due: the suspects and when the first was seen.
    pub fn take_due(
        &mut self,
        now: Instant,
        debounce: Duration,
    ) -> Option<(Vec<Suspect>, Instant)> {
        let since = self.since?;
        if now < since + debounce {
            return None;
        }
        self.since = None;
        let mut s = std::mem::take(&mut self.suspects);
        s.sort();
        s.dedup();
        Some((s, since))
    }
}

/// The record files to look for, or None when a restore is due whatever the records say (a
/// structural loss).
pub fn recorded_names(suspects: &[Suspect]) -> Option<Vec<String>> {
    let mut names = Vec::new();
    for s in suspects {
        match s {
            Suspect::Structural(_) => return None,
            Suspect::Record(n) => names.push(n.clone()),
        }
    }
    Some(names)
}

/// A short reason for the log: the first structural loss, or how many records.
fn reason(suspects: &[Suspect]) -> String {
    match suspects.iter().find_map(|s| match s {
        Suspect::Structural(w) => Some(w.clone()),
        Suspect::Record(_) => None,
    }) {
        Some(w) => w,
        None => format!(
            "{} element(s) or chain(s) of recorded attachments removed",
            suspects.len()
        ),
    }
}

/// Log a report: everything not in place, then the summary.
pub fn log_report(r: &RestoreReport, verbose: bool, log: &mut dyn FnMut(String)) {
    for item in &r.items {
        if verbose || item.outcome != cnm_nft::Outcome::Present {
            log(item.to_string());
        }
    }
}

/// Run the service until the process is stopped; returns only when the monitor socket fails.
pub fn run(
    fw: &Firewall,
    live: &dyn Liveness,
    debounce: Duration,
    log: &mut dyn FnMut(String),
) -> io::Result<()> {
    // Subscribed before the first restore, so a loss during it is not missed.
    let monitor = Monitor::subscribe()?;
    // NAT of established connections survives a flush while this lives (see cnm_nft's
    // keepalive); without it, only new connections are restored.
    let _keepalive = match NatKeepalive::hold() {
        Ok(k) => {
            log(format!(
                "holding table inet {KEEP_TABLE}: established NAT connections survive flushes"
            ));
            Some(k)
        }
        Err(e) => {
            log(format!(
                "cannot hold table inet {KEEP_TABLE} ({e}): established NAT connections may be \
                 reset while the rules are missing"
            ));
            None
        }
    };
    log(format!(
        "watching nf_tables changes (records under {}, debounce {} ms)",
        fw.netns_state_dir()
            .map_or_else(|| "nowhere".to_string(), |d| d.display().to_string()),
        debounce.as_millis()
    ));
    let mut tracker = Tracker::new();
    let mut pending = Pending::default();
    let mut retry = RETRY_FIRST;
    // "Seen" so that the restore is due `extra` from now.
    let due_in = |extra: Duration| {
        let now = Instant::now();
        (now + extra).checked_sub(debounce).unwrap_or(now)
    };
    pending.add(
        vec![Suspect::Structural("start".into())],
        due_in(Duration::ZERO),
    );
    loop {
        let now = Instant::now();
        if let Some((suspects, since)) = pending.take_due(now, debounce) {
            let names = recorded_names(&suspects);
            let trigger = match &names {
                Some(n) => Trigger::IfRecorded(n),
                None => Trigger::Always,
            };
            let started = Instant::now();
            match fw.restore_when(live, Mode::Apply, trigger) {
                Ok(None) => {}
                Ok(Some(r)) => {
                    if r.restored() > 0 || r.failed() > 0 {
                        log_report(&r, false, log);
                        log(format!(
                            "restore after: {}: {}; {} ms after the loss, {} ms restoring",
                            reason(&suspects),
                            r.summary(),
                            since.elapsed().as_millis(),
                            started.elapsed().as_millis()
                        ));
                    }
                    if r.failed() > 0 {
                        log(format!("retrying in {} s", retry.as_secs()));
                        pending.add(vec![Suspect::Structural("retry".into())], due_in(retry));
                        retry = (retry * 2).min(RETRY_MAX);
                    } else {
                        retry = RETRY_FIRST;
                    }
                }
                Err(e) => {
                    log(format!(
                        "restore failed: {e}; retrying in {} s",
                        retry.as_secs()
                    ));
                    pending.add(vec![Suspect::Structural("retry".into())], due_in(retry));
                    retry = (retry * 2).min(RETRY_MAX);
                }
            }
            continue;
        }
        let mut wait = pending.wait(now, debounce);
        if tracker.pending() {
            wait = Some(wait.map_or(OPEN_TXN, |w| w.min(OPEN_TXN)));
        }
        match monitor.recv(wait)? {
            Received::Datagram(d) => match tracker.feed(&d) {
                Ok(s) => pending.add(s, Instant::now()),
                Err(e) => pending.add(
                    vec![Suspect::Structural(format!("unreadable notification: {e}"))],
                    Instant::now(),
                ),
            },
            Received::Overrun => {
                // Notifications were lost: the open transaction is unknowable, look at all.
                let _ = tracker.finish();
                pending.add(
                    vec![Suspect::Structural(
                        "notifications lost (buffer overrun)".into(),
                    )],
                    Instant::now(),
                );
            }
            Received::Timeout => {
                if tracker.pending() {
                    pending.add(tracker.finish(), Instant::now());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debounce_runs_from_the_first_loss() {
        let t0 = Instant::now();
        let d = Duration::from_millis(50);
        let mut p = Pending::default();
        assert_eq!(p.wait(t0, d), None);
        assert!(p.take_due(t0, d).is_none());
        p.add(Vec::new(), t0);
        assert_eq!(p.wait(t0, d), None, "nothing lost, nothing pending");
        p.add(vec![Suspect::Record("pm-1".into())], t0);
        p.add(
            vec![
                Suspect::Record("pm-1".into()),
                Suspect::Record("masq-2".into()),
            ],
            t0 + Duration::from_millis(40),
        );
        assert_eq!(
            p.wait(t0 + Duration::from_millis(10), d),
            Some(Duration::from_millis(40))
        );
        assert!(p.take_due(t0 + Duration::from_millis(49), d).is_none());
        let (s, since) = p.take_due(t0 + Duration::from_millis(50), d).unwrap();
        assert_eq!(since, t0);
        assert_eq!(
            s,
            [
                Suspect::Record("masq-2".into()),
                Suspect::Record("pm-1".into())
            ]
        );
        assert!(
            p.take_due(t0 + Duration::from_secs(9), d).is_none(),
            "taken"
        );
    }

    #[test]
    fn structural_losses_restore_whatever_the_records_say() {
        let r = [
            Suspect::Record("pm-1".into()),
            Suspect::Record("spoof-2".into()),
        ];
        assert_eq!(
            recorded_names(&r),
            Some(vec!["pm-1".into(), "spoof-2".into()])
        );
        let s = [
            Suspect::Record("pm-1".into()),
            Suspect::Structural("table inet cnm deleted".into()),
        ];
        assert_eq!(recorded_names(&s), None);
        assert_eq!(reason(&s), "table inet cnm deleted");
        assert!(reason(&r).starts_with("2 element"));
    }
}
