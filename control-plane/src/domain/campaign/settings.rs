//! A campaign's settings as the API takes and shows them: caps, pacing, retry policy, AMD
//! and voicemail policy, budget, prompt override and variables (the schedule is in
//! [`super::schedule`]).
//!
//! [`CampaignInput::into_settings`] checks everything; the caller first looks up the
//! assistant, list and trunk (records in the validator those that don't exist) and hands
//! in the trunk's mode, which the campaign's must equal.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::schedule::{check_schedule, Schedule};
use crate::domain::trunk::TrunkMode;
use crate::error::{ApiError, Validator};

/// What an API client sends to create or replace a campaign.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CampaignInput {
    pub name: String,
    pub assistant_id: Uuid,
    pub contact_list_id: Uuid,
    pub trunk_id: Uuid,
    /// `livekit_sip` or `twilio_stream`; defaults to the trunk's mode and must equal it.
    #[schema(value_type = Option<TrunkMode>)]
    pub mode: Option<String>,
    pub schedule: Schedule,
    /// Dial outside the legal calling hours too (default false).
    pub allow_outside_legal_hours: Option<bool>,
    /// Most calls to start per day, above 0.
    pub daily_cap: Option<i32>,
    /// 1 to 1000 (default 5).
    pub max_concurrent_calls: Option<i32>,
    /// Most calls to start per minute, above 0.
    pub calls_per_minute: Option<i32>,
    /// Dial attempts per contact, 1 to 20 (default 3).
    pub max_attempts: Option<i32>,
    pub retry: Option<RetryInput>,
    pub amd: Option<AmdInput>,
    pub voicemail: Option<Voicemail>,
    pub budget: Option<Budget>,
    /// Replaces the assistant's prompt for this campaign; `{{placeholders}}` allowed.
    pub campaign_prompt: Option<String>,
    /// Values for the prompt's placeholders, shared by every call; strings only.
    #[schema(value_type = Option<Object>)]
    pub variables: Option<Map<String, Value>>,
    /// Telemarketing (selling): dial only contacts with written consent (default false).
    pub telemarketing: Option<bool>,
    /// Pause the campaign when more than this percentage of answered calls hear no agent
    /// within 2 s (last 30 days); 0 to 100, default 3.
    pub abandonment_threshold_pct: Option<f64>,
}

/// Minutes to wait before dialing again after each kind of failed attempt.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RetryInput {
    /// Default 30.
    pub busy: Option<i32>,
    /// Default 60.
    pub no_answer: Option<i32>,
    /// Default 120.
    pub failed: Option<i32>,
    /// Default 240.
    pub voicemail: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AmdInput {
    /// Detect answering machines (default false).
    pub enabled: Option<bool>,
    /// 2 to 60 seconds (default 30).
    pub timeout_sec: Option<i32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Voicemail {
    /// `hangup` (default) or `leave_message` (the assistant's voicemail message).
    pub action: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    /// Longest a single call may cost, in cents; above 0.
    pub per_call_cents: Option<i32>,
    /// Most the campaign may spend per calendar month, in cents; above 0.
    pub monthly_cents: Option<i32>,
}

/// The retry policy with defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Retry {
    pub busy: i32,
    pub no_answer: i32,
    pub failed: i32,
    pub voicemail: i32,
}

/// The AMD policy with defaults applied.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Amd {
    pub enabled: bool,
    pub timeout_sec: i32,
}

/// A validated campaign, ready to store once its references are checked.
#[derive(Debug, Clone)]
pub struct CampaignSettings {
    pub name: String,
    pub assistant_id: Uuid,
    pub contact_list_id: Uuid,
    pub trunk_id: Uuid,
    pub mode: TrunkMode,
    pub schedule: Schedule,
    pub allow_outside_legal_hours: bool,
    pub daily_cap: Option<i32>,
    pub max_concurrent_calls: i32,
    pub calls_per_minute: Option<i32>,
    pub max_attempts: i32,
    pub retry: Retry,
    pub amd: Amd,
    pub voicemail: Voicemail,
    pub budget: Budget,
    pub campaign_prompt: Option<String>,
    pub variables: Map<String, Value>,
    pub telemarketing: bool,
    pub abandonment_threshold_pct: f64,
}

