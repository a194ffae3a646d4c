//! CUPED: variance reduction with a pre-period covariate.
//!
//! Projects differ a lot in how much of their generated code gets rewritten, and most of
//! that difference was already there before the experiment. Regressing it out (Deng, Xu,
//! Kohavi & Walker, "Improving the sensitivity of online controlled experiments by
//! utilizing pre-experiment data", WSDM 2013) narrows the intervals without biasing the
//! difference, because the pre-period cannot be affected by the treatment.
//!
//! [`cuped`] is gbstats 0.8.0's `RegressionAdjustedStatistic` with `compute_theta`, on
//! `[post, pre]` moments per arm:
//!
//! - `θ = cov(post, pre) / var(pre)` over the pooled units of both arms (as one sample);
//!   `θ = 0`, i.e. no adjustment, when the pooled pre or post variance is zero;
//! - per arm `μ_adj = μ_post − θ μ_pre`, `σ²_adj = σ²_post + θ² σ²_pre − 2θ cov(post, pre)`,
//!   and `unadjusted_mean = μ_post`, which relative differences divide by.
//!
//! [`cuped_ratio`] adjusts a ratio metric `R = Σ m / Σ d` by the same ratio in the
//! pre-period, on `[m_post, d_post, m_pre, d_pre]` moments. gbstats 0.8.0 has no ratio
//! CUPED; this follows its successor's `RegressionAdjustedRatioStatistic` (gbstats ≥ 0.9):
//! with the delta-method gradients `g_post = (1/μ_dpost, −μ_mpost/μ_dpost²)` and
//! `g_pre` alike, and `Λ` the 4×4 unit covariance of an arm,
//!
//! - `θ = Σ_arms g_preᵀ Λ_pre,post g_post / Σ_arms g_preᵀ Λ_pre,pre g_pre` (0 when the
//!   denominator is 0);
//! - `μ_adj = R_post − θ R_pre`, `σ²_adj = ∇ᵀ Λ ∇` with `∇ = (g_post, −θ g_pre)`.
//!
//! The oracle checks it against an independent numpy computation of the same formulas
//! from raw per-unit data (no gbstats release in the pinned environment provides it).

use crate::moments::{ratio_variance, snap_cancellation};
use crate::{ArmSummary, Moments, StatsError};

/// The adjusted arms and the coefficient used for both.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CupedResult {
    /// The regression coefficient of the post-period metric on the pre-period one.
    pub theta: f64,
    pub control: ArmSummary,
    pub treatment: ArmSummary,
}

/// CUPED for a per-unit mean, from `[post, pre]` moments of each arm.
pub fn cuped(control: &Moments<2>, treatment: &Moments<2>) -> Result<CupedResult, StatsError> {
    check_sizes(control.n(), treatment.n())?;
    let pooled = control.merge(treatment);
    let theta = if pooled.variance(1) > 0.0 && pooled.variance(0) > 0.0 {
        pooled.covariance(0, 1) / pooled.variance(1)
    } else {
        0.0
    };
    let adjust = |m: &Moments<2>| ArmSummary {
        n: m.n(),
        mean: m.mean(0) - theta * m.mean(1),
        variance: m.variance(0) + theta * theta * m.variance(1) - 2.0 * theta * m.covariance(0, 1),
        unadjusted_mean: m.mean(0),
    };
    Ok(CupedResult {
        theta,
        control: adjust(control),
        treatment: adjust(treatment),
    })
}

/// CUPED for a ratio metric, from `[m_post, d_post, m_pre, d_pre]` moments of each arm.
pub fn cuped_ratio(control: &Moments<4>, treatment: &Moments<4>) -> Result<CupedResult, StatsError> {
    check_sizes(control.n(), treatment.n())?;
    let parts = [RatioParts::new(control)?, RatioParts::new(treatment)?];
    let numerator: f64 = parts.iter().map(|p| p.cov_pre_post).sum();
    let denominator: f64 = parts.iter().map(|p| p.var_pre).sum();
    let theta = if denominator > 0.0 { numerator / denominator } else { 0.0 };
    let [c, t] = parts.map(|p| p.adjust(theta));
    Ok(CupedResult {
        theta,
        control: c,
        treatment: t,
    })
}

/// Both arms need two units for their (co)variances.
fn check_sizes(control: u64, treatment: u64) -> Result<(), StatsError> {
    for (role, n) in [("control", control), ("treatment", treatment)] {
        if n < 2 {
            return Err(StatsError::TooFewUnits { role, n, needed: 2 });
        }
    }
    Ok(())
}

/// One arm's delta-method pieces for ratio CUPED.
struct RatioParts<'a> {
    moments: &'a Moments<4>,
    /// Gradient of `μ_m/μ_d` for the post (`[0..2]`) and pre (`[2..4]`) ratios.
    gradient: [f64; 4],
    /// `g_preᵀ Λ_pre,post g_post`.
    cov_pre_post: f64,
    /// `g_preᵀ Λ_pre,pre g_pre`.
    var_pre: f64,
}

