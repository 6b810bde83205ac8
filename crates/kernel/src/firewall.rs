//! The nftables [`Firewall`]: masquerade per network from `cnm-nft`, in our
//! own `inet cnm` table, one atomic batch per change.

use cnm_nft::MasqNet;

use cnm_model::MacAddr;

use crate::seam::Firewall;
use crate::types::{KernelError, MasqSpec};

/// [`Firewall`] over `cnm_nft::Firewall`.
pub struct NftFirewall {
    pub nft: cnm_nft::Firewall,
}

fn nft_err(op: &str, target: &str, e: cnm_nft::NftError) -> KernelError {
    KernelError::caused_by(op, target, e)
}

impl Firewall for NftFirewall {
    fn ensure_masquerade(&mut self, net: &MasqSpec) -> Result<(), KernelError> {
        self.nft
            .ensure_masquerade(&MasqNet {
                network: &net.network,
                bridge: &net.bridge,
                subnets: net.subnets.clone(),
            })
            .map(|_| ())
            .map_err(|e| nft_err("ensure masquerade", &net.network, e))
    }
    fn check_masquerade(&mut self, net: &MasqSpec) -> Result<(), KernelError> {
        self.nft
            .check_masquerade(&MasqNet {
                network: &net.network,
                bridge: &net.bridge,
                subnets: net.subnets.clone(),
            })
            .map_err(|e| nft_err("check masquerade", &net.network, e))
    }
    fn remove_masquerade(&mut self, network: &str) -> Result<(), KernelError> {
        self.nft
            .remove_masquerade(network)
            .map_err(|e| nft_err("remove masquerade", network, e))
    }
    fn ensure_mac_spoof_check(&mut self, port: &str, mac: &MacAddr) -> Result<(), KernelError> {
        self.nft
            .ensure_mac_spoof_check(port, &mac.0)
            .map_err(|e| nft_err("ensure MAC spoof check", port, e))
    }
    fn check_mac_spoof_check(&mut self, port: &str, mac: &MacAddr) -> Result<(), KernelError> {
        self.nft
            .check_mac_spoof_check(port, &mac.0)
            .map_err(|e| nft_err("check MAC spoof check", port, e))
    }
    fn remove_mac_spoof_check(&mut self, port: &str) -> Result<(), KernelError> {
        self.nft
            .remove_mac_spoof_check_if_present(port)
            .map_err(|e| nft_err("remove MAC spoof check", port, e))
    }
    fn available(&mut self) -> Result<(), KernelError> {
        self.nft
            .available()
            .map_err(|e| nft_err("probe", "nftables", e))
    }
}
