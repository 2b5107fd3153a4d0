//! Several control-plane replicas run the engine on one database: no contact is dialed
//! twice.

use chrono::Duration;
use outbound_tests::rig::Rig;
use serde_json::json;
use sqlx::PgPool;

use crate::{contact, number, tuesday_morning_new_york};

#[sqlx::test(migrator = "control_plane::app::MIGRATOR")]
async fn two_engines_on_one_database_never_dial_a_contact_twice(db: PgPool) {
    let rig = Rig::start(db, tuesday_morning_new_york()).await.unwrap();
    let count = 40;
    let campaign = rig
        .start_campaign((0..count).map(contact).collect(), json!({"maxAttempts": 1}))
        .await
        .unwrap();
    let first = rig.engine.clone();
    let second = rig.another_engine().unwrap();
    for _ in 0..200 {
        let (a, b) = tokio::join!(first.tick(), second.tick());
        a.unwrap();
        b.unwrap();
        let (a, b) = tokio::join!(first.maintain(), second.maintain());
        a.unwrap();
        b.unwrap();
        if rig.campaign_status(&campaign).await.unwrap() == "completed" {
            break;
        }
        rig.clock.advance(Duration::seconds(1));
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(rig.campaign_status(&campaign).await.unwrap(), "completed");
    for i in 0..count {
        assert_eq!(
            rig.twilio.dial_count(&number(i)),
            1,
            "dials to {}",
            number(i)
        );
    }
    // Both replicas did real work: the test is not one engine with an idle twin.
    let owners: Vec<String> = sqlx::query_scalar(
        "select distinct split_part(detail, ' by ', 2) from attempt_decisions where decision = 'dialed'",
    )
    .fetch_all(&rig.db)
    .await
    .unwrap();
    assert_eq!(owners.len(), 2, "dials by {owners:?}");
}
