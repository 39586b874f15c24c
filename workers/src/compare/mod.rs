//! Two profiles → comparison rows and the `profdiff.comparison/v1` document. Pure: no I/O.
