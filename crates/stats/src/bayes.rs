//! Bayesian read-out: chance to beat control and expected loss, for people who decide.
//!
//! "How likely is the new template better, and how much do we lose if we ship it and it
//! is not?" is what a product owner asks. This is gbstats 0.8.0's `EffectBayesianABTest`
//! (0.8.0 no longer has `GaussianBayesianABTest`): a normal likelihood for the estimated
//! difference `Δ̂ ~ N(Δ, V)` (difference and `V` exactly as in [`crate::fixed_horizon`]) and a
//! normal prior on the effect.
//!
//! - Prior: by default improper and flat (gbstats `GaussianPrior(proper=False)`, its
//!   default), so the posterior is `N(Δ̂, V)`. With a proper prior `N(m, v)` on the same
//!   scale as the difference (relative or absolute; gbstats rescales a relative prior by
//!   the control mean for absolute differences, here the caller picks the scale):
//!   precision `1/V + 1/v`, mean `(Δ̂/V + m/v) / (1/V + 1/v)`.
//! - Chance to win: `P(Δ > 0)` for higher-is-better metrics, `P(Δ < 0)` for
//!   lower-is-better ones (gbstats `inverse`); computed as `Φ(±μ/σ)` directly, where
//!   gbstats takes `1 − sf` for inverse metrics and loses digits below 1e-16.
//! - Credible interval: `μ + σ Φ⁻¹(α/2)`, `μ + σ Φ⁻¹(1 − α/2)`.
//! - Expected loss (gbstats `risk`): choosing control loses `E[max(Δ, 0)]`, choosing
//!   treatment loses `E[max(−Δ, 0)]` (swapped when lower is better), in closed form
//!   `E[max(Δ, 0)] = σ (z Φ(z) + φ(z))`, `E[max(−Δ, 0)] = σ (φ(z) − z Φ(−z))`, `z = μ/σ`
//!   (gbstats multiplies a tail probability by scipy's truncated-normal mean; same value).
//!
//! Degenerate inputs are errors as in [`crate::fixed_horizon`]. Where gbstats returns its
//! uninformative default because one arm alone has zero variance, the posterior here is
//! still computed.

use crate::error::{check_open_unit, check_positive};
use crate::fixed_horizon::estimate;
use crate::{ArmSummary, Difference, Direction, StatsError, dist};

/// A proper normal prior on the effect, on the scale of the difference being estimated.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GaussianPrior {
    pub mean: f64,
    pub variance: f64,
}

/// How [`posterior`] reads the comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BayesOptions {
    /// The credible interval covers `1 − alpha`.
    pub alpha: f64,
    pub difference: Difference,
    pub direction: Direction,
    /// `None`: the flat improper prior (gbstats' default).
    pub prior: Option<GaussianPrior>,
}

/// The posterior of the effect and what it means for the decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BayesResult {
    /// Posterior mean of the difference (treatment vs control).
    pub mean: f64,
    /// Posterior standard deviation.
    pub std_dev: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// Probability that the treatment is better than control, in the metric's direction.
    pub chance_to_win: f64,
    /// Expected loss of keeping control (gbstats `risk[0]`).
    pub risk_control: f64,
    /// Expected loss of shipping the treatment (gbstats `risk[1]`).
    pub risk_treatment: f64,
}

/// Posterior of the difference between the arms under a normal approximation.
pub fn posterior(control: &ArmSummary, treatment: &ArmSummary, options: &BayesOptions) -> Result<BayesResult, StatsError> {
    check_open_unit("alpha", options.alpha)?;
    let data = estimate(control, treatment, options.difference)?;
    let (mean, precision) = match options.prior {
        None => (data.value, 1.0 / data.variance),
        Some(prior) => {
            check_positive("prior variance", prior.variance)?;
            if !prior.mean.is_finite() {
                return Err(StatsError::InvalidParameter {
                    name: "prior mean",
                    value: prior.mean,
                    expected: "finite",
                });
            }
            let precision = 1.0 / data.variance + 1.0 / prior.variance;
            ((data.value / data.variance + prior.mean / prior.variance) / precision, precision)
        }
    };
    let std_dev = (1.0 / precision).sqrt();
    let z = mean / std_dev;
    let density = dist::norm_pdf(z);
    // E[max(Δ, 0)] and E[max(−Δ, 0)].
    let gain = std_dev * (z * dist::norm_cdf(z) + density);
    let shortfall = std_dev * (density - z * dist::norm_sf(z));
    let (chance_to_win, risk_control, risk_treatment) = match options.direction {
        Direction::HigherIsBetter => (dist::norm_cdf(z), gain, shortfall),
        Direction::LowerIsBetter => (dist::norm_sf(z), shortfall, gain),
    };
    Ok(BayesResult {
        mean,
        std_dev,
        ci_low: mean + std_dev * dist::norm_ppf(options.alpha / 2.0),
        ci_high: mean + std_dev * dist::norm_ppf(1.0 - options.alpha / 2.0),
        chance_to_win,
        risk_control,
        risk_treatment,
    })
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn arm(n: u64, mean: f64, variance: f64) -> ArmSummary {
        ArmSummary {
            n,
            mean,
            variance,
            unadjusted_mean: mean,
        }
    }

    fn options(direction: Direction) -> BayesOptions {
        BayesOptions {
            alpha: 0.05,
            difference: Difference::Absolute,
            direction,
            prior: None,
        }
    }

    #[test]
    fn direction_flips_chance_and_risk() {
        let (c, t) = (arm(200, 0.30, 0.04), arm(210, 0.27, 0.05));
        let up = posterior(&c, &t, &options(Direction::HigherIsBetter)).expect("valid");
        let down = posterior(&c, &t, &options(Direction::LowerIsBetter)).expect("valid");
        assert!((up.chance_to_win + down.chance_to_win - 1.0).abs() < 1e-15);
        assert!(down.chance_to_win > 0.9);
        assert_eq!((up.risk_control, up.risk_treatment), (down.risk_treatment, down.risk_control));
        // E[max(Δ,0)] − E[max(−Δ,0)] = E[Δ].
        assert!((up.risk_control - up.risk_treatment - up.mean).abs() < 1e-15);
    }

    #[test]
    fn proper_prior_shrinks_towards_its_mean() {
        let (c, t) = (arm(50, 1.0, 1.0), arm(50, 1.5, 1.0));
        let flat = posterior(&c, &t, &options(Direction::HigherIsBetter)).expect("valid");
        let mut shrunk = options(Direction::HigherIsBetter);
        shrunk.prior = Some(GaussianPrior { mean: 0.0, variance: 0.01 });
        let shrunk = posterior(&c, &t, &shrunk).expect("valid");
        assert!(shrunk.mean < flat.mean && shrunk.mean > 0.0);
        assert!(shrunk.std_dev < flat.std_dev);
        let mut bad = options(Direction::HigherIsBetter);
        bad.prior = Some(GaussianPrior { mean: 0.0, variance: 0.0 });
        assert!(posterior(&c, &t, &bad).is_err());
    }

    #[test]
    fn constant_arms_have_no_posterior() {
        let c = arm(5, 1.0, 0.0);
        assert_eq!(posterior(&c, &c, &options(Direction::LowerIsBetter)), Err(StatsError::ZeroVariance));
    }
}
