//! The CNI protocol layer (spec 0.1.0 to 1.1.0) shared by every binary of the project.

pub mod error;
pub mod result;

pub use error::{code, CniError};
pub use result::{CniResult, Dns, Interface, IpConfig, Route};
