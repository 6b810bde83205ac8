//! CNI IPAM plugin: a drop-in for the reference host-local. All logic lives in
//! `cnm_ipam::HostLocal`; this only runs it on the process environment and stdin.

fn main() {
    let code = cni_protocol::run_process(&cnm_ipam::HostLocal);
    std::process::exit(code);
}