impl CampaignInput {
    /// Checks every field at once, adding to the failures already in `v`, and fills in
    /// defaults. `trunk_mode` is the mode of the trunk named (`None` if there is none).
    pub fn into_settings(
        self,
        mut v: Validator,
        trunk_mode: Option<TrunkMode>,
    ) -> Result<CampaignSettings, ApiError> {
        let name = self.name.trim().to_string();
        v.check(!name.is_empty(), "name", "must not be empty")
            .check(name.len() <= 200, "name", "must be at most 200 characters");
        let mode = match (self.mode.as_deref(), trunk_mode) {
            (Some(raw), trunk_mode) => match TrunkMode::from_str(raw) {
                Ok(mode) => {
                    if let Some(trunk_mode) = trunk_mode.filter(|t| *t != mode) {
                        v.push(
                            "mode",
                            format!("must equal the trunk's mode ({trunk_mode})"),
                        );
                    }
                    mode
                }
                Err(_) => {
                    v.push("mode", "must be livekit_sip or twilio_stream");
                    TrunkMode::LivekitSip
                }
            },
            (None, Some(trunk_mode)) => trunk_mode,
            // No such trunk: already recorded by the caller, so the mode no longer matters.
            (None, None) => TrunkMode::LivekitSip,
        };
        let schedule = check_schedule(self.schedule, &mut v);

        let positive = |v: &mut Validator, value: Option<i32>, field: &str| {
            v.check(value.is_none_or(|n| n > 0), field, "must be above 0");
        };
        positive(&mut v, self.daily_cap, "dailyCap");
        positive(&mut v, self.calls_per_minute, "callsPerMinute");
        let max_concurrent_calls = self.max_concurrent_calls.unwrap_or(5);
        v.check(
            (1..=1000).contains(&max_concurrent_calls),
            "maxConcurrentCalls",
            "must be between 1 and 1000",
        );
        let max_attempts = self.max_attempts.unwrap_or(3);
        v.check(
            (1..=20).contains(&max_attempts),
            "maxAttempts",
            "must be between 1 and 20",
        );

        let retry_in = self.retry.unwrap_or_default();
        let retry = Retry {
            busy: retry_in.busy.unwrap_or(30),
            no_answer: retry_in.no_answer.unwrap_or(60),
            failed: retry_in.failed.unwrap_or(120),
            voicemail: retry_in.voicemail.unwrap_or(240),
        };
        for (field, minutes) in [
            ("retry.busy", retry.busy),
            ("retry.noAnswer", retry.no_answer),
            ("retry.failed", retry.failed),
            ("retry.voicemail", retry.voicemail),
        ] {
            v.check(minutes >= 0, field, "must be 0 or more minutes");
        }

        let amd_in = self.amd.unwrap_or_default();
        let amd = Amd {
            enabled: amd_in.enabled.unwrap_or(false),
            timeout_sec: amd_in.timeout_sec.unwrap_or(30),
        };
        v.check(
            (2..=60).contains(&amd.timeout_sec),
            "amd.timeoutSec",
            "must be between 2 and 60",
        );
        let voicemail = self.voicemail.unwrap_or(Voicemail {
            action: "hangup".into(),
        });
        v.check(
            matches!(voicemail.action.as_str(), "hangup" | "leave_message"),
            "voicemail.action",
            "must be hangup or leave_message",
        );
        let budget = self.budget.unwrap_or_default();
        positive(&mut v, budget.per_call_cents, "budget.perCallCents");
        positive(&mut v, budget.monthly_cents, "budget.monthlyCents");

        let campaign_prompt = self.campaign_prompt.filter(|p| !p.trim().is_empty());
        if let Some(prompt) = &campaign_prompt {
            if let Err(err) = shared::template::placeholders(prompt) {
                v.push("campaignPrompt", err.to_string());
            }
        }
        let variables = self.variables.unwrap_or_default();
        for (key, value) in &variables {
            let field = format!("variables.{key}");
            let name_ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
            v.check(name_ok, &field, "names may use letters, digits, _ . - only")
                .check(value.is_string(), &field, "must be a string");
        }

        let abandonment_threshold_pct = self.abandonment_threshold_pct.unwrap_or(3.0);
        v.check(
            (0.0..=100.0).contains(&abandonment_threshold_pct),
            "abandonmentThresholdPct",
            "must be between 0 and 100",
        );

        let settings = CampaignSettings {
            name,
            assistant_id: self.assistant_id,
            contact_list_id: self.contact_list_id,
            trunk_id: self.trunk_id,
            mode,
            schedule,
            allow_outside_legal_hours: self.allow_outside_legal_hours.unwrap_or(false),
            daily_cap: self.daily_cap,
            max_concurrent_calls,
            calls_per_minute: self.calls_per_minute,
            max_attempts,
            retry,
            amd,
            voicemail,
            budget,
            campaign_prompt,
            variables,
            telemarketing: self.telemarketing.unwrap_or(false),
            abandonment_threshold_pct,
        };
        v.finish()?;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(body: Value) -> Result<CampaignSettings, Vec<String>> {
        let input: CampaignInput = serde_json::from_value(body).unwrap();
        match input.into_settings(Validator::new(), Some(TrunkMode::LivekitSip)) {
            Ok(settings) => Ok(settings),
            Err(ApiError::Validation(fields)) => Err(fields.into_iter().map(|f| f.field).collect()),
            Err(other) => panic!("unexpected {other:?}"),
        }
    }

    fn minimal() -> Value {
        json!({
            "name": "Spring",
            "assistantId": Uuid::nil(), "contactListId": Uuid::nil(), "trunkId": Uuid::nil(),
            "schedule": {"timezone": "Europe/Paris", "callingDays": ["fri", "mon"],
                         "startHour": 9, "endHour": 17}
        })
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = parse(minimal()).unwrap();
        assert_eq!(s.max_concurrent_calls, 5);
        assert_eq!(s.max_attempts, 3);
        assert_eq!(
            s.retry,
            Retry {
                busy: 30,
                no_answer: 60,
                failed: 120,
                voicemail: 240
            }
        );
        assert_eq!(
            s.amd,
            Amd {
                enabled: false,
                timeout_sec: 30
            }
        );
        assert_eq!(s.voicemail.action, "hangup");
        assert!(!s.allow_outside_legal_hours);
        assert_eq!(s.mode, TrunkMode::LivekitSip, "the trunk's mode by default");
        // Days come back in week order whatever order they were sent in.
        assert_eq!(s.schedule.calling_days, ["mon", "fri"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let mut body = minimal();
        body["schedule"] = json!({"timezone": "Mars/Olympus", "callingDays": ["mon", "mon", "xyz"],
                                  "startHour": 18, "endHour": 9});
        body["maxAttempts"] = json!(0);
        body["maxConcurrentCalls"] = json!(1001);
        body["amd"] = json!({"timeoutSec": 1});
        body["retry"] = json!({"busy": -1});
        body["voicemail"] = json!({"action": "sing"});
        body["campaignPrompt"] = json!("Hi {{name");
        body["variables"] = json!({"ok": "x", "bad": 3});
        body["mode"] = json!("carrier_pigeon");
        body["dailyCap"] = json!(0);
        let fields = parse(body).unwrap_err();
        for expected in [
            "schedule.timezone",
            "schedule.callingDays[1]",
            "schedule.callingDays[2]",
            "schedule.endHour",
            "maxAttempts",
            "maxConcurrentCalls",
            "amd.timeoutSec",
            "retry.busy",
            "voicemail.action",
            "campaignPrompt",
            "variables.bad",
            "mode",
            "dailyCap",
        ] {
            assert!(
                fields.iter().any(|f| f == expected),
                "{expected} not in {fields:?}"
            );
        }
        assert!(!fields.iter().any(|f| f == "variables.ok"));
    }

    #[test]
    fn a_mode_other_than_the_trunks_is_refused() {
        let mut body = minimal();
        body["mode"] = json!("twilio_stream");
        assert_eq!(parse(body).unwrap_err(), ["mode"]);
    }
}
