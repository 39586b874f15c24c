//! Decoded comparisons kept in process memory, so a comparison is not fetched from Redis
//! and decoded again on every `GET /api/comparisons/{id}` (the UI asks again for every
//! sort, filter and page), and, in `profdiff serve`, the first read finds what the
//! compare job just computed.
//!
//! Safe without invalidation: comparison ids are random and never reused, results are
//! deterministic, and readers look the cache up only after the comparison's Redis record
//! (which delete, clear and expiry remove) says it exists in the caller's session. Bounded
//! by bytes (an estimate of each entry's heap footprint); least recently used go first.

use std::sync::Arc;

use quick_cache::sync::{Cache, DefaultLifecycle};
use quick_cache::{DefaultHashBuilder, OptionsBuilder, Weighter};

use crate::compare::{Comparison, FunctionDiff};

/// (session id, comparison id).
type Key = (String, String);

#[derive(Clone)]
struct Entry {
    cmp: Arc<Comparison>,
    bytes: u64,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Entry> for ByBytes {
    fn weight(&self, _: &Key, v: &Entry) -> u64 {
        v.bytes
    }
}

/// A byte-bounded LRU of decoded comparisons.
pub struct ComparisonCache {
    inner: Cache<Key, Entry, ByBytes>,
}

/// Rough heap bytes of a decoded comparison (rows and their strings).
pub fn footprint(c: &Comparison) -> u64 {
    let rows: usize = c
        .functions
        .iter()
        .map(|f| std::mem::size_of::<FunctionDiff>() + f.file.capacity() + f.name.capacity())
        .sum();
    (std::mem::size_of::<Comparison>() + rows) as u64
}

impl ComparisonCache {
    /// A cache holding at most `capacity_bytes` of comparisons.
    pub fn new(capacity_bytes: u64) -> Self {
        // A medium comparison (5,600 rows) is ~1.3 MB: size the index for that.
        let items = usize::try_from(capacity_bytes >> 20)
            .unwrap_or(usize::MAX)
            .max(16);
        // New entries start "cold"; at the default 3 % of the space a fresh 1 MB entry
        // was pushed out by the next insert, before its first read. Reads here follow
        // writes closely (recency, not frequency), so half the space is for new entries.
        let options = OptionsBuilder::new()
            .estimated_items_capacity(items)
            .weight_capacity(capacity_bytes)
            .hot_allocation(0.5)
            .build()
            .expect("estimated items and weight capacity are set");
        Self {
            inner: Cache::with_options(
                options,
                ByBytes,
                DefaultHashBuilder::default(),
                DefaultLifecycle::default(),
            ),
        }
    }

    /// The comparison if it is held.
    pub fn get(&self, sid: &str, cid: &str) -> Option<Arc<Comparison>> {
        self.inner
            .get(&(sid.to_owned(), cid.to_owned()))
            .map(|e| e.cmp)
    }

    /// Keeps a comparison (one larger than the cache allows is simply not kept).
    pub fn insert(&self, sid: &str, cid: &str, cmp: Arc<Comparison>) {
        let bytes = footprint(&cmp);
        self.inner
            .insert((sid.to_owned(), cid.to_owned()), Entry { cmp, bytes });
    }

    /// Estimated bytes held now.
    pub fn weight(&self) -> u64 {
        self.inner.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare;

    fn cmp_of(path: &str) -> Comparison {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/");
        let a = std::fs::read(format!("{root}{path}_before.prof")).unwrap();
        let b = std::fs::read(format!("{root}{path}_after.prof")).unwrap();
        compare(
            &crate::decode(&a, "a").unwrap(),
            &crate::decode(&b, "b").unwrap(),
        )
    }

    #[test]
    fn keyed_by_session_and_id() {
        let cache = ComparisonCache::new(64 << 20);
        let c = Arc::new(cmp_of("textpipe"));
        cache.insert("s1", "c1", c.clone());
        assert_eq!(cache.get("s1", "c1").as_deref(), Some(&*c));
        assert!(
            cache.get("s2", "c1").is_none(),
            "another session's id must miss"
        );
        assert!(cache.get("s1", "c2").is_none());
    }

    #[test]
    fn stays_within_its_byte_bound() {
        let c = Arc::new(cmp_of("textpipe"));
        let one = footprint(&c);
        assert!(one > 10_000, "estimate too small to be real: {one}");
        let cache = ComparisonCache::new(one * 4);
        for i in 0..50 {
            cache.insert("s", &format!("c{i}"), c.clone());
        }
        assert!(
            cache.weight() <= one * 4,
            "{} > {}",
            cache.weight(),
            one * 4
        );
        assert!(
            cache.get("s", "c49").is_some(),
            "the newest entry must be kept"
        );
    }

    #[test]
    fn a_fresh_entry_survives_the_next_inserts() {
        // The pattern of the service: a compare job inserts, the poll reads soon after,
        // while other sessions' comparisons keep arriving.
        let c = Arc::new(cmp_of("textpipe"));
        let cache = ComparisonCache::new(footprint(&c) * 10);
        let mut hits = 0;
        for i in 0..100 {
            cache.insert("s", &format!("c{i}"), c.clone());
            if i >= 2 && cache.get("s", &format!("c{}", i - 2)).is_some() {
                hits += 1;
            }
        }
        assert!(hits >= 95, "only {hits} of 98 reads two inserts later hit");
    }
}
