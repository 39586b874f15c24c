//! Several profiles → one, as `pstats.Stats.add` does.
