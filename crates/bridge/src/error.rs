//! The driver's error helpers.

use cnm_kernel::{kernel_failure, KernelError};
use cnm_model::DriverError;

/// A failed kernel operation as the driver reports it.
pub(crate) fn kernel_error(msg: &str, e: &KernelError) -> DriverError {
    kernel_failure(msg, e.clone())
}
