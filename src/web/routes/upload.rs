//! `POST /api/upload`: multipart, field `file` repeated. Each file is streamed to
//! `DATA_DIR/uploads/<session>/<random id>` (never the client's name), gets a profile id
//! and a queued parse job. Over the size limit: 413 and nothing kept; an extension other
//! than .prof/.pstats/.pkl: 415 and nothing kept. The parse job sniffs the real format.

use std::path::{Path, PathBuf};

use actix_multipart::{Field, Multipart};
use actix_web::{web, HttpRequest, HttpResponse};
use futures::TryStreamExt;
use profdiff_workers::jobs::ParseJob;
use profdiff_workers::keyspace::Keyspace;
use profdiff_workers::store::now_millis;
use tokio::io::AsyncWriteExt;

use super::new_id;
use crate::web::error::{ApiError, ApiResult};
use crate::web::session::Session;
use crate::web::AppState;

const ACCEPTED: &[&str] = &["prof", "pstats", "pkl"];
const MAX_NAME_CHARS: usize = 200;

/// A display name from the client's file name: its last path component (either slash),
/// control characters dropped, length bounded. Never used on disk.
pub fn sanitize_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_NAME_CHARS)
        .collect();
    let clean = clean.trim().trim_start_matches('.').to_string();
    if clean.is_empty() {
        "upload".into()
    } else {
        clean
    }
}

fn extension_ok(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(_, ext)| ACCEPTED.contains(&ext.to_ascii_lowercase().as_str()))
}

/// A dump this request stored on disk, not yet recorded in Redis.
pub(super) struct Saved<R = ()> {
    /// Profile id (also the file's name on disk).
    pub id: String,
    /// Sanitised display name.
    pub name: String,
    /// Where the bytes are.
    pub path: PathBuf,
    /// Bytes on disk.
    pub size: u64,
    /// Its role in a batch (`()` for a plain upload).
    pub role: R,
}

/// Removes the files of a request that is refused part-way.
pub(super) async fn remove_all<R>(saved: &[Saved<R>]) {
    for s in saved {
        let _ = tokio::fs::remove_file(&s.path).await;
    }
}

/// Refuses a request that declares more than the upload limit or arrives while the job
/// queues are full, then makes the session's upload folder and returns it.
pub(super) async fn admit(
    req: &HttpRequest,
    state: &AppState,
    session_id: &str,
) -> ApiResult<PathBuf> {
    let limit = state.cfg.max_upload_bytes;
    let declared = req
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // The body also carries multipart framing; allow a little for it.
    if declared.is_some_and(|n| n > limit.saturating_add(64 * 1024)) {
        return Err(ApiError::TooLarge { limit });
    }
    let queued = state.queues.depth().await?;
    if queued >= state.cfg.queue_cap {
        return Err(ApiError::Busy { queued });
    }
    let dir = state.cfg.uploads_dir().join(session_id);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| ApiError::Internal(format!("creating upload folder: {e}")))?;
    Ok(dir)
}

/// Streams one multipart field to a new randomly named file in `dir`, adding its bytes
/// to `total` and refusing it past `limit`. Returns `(id, path, size)`; on any error the
/// partial file is removed (the caller removes what it saved before).
pub(super) async fn save_field(
    field: &mut Field,
    dir: &Path,
    total: &mut u64,
    limit: u64,
) -> ApiResult<(String, PathBuf, u64)> {
    let id = new_id();
    let path = dir.join(&id);
    // Multipart chunks are small; each tokio file write is a trip to the blocking
    // pool, so batch them.
    let mut file = tokio::io::BufWriter::with_capacity(
        256 * 1024,
        tokio::fs::File::create(&path)
            .await
            .map_err(|e| ApiError::Internal(format!("creating upload file: {e}")))?,
    );
    let mut size: u64 = 0;
    let result = loop {
        let chunk = match field.try_next().await {
            Ok(Some(c)) => c,
            Ok(None) => {
                break file
                    .flush()
                    .await
                    .map_err(|e| ApiError::Internal(format!("writing upload: {e}")))
            }
            Err(e) => {
                break Err(ApiError::BadRequest(format!(
                    "malformed multipart body: {e}"
                )))
            }
        };
        size += chunk.len() as u64;
        *total += chunk.len() as u64;
        if *total > limit {
            break Err(ApiError::TooLarge { limit });
        }
        if let Err(e) = file.write_all(&chunk).await {
            break Err(ApiError::Internal(format!("writing upload: {e}")));
        }
    };
    drop(file);
    match result {
        Ok(()) => Ok((id, path, size)),
        Err(e) => {
            let _ = tokio::fs::remove_file(&path).await;
            Err(e)
        }
    }
}

