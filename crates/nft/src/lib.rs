//! nftables firewall for the project: masquerade and port mappings in one table.
