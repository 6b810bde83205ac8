//! CNI `portmap` plugin binary: all logic lives in the `portmap` library; `main()` only runs the
//! CNI skeleton on this process's environment and stdin and exits with its status.

fn main() {
    std::process::exit(cni_protocol::run_process(&portmap::Portmap::default()));
}
