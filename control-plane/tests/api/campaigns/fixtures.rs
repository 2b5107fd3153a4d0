//! Organizations, contact lists (written with SQL: the contacts API is another module's)
//! and draft campaigns for the resource tests.

use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{id_of, TestApp};
use crate::trunks::create_trunk;

/// A registered organization: its session token and id.
pub struct Org {
    pub token: String,
    pub id: Uuid,
}

pub async fn org(app: &TestApp, name: &str) -> Org {
    let body = app.register_full(name).await;
    Org {
        token: body["token"].as_str().unwrap().to_string(),
        id: body["organization"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap(),
    }
}

/// A contact list with `contacts` contacts, written with SQL (the contacts API is
/// another module's).
pub async fn contact_list(app: &TestApp, org_id: Uuid, contacts: usize) -> Uuid {
    let list_id = Uuid::now_v7();
    sqlx::query!(
        "insert into contact_lists (id, org_id, name) values ($1, $2, 'Leads')",
        list_id,
        org_id
    )
    .execute(&app.db)
    .await
    .unwrap();
    add_contacts(app, org_id, list_id, contacts).await;
    list_id
}

/// Adds `n` contacts with fresh numbers; their ids.
pub async fn add_contacts(app: &TestApp, org_id: Uuid, list_id: Uuid, n: usize) -> Vec<Uuid> {
    let existing = sqlx::query_scalar!(
        r#"select count(*) as "n!" from contacts where list_id = $1"#,
        list_id
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        sqlx::query!(
            "insert into contacts (id, org_id, list_id, phone, name) values ($1, $2, $3, $4, 'Ada')",
            id,
            org_id,
            list_id,
            format!("+1415555{:04}", existing as usize + i)
        )
        .execute(&app.db)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

pub fn campaign_body(assistant_id: &str, list_id: Uuid, trunk_id: &str) -> Value {
    json!({
        "name": "Spring renewals",
        "assistantId": assistant_id, "contactListId": list_id, "trunkId": trunk_id,
        "schedule": {"timezone": "America/New_York", "callingDays": ["fri", "mon", "wed"],
                     "startHour": 9, "endHour": 18}
    })
}

/// A draft campaign and what it refers to.
pub struct Campaign {
    pub id: String,
    pub list_id: Uuid,
    pub trunk_id: String,
    pub assistant_id: String,
}

impl Campaign {
    pub fn path(&self, tail: &str) -> String {
        format!("/api/v1/campaigns/{}{tail}", self.id)
    }

    pub fn uuid(&self) -> Uuid {
        self.id.parse().unwrap()
    }
}

/// Creates a draft campaign over a new list of `contacts` contacts.
pub async fn create_campaign(app: &TestApp, org: &Org, contacts: usize) -> Campaign {
    let assistant_id = app.create_assistant(&org.token).await;
    let trunk_id = create_trunk(app, &org.token).await;
    let list_id = contact_list(app, org.id, contacts).await;
    let body = campaign_body(&assistant_id, list_id, &trunk_id);
    let response = app.post("/api/v1/campaigns", &org.token, &body).await;
    assert_eq!(response.status(), 201);
    Campaign {
        id: id_of(response).await,
        list_id,
        trunk_id,
        assistant_id,
    }
}
