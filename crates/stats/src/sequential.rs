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
use crate::{ArmSummary, Difference, StatsError, dist};

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
    let rho2 = rho_squared(alpha, options.tuning);
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

/// `ρ²` of the mixture tuned to be tightest at `tuning` total units (eq. 161).
fn rho_squared(alpha: f64, tuning: f64) -> f64 {
    (-2.0 * alpha.ln() + (-2.0 * alpha.ln() + 1.0).ln()) / tuning
}

/// Half-width of the sequence at `n` total units, in units of the standard error of the
/// difference there (`s / sqrt(n)`): the sequential rule's critical value.
fn critical_value(n: f64, rho2: f64, alpha: f64) -> f64 {
    let x = n * rho2 + 1.0;
    (2.0 * x * (x.sqrt() / alpha).ln() / (n * rho2)).sqrt()
}

/// The always-valid p-value of the null `difference = null_value` (the p-value of
/// [`always_valid`] is the one of `null_value = 0`): the smallest `α'` at which the
/// sequence at level `α'`, with `ρ` tuned for `options.alpha`, excludes `null_value`.
/// Guardrails use it with their non-inferiority margin as the null.
pub fn p_value_against(
    control: &ArmSummary,
    treatment: &ArmSummary,
    options: &SequentialOptions,
    null_value: f64,
) -> Result<f64, StatsError> {
    check_open_unit("alpha", options.alpha)?;
    check_positive("tuning", options.tuning)?;
    if !null_value.is_finite() {
        return Err(StatsError::InvalidParameter {
            name: "null_value",
            value: null_value,
            expected: "finite",
        });
    }
    let est = estimate(control, treatment, options.difference)?;
    let n = (control.n + treatment.n) as f64;
    let rho2 = rho_squared(options.alpha, options.tuning);
    let shifted = est.value - null_value;
    let st2 = shifted * shifted * n / est.variance;
    Ok(((n * rho2 + 1.0).sqrt() * (-rho2 * st2 / (2.0 * (n * rho2 + 1.0))).exp()).min(1.0))
}

/// The looks of a planned sequential experiment: when the confidence sequence may decide.
#[derive(Debug, Clone, PartialEq)]
pub struct SequentialDesign {
    /// Level of the sequence (the level a single treatment is tested at; divide by the
    /// number of treatments for Holm's first step).
    pub alpha: f64,
    /// The sequence's tuning `τ` (total units at which it is tightest); its `ρ` is tuned
    /// for `alpha`.
    pub tuning: f64,
    /// Level used to tune `ρ` (the experiment's `alpha`, also when `alpha` is Holm's
    /// `alpha / m`: the job computes one sequence per comparison).
    pub tuning_alpha: f64,
    /// Total units (both arms) at each look where a decision may be taken, increasing.
    pub looks: Vec<f64>,
}

/// Grid steps per standard deviation of the smallest increment between looks in
/// [`sequential_power`]: the trapezoid rule on a Gaussian kernel sampled 4 times per
/// standard deviation is accurate to far below 1e-4 in power (checked against a
/// simulation of the same rule in the unit tests, and against the whole decision code in
/// hive-ab's calibration test).
const STEPS_PER_SD: f64 = 4.0;
/// Largest half-width of the grid, in steps (keeps a pathological design, thousands of
/// tiny looks, bounded in time; the step then grows instead).
const MAX_HALF_POINTS: f64 = 4000.0;

