//! The control plane's public API as one organization sees it, for end-to-end tests.

use std::time::Duration;

use serde_json::{json, Value};

/// A client logged in as one organization.
#[derive(Debug, Clone)]
pub struct Api {
    pub base: String,
    pub client: reqwest::Client,
    /// A session token of the organization.
    pub token: String,
}

impl Api {
    /// Registers a new organization (retrying while the control plane starts).
    pub async fn register(base: &str, email: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let response = client
                .post(format!("{base}/api/v1/auth/register"))
                .json(
                    &json!({"email": email, "password": "rig-password", "organizationName": "Rig"}),
                )
                .send()
                .await;
            if let Ok(response) = response {
                let body = expect_ok(response).await?;
                let token = body["token"].as_str().unwrap_or_default().to_string();
                return Ok(Self {
                    base: base.to_string(),
                    client,
                    token,
                });
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        anyhow::bail!("the control plane at {base} never answered")
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        let response = self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await?;
        expect_ok(response).await
    }

    /// Any request; the status and the JSON body (null when empty), whatever the status.
    pub async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        };
        Ok((status, body))
    }

    pub async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await?;
        expect_ok(response).await
    }

    /// An assistant, a `twilio_stream` trunk, a list with `contacts` (`{phone, timezone?}`
    /// objects) and a campaign built from `campaign` (merged over sane defaults), started.
    pub async fn start_campaign(
        &self,
        contacts: Vec<Value>,
        campaign: Value,
    ) -> anyhow::Result<String> {
        let assistant = json!({"name": "Rig", "systemPrompt": "Talk to {{name}}.",
            "firstMessage": "Hi {{name}}, this is Rig, an automated assistant.", "voicemailMessage": "Please call us back.",
            "maxDurationSec": 30});
        self.start_campaign_with(contacts, assistant, campaign)
            .await
    }

    /// [`Self::start_campaign`] with this assistant definition. A `trunk` object in
    /// `campaign` is merged into the trunk instead.
    pub async fn start_campaign_with(
        &self,
        contacts: Vec<Value>,
        assistant: Value,
        mut campaign: Value,
    ) -> anyhow::Result<String> {
        let assistant = self.post("/api/v1/assistants", assistant).await?;
        let mut trunk = json!({"name": "Rig trunk", "provider": "twilio", "mode": "twilio_stream",
                               "numbers": ["+12125550100"], "callsPerSecond": 100});
        if let Some(over) = campaign.as_object_mut().and_then(|c| c.remove("trunk")) {
            merge(&mut trunk, over);
        }
        let trunk = self.post("/api/v1/trunks", trunk).await?;
        let list = self
            .post("/api/v1/contact-lists", json!({"name": "Rig list"}))
            .await?;
        let list_id = list["id"].as_str().unwrap_or_default().to_string();
        let imported = self
            .post(
                &format!("/api/v1/contact-lists/{list_id}/contacts"),
                json!({"contacts": contacts}),
            )
            .await?;
        anyhow::ensure!(imported["rejected"] == 0, "contacts rejected: {imported}");
        let mut body = json!({
            "name": "Rig campaign",
            "assistantId": assistant["id"],
            "contactListId": list_id,
            "trunkId": trunk["id"],
            "schedule": {"timezone": "America/New_York",
                         "callingDays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                         "startHour": 8, "endHour": 21},
            "maxConcurrentCalls": 50,
            "maxAttempts": 3,
            "retry": {"busy": 1, "noAnswer": 1, "failed": 1, "voicemail": 1},
        });
        merge(&mut body, campaign);
        let created = self.post("/api/v1/campaigns", body).await?;
        let id = created["id"].as_str().unwrap_or_default().to_string();
        self.post(&format!("/api/v1/campaigns/{id}/start"), json!({}))
            .await?;
        Ok(id)
    }

    /// The campaign's status string.
    pub async fn campaign_status(&self, id: &str) -> anyhow::Result<String> {
        let status = self.get(&format!("/api/v1/campaigns/{id}/status")).await?;
        Ok(status["status"].as_str().unwrap_or_default().to_string())
    }

    /// All attempts of a campaign.
    pub async fn attempts(&self, id: &str) -> anyhow::Result<Vec<Value>> {
        let page = self
            .get(&format!("/api/v1/campaigns/{id}/attempts?perPage=500"))
            .await?;
        Ok(page["data"].as_array().cloned().unwrap_or_default())
    }
}

async fn expect_ok(response: reqwest::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "HTTP {status}: {body}");
    Ok(body)
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(base), Value::Object(over)) => {
            for (key, value) in over {
                merge(base.entry(key).or_insert(Value::Null), value);
            }
        }
        (slot, value) => *slot = value,
    }
}
