//! Tests of the validation.