/// Stores the files and queues one parse job each.
#[utoipa::path(post, path = "/api/upload", tag = "profiles", request_body(content_type = "multipart/form-data", description = "Field `file`, repeatable"),responses((status = 202, description = "Accepted, parse jobs queued", body = UploadAccepted), (status = 400, description = "Bad request", body = crate::web::error::ErrorBody), (status = 413, description = "Over the upload limit", body = crate::web::error::ErrorBody), (status = 415, description = "Unsupported file type", body = crate::web::error::ErrorBody), (status = 429, description = "Queues full or rate limited", body = crate::web::error::ErrorBody)))]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    mut payload: Multipart,
) -> ApiResult<HttpResponse> {
    let limit = state.cfg.max_upload_bytes;
    let dir = admit(&req, &state, &session.id).await?;

    let mut saved: Vec<Saved> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let field = match payload.try_next().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                remove_all(&saved).await;
                return Err(ApiError::BadRequest(format!(
                    "malformed multipart body: {e}"
                )));
            }
        };
        let mut field = field;
        if field.name() != Some("file") {
            // Other fields are read and dropped, but they count toward the limit too.
            while let Ok(Some(chunk)) = field.try_next().await {
                total += chunk.len() as u64;
                if total > limit {
                    remove_all(&saved).await;
                    return Err(ApiError::TooLarge { limit });
                }
            }
            continue;
        }
        let raw_name = field
            .content_disposition()
            .and_then(|cd| cd.get_filename())
            .unwrap_or("")
            .to_string();
        let name = sanitize_name(&raw_name);
        if !extension_ok(&name) {
            remove_all(&saved).await;
            return Err(ApiError::Unsupported(format!(
                "{name:?}: only .prof, .pstats and .pkl files are accepted"
            )));
        }
        let (id, path, size) = match save_field(&mut field, &dir, &mut total, limit).await {
            Ok(saved_field) => saved_field,
            Err(e) => {
                remove_all(&saved).await;
                return Err(e);
            }
        };
        saved.push(Saved {
            id,
            name,
            path,
            size,
            role: (),
        });
    }
    if saved.is_empty() {
        return Err(ApiError::BadRequest(
            "no file in the request (multipart field `file`)".into(),
        ));
    }

    let keys = state.store.keys();
    let now = now_millis();
    let mut p = redis::pipe();
    p.atomic();
    let jobs = stage_parses(&mut p, keys, &session, &saved, now, None);
    let out = saved
        .iter()
        .zip(&jobs)
        .map(|(s, job)| Uploaded {
            id: s.id.clone(),
            name: s.name.clone(),
            job_id: job.job_id.clone(),
            status: "queued",
            size: s.size,
        })
        .collect();
    if let Err(e) = p.query_async::<()>(&mut state.store.conn()).await {
        remove_all(&saved).await;
        return Err(e.into());
    }
    for job in jobs {
        state.queues.push_parse(job).await?;
    }
    Ok(HttpResponse::Accepted().json(UploadAccepted { profiles: out }))
}

/// Answer of `POST /api/upload`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct UploadAccepted {
    /// One per file, in request order.
    profiles: Vec<Uploaded>,
}

/// One accepted file.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Uploaded {
    /// Profile id.
    id: String,
    /// The file's name, sanitised, for display only.
    name: String,
    /// Its parse job (poll `GET /api/jobs/{id}`).
    job_id: String,
    /// Always `queued`.
    status: &'static str,
    /// Bytes stored.
    size: u64,
}

/// Adds, for each stored dump, its profile record and its parse job's status record, with
/// the session's indexes, to `p`; returns the parse jobs to queue once `p` has run.
/// Uploads and batches both come through here.
pub(super) fn stage_parses<R>(
    p: &mut redis::Pipeline,
    keys: &Keyspace,
    session: &Session,
    saved: &[Saved<R>],
    now: i64,
    batch: Option<&str>,
) -> Vec<ParseJob> {
    let sid = &*session.id;
    let mut jobs = Vec::with_capacity(saved.len());
    for (order, dump) in saved.iter().enumerate() {
        let job_id = new_id();
        let pkey = keys.profile(sid, &dump.id);
        let jkey = keys.job(sid, &job_id);
        let mut fields = vec![
            ("name", dump.name.clone()),
            ("size", dump.size.to_string()),
            ("status", "queued".into()),
            ("format", String::new()),
            ("error", String::new()),
            ("job", job_id.clone()),
            ("uploaded", now.to_string()),
            ("path", dump.path.display().to_string()),
        ];
        if let Some(b) = batch {
            fields.push(("batch", b.to_owned()));
        }
        p.hset_multiple(&pkey, &fields)
            .ignore()
            .expire_at(&pkey, session.expire_at)
            .ignore()
            // Same-millisecond uploads keep their request order.
            .zadd(keys.profiles(sid), &dump.id, now + order as i64)
            .ignore()
            .hset_multiple(
                &jkey,
                &[
                    ("kind", "parse"),
                    ("status", "queued"),
                    ("error", ""),
                    ("target", dump.id.as_str()),
                ],
            )
            .ignore()
            .expire_at(&jkey, session.expire_at)
            .ignore()
            .zadd(keys.jobs(sid), &job_id, now)
            .ignore();
        jobs.push(ParseJob {
            session: sid.to_string(),
            profile_id: dump.id.clone(),
            job_id,
            path: dump.path.clone(),
            name: dump.name.clone(),
            expire_at: session.expire_at,
            batch: batch.map(str::to_owned),
        });
    }
    for idx in [keys.profiles(sid), keys.jobs(sid)] {
        p.expire_at(idx, session.expire_at).ignore();
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_display_only_and_bounded() {
        assert_eq!(sanitize_name("../../etc/passwd.prof"), "passwd.prof");
        assert_eq!(sanitize_name("..\\x.prof"), "x.prof");
        assert_eq!(sanitize_name("a\u{0}b\n.prof"), "ab.prof");
        assert_eq!(sanitize_name("../.."), "upload");
        assert!(sanitize_name(&"x".repeat(1000)).len() <= MAX_NAME_CHARS);
        assert!(extension_ok("A.PROF") && extension_ok("a.pkl") && !extension_ok("a.txt"));
        assert!(!extension_ok("prof"));
    }
}
