//! Always-valid inference, because the job looks at every experiment every night.
//!
//! A fixed-horizon p-value checked daily and acted on the first time it dips below 0.05
//! has a false-positive rate far above 5%. An asymptotic confidence sequence covers the
//! true difference at every sample size simultaneously, so it may be looked at as often
//! as one likes (Waudby-Smith, Arnold, Wu, Ramdas & Howard, "Time-uniform central limit
//! theory and asymptotic confidence sequences", arXiv:2103.06476v7, 2023). This is
//! GrowthBook's implementation, gbstats 0.8.0 `SequentialTwoSidedTTest`:
//!
//! - `N = n_c + n_t`, `V` the variance of the estimated difference (see
//!   [`crate::fixed_horizon`]), `s² = N V`;
//! - mixing parameter tuned so the sequence is tightest at `N = τ` (eq. 161):
//!   `ρ = sqrt((−2 ln α + ln(1 − 2 ln α)) / τ)`, `τ` = `tuning` (gbstats'
//!   `sequential_tuning_parameter`, default 5000);
//! - half-width (eq. 9): `s · sqrt(2(Nρ² + 1) ln(sqrt(Nρ² + 1)/α) / (Nρ)²)`;
//! - always-valid p-value (eq. 155): `min(1, sqrt(Nρ² + 1) · exp(−ρ² N Δ²/V / (2(Nρ² + 1))))`.
//!   With `ρ` held at its tuned value this is exactly the smallest `α'` at which the
//!   sequence at level `α'` excludes 0.
//!
//! Degenerate inputs are handled as in [`crate::fixed_horizon`]: fewer than two units in an arm
//! or a zero-variance difference is an error; one constant arm is computed (gbstats
//! returns its uninformative default there, so the oracle compares against gbstats'
//! formulas with that guard bypassed).

use crate::error::{check_open_unit, check_positive};
use crate::fixed_horizon::{TestResult, estimate};
use crate::{ArmSummary, Difference, StatsError};

/// How [`always_valid`] builds the confidence sequence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SequentialOptions {
    /// The sequence covers the difference with probability `1 − alpha` at all times.
    pub alpha: f64,
    /// Total units `τ` at which the sequence is tightest (gbstats default 5000).
    pub tuning: f64,
    pub difference: Difference,
}

impl Default for SequentialOptions {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            tuning: 5000.0,
            difference: Difference::Absolute,
        }
    }
}

/// The always-valid interval and p-value for the current data. `df` is `None` and
/// `statistic` is `estimate / std_error`.
pub fn always_valid(control: &ArmSummary, treatment: &ArmSummary, options: &SequentialOptions) -> Result<TestResult, StatsError> {
    check_open_unit("alpha", options.alpha)?;
    check_positive("tuning", options.tuning)?;
    let est = estimate(control, treatment, options.difference)?;
    let alpha = options.alpha;
    let n = (control.n + treatment.n) as f64;
    let rho2 = (-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / options.tuning;
    let s2 = est.variance * n;
    let n_rho2_plus_1 = n * rho2 + 1.0;
    let half_width = s2.sqrt() * (2.0 * n_rho2_plus_1 * (n_rho2_plus_1.sqrt() / alpha).ln() / (n * n * rho2)).sqrt();
    let st2 = est.value * est.value * n / est.variance;
    let p_value = (n_rho2_plus_1.sqrt() * (-rho2 * st2 / (2.0 * n_rho2_plus_1)).exp()).min(1.0);
    let se = est.variance.sqrt();
    Ok(TestResult {
        estimate: est.value,
        std_error: se,
        statistic: est.value / se,
        df: None,
        p_value,
        ci_low: est.value - half_width,
        ci_high: est.value + half_width,
    })
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use crate::fixed_horizon::{TestOptions, two_sample};

    fn arm(n: u64, mean: f64, variance: f64) -> ArmSummary {
        ArmSummary {
            n,
            mean,
            variance,
            unadjusted_mean: mean,
        }
    }

    #[test]
    fn wider_than_the_fixed_horizon_interval() {
        let (c, t) = (arm(4000, 0.30, 0.04), arm(4100, 0.29, 0.05));
        let seq = always_valid(&c, &t, &SequentialOptions::default()).expect("valid");
        let fixed = two_sample(&c, &t, &TestOptions::default()).expect("valid");
        assert!(seq.ci_high - seq.ci_low > fixed.ci_high - fixed.ci_low);
        assert!(seq.p_value > fixed.p_value);
    }

    #[test]
    fn p_value_is_where_the_sequence_touches_zero() {
        let (c, t) = (arm(3000, 1.0, 2.0), arm(3000, 1.2, 2.0));
        let seq = always_valid(&c, &t, &SequentialOptions::default()).expect("valid");
        assert!(seq.p_value < 0.05 && seq.ci_low > 0.0);
        // At alpha' = p the bound with the *same* rho sits on 0.
        let alpha: f64 = 0.05;
        let n = 6000.0;
        let rho2 = (-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / 5000.0;
        let s = (seq.std_error.powi(2) * n).sqrt();
        let width = s * (2.0 * (n * rho2 + 1.0) * ((n * rho2 + 1.0).sqrt() / seq.p_value).ln() / (n * n * rho2)).sqrt();
        assert!((seq.estimate - width).abs() < 1e-12);
    }

    #[test]
    fn no_difference_has_p_one() {
        let c = arm(500, 2.0, 1.0);
        let seq = always_valid(&c, &c, &SequentialOptions::default()).expect("valid");
        assert_eq!(seq.p_value, 1.0);
        assert!((seq.ci_low + seq.ci_high).abs() < 1e-15);
    }

    #[test]
    fn tuning_is_validated() {
        let c = arm(10, 1.0, 1.0);
        let options = SequentialOptions {
            tuning: 0.0,
            ..SequentialOptions::default()
        };
        assert!(always_valid(&c, &c, &options).is_err());
    }
}
