//! An inbound number as the API takes it: which assistant answers, its business hours,
//! and what a caller gets outside them or when no worker is free.

use std::str::FromStr;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use shared::PhoneNumber;
use utoipa::ToSchema;
use uuid::Uuid;

use super::assistant::MAX_SPOKEN_MESSAGE;
use super::campaign::WEEKDAYS;
use crate::error::{ApiError, Validator};

/// What Twilio does for a caller the assistant cannot take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FallbackAction {
    /// Say the message and hang up.
    Message,
    /// Say the message, then record a voicemail (transcribed by Twilio).
    Voicemail,
}

impl FallbackAction {
    pub fn as_str(self) -> &'static str {
        match self {
            FallbackAction::Message => "message",
            FallbackAction::Voicemail => "voicemail",
        }
    }

    pub fn parse(text: &str) -> Self {
        if text == "voicemail" {
            FallbackAction::Voicemail
        } else {
            FallbackAction::Message
        }
    }
}

/// An action and the words Twilio says for it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Fallback {
    pub action: FallbackAction,
    /// Spoken by Twilio (`<Say>`), at most 2,000 characters.
    pub message: String,
}

/// When the assistant answers, in the number's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BusinessHours {
    /// IANA name, such as `America/New_York`.
    pub timezone: String,
    /// Some of `mon` .. `sun`; at least one.
    pub days: Vec<String>,
    /// First open hour, 0 to 23.
    pub open_hour: i16,
    /// Closing hour (exclusive), 1 to 24, after `openHour`.
    pub close_hour: i16,
}

impl BusinessHours {
    /// Open around the clock, every day.
    pub fn always() -> Self {
        BusinessHours {
            timezone: "UTC".into(),
            days: WEEKDAYS.iter().map(|d| d.to_string()).collect(),
            open_hour: 0,
            close_hour: 24,
        }
    }

    /// Whether `now` falls inside the hours (an unknown zone counts as UTC).
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        let zone = chrono_tz::Tz::from_str(&self.timezone).unwrap_or(chrono_tz::UTC);
        let local = now.with_timezone(&zone);
        let day = WEEKDAYS[local.weekday().num_days_from_monday() as usize];
        let hour = local.hour() as i16;
        self.days.iter().any(|d| d == day) && self.open_hour <= hour && hour < self.close_hour
    }

    fn check(self, v: &mut Validator) -> Self {
        let timezone = match chrono_tz::Tz::from_str(self.timezone.trim()) {
            Ok(tz) => tz.name().to_string(),
            Err(_) => {
                v.push(
                    "businessHours.timezone",
                    "must be an IANA time zone such as America/New_York",
                );
                self.timezone
            }
        };
        v.check(
            !self.days.is_empty(),
            "businessHours.days",
            "must name at least one day",
        );
        for (i, day) in self.days.iter().enumerate() {
            v.check(
                WEEKDAYS.contains(&day.as_str()),
                &format!("businessHours.days[{i}]"),
                "must be one of mon, tue, wed, thu, fri, sat, sun",
            );
        }
        v.check(
            (0..=23).contains(&self.open_hour),
            "businessHours.openHour",
            "must be between 0 and 23",
        )
        .check(
            (1..=24).contains(&self.close_hour),
            "businessHours.closeHour",
            "must be between 1 and 24",
        )
        .check(
            self.open_hour < self.close_hour,
            "businessHours.closeHour",
            "must be after openHour",
        );
        let days = WEEKDAYS
            .iter()
            .filter(|day| self.days.iter().any(|d| d == *day))
            .map(|day| day.to_string())
            .collect();
        BusinessHours {
            timezone,
            days,
            ..self
        }
    }
}

/// `POST /api/v1/numbers` and `PUT /api/v1/numbers/{id}`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NumberInput {
    /// E.164; must be one of the trunk's numbers.
    pub number: String,
    pub trunk_id: Uuid,
    /// The assistant that answers; none sends every caller to `afterHours`.
    pub assistant_id: Option<Uuid>,
    /// Default: always open.
    pub business_hours: Option<BusinessHours>,
    /// Default: voicemail with a short greeting.
    pub after_hours: Option<Fallback>,
    /// Default: a message asking the caller to try again.
    pub no_worker: Option<Fallback>,
}

