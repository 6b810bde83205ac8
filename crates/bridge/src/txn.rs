//! ADD as a transaction: every step that creates something records how to
//! undo it; when a later step fails the record is replayed in reverse.

use cnm_kernel::{Firewalls, Kernel};

/// One thing ADD did that a failure must undo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Undo {
    /// A host link was created (a veth: deleting it removes both ends).
    DeleteHostLink(String),
    /// A MAC spoof check was installed for this host port.
    RemoveSpoofCheck(String),
}

/// The undo log of one ADD.
#[derive(Debug, Default)]
pub(crate) struct Txn {
    steps: Vec<Undo>,
}

impl Txn {
    pub(crate) fn record(&mut self, step: Undo) {
        self.steps.push(step);
    }

    /// Undo everything in reverse order; returns what could not be undone.
    pub(crate) fn rollback(self, kernel: &mut dyn Kernel, sys: &dyn Firewalls) -> Vec<String> {
        let mut failures = Vec::new();
        for step in self.steps.into_iter().rev() {
            match &step {
                Undo::DeleteHostLink(name) => {
                    if let Err(e) = kernel.delete_host_link(name) {
                        failures.push(format!("delete link {name}: {e}"));
                    }
                }
                Undo::RemoveSpoofCheck(port) => {
                    if let Err(e) = sys.firewall().remove_mac_spoof_check(port) {
                        failures.push(format!("remove MAC spoof check of {port}: {e}"));
                    }
                }
            }
        }
        failures
    }
}
