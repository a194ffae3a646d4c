//! The one error type of the crate.
//!
//! Statistics fail on inputs, not on I/O: a parameter outside its domain, an arm too small
//! to have a variance, a ratio whose denominator is zero. Each variant names the offending
//! value so that a job can quarantine the comparison with a readable reason.

use thiserror::Error;

/// Why a statistic could not be computed.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum StatsError {
    /// A parameter (alpha, power, a weight, a p-value, ...) is outside its domain.
    #[error("`{name}` is `{value}`, but it must be {expected}")]
    InvalidParameter {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    /// An input row holds NaN or an infinity.
    #[error("value `{value}` in row {row} is not finite")]
    NonFinite { row: usize, value: f64 },
    /// An arm has too few units for the statistic (a variance needs two).
    #[error("the {role} has `{n}` units, but at least {needed} are needed")]
    TooFewUnits { role: &'static str, n: u64, needed: u64 },
    /// The estimated difference has a standard error of zero (typically both arms are
    /// constant), so no test, interval or posterior is defined; scipy returns NaN there
    /// and gbstats its uninformative default.
    #[error("the estimated difference has zero variance, so no test or interval is defined")]
    ZeroVariance,
    /// A relative difference divides by the control mean, which is zero.
    #[error("the control mean is `{value}`, so a relative difference is undefined")]
    ZeroControlMean { value: f64 },
    /// A ratio metric's denominator sums to zero.
    #[error("the denominator mean is `{value}`, so the ratio is undefined")]
    ZeroDenominator { value: f64 },
    /// Two inputs that pair up element by element have different lengths.
    #[error("`{left}` has {left_len} entries but `{right}` has {right_len}")]
    LengthMismatch {
        left: &'static str,
        left_len: usize,
        right: &'static str,
        right_len: usize,
    },
    /// An input that needs at least one element is empty.
    #[error("`{name}` is empty")]
    Empty { name: &'static str },
}

/// `Ok` when `value` lies strictly between 0 and 1 (alpha, power).
pub(crate) fn check_open_unit(name: &'static str, value: f64) -> Result<(), StatsError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter {
            name,
            value,
            expected: "strictly between 0 and 1",
        })
    }
}

/// `Ok` when `value` is finite and strictly positive (a variance, a tuning parameter).
pub(crate) fn check_positive(name: &'static str, value: f64) -> Result<(), StatsError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(StatsError::InvalidParameter {
            name,
            value,
            expected: "finite and greater than 0",
        })
    }
}
