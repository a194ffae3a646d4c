//! Pure statistics for the `ab-significance` job: comparing arms of a template A/B test.
//!
//! Projects are randomised, so the project is the unit of analysis; the primary metric,
//! the line-weighted rewrite rate `Σ removed / Σ generated`, is a ratio of per-project
//! sums analysed with the delta method, and lower is better. The job looks every night,
//! so besides fixed-horizon tests it needs always-valid sequential inference. This crate
//! owns the formulas; it does no I/O, and its results are held to scipy 1.13,
//! statsmodels 0.14 and gbstats 0.8.0 within 1e-9 relative by the oracle test
//! (`tests/oracle.rs` runs `tests/python/stats_oracle.py`).
//!
//! The data flow is plain structs in, plain structs out:
//!
//! 1. per-unit rows → [`Moments`] (count, means, co-moments; numerically stable);
//! 2. [`Moments`] → [`ArmSummary`] (estimate, unit variance, n) for a mean
//!    ([`ArmSummary::from_mean`]), a ratio ([`ArmSummary::from_ratio`]), a proportion
//!    ([`ArmSummary::from_proportion`]) or a CUPED-adjusted metric ([`cuped`]);
//! 3. two [`ArmSummary`]s → a frequentist [`TestResult`] ([`fixed_horizon::two_sample`]), an
//!    always-valid one ([`sequential::always_valid`]), a posterior
//!    ([`bayes::posterior`]) or a power analysis ([`power`]);
//! 4. many p-values → adjusted ones ([`multiple`]).
//!
//! ```
//! use hive_stats::{ArmSummary, Difference, Moments, fixed_horizon};
//!
//! // Per project: [removed lines, generated lines].
//! let control = Moments::from_rows(&[[3.0, 40.0], [10.0, 55.0], [0.0, 12.0], [7.0, 31.0]])?;
//! let treatment = Moments::from_rows(&[[1.0, 38.0], [4.0, 61.0], [2.0, 20.0], [0.0, 9.0]])?;
//! let options = fixed_horizon::TestOptions { difference: Difference::Relative, ..Default::default() };
//! let result = fixed_horizon::two_sample(
//!     &ArmSummary::from_ratio(&control)?,
//!     &ArmSummary::from_ratio(&treatment)?,
//!     &options,
//! )?;
//! assert!(result.estimate < 0.0 && result.ci_low < result.ci_high);
//! # Ok::<(), hive_stats::StatsError>(())
//! ```

// Unit tests assert exact values on purpose (0, 1, values that are exactly representable).
#![cfg_attr(test, allow(clippy::float_cmp))]

pub mod bayes;
pub mod cuped;
pub mod dist;
mod error;
pub mod fixed_horizon;
pub mod moments;
pub mod multiple;
pub mod power;
pub mod sequential;

pub use error::StatsError;
pub use fixed_horizon::TestResult;
pub use moments::{ArmSummary, Moments};

/// Which difference between the arms is estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Difference {
    /// `treatment − control`.
    #[default]
    Absolute,
    /// `(treatment − control) / control`: the lift, with its variance by the delta method
    /// on the ratio of the two means (gbstats' frequentist relative interval).
    Relative,
}

/// Which way a metric improves; it decides what "winning" and "loss" mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Larger values are better (a conversion rate).
    HigherIsBetter,
    /// Smaller values are better (the rewrite rate; gbstats' `inverse` metrics).
    LowerIsBetter,
}
