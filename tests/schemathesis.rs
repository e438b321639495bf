//! Schemathesis, from PyPI, against the real service on MariaDB and the spec the service serves.
//! It generates requests from the spec, valid and invalid, and checks every answer: no 5xx, no
//! status, header or body the spec does not describe, valid bodies accepted, invalid ones
//! refused.

mod common;

use std::process::Command;

use common::{Service, TestDb};

/// Requests per operation and phase; enough to reach every event type and most rules.
const MAX_EXAMPLES: &str = "200";
/// Stored events that show the bodies were generated from the schema, not only the four
/// examples replayed.
const MIN_STORED_EVENTS: i64 = 20;
const ADMIN_TOKEN: &str = "schemathesis-admin-token";

#[tokio::test]
async fn schemathesis_finds_no_answer_the_spec_does_not_allow() {
    let schemathesis = std::env::var("SCHEMATHESIS").expect(
        "SCHEMATHESIS is not set: scripts/test installs Schemathesis in a virtual environment \
         and sets it to the program's path",
    );
    let db = TestDb::mysql().await;
    // With the admin endpoints on, so that their answers are checked too.
    let service = Service::start(&[
        ("DATABASE_URL", &db.url),
        ("APP_ENV", "development"),
        ("ADMIN_TOKEN", ADMIN_TOKEN),
    ]);
    let authorization = format!("Authorization: Bearer {ADMIN_TOKEN}");
    let spec = service.url("/openapi.json");
    let mut args = vec![
        "run",
        &spec,
        "--checks=all",
        "--max-examples",
        MAX_EXAMPLES,
        "--no-color",
        "--generation-database=none",
        "--header",
        &authorization,
    ];
    // Each run draws a new seed and prints it; SCHEMATHESIS_SEED repeats a run.
    let seed = std::env::var("SCHEMATHESIS_SEED").ok();
    if let Some(seed) = &seed {
        args.extend(["--seed", seed]);
    }
    let workdir = tempfile::tempdir().expect("a working directory");

    let output = Command::new(&schemathesis)
        .args(&args)
        .current_dir(workdir.path())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {schemathesis}: {err}"));

    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "Schemathesis found answers that break the spec:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stored = db.count("webhook_events").await;
    assert!(
        stored >= MIN_STORED_EVENTS,
        "only {stored} events were stored: Schemathesis did not generate bodies from the \
         schema\n{report}"
    );
}
