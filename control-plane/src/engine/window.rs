//! Calling windows: the days and hours a campaign may call, evaluated in the callee's
//! local time. Where the callee's zone is uncertain, the window must hold in every zone
//! the callee might be in.

use chrono::{DateTime, Datelike, Duration, DurationRound, Timelike, Utc};
use chrono_tz::Tz;

/// The hours (callee-local) that are legal to call in without an explicit override:
/// 08:00 to 21:00, as US TCPA-style rules require.
pub const LEGAL_START_HOUR: u32 = 8;
pub const LEGAL_END_HOUR: u32 = 21;

/// Days of the week (Monday first) and an hour range `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallingWindow {
    days: [bool; 7],
    start_hour: u32,
    end_hour: u32,
}

/// The three-letter day names the API uses, Monday first.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl CallingWindow {
    /// Builds the effective window: the campaign's hours, narrowed to the legal hours
    /// unless `allow_outside_legal_hours`. Unknown day names are ignored (validated at
    /// the API edge).
    pub fn new(
        day_names: &[String],
        start_hour: u32,
        end_hour: u32,
        allow_outside_legal_hours: bool,
    ) -> Self {
        let mut days = [false; 7];
        for name in day_names {
            if let Some(i) = DAY_NAMES.iter().position(|d| d == name) {
                days[i] = true;
            }
        }
        let (start_hour, end_hour) = if allow_outside_legal_hours {
            (start_hour, end_hour.min(24))
        } else {
            (
                start_hour.max(LEGAL_START_HOUR),
                end_hour.min(LEGAL_END_HOUR),
            )
        };
        Self {
            days,
            start_hour,
            end_hour,
        }
    }

    /// True when no instant can ever be inside the window.
    pub fn is_empty(&self) -> bool {
        self.start_hour >= self.end_hour || !self.days.iter().any(|d| *d)
    }

    /// Open at `now` in this one zone?
    pub fn is_open_in(&self, now: DateTime<Utc>, zone: Tz) -> bool {
        let local = now.with_timezone(&zone);
        let day = local.weekday().num_days_from_monday() as usize;
        self.days[day] && (self.start_hour..self.end_hour).contains(&local.hour())
    }

    /// Open at `now` in every one of `zones`?
    pub fn is_open(&self, now: DateTime<Utc>, zones: &[Tz]) -> bool {
        !zones.is_empty() && zones.iter().all(|zone| self.is_open_in(now, *zone))
    }

    /// The first instant at or after `now` when the window is open in every zone, within
    /// the next eight days; `None` if it never opens (the zones never overlap it).
    pub fn next_open(&self, now: DateTime<Utc>, zones: &[Tz]) -> Option<DateTime<Utc>> {
        if self.is_empty() || zones.is_empty() {
            return None;
        }
        if self.is_open(now, zones) {
            return Some(now);
        }
        // Zone offsets are whole quarter hours, so windows open on quarter-hour marks.
        let step = Duration::minutes(15);
        let mut t = now.duration_trunc(step).ok()? + step;
        let limit = now + Duration::days(8);
        while t <= limit {
            if self.is_open(t, zones) {
                return Some(t);
            }
            t += step;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn weekdays() -> Vec<String> {
        ["mon", "tue", "wed", "thu", "fri"]
            .iter()
            .map(|d| d.to_string())
            .collect()
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn the_window_is_evaluated_in_the_callee_zone() {
        let w = CallingWindow::new(&weekdays(), 9, 17, false);
        // Monday 2026-11-23 14:00 UTC is 09:00 in New York and 06:00 in Los Angeles.
        let now = utc(2026, 11, 23, 14, 0);
        assert!(w.is_open(now, &[chrono_tz::America::New_York]));
        assert!(!w.is_open(now, &[chrono_tz::America::Los_Angeles]));
        assert!(!w.is_open(
            now,
            &[
                chrono_tz::America::New_York,
                chrono_tz::America::Los_Angeles
            ]
        ));
    }

    #[test]
    fn next_open_finds_the_moment_every_zone_is_inside() {
        let w = CallingWindow::new(&weekdays(), 9, 17, false);
        let zones = [
            chrono_tz::America::New_York,
            chrono_tz::America::Los_Angeles,
        ];
        // 09:00 in Los Angeles is 17:00 UTC (November, PST).
        let open = w.next_open(utc(2026, 11, 23, 14, 0), &zones).unwrap();
        assert_eq!(open, utc(2026, 11, 23, 17, 0));
    }

    #[test]
    fn weekends_are_skipped() {
        let w = CallingWindow::new(&weekdays(), 9, 17, false);
        // Saturday 2026-11-28 15:00 UTC -> Monday 09:00 New York = 14:00 UTC.
        let open = w
            .next_open(utc(2026, 11, 28, 15, 0), &[chrono_tz::America::New_York])
            .unwrap();
        assert_eq!(open, utc(2026, 11, 30, 14, 0));
    }

    #[test]
    fn legal_hours_narrow_the_window_unless_overridden() {
        let all_days: Vec<String> = DAY_NAMES.iter().map(|d| d.to_string()).collect();
        let w = CallingWindow::new(&all_days, 0, 24, false);
        // 07:30 in New York.
        let early = utc(2026, 11, 23, 12, 30);
        assert!(!w.is_open(early, &[chrono_tz::America::New_York]));
        let late = CallingWindow::new(&all_days, 0, 24, true);
        assert!(late.is_open(early, &[chrono_tz::America::New_York]));
    }

    #[test]
    fn a_window_that_zones_never_share_never_opens() {
        let w = CallingWindow::new(&weekdays(), 9, 10, false);
        let zones = [chrono_tz::Asia::Tokyo, chrono_tz::America::New_York];
        assert_eq!(w.next_open(utc(2026, 11, 23, 0, 0), &zones), None);
    }
}
