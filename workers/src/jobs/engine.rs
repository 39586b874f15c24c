//! The one seam between the job side and the comparison engine (`crate::compare`).

pub use crate::compare::{compare, write_csv, Comparison, ComparisonView, Status, ViewOptions};
