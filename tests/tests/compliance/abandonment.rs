//! A campaign whose answered calls hear no agent within 2 s pauses itself once its
//! abandonment rate is over the threshold; its stats show the rate. The stand-in worker
//! reports the answer-to-first-audio delay the real worker measures.

use chrono::{Duration, Weekday};
use futures::FutureExt;
use outbound_tests::rig::Rig;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::late_november;

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaign_whose_callees_wait_for_the_agent_pauses_itself_with_the_rate(db: PgPool) {
    // Tuesday 15:00 UTC: 10:00 in New York.
    let rig = Rig::start(db, late_november(22, Weekday::Tue, 15, 0))
        .await
        .unwrap();
    // The agent is first heard 2.5 s after each answer: every answered call is abandoned.
    rig.worker.report_first_audio_ms(Some(2_500));
    let contacts: Vec<Value> = (0..40)
        .map(|i| json!({"phone": format!("+1212200{i:04}"), "timezone": "America/New_York"}))
        .collect();
    let campaign = rig
        .start_campaign(contacts, json!({"maxConcurrentCalls": 10}))
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::seconds(5), 400, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "paused") }.boxed()
    })
    .await
    .unwrap();

    let status = rig
        .get(&format!("/api/v1/campaigns/{campaign}/status"))
        .await
        .unwrap();
    let reason = status["statusReason"].as_str().unwrap();
    assert!(reason.contains("abandonment rate 100.0%"), "{reason}");
    assert!(reason.contains("3% threshold"), "{reason}");
    let stats = rig
        .get(&format!("/api/v1/campaigns/{campaign}/stats"))
        .await
        .unwrap();
    let abandonment = &stats["abandonment"];
    assert!(
        abandonment["answered"].as_i64().unwrap() >= 20,
        "{abandonment}"
    );
    assert_eq!(abandonment["abandoned"], abandonment["answered"]);
    assert_eq!(abandonment["ratePct"], 100.0);
    // Not every contact was dialed: the pause stopped the rest, and said why.
    let dialed = rig.twilio.calls().len();
    assert!(
        dialed < 40,
        "all {dialed} contacts dialed despite the pause"
    );
    let attempts = rig.attempts(&campaign).await.unwrap();
    assert!(attempts.iter().any(|a| a["decisions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["decision"] == "deferred_abandonment")));
}

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_campaign_whose_agent_speaks_at_once_is_not_paused(db: PgPool) {
    let rig = Rig::start(db, late_november(22, Weekday::Tue, 15, 0))
        .await
        .unwrap();
    rig.worker.report_first_audio_ms(Some(400));
    let contacts: Vec<Value> = (0..24)
        .map(|i| json!({"phone": format!("+1212200{i:04}"), "timezone": "America/New_York"}))
        .collect();
    let campaign = rig
        .start_campaign(contacts, json!({"maxConcurrentCalls": 10}))
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::seconds(5), 400, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();
    let stats = rig
        .get(&format!("/api/v1/campaigns/{campaign}/stats"))
        .await
        .unwrap();
    assert_eq!(stats["abandonment"]["abandoned"], 0, "{stats}");
    assert_eq!(stats["abandonment"]["answered"], 24, "{stats}");
}
