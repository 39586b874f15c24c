//! Offline subcommands: `compare`, `inspect`, `merge`.

pub mod compare;
pub mod inspect;
pub mod merge;
