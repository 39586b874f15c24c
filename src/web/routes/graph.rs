//! `GET /api/profiles/{id}/graph`: one parsed profile as a compact call graph, for the
//! UI's pstats table, callers/callees panels and icicle (built in the browser).
//! `functions[i] = [file, line, name, cc, nc, tt, ct]`; `edges[j] = [caller, callee, nc,
//! cc, tt, ct]` with indexes into `functions` (`tt`/`ct` null for count-only edges).
//! `GET /api/comparisons/{id}/summary`: status counts over the whole comparison.
//! A caller that has no stats entry of its own is appended with zero stats, so every
//! edge resolves.

use std::collections::HashMap;

use actix_web::{web, HttpResponse};
use profdiff_workers::jobs::engine::Status;
use profdiff_workers::profile::Profile;
use profdiff_workers::store::codec;
use serde_json::{json, Value};

use super::comparisons::load_comparison;
use super::owned_record;
use crate::web::error::{ApiError, ApiResult};
use crate::web::session::Session;
use crate::web::AppState;

fn graph_json(p: &Profile) -> Value {
    let mut index: HashMap<u32, usize> = HashMap::with_capacity(p.functions.len());
    let mut functions: Vec<Value> = Vec::with_capacity(p.functions.len());
    for (i, f) in p.functions.iter().enumerate() {
        index.insert(f.key, i);
        let (file, line, name) = p.key_parts(f.key);
        functions.push(json!([
            file, line, name, f.stats.cc, f.stats.nc, f.stats.tt, f.stats.ct
        ]));
    }
    let mut edges: Vec<Value> = Vec::with_capacity(p.edges.len());
    for (callee, f) in p.functions.iter().enumerate() {
        for e in p.callers(f) {
            let caller = match index.get(&e.caller) {
                Some(&c) => c,
                None => {
                    let (file, line, name) = p.key_parts(e.caller);
                    functions.push(json!([file, line, name, 0, 0, 0.0, 0.0]));
                    index.insert(e.caller, functions.len() - 1);
                    functions.len() - 1
                }
            };
            edges.push(json!([
                caller,
                callee,
                e.stats.nc,
                e.stats.cc,
                e.stats.tt(),
                e.stats.ct()
            ]));
        }
    }
    json!({
        "name": p.name,
        "producer": p.producer.label(),
        "total_calls": p.totals.total_calls,
        "primitive_calls": p.totals.primitive_calls,
        "total_time": p.totals.total_time,
        "functions": functions,
        "edges": edges,
    })
}

/// The graph of one ready profile (409 while it is not parsed).
#[utoipa::path(get, path = "/api/profiles/{id}/graph", tag = "profiles", params(("id" = String, Path, description = "Profile id")), responses((status = 200, description = "Call graph"), (status = 404, description = "No such profile", body = crate::web::error::ErrorBody)))]
pub async fn get(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let rec = owned_record(
        &state,
        "profile",
        &id,
        &state.store.keys().profile(&session.id, &id),
    )
    .await?;
    if rec.get("status").map(String::as_str) != Some("ready") {
        return Err(ApiError::Unprocessable(format!(
            "profile is {}, not ready",
            rec.get("status").map(String::as_str).unwrap_or("unknown")
        )));
    }
    let blob = state
        .store
        .get_profile_blob(&session.id, &id)
        .await?
        .ok_or(ApiError::NotFound("profile"))?;
    let mut doc = web::block(move || -> Result<Value, codec::CodecError> {
        let p: Profile = codec::decode_profile(&blob)?;
        Ok(graph_json(&p))
    })
    .await?
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    doc["id"] = json!(id.as_str());
    Ok(HttpResponse::Ok().json(doc))
}

/// `GET /api/comparisons/{id}/summary`: counts by status over all rows (the paged view
/// only counts the rows it returns), for the UI's summary cards and Δ slider.
#[utoipa::path(get, path = "/api/comparisons/{id}/summary", tag = "comparisons", params(("id" = String, Path, description = "Comparison id")), responses((status = 200, description = "Comparison summary"), (status = 202, description = "Not ready yet"), (status = 404, description = "No such comparison", body = crate::web::error::ErrorBody)))]
pub async fn comparison_summary(
    state: web::Data<AppState>,
    session: web::ReqData<Session>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let sid = &*session.id;
    let rec = owned_record(
        &state,
        "comparison",
        &id,
        &state.store.keys().comparison(sid, &id),
    )
    .await?;
    if rec.get("status").map(String::as_str) != Some("done") {
        return Err(ApiError::Unprocessable("comparison is not ready".into()));
    }
    let cmp = load_comparison(&state, sid, &id).await?;
    let (mut added, mut removed, mut changed, mut unchanged, mut max_abs) =
        (0u64, 0u64, 0u64, 0u64, 0f64);
    for r in &cmp.functions {
        match r.status {
            Status::Added => added += 1,
            Status::Removed => removed += 1,
            Status::Unchanged => unchanged += 1,
            Status::Changed => changed += 1,
        }
        let d = r.delta.tt.abs();
        if d.is_finite() && d > max_abs {
            max_abs = d;
        }
    }
    Ok(HttpResponse::Ok().json(json!({
        "rows": cmp.functions.len(),
        "added": added,
        "removed": removed,
        "changed": changed,
        "unchanged": unchanged,
        "max_abs_delta_tt": max_abs,
        "baseline": cmp.baseline,
        "candidate": cmp.candidate,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every edge of the expected document appears once, with pstats' numbers, and
    /// every index resolves.
    #[test]
    fn graph_matches_the_expected_profile_document() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let bytes = std::fs::read(root.join("textpipe_before.prof")).expect("fixture");
        let p = profdiff_workers::decode::decode(&bytes, "textpipe_before.prof").expect("decode");
        let g = graph_json(&p);
        let expected: Value = serde_json::from_slice(
            &std::fs::read(root.join("expected/textpipe_before.prof.single.expected.json"))
                .expect("expected"),
        )
        .expect("json");
        let funcs = g["functions"].as_array().expect("functions");
        let edges = g["edges"].as_array().expect("edges");
        let entries = expected["entries"].as_array().expect("entries");
        assert_eq!(funcs.len(), entries.len());
        let label = |f: &Value| format!("{}:{}({})", f[0], f[1], f[2]);
        let mut got: Vec<(String, String, i64, f64)> = edges
            .iter()
            .map(|e| {
                let from = &funcs[e[0].as_u64().expect("idx") as usize];
                let to = &funcs[e[1].as_u64().expect("idx") as usize];
                (
                    label(from),
                    label(to),
                    e[2].as_i64().expect("nc"),
                    e[5].as_f64().expect("ct"),
                )
            })
            .collect();
        let mut want: Vec<(String, String, i64, f64)> = entries
            .iter()
            .flat_map(|en| {
                let to = label(&json!([en["file"], en["line"], en["name"]]));
                en["callers"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .map(move |c| {
                        (
                            label(&json!([c["file"], c["line"], c["name"]])),
                            to.clone(),
                            c["nc"].as_i64().expect("nc"),
                            c["ct"].as_f64().expect("ct"),
                        )
                    })
            })
            .collect();
        got.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        want.sort_by(|a, b| a.partial_cmp(b).expect("finite"));
        assert!(!want.is_empty());
        assert_eq!(got, want);
    }
}