/// Probability that the confidence sequence excludes 0 on the side of `effect` at one of
/// the design's looks, when the true difference is `effect` and the unit standard
/// deviation of the difference is `unit_sd` (so the variance of the estimate at `n` total
/// units is `unit_sd² / n`, as in [`always_valid`]'s `s²`).
///
/// The estimate is a Brownian motion in information `I = n / s²`: `S = I·Δ̂` has
/// independent Gaussian increments with mean `effect·ΔI` and variance `ΔI`, and the rule
/// rejects at the first look where `|S| > I·h(n)`, `h` the half-width. The density of `S`
/// among paths not yet stopped is carried from look to look on one grid of step `δ`
/// (the recursive integration of Armitage, McPherson & Rowe 1969, as used for
/// group-sequential boundaries), so each look's kernel is a function of the index
/// difference and costs one exponential per grid point. The result is the power of the
/// running intersection, which decides once and for all at its first exclusion.
pub fn sequential_power(effect: f64, unit_sd: f64, design: &SequentialDesign) -> Result<f64, StatsError> {
    check_open_unit("alpha", design.alpha)?;
    check_open_unit("tuning_alpha", design.tuning_alpha)?;
    check_positive("tuning", design.tuning)?;
    check_positive("unit_sd", unit_sd)?;
    if !effect.is_finite() {
        return Err(StatsError::InvalidParameter {
            name: "effect",
            value: effect,
            expected: "finite",
        });
    }
    if design.looks.is_empty() {
        return Ok(0.0);
    }
    let mut previous = 0.0_f64;
    let mut smallest_step = f64::INFINITY;
    for &n in &design.looks {
        check_positive("look", n)?;
        if n <= previous {
            return Err(StatsError::InvalidParameter {
                name: "looks",
                value: n,
                expected: "strictly increasing",
            });
        }
        smallest_step = smallest_step.min(n - previous);
        previous = n;
    }
    // Standardised to s = 1: information is n, and by symmetry the drift is >= 0 and the
    // upper side is counted.
    let drift = effect.abs() / unit_sd;
    let rho2 = rho_squared(design.tuning_alpha, design.tuning);
    let bounds: Vec<f64> = design
        .looks
        .iter()
        .map(|&n| n.sqrt() * critical_value(n, rho2, design.alpha))
        .collect();
    let widest = bounds.iter().copied().fold(0.0, f64::max);
    let step = (smallest_step.sqrt() / STEPS_PER_SD).max(widest / MAX_HALF_POINTS);
    let mut power = 0.0;
    // Density times quadrature weight of S on the previous look's grid, indices -m..=m.
    let mut mass: Vec<f64> = vec![1.0];
    let mut half_before = 0_usize;
    let mut info_before = 0.0;
    for (&n, &bound) in design.looks.iter().zip(&bounds) {
        let variance = n - info_before;
        let sd = variance.sqrt();
        let mean = drift * variance;
        let half = (bound / step).floor() as usize;
        // Upper rejection from each previous point.
        for (j, &m) in mass.iter().enumerate() {
            if m != 0.0 {
                let x = (j as f64 - half_before as f64) * step;
                power += m * dist::norm_sf((bound - x - mean) / sd);
            }
        }
        // Kernel by index difference d = k - j, from -(half + half_before) to +.
        let span = half + half_before;
        let kernel: Vec<f64> = (0..=2 * span)
            .map(|i| dist::norm_pdf(((i as f64 - span as f64) * step - mean) / sd) / sd)
            .collect();
        // Trapezoid weights on -half..=half; the end cells reach out to the bound.
        let sliver = bound - half as f64 * step;
        let mut next = vec![0.0; 2 * half + 1];
        for (k, slot) in next.iter_mut().enumerate() {
            let mut density = 0.0;
            for (j, &m) in mass.iter().enumerate() {
                density += m * kernel[k + 2 * half_before - j + (span - half - half_before)];
            }
            let weight = if half == 0 {
                2.0 * bound
            } else if k == 0 || k == 2 * half {
                0.5 * step + sliver
            } else {
                step
            };
            *slot = density * weight;
        }
        mass = next;
        half_before = half;
        info_before = n;
    }
    Ok(power.clamp(0.0, 1.0))
}

