//! CPU-bound work (decoding dumps, comparing, encoding blobs) runs on a pool of
//! synchronous actix actors, one OS thread each, sized to the cores. Async threads only
//! wait for the answer, so a 1 MB dump never stalls Redis I/O or HTTP.
//!
//! `SyncArbiter` needs a running actix `System` (the binary's entry point provides one).

use std::panic::{catch_unwind, AssertUnwindSafe};

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};

use crate::jobs::engine;
use crate::store::{codec, StoredSummary};

/// One pool thread.
#[derive(Debug, Default)]
pub struct CpuActor;

impl Actor for CpuActor {
    type Context = SyncContext<Self>;
}

/// A user-facing reason a CPU task produced no result.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CpuError {
    /// The input is bad (the message says why); never retried.
    #[error("{0}")]
    BadInput(String),
    /// Our own stored data did not round-trip, or the work panicked (a bug).
    #[error("internal error: {0}")]
    Internal(String),
    /// The pool is gone (shutting down); retry elsewhere.
    #[error("worker pool unavailable")]
    Unavailable,
}

/// Decode a dump and encode the result for storage.
#[derive(Debug)]
pub struct DecodeDump {
    /// Raw upload bytes.
    pub bytes: Vec<u8>,
    /// Display name.
    pub name: String,
}

/// A decoded, stored-form profile.
#[derive(Debug)]
pub struct DecodedBlob {
    /// Summary for listings.
    pub summary: StoredSummary,
    /// The [`Profile`] in the stored layout ([`codec::encode_profile`]).
    pub blob: Vec<u8>,
}

impl Message for DecodeDump {
    type Result = Result<DecodedBlob, CpuError>;
}

impl Handler<DecodeDump> for CpuActor {
    type Result = Result<DecodedBlob, CpuError>;
    fn handle(&mut self, msg: DecodeDump, _: &mut Self::Context) -> Self::Result {
        guarded(|| {
            let profile = crate::decode::decode(&msg.bytes, &msg.name)
                .map_err(|e| CpuError::BadInput(e.to_string()))?;
            let blob =
                codec::encode_profile(&profile).map_err(|e| CpuError::Internal(e.to_string()))?;
            Ok(DecodedBlob {
                summary: StoredSummary::of(&profile),
                blob,
            })
        })
    }
}

/// Compare two stored profiles and encode the comparison.
#[derive(Debug)]
pub struct CompareBlobs {
    /// Baseline profile blob.
    pub baseline: Vec<u8>,
    /// Candidate profile blob.
    pub candidate: Vec<u8>,
}

/// A comparison as stored (blob) and as computed (for the in-process cache).
pub struct Compared {
    /// [`codec::encode`] of the comparison.
    pub blob: Vec<u8>,
    /// The comparison itself.
    pub comparison: engine::Comparison,
}

impl Message for CompareBlobs {
    type Result = Result<Compared, CpuError>;
}

impl Handler<CompareBlobs> for CpuActor {
    type Result = Result<Compared, CpuError>;
    fn handle(&mut self, msg: CompareBlobs, _: &mut Self::Context) -> Self::Result {
        guarded(|| {
            let internal = |e: codec::CodecError| CpuError::Internal(e.to_string());
            // Comparing reads only the function tables: the edges stay compressed.
            let a = codec::decode_profile_functions(&msg.baseline).map_err(internal)?;
            let b = codec::decode_profile_functions(&msg.candidate).map_err(internal)?;
            let comparison = engine::compare(&a, &b);
            let blob = codec::encode(&comparison).map_err(internal)?;
            Ok(Compared { blob, comparison })
        })
    }
}

/// Summarize a batch from its stored profile blobs (upload order within each side).
#[derive(Debug)]
pub struct SummarizeBatch {
    /// Blobs of the parsed baseline runs.
    pub baseline: Vec<Vec<u8>>,
    /// Blobs of the parsed candidates.
    pub candidates: Vec<Vec<u8>>,
    /// Rows of the top-regressions/improvements lists.
    pub top: usize,
}

impl Message for SummarizeBatch {
    /// The encoded `profdiff.batch/v1` summary; `None` when a side is empty.
    type Result = Result<Option<Vec<u8>>, CpuError>;
}

impl Handler<SummarizeBatch> for CpuActor {
    type Result = Result<Option<Vec<u8>>, CpuError>;
    fn handle(&mut self, msg: SummarizeBatch, _: &mut Self::Context) -> Self::Result {
        guarded(|| {
            let internal = |e: codec::CodecError| CpuError::Internal(e.to_string());
            let dec = |v: &[Vec<u8>]| -> Result<Vec<crate::Profile>, CpuError> {
                v.iter()
                    .map(|b| codec::decode_profile_functions(b).map_err(internal))
                    .collect()
            };
            let (b, c) = (dec(&msg.baseline)?, dec(&msg.candidates)?);
            let br: Vec<&crate::Profile> = b.iter().collect();
            let cr: Vec<&crate::Profile> = c.iter().collect();
            match crate::compare::summarize(&br, &cr, crate::compare::DEFAULT_ALPHA, msg.top) {
                Some(s) => Ok(Some(codec::encode(&s).map_err(internal)?)),
                None => Ok(None),
            }
        })
    }
}

fn guarded<T>(f: impl FnOnce() -> Result<T, CpuError>) -> Result<T, CpuError> {
    // A panic would take the pool thread down with it; turn it into a failed job instead.
    catch_unwind(AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(CpuError::Internal("the decoder panicked".into())))
}

/// Handle to the pool.
#[derive(Clone)]
pub struct CpuPool {
    addr: Addr<CpuActor>,
}

impl CpuPool {
    /// Starts `threads` actor threads (at least one). Needs a running actix System.
    pub fn start(threads: usize) -> Self {
        Self {
            addr: SyncArbiter::start(threads.max(1), || CpuActor),
        }
    }
    /// Threads to use by default: one per core.
    pub fn default_threads() -> usize {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    }
    /// Decodes a dump on the pool.
    pub async fn decode(&self, bytes: Vec<u8>, name: String) -> Result<DecodedBlob, CpuError> {
        self.addr
            .send(DecodeDump { bytes, name })
            .await
            .map_err(|_| CpuError::Unavailable)?
    }
    /// Summarizes a batch on the pool.
    pub async fn summarize(
        &self,
        baseline: Vec<Vec<u8>>,
        candidates: Vec<Vec<u8>>,
        top: usize,
    ) -> Result<Option<Vec<u8>>, CpuError> {
        self.addr
            .send(SummarizeBatch {
                baseline,
                candidates,
                top,
            })
            .await
            .map_err(|_| CpuError::Unavailable)?
    }
    /// Compares two stored profiles on the pool.
    pub async fn compare(
        &self,
        baseline: Vec<u8>,
        candidate: Vec<u8>,
    ) -> Result<Compared, CpuError> {
        self.addr
            .send(CompareBlobs {
                baseline,
                candidate,
            })
            .await
            .map_err(|_| CpuError::Unavailable)?
    }
}
