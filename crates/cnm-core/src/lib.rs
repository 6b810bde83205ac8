//! The Container Network Model: controller, network, endpoint, sandbox, drivers, IPAM.
