//! Profile → bytes: writers whose output Python's pstats loads.

pub mod marshal;
