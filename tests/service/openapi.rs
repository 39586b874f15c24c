//! The OpenAPI document lists every registered route, and every listed route is routed.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::common::*;
use crate::public::assert_security_headers;

#[path = "../../src/web/route_table.rs"]
mod route_table;

const TOKEN: &str = "openapi-test-token";

/// A concrete path for a templated one (`{id}` etc. become a word that names nothing).
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            if seg.starts_with('{') {
                "nosuchthing"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_route_is_documented_and_routed() {
    let env = TestEnv::new();
    let srv = env.start("web", &[("PROFDIFF_ADMIN_TOKEN", TOKEN)]);

    // Public: a client with no session cookie gets the document.
    let res = reqwest::Client::new()
        .get(srv.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_security_headers("/api/openapi.json", res.headers());
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap_or("").starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().expect("paths");

    // Each (method, path) of the table is in the document, with at least one response.
    for (method, path) in route_table::ROUTES {
        let op = &paths
            .get(*path)
            .unwrap_or_else(|| panic!("{path} missing from the document"))
            [method.to_ascii_lowercase()];
        assert!(
            op["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}: not documented"
        );
    }
    // And the document holds nothing the table does not (so it cannot drift either way).
    let documented: usize = paths
        .values()
        .map(|p| p.as_object().map_or(0, |o| o.len()))
        .sum();
    assert_eq!(documented, route_table::ROUTES.len());

    // Every error answer is documented with the one error body the service sends.
    let schemas = &doc["components"]["schemas"];
    assert!(schemas["ErrorBody"].is_object(), "{schemas}");
    assert!(schemas["CompareBody"]["required"]
        .as_array()
        .is_some_and(|r| r.len() == 2));
    // These three answer with something else on purpose: health's own degraded body, a
    // failed batch's state, a missing asset as plain text.
    let other_body = [
        ("get", "/api/health", "503"),
        ("get", "/api/batches/{id}", "422"),
        ("get", "/assets/{name}", "404"),
    ];
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            for (status, r) in op["responses"].as_object().unwrap() {
                if !(status.starts_with('4') || status.starts_with('5')) {
                    continue;
                }
                let refers = r["content"]["application/json"]["schema"]["$ref"]
                    == "#/components/schemas/ErrorBody";
                let expected =
                    !other_body.contains(&(method.as_str(), path.as_str(), status.as_str()));
                assert_eq!(refers, expected, "{method} {path} {status}: {r}");
            }
        }
    }
    assert!(
        schemas["Health"]["properties"]["redis"].is_object(),
        "{schemas}"
    );
    assert!(
        schemas["Degraded"]["properties"]["redis"].is_object(),
        "{schemas}"
    );

    // Query parameters the handlers read are documented, with their descriptions.
    for (path, want) in [
        (
            "/api/comparisons/{id}",
            &[
                "format",
                "sort",
                "order",
                "limit",
                "offset",
                "q",
                "hide_builtins",
                "hide_stdlib",
                "min_delta",
                "normalize",
                "status",
            ][..],
        ),
        ("/api/profiles/{id}", &["limit", "function"][..]),
        ("/api/batches/{id}", &["limit", "function"][..]),
    ] {
        let params = paths[path]["get"]["parameters"].as_array().unwrap();
        let query: Vec<&str> = params
            .iter()
            .filter(|p| p["in"] == "query")
            .inspect(|p| {
                assert!(
                    p["description"].as_str().is_some_and(|d| d.len() > 10),
                    "{path}: {p}"
                )
            })
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(query, want, "{path}");
    }

    // Each table entry is routed: not 405, and not the catch-all 404 "route not found".
    let c = user("openapi-test");
    c.get(srv.url("/api/session-info")).send().await.unwrap();
    for (method, path) in route_table::ROUTES {
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        let res = c
            .request(m, srv.url(&concrete(path)))
            .header("X-Admin-Token", TOKEN)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap_or_default();
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert!(
            !(status == StatusCode::NOT_FOUND && body.contains("route not found")),
            "{method} {path}: not routed ({body})"
        );
    }
    // The check above can fail: an unregistered path gives the catch-all answer.
    let res = c.get(srv.url("/api/no-such-route")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.text().await.unwrap().contains("route not found"));
}

/// The property names a schema documents (following one `$ref`).
fn schema_keys(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = match schema["$ref"].as_str() {
        Some(r) => &doc["components"]["schemas"][r.trim_start_matches("#/components/schemas/")],
        None => schema,
    };
    let mut keys: Vec<String> = schema["properties"]
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

fn keys_of(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    keys
}

/// Typed answers: what the service sends has exactly the fields the document gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn typed_answers_match_their_schemas() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let doc: Value = reqwest::get(srv.url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let body = |path: &str, method: &str, status: &str| {
        doc["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
            .clone()
    };
    let c = user("openapi-typed");
    let (st, up) = upload(
        &c,
        &srv,
        &[
            ("a.prof", fixture("recursion_before.prof")),
            ("b.prof", fixture("recursion_after.prof")),
        ],
    )
    .await;
    assert_eq!(st, StatusCode::ACCEPTED);
    let schema = body("/api/upload", "post", "202");
    assert_eq!(keys_of(&up), schema_keys(&doc, &schema));
    let item = &doc["components"]["schemas"]["Uploaded"];
    assert_eq!(keys_of(&up["profiles"][0]), schema_keys(&doc, item));

    let ids: Vec<String> = wait_parsed(&c, &srv, 2)
        .await
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let res = c
        .post(srv.url("/api/compare"))
        .json(&serde_json::json!({"baseline": ids[0], "candidate": ids[1]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let accepted: Value = res.json().await.unwrap();
    assert_eq!(
        keys_of(&accepted),
        schema_keys(&doc, &body("/api/compare", "post", "202"))
    );

    let job = up["profiles"][0]["job_id"].as_str().unwrap();
    let (st, j) = get_json(&c, &srv.url(&format!("/api/jobs/{job}"))).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        keys_of(&j),
        schema_keys(&doc, &body("/api/jobs/{id}", "get", "200"))
    );

    let (_, list) = get_json(&c, &srv.url("/api/profiles")).await;
    assert_eq!(
        keys_of(&list),
        schema_keys(&doc, &body("/api/profiles", "get", "200"))
    );
    let info = &doc["components"]["schemas"]["ProfileInfo"];
    for p in list["profiles"].as_array().unwrap() {
        assert_eq!(keys_of(p), schema_keys(&doc, info));
        assert!(p["functions"].as_u64().is_some_and(|n| n > 0), "{p}");
    }
    let (_, si) = get_json(&c, &srv.url("/api/session-info")).await;
    assert_eq!(
        keys_of(&si),
        schema_keys(&doc, &body("/api/session-info", "get", "200"))
    );

    let (st, h) = get_json(&c, &srv.url("/api/health")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(
        keys_of(&h),
        schema_keys(&doc, &body("/api/health", "get", "200"))
    );

    let (st, e) = get_json(&c, &srv.url("/api/jobs/00000000000000000000000000000000")).await;
    assert_eq!(st, StatusCode::NOT_FOUND);
    assert_eq!(keys_of(&e), ["error"]);
    assert_eq!(
        keys_of(&e["error"]),
        schema_keys(&doc, &doc["components"]["schemas"]["ErrorDetail"])
    );
}
