//! Power and minimum detectable effect (MDE) of the two-sided z-test, for planning and for
//! reading a null result ("we could not have seen anything smaller than X").
//!
//! Both take the standard error `se` of the estimated difference at the current (or
//! planned) sample sizes and variances, e.g. from [`crate::fixed_horizon::std_error`]. With the
//! critical value `c = Φ⁻¹(1 − α/2)` and `k = δ/se`, the power of the two-sided z-test is
//!
//! `power(δ) = Φ(k − c) + Φ(−k − c)`,
//!
//! which is statsmodels' `NormalIndPower().power` (`normal_power` with both tails) once its
//! standardised effect size `d` and `nobs1`, `ratio` are mapped to `k = d·sqrt(n₁n₂/(n₁+n₂))`;
//! unlike statsmodels it allows unequal arm variances through `se`. The MDE solves
//! `power(δ) = target` for `δ > 0` by safeguarded Newton to machine precision.
//! statsmodels' `solve_power` stops its `brentq_expanding` at `xtol = 1e-5`, so the oracle
//! compares against a tight root of statsmodels' own power function instead.
//!
//! For a relative MDE pass the standard error of the relative difference (under the null
//! it is the absolute one divided by `|control mean|`). The z-test is chosen over
//! statsmodels' `TTestIndPower` because the job's tests are normal-based at its sample
//! sizes (ratio metrics, sequential, Bayes); the t version differs by `O(1/df)`.

use crate::error::{check_open_unit, check_positive};
use crate::{StatsError, dist};

/// Probability that the two-sided z-test at level `alpha` rejects when the true
/// difference is `effect` and its estimate has standard error `std_error`.
pub fn power(effect: f64, std_error: f64, alpha: f64) -> Result<f64, StatsError> {
    check_open_unit("alpha", alpha)?;
    check_positive("std_error", std_error)?;
    if !effect.is_finite() {
        return Err(StatsError::InvalidParameter {
            name: "effect",
            value: effect,
            expected: "finite",
        });
    }
    Ok(power_at(effect.abs() / std_error, dist::norm_isf(alpha / 2.0)))
}

/// Smallest absolute difference detected with probability `power` by the two-sided
/// z-test at level `alpha`. `power` must exceed `alpha` (the power at zero effect).
pub fn minimum_detectable_effect(std_error: f64, alpha: f64, power: f64) -> Result<f64, StatsError> {
    check_open_unit("alpha", alpha)?;
    check_open_unit("power", power)?;
    check_positive("std_error", std_error)?;
    if power <= alpha {
        return Err(StatsError::InvalidParameter {
            name: "power",
            value: power,
            expected: "greater than alpha, the power at zero effect",
        });
    }
    let c = dist::norm_isf(alpha / 2.0);
    // Without the far tail Φ(−k − c) the root is c + Φ⁻¹(power); the far tail only adds
    // power, so the root lies in [0, that]. power_at is increasing in k on it.
    let mut hi = c + dist::norm_ppf(power);
    let mut lo = 0.0_f64;
    let mut k = hi;
    for _ in 0..100 {
        let f = power_at(k, c) - power;
        if f > 0.0 {
            hi = k;
        } else {
            lo = k;
        }
        let slope = dist::norm_pdf(k - c) - dist::norm_pdf(k + c);
        let mut next = k - f / slope;
        if !(next > lo && next < hi) {
            next = 0.5 * (lo + hi);
        }
        if (next - k).abs() <= 2.0 * f64::EPSILON * k.abs() {
            k = next;
            break;
        }
        k = next;
    }
    Ok(k * std_error)
}

/// `Φ(k − c) + Φ(−k − c)`, with the near tail taken as a survival function.
fn power_at(k: f64, c: f64) -> f64 {
    dist::norm_sf(c - k) + dist::norm_cdf(-c - k)
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn mde_inverts_power() {
        for (alpha, target) in [(0.05, 0.8), (0.01, 0.9), (0.1, 0.5), (0.05, 0.06)] {
            let mde = minimum_detectable_effect(0.3, alpha, target).expect("valid");
            let back = power(mde, 0.3, alpha).expect("valid");
            assert!((back - target).abs() < 1e-14, "{alpha} {target}: {back}");
        }
    }

    #[test]
    fn zero_effect_has_power_alpha() {
        assert!((power(0.0, 1.0, 0.05).expect("valid") - 0.05).abs() < 1e-16);
        assert_eq!(power(-0.5, 0.1, 0.05), power(0.5, 0.1, 0.05));
    }

    #[test]
    fn power_below_alpha_has_no_mde() {
        assert!(minimum_detectable_effect(1.0, 0.05, 0.04).is_err());
        assert!(minimum_detectable_effect(0.0, 0.05, 0.8).is_err());
        assert!(power(1.0, 1.0, 0.0).is_err());
    }
}