/// A valid number definition.
#[derive(Debug, Clone)]
pub struct NumberDefinition {
    pub number: PhoneNumber,
    pub trunk_id: Uuid,
    pub assistant_id: Option<Uuid>,
    pub hours: BusinessHours,
    pub after_hours: Fallback,
    pub no_worker: Fallback,
}

impl NumberInput {
    /// Every problem at once, as a 422 naming the fields.
    pub fn parse(self) -> Result<NumberDefinition, ApiError> {
        let mut v = Validator::new();
        let number = PhoneNumber::parse(self.number.trim(), None);
        if let Err(err) = &number {
            v.push("number", err.to_string());
        }
        let hours = self
            .business_hours
            .unwrap_or_else(BusinessHours::always)
            .check(&mut v);
        let after_hours = self.after_hours.unwrap_or(Fallback {
            action: FallbackAction::Voicemail,
            message: "We are closed right now. Please leave a message after the tone.".into(),
        });
        let no_worker = self.no_worker.unwrap_or(Fallback {
            action: FallbackAction::Message,
            message: "All our agents are busy right now. Please call again in a few minutes."
                .into(),
        });
        for (field, fallback) in [("afterHours", &after_hours), ("noWorker", &no_worker)] {
            let length = fallback.message.trim().chars().count();
            v.check(
                (1..=MAX_SPOKEN_MESSAGE).contains(&length),
                &format!("{field}.message"),
                format!("must be 1 to {MAX_SPOKEN_MESSAGE} characters"),
            );
        }
        v.finish()?;
        Ok(NumberDefinition {
            number: number.map_err(|e| ApiError::invalid("number", e.to_string()))?,
            trunk_id: self.trunk_id,
            assistant_id: self.assistant_id,
            hours,
            after_hours,
            no_worker,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn weekdays_nine_to_five() -> BusinessHours {
        BusinessHours {
            timezone: "America/New_York".into(),
            days: ["mon", "tue", "wed", "thu", "fri"]
                .map(String::from)
                .to_vec(),
            open_hour: 9,
            close_hour: 17,
        }
    }

    #[test]
    fn hours_are_judged_in_the_numbers_zone() {
        let hours = weekdays_nine_to_five();
        // Monday 2026-12-07 14:30 UTC is 09:30 in New York: open.
        assert!(hours.is_open(Utc.with_ymd_and_hms(2026, 12, 7, 14, 30, 0).unwrap()));
        // 13:30 UTC is 08:30 there: not yet.
        assert!(!hours.is_open(Utc.with_ymd_and_hms(2026, 12, 7, 13, 30, 0).unwrap()));
        // 22:00 UTC is 17:00 there: closed (the close hour is exclusive).
        assert!(!hours.is_open(Utc.with_ymd_and_hms(2026, 12, 7, 22, 0, 0).unwrap()));
        // Saturday noon there.
        assert!(!hours.is_open(Utc.with_ymd_and_hms(2026, 12, 12, 17, 0, 0).unwrap()));
        assert!(
            BusinessHours::always().is_open(Utc.with_ymd_and_hms(2026, 12, 12, 3, 0, 0).unwrap())
        );
    }

    #[test]
    fn bad_input_names_every_field() {
        let input: NumberInput = serde_json::from_value(serde_json::json!({
            "number": "12",
            "trunkId": Uuid::nil(),
            "businessHours": {"timezone": "Mars/Base", "days": ["mon", "funday"],
                              "openHour": 18, "closeHour": 9},
            "noWorker": {"action": "message", "message": " "}
        }))
        .unwrap();
        let Err(ApiError::Validation(fields)) = input.parse() else {
            panic!("expected a 422");
        };
        let names: Vec<String> = fields.into_iter().map(|f| f.field).collect();
        assert_eq!(
            names,
            [
                "number",
                "businessHours.timezone",
                "businessHours.days[1]",
                "businessHours.closeHour",
                "noWorker.message"
            ]
        );
    }
}
