//! The in-memory profile model every decoder produces and every view reads.

mod builder;
mod limits;
mod model;

pub use builder::{ProfileBuilder, ShapeError};
pub use limits::Limits;
pub use model::{
    Edge, EdgeStats, FuncKey, Function, KeyId, Producer, Profile, SourceFormat, Stats, Sym, Totals,
};
