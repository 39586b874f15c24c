//! Janitor: an expired session's files and keys are gone after one run; a live
//! session's are untouched.

use profdiff_workers::janitor;
use profdiff_workers::keyspace::Keyspace;
use profdiff_workers::store::Store;
use reqwest::StatusCode;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn janitor_removes_dead_sessions_only() {
    let env = TestEnv::new();
    let srv = env.start("serve", &[]);
    let live = user("live");
    let dead = user("dead");
    for c in [&live, &dead] {
        let (st, _) = upload(c, &srv, &[("a.prof", fixture("textpipe_before.prof"))]).await;
        assert_eq!(st, StatusCode::ACCEPTED);
        wait_parsed(c, &srv, 1).await;
    }
    let sid_of = |c: &reqwest::Client| {
        let c = c.clone();
        let url = srv.url("/api/session-info");
        async move {
            get_json(&c, &url).await.1["session_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let (live_prefix, dead_prefix) = (sid_of(&live).await, sid_of(&dead).await);
    let keys = Keyspace::new(env.prefix.clone());
    let full = |prefix: &str| {
        std::fs::read_dir(env.data_dir().join("uploads"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .find(|n| n.starts_with(prefix))
            .unwrap()
    };
    let (live_sid, dead_sid) = (full(&live_prefix), full(&dead_prefix));
    // The dead session's sliding record expires (as its TTL would make it).
    let mut r = env.redis();
    let _: () = redis::cmd("DEL")
        .arg(keys.session_meta(&dead_sid))
        .query(&mut r)
        .unwrap();
    let count = |sid: &str| env.keys().iter().filter(|k| k.contains(sid)).count();
    assert!(count(&dead_sid) > 0);
    let live_before = count(&live_sid);

    // A batch of the dead session held compare slots; they are freed with it.
    let field = format!("{dead_sid}:{}", "0".repeat(32));
    let _: () = redis::Commands::hset(&mut r, keys.queue_reserved(), &field, 2).unwrap();

    let client = redis::Client::open(env.redis_url.as_str()).unwrap();
    let store = Store::new(client.get_connection_manager().await.unwrap(), keys.clone());
    let q = [keys.parse_queue(), keys.compare_queue()];
    let report = janitor::run_once(&store, env.data_dir(), &[q[0].as_str(), q[1].as_str()])
        .await
        .unwrap();
    assert!(report.ran);
    assert!(
        report.sessions_removed >= 1 && report.dirs_removed == 1,
        "{report:?}"
    );
    assert_eq!(count(&dead_sid), 0, "dead session keys left");
    let held: bool = redis::Commands::hexists(&mut r, keys.queue_reserved(), &field).unwrap();
    assert!(!held, "reserved slots of a dead session's batch left");
    assert!(!env.data_dir().join("uploads").join(&dead_sid).exists());
    assert_eq!(count(&live_sid), live_before, "live session touched");
    assert!(env.data_dir().join("uploads").join(&live_sid).exists());
    // Idempotent: a second run finds nothing more.
    let again = janitor::run_once(&store, env.data_dir(), &[q[0].as_str(), q[1].as_str()])
        .await
        .unwrap();
    assert_eq!((again.keys_removed, again.dirs_removed), (0, 0));
    // The live session still works, and session-info shows the janitor's last run.
    let (st, v) = get_json(&live, &srv.url("/api/session-info")).await;
    assert_eq!(st, StatusCode::OK);
    assert_eq!(v["profiles"], 1);
    assert!(v["janitor"]["at"].as_i64().is_some_and(|t| t > 0), "{v}");
}
