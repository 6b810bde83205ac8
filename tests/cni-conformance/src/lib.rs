//! Shared harness for the conformance suite: throwaway namespaces and plugin execution.