impl<'a> RatioParts<'a> {
    fn new(moments: &'a Moments<4>) -> Result<Self, StatsError> {
        for d in [1, 3] {
            let value = moments.mean(d);
            if moments.n() == 0 || value == 0.0 {
                return Err(StatsError::ZeroDenominator { value });
            }
        }
        let m = |i| moments.mean(i);
        let gradient = [1.0 / m(1), -m(0) / (m(1) * m(1)), 1.0 / m(3), -m(2) / (m(3) * m(3))];
        let form = |rows: [usize; 2], cols: [usize; 2]| {
            let mut s = 0.0;
            for &i in &rows {
                for &j in &cols {
                    s += gradient[i] * moments.covariance(i, j) * gradient[j];
                }
            }
            s
        };
        Ok(Self {
            moments,
            gradient,
            cov_pre_post: form([2, 3], [0, 1]),
            var_pre: form([2, 3], [2, 3]),
        })
    }

    fn adjust(&self, theta: f64) -> ArmSummary {
        let m = self.moments;
        let ratio_post = m.sum(0) / m.sum(1);
        let ratio_pre = m.sum(2) / m.sum(3);
        let g = self.gradient;
        let nabla = [g[0], g[1], -theta * g[2], -theta * g[3]];
        let mut terms = [0.0; 16];
        for i in 0..4 {
            for j in 0..4 {
                terms[4 * i + j] = nabla[i] * m.covariance(i, j) * nabla[j];
            }
        }
        let mut variance = snap_cancellation(&terms);
        if theta == 0.0 {
            // Exactly the unadjusted ratio statistic, as gbstats falls back to it.
            variance = ratio_variance(m.mean(0), m.mean(1), m.variance(0), m.variance(1), m.covariance(0, 1));
        }
        ArmSummary {
            n: m.n(),
            mean: ratio_post - theta * ratio_pre,
            variance,
            unadjusted_mean: ratio_post,
        }
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn constant_pre_period_means_no_adjustment() {
        let c = Moments::from_rows(&[[1.0, 5.0], [2.0, 5.0], [4.0, 5.0]]).expect("valid");
        let t = Moments::from_rows(&[[2.0, 5.0], [3.0, 5.0]]).expect("valid");
        let r = cuped(&c, &t).expect("valid");
        assert_eq!(r.theta, 0.0);
        assert_eq!(
            r.control,
            ArmSummary::from_mean(&Moments::from_values(&[1.0, 2.0, 4.0]).expect("valid"))
        );
    }

    #[test]
    fn perfectly_predicted_post_has_no_residual_variance() {
        // post = 2 pre + 1 in both arms: theta = 2 and the adjusted variance is 0.
        let c = Moments::from_rows(&[[3.0, 1.0], [5.0, 2.0], [9.0, 4.0]]).expect("valid");
        let t = Moments::from_rows(&[[7.0, 3.0], [11.0, 5.0]]).expect("valid");
        let r = cuped(&c, &t).expect("valid");
        assert!((r.theta - 2.0).abs() < 1e-14);
        assert!(r.control.variance.abs() < 1e-12 && r.treatment.variance.abs() < 1e-12);
        assert!((r.control.mean - 1.0).abs() < 1e-14);
        assert_eq!(r.control.unadjusted_mean, 17.0 / 3.0);
    }

    #[test]
    fn ratio_cuped_reduces_variance_of_correlated_ratios() {
        let rows = |shift: f64| -> Vec<[f64; 4]> {
            (0..20)
                .map(|i| {
                    let size = 10.0 + f64::from(i % 7) * 5.0;
                    let rate = 0.2 + 0.02 * f64::from(i % 5);
                    [rate * size + shift, size, rate * size * 0.9, size * 1.1]
                })
                .collect()
        };
        let c = Moments::from_rows(&rows(0.0)).expect("valid");
        let t = Moments::from_rows(&rows(0.5)).expect("valid");
        let r = cuped_ratio(&c, &t).expect("valid");
        let plain = |m: &Moments<4>| {
            ArmSummary::from_ratio(
                &Moments::from_sums(
                    m.n(),
                    [m.sum(0), m.sum(1)],
                    [[m.sum_of_products(0, 0), m.sum_of_products(0, 1)], [0.0, m.sum_of_products(1, 1)]],
                )
                .expect("valid"),
            )
            .expect("valid")
        };
        assert!(r.theta > 0.0);
        assert!(r.control.variance < plain(&c).variance);
        assert!((r.control.unadjusted_mean - plain(&c).mean).abs() < 1e-15);
    }

    #[test]
    fn single_unit_arm_is_too_small() {
        let one = Moments::from_rows(&[[1.0, 2.0]]).expect("valid");
        let two = Moments::from_rows(&[[1.0, 2.0], [3.0, 1.0]]).expect("valid");
        assert_eq!(
            cuped(&two, &one),
            Err(StatsError::TooFewUnits {
                role: "treatment",
                n: 1,
                needed: 2
            })
        );
    }

    #[test]
    fn ratio_cuped_with_zero_denominator_is_an_error() {
        let c = Moments::from_rows(&[[1.0, 2.0, 1.0, 0.0], [1.0, 3.0, 2.0, 0.0]]).expect("valid");
        assert_eq!(cuped_ratio(&c, &c), Err(StatsError::ZeroDenominator { value: 0.0 }));
    }
}
