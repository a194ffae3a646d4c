//! Fixed-horizon frequentist tests: two arms compared once, with a two-sided p-value and
//! a confidence interval.
//!
//! The unit of analysis is the project, so every test here compares per-arm
//! [`ArmSummary`]s (a unit mean, a delta-method ratio, a proportion or a CUPED-adjusted
//! mean) rather than raw events. Formulas, with the reference each is checked against:
//!
//! - Difference and its variance (shared with [`crate::sequential`] and [`crate::bayes`]):
//!   absolute `Δ = μ_t − μ_c`, `var = σ²_c/n_c + σ²_t/n_t`; relative
//!   `Δ = (μ_t − μ_c)/u_c` with `var = σ²_t/(u_c² n_t) + σ²_c u_t²/(u_c⁴ n_c)`, the delta
//!   method on `u_t/u_c` (`u` the unadjusted means; gbstats `frequentist_variance`).
//! - [`Reference::StudentT`]: Welch's t with Welch–Satterthwaite
//!   `df = (σ²_c/n_c + σ²_t/n_t)² / ((σ²_c/n_c)²/(n_c−1) + (σ²_t/n_t)²/(n_t−1))`, always
//!   from the unit variances (Welch 1947) = `scipy.stats.ttest_ind(equal_var=False)` and
//!   its `confidence_interval()`, and gbstats `TwoSidedTTest` for ratios and relative lifts.
//! - [`Reference::Normal`]: the z-test = statsmodels
//!   `CompareMeans.ztest_ind(usevar='unequal')` / `zconfint_diff`.
//! - [`two_proportions`]: pooled variance `p̄(1−p̄)(1/n_t + 1/n_c)` for the statistic,
//!   unpooled Wald interval = statsmodels `proportions_ztest` and
//!   `confint_proportions_2indep(method='wald')`.
//! - [`sample_ratio_mismatch`]: Pearson's chi-square goodness of fit against the configured
//!   weights, `k − 1` degrees of freedom = `scipy.stats.chisquare` (gbstats `check_srm`).
//!
//! p-values use the survival function directly (`2·sf(|z|)`), so they stay accurate below
//! 1e-16 where gbstats' `2·(1 − cdf)` rounds to 0.
//!
//! Degenerate inputs: an arm with fewer than two units is [`StatsError::TooFewUnits`];
//! a difference with zero variance (both arms constant, by the scale-relative rule of
//! [`ArmSummary::effective_variance`]) is [`StatsError::ZeroVariance`]
//! (scipy returns NaN there). One constant arm is fine: Welch then has `df = n − 1` of the
//! other arm, as in scipy (gbstats instead returns its uninformative default).

use crate::error::check_open_unit;
use crate::{ArmSummary, Difference, StatsError, dist};

/// The sampling distribution of the test statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reference {
    /// Student t with Welch–Satterthwaite degrees of freedom.
    #[default]
    StudentT,
    /// Standard normal (z-test), for large samples.
    Normal,
}

/// How [`two_sample`] compares the arms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestOptions {
    /// Two-sided level: the interval covers `1 − alpha`.
    pub alpha: f64,
    pub difference: Difference,
    pub reference: Reference,
}

impl Default for TestOptions {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            difference: Difference::Absolute,
            reference: Reference::StudentT,
        }
    }
}

/// Outcome of a two-arm comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestResult {
    /// Treatment minus control, or that over the control mean for a relative difference.
    pub estimate: f64,
    /// Standard error of `estimate`.
    pub std_error: f64,
    /// The test statistic: `estimate / std_error`, except in [`two_proportions`] where it
    /// uses the pooled standard error.
    pub statistic: f64,
    /// Degrees of freedom of the t reference; `None` for normal references.
    pub df: Option<f64>,
    /// Two-sided p-value of "no difference".
    pub p_value: f64,
    /// Lower bound of the `1 − alpha` interval.
    pub ci_low: f64,
    /// Upper bound of the `1 − alpha` interval.
    pub ci_high: f64,
}

/// Compares two arms with Welch's t-test or a z-test.
pub fn two_sample(control: &ArmSummary, treatment: &ArmSummary, options: &TestOptions) -> Result<TestResult, StatsError> {
    check_open_unit("alpha", options.alpha)?;
    let est = estimate(control, treatment, options.difference)?;
    let se = est.variance.sqrt();
    let statistic = est.value / se;
    let (df, p_value, critical) = match options.reference {
        Reference::StudentT => {
            let df = welch_df(control, treatment);
            (
                Some(df),
                2.0 * dist::t_sf(statistic.abs(), df),
                dist::t_isf(options.alpha / 2.0, df),
            )
        }
        Reference::Normal => (None, 2.0 * dist::norm_sf(statistic.abs()), dist::norm_isf(options.alpha / 2.0)),
    };
    Ok(TestResult {
        estimate: est.value,
        std_error: se,
        statistic,
        df,
        p_value: p_value.min(1.0),
        ci_low: est.value - critical * se,
        ci_high: est.value + critical * se,
    })
}

