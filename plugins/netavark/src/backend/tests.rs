//! Tests of the backend on the fake kernel.
