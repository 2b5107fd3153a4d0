//! A telemarketing campaign dials only contacts with written consent; every other contact
//! is skipped with a recorded decision, which the contact's history shows.

use chrono::{Duration, Weekday};
use futures::FutureExt;
use outbound_tests::rig::Rig;
use serde_json::json;
use sqlx::PgPool;

use crate::{contacts_by_phone, decisions_for, late_november};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn a_telemarketing_campaign_dials_only_contacts_with_written_consent(db: PgPool) {
    // Tuesday 15:00 UTC: 10:00 in New York.
    let rig = Rig::start(db, late_november(22, Weekday::Tue, 15, 0))
        .await
        .unwrap();
    let (written, express, unknown) = ("+12122000001", "+12122000002", "+12122000003");
    let zone = "America/New_York";
    let campaign = rig
        .start_campaign(
            vec![
                json!({"phone": written, "timezone": zone,
                       "consent": {"kind": "written", "source": "signed form 12",
                                   "at": "2026-01-05T10:00:00Z"}}),
                json!({"phone": express, "timezone": zone, "consent": {"kind": "express"}}),
                json!({"phone": unknown, "timezone": zone}),
            ],
            json!({"telemarketing": true}),
        )
        .await
        .unwrap();
    let id = campaign.clone();
    rig.drive(Duration::minutes(1), 200, move |rig| {
        let id = id.clone();
        async move { Ok(rig.campaign_status(&id).await? == "completed") }.boxed()
    })
    .await
    .unwrap();

    let dialed: Vec<String> = rig.twilio.calls().into_iter().map(|c| c.to).collect();
    assert_eq!(
        dialed,
        vec![written.to_string()],
        "only written consent is dialed"
    );
    for phone in [express, unknown] {
        let decisions = decisions_for(&rig, &campaign, phone).await;
        let skip = decisions
            .iter()
            .find(|d| d["decision"] == "skipped_no_consent")
            .unwrap_or_else(|| panic!("{phone}: no refusal recorded in {decisions:?}"));
        assert!(skip["detail"].as_str().unwrap().contains("written consent"));
    }
    // The refusal is in the contact's history, and in its CSV export.
    let contacts = contacts_by_phone(&rig, &campaign).await;
    let contact = contacts.iter().find(|c| c["phone"] == express).unwrap();
    let id = contact["id"].as_str().unwrap();
    let history = rig
        .get(&format!("/api/v1/contacts/{id}/history"))
        .await
        .unwrap();
    assert_eq!(
        history["data"][0]["decision"], "skipped_no_consent",
        "{history}"
    );
    assert_eq!(history["data"][0]["campaignId"], campaign.as_str());
    let csv = rig
        .client
        .get(format!(
            "{}/api/v1/contacts/{id}/history?format=csv",
            rig.base
        ))
        .bearer_auth(&rig.token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(lines[1].contains("\"skipped_no_consent\""), "{csv}");
}
