//! Open, enter, create and remove Linux network namespaces safely.
