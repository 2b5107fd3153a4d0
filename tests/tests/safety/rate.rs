//! A trunk's calls per second hold across control-plane replicas: two control planes with
//! their engines on the wall clock share one database and dial one campaign through one
//! trunk; the Twilio emulator's arrival times of the dials are evenly spaced at the
//! trunk's rate, whichever replica placed each.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use control_plane::app::Application;
use control_plane::engine::SystemClock;
use outbound_tests::rig::free_port;
use outbound_tests::rig::voice::{VoiceOptions, VoiceRig};
use outbound_tests::twilio::CalleeScript;
use serde_json::json;
use sqlx::PgPool;

use crate::{any_hour, contact};

const CPS: f64 = 5.0;
const CONTACTS: u32 = 20;
/// What a dial may leave late after its slot (a commit and an HTTP request on a busy
/// machine), so the gap to the next one may look that much shorter.
const JITTER_MS: i64 = 60;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn two_replicas_dialing_through_one_trunk_keep_to_its_calls_per_second(db: PgPool) {
    let _slot = crate::voice_slot().await;
    let rig = VoiceRig::start(db.clone(), VoiceOptions::default())
        .await
        .unwrap();
    // The second replica: same settings and database, its own port and engine.
    let mut settings = rig.settings.clone();
    let port = free_port().unwrap();
    settings.server.port = port;
    settings.server.public_url = format!("http://127.0.0.1:{port}");
    let second = Application::build_with(settings, db, Arc::new(SystemClock))
        .await
        .unwrap();
    tokio::spawn(second.run_until_stopped(std::future::pending()));

    // Busy callees: each dial is one arrival at Twilio and ends at once.
    let phones: Vec<String> = (0..CONTACTS)
        .map(|i| format!("+1212300{:04}", 7300 + i))
        .collect();
    for phone in &phones {
        rig.twilio.register_callee(phone, CalleeScript::busy());
    }
    let campaign = rig
        .start_campaign_with(
            phones.iter().map(|p| contact(p)).collect(),
            crate::assistant(),
            any_hour(json!({"trunk": {"callsPerSecond": CPS}})),
        )
        .await
        .unwrap();
    rig.wait_for_campaign(&campaign, std::time::Duration::from_secs(60))
        .await
        .unwrap();

    let mut arrivals: Vec<DateTime<Utc>> =
        rig.twilio.calls().iter().map(|c| c.created_at).collect();
    arrivals.sort();
    assert_eq!(arrivals.len(), CONTACTS as usize);
    let interval_ms = (1000.0 / CPS) as i64;
    let gaps: Vec<i64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds())
        .collect();
    let shortest = *gaps.iter().min().unwrap();
    assert!(
        shortest >= interval_ms - JITTER_MS,
        "two dials {shortest} ms apart at {CPS} per second: {gaps:?}"
    );
    // Over the run, the rate is the trunk's: not above it, and not far below either.
    let span = (arrivals[arrivals.len() - 1] - arrivals[0]).num_milliseconds() as f64 / 1000.0;
    let rate = (arrivals.len() - 1) as f64 / span;
    assert!(
        (CPS * 0.8..=CPS * 1.05).contains(&rate),
        "{rate:.2} calls per second at a limit of {CPS}: {gaps:?}"
    );

    // Both replicas dialed, and the one that found no slot left said so.
    let owners: Vec<String> = sqlx::query_scalar(
        "select distinct split_part(detail, ' by ', 2) from attempt_decisions
         where decision = 'dialed'",
    )
    .fetch_all(&rig.db)
    .await
    .unwrap();
    assert_eq!(owners.len(), 2, "dials by {owners:?}");
}
