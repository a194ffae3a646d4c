//! The date partition a run processes (`--date`, `dt=YYYY-MM-DD`).
//!
//! A validated newtype so that a malformed date is rejected at the CLI boundary and
//! every path built from it is well formed.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::CoreError;

/// A UTC calendar day naming a Hive-style partition (`dt=2026-11-24`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartitionDate(NaiveDate);

impl PartitionDate {
    /// Wraps a calendar day.
    pub fn new(date: NaiveDate) -> Self {
        Self(date)
    }

    /// The calendar day.
    pub fn date(self) -> NaiveDate {
        self.0
    }

    /// The UTC day a timestamp falls on.
    pub fn of_timestamp(timestamp: DateTime<Utc>) -> Self {
        Self(timestamp.date_naive())
    }

    /// This day plus `days` (saturating at the calendar's end).
    #[must_use]
    pub fn plus_days(self, days: u32) -> Self {
        Self(self.0.checked_add_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MAX))
    }

    /// This day minus `days` (saturating at the calendar's start).
    #[must_use]
    pub fn minus_days(self, days: u32) -> Self {
        Self(self.0.checked_sub_days(Days::new(u64::from(days))).unwrap_or(NaiveDate::MIN))
    }

    /// The partition directory name, `dt=YYYY-MM-DD`.
    pub fn dir_name(self) -> String {
        format!("dt={self}")
    }

    /// Parses a `dt=YYYY-MM-DD` directory name.
    pub fn from_dir_name(name: &str) -> Option<Self> {
        name.strip_prefix("dt=").and_then(|d| d.parse().ok())
    }

    /// Every day from `self` to `last`, both included.
    pub fn through(self, last: Self) -> impl Iterator<Item = PartitionDate> {
        self.0.iter_days().take_while(move |d| *d <= last.0).map(PartitionDate)
    }
}

impl fmt::Display for PartitionDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.format("%Y-%m-%d"))
    }
}

impl FromStr for PartitionDate {
    type Err = CoreError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .ok()
            .filter(|_| value.len() == 10)
            .map(Self)
            .ok_or_else(|| CoreError::InvalidDate { value: value.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_iso_dates() {
        let d: PartitionDate = "2026-02-28".parse().expect("valid");
        assert_eq!(d.plus_days(1).to_string(), "2026-03-01");
        assert_eq!(d.minus_days(59).to_string(), "2025-12-31");
        assert_eq!(d.dir_name(), "dt=2026-02-28");
        assert_eq!(PartitionDate::from_dir_name("dt=2026-02-28"), Some(d));
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in ["2026-2-28", "2026-02-30", "20260228", "", "2026-02-28T00:00:00"] {
            assert!(bad.parse::<PartitionDate>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn through_is_inclusive() {
        let a: PartitionDate = "2026-01-30".parse().expect("valid");
        let days: Vec<String> = a.through(a.plus_days(2)).map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-01-30", "2026-01-31", "2026-02-01"]);
    }
}