/// Standard error of the difference between the arms (for [`crate::power`]).
pub fn std_error(control: &ArmSummary, treatment: &ArmSummary, difference: Difference) -> Result<f64, StatsError> {
    Ok(estimate(control, treatment, difference)?.variance.sqrt())
}

/// Welch–Satterthwaite degrees of freedom from the arms' unit variances (both `n >= 2`).
fn welch_df(control: &ArmSummary, treatment: &ArmSummary) -> f64 {
    let vc = control.effective_variance() / control.n as f64;
    let vt = treatment.effective_variance() / treatment.n as f64;
    (vc + vt).powi(2) / (vc * vc / (control.n - 1) as f64 + vt * vt / (treatment.n - 1) as f64)
}

/// A point estimate of the difference and the variance of that estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    pub value: f64,
    pub variance: f64,
}

/// The difference between the arms and its variance; checks both arms first.
pub(crate) fn estimate(control: &ArmSummary, treatment: &ArmSummary, difference: Difference) -> Result<Estimate, StatsError> {
    control.check("control")?;
    treatment.check("treatment")?;
    let (nc, nt) = (control.n as f64, treatment.n as f64);
    let (var_c, var_t) = (control.effective_variance(), treatment.effective_variance());
    let est = match difference {
        Difference::Absolute => Estimate {
            value: treatment.mean - control.mean,
            variance: var_c / nc + var_t / nt,
        },
        Difference::Relative => {
            let base = control.unadjusted_mean;
            if base == 0.0 {
                return Err(StatsError::ZeroControlMean { value: base });
            }
            Estimate {
                value: (treatment.mean - control.mean) / base,
                variance: var_t / (base * base * nt) + var_c * treatment.unadjusted_mean.powi(2) / (base.powi(4) * nc),
            }
        }
    };
    if est.variance > 0.0 && est.variance.is_finite() {
        Ok(est)
    } else {
        Err(StatsError::ZeroVariance)
    }
}

/// Counts of a binary metric in one arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
}

/// Two-proportion z-test of `p_t − p_c`: pooled standard error for the statistic and
/// p-value, unpooled (Wald) for the interval and `std_error`.
pub fn two_proportions(control: Proportion, treatment: Proportion, alpha: f64) -> Result<TestResult, StatsError> {
    check_open_unit("alpha", alpha)?;
    for (role, arm) in [("control", control), ("treatment", treatment)] {
        if arm.trials == 0 {
            return Err(StatsError::TooFewUnits { role, n: 0, needed: 1 });
        }
        if arm.successes > arm.trials {
            return Err(StatsError::InvalidParameter {
                name: "successes",
                value: arm.successes as f64,
                expected: "at most the number of trials",
            });
        }
    }
    let (nt, nc) = (treatment.trials as f64, control.trials as f64);
    let (pt, pc) = (treatment.successes as f64 / nt, control.successes as f64 / nc);
    let diff = pt - pc;
    let pooled = (treatment.successes + control.successes) as f64 / (nt + nc);
    let pooled_variance = pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nc);
    if pooled_variance <= 0.0 {
        return Err(StatsError::ZeroVariance);
    }
    let statistic = diff / pooled_variance.sqrt();
    let se = (pt * (1.0 - pt) / nt + pc * (1.0 - pc) / nc).sqrt();
    let critical = dist::norm_isf(alpha / 2.0);
    Ok(TestResult {
        estimate: diff,
        std_error: se,
        statistic,
        df: None,
        p_value: (2.0 * dist::norm_sf(statistic.abs())).min(1.0),
        ci_low: diff - critical * se,
        ci_high: diff + critical * se,
    })
}

/// Outcome of the sample-ratio-mismatch check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SrmResult {
    /// Pearson's `Σ (observed − expected)² / expected`.
    pub statistic: f64,
    /// `k − 1` for `k` arms.
    pub df: u64,
    pub p_value: f64,
}

/// Chi-square goodness of fit of the units per arm against the configured split
/// (`weights` need not sum to 1; each must be positive).
pub fn sample_ratio_mismatch(observed: &[u64], weights: &[f64]) -> Result<SrmResult, StatsError> {
    if observed.len() != weights.len() {
        return Err(StatsError::LengthMismatch {
            left: "observed",
            left_len: observed.len(),
            right: "weights",
            right_len: weights.len(),
        });
    }
    if observed.len() < 2 {
        return Err(StatsError::InvalidParameter {
            name: "number of arms",
            value: observed.len() as f64,
            expected: "at least 2",
        });
    }
    for &w in weights {
        crate::error::check_positive("weight", w)?;
    }
    let total: u64 = observed.iter().sum();
    if total == 0 {
        return Err(StatsError::TooFewUnits {
            role: "experiment",
            n: 0,
            needed: 1,
        });
    }
    let total_weight: f64 = weights.iter().sum();
    let statistic: f64 = observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let expected = w / total_weight * total as f64;
            (o as f64 - expected).powi(2) / expected
        })
        .sum();
    let df = observed.len() as u64 - 1;
    Ok(SrmResult {
        statistic,
        df,
        p_value: dist::chi2_sf(statistic, df as f64),
    })
}