/// Smallest absolute difference that the design's sequential rule detects (on its side)
/// with probability `power`, for the unit standard deviation `unit_sd`; `None` when the
/// design cannot reach that power at any effect (no look).
pub fn sequential_mde(unit_sd: f64, design: &SequentialDesign, power: f64) -> Result<Option<f64>, StatsError> {
    check_open_unit("power", power)?;
    check_positive("unit_sd", unit_sd)?;
    let Some(&last) = design.looks.last() else { return Ok(None) };
    // Power grows with the effect; at the last look alone, an effect of (critical value +
    // z_power) standard errors has at least `power`, so that is an upper bracket.
    let rho2 = rho_squared(design.tuning_alpha, design.tuning);
    let se_last = unit_sd / last.sqrt();
    let mut hi = (critical_value(last, rho2, design.alpha) + dist::norm_ppf(power).max(0.0) + 1.0) * se_last;
    let mut lo = 0.0;
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if sequential_power(mid, unit_sd, design)? >= power {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo <= 1e-6 * hi {
            break;
        }
    }
    Ok(Some(hi))
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
    fn p_value_against_zero_is_the_sequence_p_value() {
        let (c, t) = (arm(300, 1.0, 2.0), arm(320, 1.3, 2.5));
        let options = SequentialOptions::default();
        let seq = always_valid(&c, &t, &options).expect("valid");
        assert_eq!(p_value_against(&c, &t, &options, 0.0).expect("valid"), seq.p_value);
        // At the estimate itself nothing is excluded.
        assert_eq!(p_value_against(&c, &t, &options, seq.estimate).expect("valid"), 1.0);
    }

    /// A seeded simulation of the same rule (Gaussian increments, the sequence's bound at
    /// each look) agrees with the numerical integration.
    #[test]
    fn sequential_power_matches_a_simulation_of_the_rule() {
        let looks: Vec<f64> = (1..=30).map(|d| 40.0 * f64::from(d)).collect();
        let design = SequentialDesign {
            alpha: 0.05,
            tuning: 1200.0,
            tuning_alpha: 0.05,
            looks: looks.clone(),
        };
        let unit_sd = 2.0;
        let effect = 0.17;
        let exact = sequential_power(effect, unit_sd, &design).expect("valid");
        // SplitMix64 + Box-Muller: no dependency for a unit test.
        let mut state = 7_u64;
        let mut uniform = || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 + 1e-300
        };
        let paths = 40_000;
        let mut hits = 0;
        for _ in 0..paths {
            let (mut sum, mut before) = (0.0_f64, 0.0_f64);
            for &n in &looks {
                let (u1, u2) = (uniform(), uniform());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                let info = n / (unit_sd * unit_sd);
                sum += effect * (info - before) + z * (info - before).sqrt();
                before = info;
                let estimate = sum / info;
                let rho2 = rho_squared(0.05, 1200.0);
                let half = critical_value(n, rho2, 0.05) * unit_sd / n.sqrt();
                if estimate - half > 0.0 {
                    hits += 1;
                    break;
                }
                if estimate + half < 0.0 {
                    break;
                }
            }
        }
        let simulated = f64::from(hits) / f64::from(paths);
        let se = (exact * (1.0 - exact) / f64::from(paths)).sqrt();
        assert!(
            (simulated - exact).abs() < 4.0 * se + 1e-3,
            "integration {exact}, simulation {simulated}"
        );
        assert!(exact > 0.3 && exact < 0.95, "a discriminating case: {exact}");
        // The MDE at that power gives it back; no effect has power at most alpha/2.
        let mde = sequential_mde(unit_sd, &design, exact).expect("valid").expect("looks");
        assert!((mde - effect).abs() < 1e-4, "{mde}");
        assert!(sequential_power(0.0, unit_sd, &design).expect("valid") <= 0.025);
    }

    #[test]
    fn sequential_power_is_below_the_fixed_horizon_power() {
        // One look at the planned size: the sequence's critical value exceeds 1.96.
        let design = SequentialDesign {
            alpha: 0.05,
            tuning: 1000.0,
            tuning_alpha: 0.05,
            looks: vec![1000.0],
        };
        let se = 1.0 / 1000_f64.sqrt();
        let seq = sequential_power(2.8 * se, 1.0, &design).expect("valid");
        let fixed = crate::power::power(2.8 * se, se, 0.05).expect("valid");
        assert!(seq < fixed - 0.2, "sequential {seq}, fixed {fixed}");
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
