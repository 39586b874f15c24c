//! The browser UI: static files compiled into the binary (no build step, no files to
//! deploy), served at `/` and `/assets/*` with a strict Content-Security-Policy and
//! ETag revalidation. File names carry no content hash, so browsers revalidate
//! (`no-cache`) and get a 304 when nothing changed.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// No inline script or style, nothing from elsewhere, no framing.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self'; connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; \
frame-ancestors 'none'";

/// (path under /assets/, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../assets/index.html"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/api.js"),
    ),
    (
        "util.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/util.js"),
    ),
    (
        "batch.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/batch.js"),
    ),
    (
        "flame.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/flame.js"),
    ),
    (
        "icon.svg",
        "image/svg+xml",
        include_bytes!("../assets/icon.svg"),
    ),
];

fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        FILES
            .iter()
            .map(|(_, _, body)| format!("\"{}\"", hex::encode(&Sha256::digest(body)[..12])))
            .collect()
    })
}

fn serve(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return HttpResponse::NotFound()
            .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
            .content_type("text/plain; charset=utf-8")
            .body("not found");
    };
    let (_, ctype, body) = FILES[i];
    let etag = etags().get(i).cloned().unwrap_or_default();
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    let res = res
        .insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(("cross-origin-opener-policy", "same-origin"));
    if fresh {
        res.finish()
    } else {
        res.content_type(ctype).body(body)
    }
}

/// `GET /`: the single page.
#[utoipa::path(get, path = "/", tag = "ui", responses((status = 200, description = "The single-page UI"), (status = 304, description = "Not modified")))]
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

/// `GET /assets/{name}`.
#[utoipa::path(get, path = "/assets/{name}", tag = "ui", params(("name" = String, Path, description = "Asset file name")),responses((status = 200, description = "Asset"), (status = 304, description = "Not modified"), (status = 404, description = "No such asset (plain text)", content_type = "text/plain")))]
pub async fn asset(req: HttpRequest, name: web::Path<String>) -> HttpResponse {
    serve(&req, &name)
}

/// `GET /favicon.ico`: browsers ask for it whatever the page says.
#[utoipa::path(get, path = "/favicon.ico", tag = "ui", responses((status = 200, description = "Icon"), (status = 304, description = "Not modified")))]
pub async fn favicon(req: HttpRequest) -> HttpResponse {
    serve(&req, "icon.svg")
}

/// Registers the UI routes (outside `/api`, no session needed).
pub fn configure(app: &mut web::ServiceConfig) {
    app.route("/", web::get().to(index))
        .route("/favicon.ico", web::get().to(favicon))
        .route("/assets/{name}", web::get().to(asset));
}
