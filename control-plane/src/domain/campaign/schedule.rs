//! When a campaign may dial: a time zone, the days of the week and an hour window.

use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Validator;

/// Days of the week in their wire spelling, Monday first.
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When calls may be placed, in the campaign's time zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    /// IANA name, such as `America/New_York`.
    pub timezone: String,
    /// Some of `mon`, `tue`, `wed`, `thu`, `fri`, `sat`, `sun`; at least one.
    pub calling_days: Vec<String>,
    /// First hour calls may start, 0 to 23.
    pub start_hour: i32,
    /// Hour calls stop starting (exclusive), 1 to 24, after `startHour`.
    pub end_hour: i32,
}

/// Checks the schedule; the answer has the zone's canonical name and days in week order.
pub(super) fn check_schedule(schedule: Schedule, v: &mut Validator) -> Schedule {
    let timezone = match chrono_tz::Tz::from_str(schedule.timezone.trim()) {
        Ok(tz) => tz.name().to_string(),
        Err(_) => {
            v.push(
                "schedule.timezone",
                "must be an IANA time zone such as America/New_York",
            );
            schedule.timezone
        }
    };
    v.check(
        !schedule.calling_days.is_empty(),
        "schedule.callingDays",
        "must name at least one day",
    );
    for (i, day) in schedule.calling_days.iter().enumerate() {
        let field = format!("schedule.callingDays[{i}]");
        v.check(
            WEEKDAYS.contains(&day.as_str()),
            &field,
            "must be one of mon, tue, wed, thu, fri, sat, sun",
        )
        .check(
            !schedule.calling_days[..i].contains(day),
            &field,
            "is listed twice",
        );
    }
    let calling_days = WEEKDAYS
        .iter()
        .filter(|day| schedule.calling_days.iter().any(|d| d == *day))
        .map(|day| day.to_string())
        .collect();
    v.check(
        (0..=23).contains(&schedule.start_hour),
        "schedule.startHour",
        "must be between 0 and 23",
    )
    .check(
        (1..=24).contains(&schedule.end_hour),
        "schedule.endHour",
        "must be between 1 and 24",
    )
    .check(
        schedule.start_hour < schedule.end_hour,
        "schedule.endHour",
        "must be after startHour",
    );
    Schedule {
        timezone,
        calling_days,
        start_hour: schedule.start_hour,
        end_hour: schedule.end_hour,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(
        timezone: &str,
        days: &[&str],
        start_hour: i32,
        end_hour: i32,
    ) -> (Schedule, Vec<String>) {
        let mut v = Validator::new();
        let schedule = Schedule {
            timezone: timezone.into(),
            calling_days: days.iter().map(|d| d.to_string()).collect(),
            start_hour,
            end_hour,
        };
        let checked = check_schedule(schedule, &mut v);
        let fields = match v.finish() {
            Ok(()) => vec![],
            Err(crate::error::ApiError::Validation(fields)) => {
                fields.into_iter().map(|f| f.field).collect()
            }
            Err(other) => panic!("unexpected {other:?}"),
        };
        (checked, fields)
    }

    #[test]
    fn days_come_back_in_week_order_and_zones_canonical() {
        let (schedule, fields) = check(" Europe/Paris ", &["sun", "mon", "wed"], 9, 17);
        assert!(fields.is_empty());
        assert_eq!(schedule.timezone, "Europe/Paris");
        assert_eq!(schedule.calling_days, ["mon", "wed", "sun"]);
    }

    #[test]
    fn a_window_may_run_to_midnight_but_not_backwards_or_be_empty() {
        assert!(check("UTC", &["mon"], 0, 24).1.is_empty());
        assert_eq!(check("UTC", &["mon"], 9, 9).1, ["schedule.endHour"]);
        assert_eq!(
            check("UTC", &["mon"], 24, 25).1,
            ["schedule.startHour", "schedule.endHour"]
        );
        assert_eq!(check("UTC", &[], 9, 17).1, ["schedule.callingDays"]);
    }

    #[test]
    fn unknown_zones_and_days_and_repeats_are_named() {
        let (_, fields) = check("Mars/Olympus", &["mon", "Mon", "mon"], 9, 17);
        assert_eq!(
            fields,
            [
                "schedule.timezone",
                "schedule.callingDays[1]",
                "schedule.callingDays[2]"
            ]
        );
    }
}