#[cfg(test)]
mod unit_tests {
    use super::*;
    use crate::Moments;

    fn arm(values: &[f64]) -> ArmSummary {
        ArmSummary::from_mean(&Moments::from_values(values).expect("finite values"))
    }

    #[test]
    fn constant_arms_have_no_test() {
        let a = arm(&[1.0, 1.0, 1.0]);
        let b = arm(&[2.0, 2.0]);
        assert_eq!(two_sample(&a, &b, &TestOptions::default()), Err(StatsError::ZeroVariance));
    }

    #[test]
    fn proportional_ratio_arms_are_constant_despite_rounding() {
        // The arms of issue 15: every project removes a third (control) or a tenth
        // (treatment) of its lines; the treatment's delta-method variance rounds to ~1e-18.
        let ratio = |rows: &[[f64; 2]]| ArmSummary::from_ratio(&Moments::from_rows(rows).expect("finite")).expect("ratio");
        let control = ratio(&[[1.0, 3.0], [2.0, 6.0], [5.0, 15.0], [7.0, 21.0]]);
        let treatment = ratio(&[[1.0, 10.0], [3.0, 30.0], [7.0, 70.0]]);
        assert_eq!(treatment.effective_variance(), 0.0);
        assert_eq!(
            two_sample(&control, &treatment, &TestOptions::default()),
            Err(StatsError::ZeroVariance)
        );
        let relative = TestOptions {
            difference: Difference::Relative,
            ..TestOptions::default()
        };
        assert_eq!(two_sample(&control, &treatment, &relative), Err(StatsError::ZeroVariance));
        // A real spread, however small next to the mean, is kept.
        let spread = arm(&[1e6, 1e6 + 1.0, 1e6 - 1.0]);
        assert!(spread.effective_variance() > 0.0);
    }

    #[test]
    fn one_constant_arm_uses_the_other_arms_df() {
        let a = arm(&[1.0, 1.0, 1.0]);
        let b = arm(&[2.0, 4.0, 3.0, 7.0]);
        let r = two_sample(&a, &b, &TestOptions::default()).expect("defined");
        assert!((r.df.expect("t reference") - 3.0).abs() < 1e-12);
    }

    #[test]
    fn single_unit_arm_is_too_small() {
        let a = arm(&[1.0]);
        let b = arm(&[2.0, 4.0]);
        let err = two_sample(&a, &b, &TestOptions::default()).expect_err("n = 1");
        assert_eq!(
            err,
            StatsError::TooFewUnits {
                role: "control",
                n: 1,
                needed: 2
            }
        );
        assert_eq!(err.to_string(), "the control has `1` units, but at least 2 are needed");
    }

    #[test]
    fn relative_difference_needs_a_nonzero_control() {
        let a = arm(&[-1.0, 1.0]);
        let b = arm(&[2.0, 4.0]);
        let options = TestOptions {
            difference: Difference::Relative,
            ..TestOptions::default()
        };
        assert_eq!(two_sample(&a, &b, &options), Err(StatsError::ZeroControlMean { value: 0.0 }));
    }

    #[test]
    fn alpha_is_validated() {
        let a = arm(&[1.0, 2.0]);
        let options = TestOptions {
            alpha: 1.5,
            ..TestOptions::default()
        };
        let err = two_sample(&a, &a, &options).expect_err("alpha out of range");
        assert!(err.to_string().contains("`alpha` is `1.5`"));
    }

    #[test]
    fn identical_arms_have_p_one() {
        let a = arm(&[1.0, 2.0, 3.0]);
        let r = two_sample(&a, &a, &TestOptions::default()).expect("defined");
        assert_eq!((r.estimate, r.p_value), (0.0, 1.0));
    }

    #[test]
    fn proportions_all_zero_have_no_test() {
        let zero = Proportion { successes: 0, trials: 10 };
        assert_eq!(two_proportions(zero, zero, 0.05), Err(StatsError::ZeroVariance));
        let bad = Proportion { successes: 11, trials: 10 };
        assert!(two_proportions(zero, bad, 0.05).is_err());
    }

    #[test]
    fn srm_validates_its_inputs() {
        assert!(sample_ratio_mismatch(&[10, 10], &[1.0]).is_err());
        assert!(sample_ratio_mismatch(&[10], &[1.0]).is_err());
        assert!(sample_ratio_mismatch(&[10, 10], &[1.0, 0.0]).is_err());
        assert!(sample_ratio_mismatch(&[0, 0], &[1.0, 1.0]).is_err());
        let r = sample_ratio_mismatch(&[50, 50], &[1.0, 1.0]).expect("valid");
        assert_eq!((r.statistic, r.df, r.p_value), (0.0, 1, 1.0));
    }
}
