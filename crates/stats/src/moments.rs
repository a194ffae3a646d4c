//! Per-arm sufficient statistics, computed so that large offsets do not eat the variance.
//!
//! Every test in this crate needs the same few numbers per arm: the unit count, the means
//! of one to four per-unit variables, and their (co)variances. [`Moments`] holds them in
//! centered form (means and co-moments `Σ (x_i − x̄)(x_j − x̄_j)`) rather than as raw sums
//! and sums of squares, because `Σx² − (Σx)²/n` cancels catastrophically for values like
//! `1e9 + small`. Raw data goes through a corrected two-pass algorithm with compensated
//! (Neumaier) sums; arms are pooled with the pairwise update of Chan, Golub & LeVeque
//! (1979). Means are kept as an unevaluated sum `hi + lo` of two doubles, so that the
//! difference of two arms' means, which the pooled co-moment needs, does not inherit
//! the rounding of a `1e9`-sized mean. SQL aggregates (`n`, `Σx`, `Σx_i x_j`) are
//! accepted too, through [`Moments::from_sums`], which carries the same cancellation as
//! gbstats does.
//!
//! [`ArmSummary`] is what the tests consume: an estimate, the unit-level variance of that
//! estimate (so its standard error is `sqrt(variance / n)`) and `n`. It is built from a
//! mean, a ratio of sums (delta method), a proportion, or by [`crate::cuped`].

use crate::StatsError;

/// Count, means and co-moments of `K` variables measured on the same units.
///
/// Index `i` is the column of the rows given to [`Moments::from_rows`]: a plain metric is
/// `Moments<1>`; a ratio metric is `Moments<2>` with `[numerator, denominator]`; CUPED
/// uses `[post, pre]` and ratio CUPED `[num_post, den_post, num_pre, den_pre]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments<const K: usize> {
    n: u64,
    /// The means are `mean[i] + mean_lo[i]` (double-double).
    mean: [f64; K],
    mean_lo: [f64; K],
    /// `Σ (x_i − x̄_i)(x_j − x̄_j)`, symmetric.
    comoment: [[f64; K]; K],
}

impl<const K: usize> Moments<K> {
    /// The moments of no units: the identity of [`Moments::merge`].
    pub fn empty() -> Self {
        Self {
            n: 0,
            mean: [0.0; K],
            mean_lo: [0.0; K],
            comoment: [[0.0; K]; K],
        }
    }

    /// Moments of per-unit rows, by the corrected two-pass algorithm: compensated means
    /// first, then compensated sums of centered products, minus the first-order term
    /// `(Σ d_i)(Σ d_j)/n` that absorbs the rounding of the means (Chan, Golub & LeVeque,
    /// "Algorithms for computing the sample variance", Am. Stat. 37:242, 1983).
    pub fn from_rows(rows: &[[f64; K]]) -> Result<Self, StatsError> {
        for (row, values) in rows.iter().enumerate() {
            if let Some(&value) = values.iter().find(|v| !v.is_finite()) {
                return Err(StatsError::NonFinite { row, value });
            }
        }
        if rows.is_empty() {
            return Ok(Self::empty());
        }
        let n = rows.len() as f64;
        let mut mean = [0.0; K];
        for (i, m) in mean.iter_mut().enumerate() {
            *m = neumaier_sum(rows.iter().map(|r| r[i])) / n;
        }
        let mut comoment = [[0.0; K]; K];
        let mut shift = [0.0; K];
        for i in 0..K {
            shift[i] = neumaier_sum(rows.iter().map(|r| r[i] - mean[i]));
        }
        for i in 0..K {
            for j in i..K {
                let c = neumaier_sum(rows.iter().map(|r| (r[i] - mean[i]) * (r[j] - mean[j]))) - shift[i] * shift[j] / n;
                comoment[i][j] = c;
                comoment[j][i] = c;
            }
        }
        let mut mean_lo = [0.0; K];
        for i in 0..K {
            (mean[i], mean_lo[i]) = two_sum(mean[i], shift[i] / n);
        }
        Ok(Self {
            n: rows.len() as u64,
            mean,
            mean_lo,
            comoment,
        })
    }

    /// Moments from aggregates: `sums[i] = Σ x_i` and `products[i][j] = Σ x_i x_j` (only
    /// `i <= j` is read). This is what a SQL `GROUP BY arm` gives and what gbstats takes;
    /// the co-moment `Σ x_i x_j − Σ x_i Σ x_j / n` cancels when the means are large
    /// relative to the spread, so prefer [`Moments::from_rows`] when rows are at hand.
    pub fn from_sums(n: u64, sums: [f64; K], products: [[f64; K]; K]) -> Result<Self, StatsError> {
        for (i, &value) in sums.iter().enumerate() {
            if !value.is_finite() {
                return Err(StatsError::InvalidParameter {
                    name: "sums",
                    value,
                    expected: "finite",
                });
            }
            for &value in &products[i][i..] {
                if !value.is_finite() {
                    return Err(StatsError::InvalidParameter {
                        name: "products",
                        value,
                        expected: "finite",
                    });
                }
            }
        }
        if n == 0 {
            return Ok(Self::empty());
        }
        let nf = n as f64;
        let mut mean = [0.0; K];
        let mut comoment = [[0.0; K]; K];
        for i in 0..K {
            mean[i] = sums[i] / nf;
            for j in i..K {
                let c = products[i][j] - sums[i] * sums[j] / nf;
                comoment[i][j] = c;
                comoment[j][i] = c;
            }
        }
        Ok(Self {
            n,
            mean,
            mean_lo: [0.0; K],
            comoment,
        })
    }

    /// The moments of the union of two disjoint sets of units (Chan et al. 1979):
    /// `C = C_a + C_b + δ_i δ_j n_a n_b / n` with `δ = x̄_b − x̄_a`.
    #[must_use]
    pub fn merge(&self, other: &Self) -> Self {
        if other.n == 0 {
            return *self;
        }
        if self.n == 0 {
            return *other;
        }
        let n = self.n + other.n;
        let (na, nb, nf) = (self.n as f64, other.n as f64, n as f64);
        let mut delta = [0.0; K];
        let mut mean = [0.0; K];
        let mut mean_lo = [0.0; K];
        for i in 0..K {
            // The high parts are close, so their difference is exact (Sterbenz).
            delta[i] = (other.mean[i] - self.mean[i]) + (other.mean_lo[i] - self.mean_lo[i]);
            (mean[i], mean_lo[i]) = two_sum(self.mean[i], self.mean_lo[i] + delta[i] * nb / nf);
        }
        let mut comoment = [[0.0; K]; K];
        for i in 0..K {
            for j in 0..K {
                comoment[i][j] = self.comoment[i][j] + other.comoment[i][j] + delta[i] * delta[j] * na * nb / nf;
            }
        }
        Self {
            n,
            mean,
            mean_lo,
            comoment,
        }
    }

    /// Number of units.
    pub fn n(&self) -> u64 {
        self.n
    }

    /// Mean of variable `i`; NaN when there are no units.
    pub fn mean(&self, i: usize) -> f64 {
        if self.n == 0 { f64::NAN } else { self.stored_mean(i) }
    }

    /// The stored mean, 0 for no units.
    fn stored_mean(&self, i: usize) -> f64 {
        self.mean[i] + self.mean_lo[i]
    }

    /// `Σ x_i`.
    pub fn sum(&self, i: usize) -> f64 {
        self.stored_mean(i) * self.n as f64
    }

    /// `Σ x_i x_j` (the sum of squares when `i == j`), for SQL-style exports.
    pub fn sum_of_products(&self, i: usize, j: usize) -> f64 {
        self.comoment[i][j] + self.n as f64 * self.stored_mean(i) * self.stored_mean(j)
    }

    /// Sample variance of variable `i` (divisor `n − 1`); NaN for fewer than two units.
    pub fn variance(&self, i: usize) -> f64 {
        self.covariance(i, i)
    }

    /// Sample covariance of variables `i` and `j` (divisor `n − 1`); NaN for fewer than
    /// two units. Tiny negative variances left by from-sums cancellation are clamped to 0.
    pub fn covariance(&self, i: usize, j: usize) -> f64 {
        if self.n < 2 {
            return f64::NAN;
        }
        let c = self.comoment[i][j] / (self.n - 1) as f64;
        if i == j { c.max(0.0) } else { c }
    }
}

impl Moments<1> {
    /// Moments of one per-unit metric.
    pub fn from_values(values: &[f64]) -> Result<Self, StatsError> {
        let rows: Vec<[f64; 1]> = values.iter().map(|&v| [v]).collect();
        Self::from_rows(&rows)
    }
}

/// `a + b` as a rounded sum and its exact rounding error (Knuth's TwoSum).
fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let bb = s - a;
    (s, (a - (s - bb)) + (b - bb))
}

/// Neumaier's compensated sum (Kahan–Babuška), exact to about one rounding of the total.
fn neumaier_sum(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut compensation) = (0.0_f64, 0.0_f64);
    for v in values {
        let t = sum + v;
        compensation += if sum.abs() >= v.abs() { (sum - t) + v } else { (v - t) + sum };
        sum = t;
    }
    sum + compensation
}

/// What the tests need from one arm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArmSummary {
    /// Units (projects) in the arm.
    pub n: u64,
    /// The arm's estimate: a mean, a ratio of sums, a proportion or a CUPED-adjusted mean.
    pub mean: f64,
    /// Unit-level variance of the estimate: its standard error is `sqrt(variance / n)`.
    pub variance: f64,
    /// The estimate before any CUPED adjustment (equal to `mean` otherwise). Relative
    /// differences divide by the control's, as gbstats does.
    pub unadjusted_mean: f64,
}

impl ArmSummary {
    /// A plain per-unit mean and its sample variance (NaN below two units).
    pub fn from_mean(moments: &Moments<1>) -> Self {
        let mean = moments.mean(0);
        Self {
            n: moments.n(),
            mean,
            variance: moments.variance(0),
            unadjusted_mean: mean,
        }
    }

    /// A ratio metric `R = Σ x / Σ y` from `[numerator, denominator]` moments, with the
    /// delta-method unit variance (Deng, Knoblich & Lu, "Applying the delta method in
    /// metric analytics", KDD 2018, eq. 4; gbstats' `RatioStatistic`):
    ///
    /// `var = var_x/μ_y² − 2 μ_x cov_xy/μ_y³ + μ_x² var_y/μ_y⁴`, so `var(R) ≈ var / n`.
    pub fn from_ratio(moments: &Moments<2>) -> Result<Self, StatsError> {
        if moments.n() == 0 {
            return Err(StatsError::TooFewUnits {
                role: "arm",
                n: 0,
                needed: 2,
            });
        }
        let (mx, my) = (moments.mean(0), moments.mean(1));
        if my == 0.0 {
            return Err(StatsError::ZeroDenominator { value: my });
        }
        let variance = ratio_variance(mx, my, moments.variance(0), moments.variance(1), moments.covariance(0, 1));
        let ratio = moments.sum(0) / moments.sum(1);
        Ok(Self {
            n: moments.n(),
            mean: ratio,
            variance,
            unadjusted_mean: ratio,
        })
    }

    /// A binary metric: `successes` of `trials` units, with the Bernoulli variance
    /// `p(1 − p)` (gbstats' `ProportionStatistic`).
    pub fn from_proportion(successes: u64, trials: u64) -> Result<Self, StatsError> {
        if trials == 0 || successes > trials {
            return Err(StatsError::InvalidParameter {
                name: "successes",
                value: successes as f64,
                expected: "at most the number of trials, which must be positive",
            });
        }
        let p = successes as f64 / trials as f64;
        Ok(Self {
            n: trials,
            mean: p,
            variance: p * (1.0 - p),
            unadjusted_mean: p,
        })
    }

    /// The unit variance with rounding noise removed: an arm whose unit standard deviation
    /// is at most [`CONSTANT_ARM_RELATIVE_SD`] of its mean is constant, and its variance
    /// is exactly 0.
    ///
    /// Variances computed from sums are known only to rounding: comparing them with an
    /// absolute 0 makes that noise a standard error and gives p = 0 (issue 15: a ratio arm
    /// of proportional projects had variance 1.7e-18 and was "significant"). The threshold
    /// scales with the arm's own mean, so it means the same for rates of 0.001 and counts
    /// of 10⁶. Quadratic forms whose terms cancel are also snapped to 0 where they are
    /// computed (the delta method, CUPED).
    pub fn effective_variance(&self) -> f64 {
        let floor = CONSTANT_ARM_RELATIVE_SD * self.unadjusted_mean.abs().max(self.mean.abs());
        if self.variance <= floor * floor { 0.0 } else { self.variance }
    }

    /// Errors unless the arm can enter a two-sample comparison: at least two units, a
    /// finite estimate and a finite, non-negative variance.
    pub(crate) fn check(&self, role: &'static str) -> Result<(), StatsError> {
        if self.n < 2 {
            return Err(StatsError::TooFewUnits {
                role,
                n: self.n,
                needed: 2,
            });
        }
        for (name, value) in [("mean", self.mean), ("unadjusted_mean", self.unadjusted_mean)] {
            if !value.is_finite() {
                return Err(StatsError::InvalidParameter {
                    name,
                    value,
                    expected: "finite",
                });
            }
        }
        if !(self.variance.is_finite() && self.variance >= 0.0) {
            return Err(StatsError::InvalidParameter {
                name: "variance",
                value: self.variance,
                expected: "finite and non-negative",
            });
        }
        Ok(())
    }
}

/// An arm's unit standard deviation at or below this share of its mean counts as zero
/// ([`ArmSummary::effective_variance`]): a variance of 1e-14 of the squared mean is above
/// what double rounding leaves of a constant arm's sums (about 1e-16 relative) and far
/// below any real spread between projects.
pub const CONSTANT_ARM_RELATIVE_SD: f64 = 1e-7;

/// Delta-method unit variance of `μ_x / μ_y`.
///
/// The three terms are each of order `μ_x²/μ_y²` and cancel completely when every unit
/// has the same ratio; a result within rounding of that cancellation
/// ([`snap_cancellation`]) is 0.
pub(crate) fn ratio_variance(mx: f64, my: f64, var_x: f64, var_y: f64, cov_xy: f64) -> f64 {
    let terms = [
        var_x / (my * my),
        -2.0 * cov_xy * mx / (my * my * my),
        mx * mx * var_y / (my * my * my * my),
    ];
    snap_cancellation(&terms)
}

/// The sum of `terms`, or exactly 0 when it is within rounding of 0: at most
/// `64 ε Σ|term|` (`ε` the double precision unit roundoff, 64 a margin for the rounding
/// of the terms themselves). A variance computed as a sum of cancelling terms is only
/// known to that precision, so anything smaller is noise, not spread.
pub(crate) fn snap_cancellation(terms: &[f64]) -> f64 {
    let sum: f64 = terms.iter().sum();
    let scale: f64 = terms.iter().map(|t| t.abs()).sum();
    if sum.abs() <= 64.0 * f64::EPSILON * scale { 0.0 } else { sum }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(f64::MIN_POSITIVE)
    }

    #[test]
    fn large_offset_keeps_the_variance() {
        // Values 1e9 + {0.1, 0.2, 0.3, 0.4}: the naive Σx² − (Σx)²/n gives garbage here.
        let values: Vec<f64> = [0.1, 0.2, 0.3, 0.4].iter().map(|d| 1e9 + d).collect();
        let m = Moments::from_values(&values).expect("valid input");
        // Exact variance of the stored doubles (their offsets are multiples of 2^-23 off).
        let offsets: Vec<f64> = values.iter().map(|v| v - 1e9).collect();
        let mo = offsets.iter().sum::<f64>() / 4.0;
        let want = offsets.iter().map(|o| (o - mo).powi(2)).sum::<f64>() / 3.0;
        assert!(close(m.variance(0), want, 1e-12), "{} vs {want}", m.variance(0));
        assert!(close(m.mean(0), 1e9 + mo, 1e-15));
    }

    #[test]
    fn merge_equals_rows_of_the_union() {
        let a = [[1e9 + 1.0, 2.0], [1e9 + 3.0, 5.0], [1e9 - 2.0, 1.0]];
        let b = [[1e9 + 7.0, 4.0], [1e9 + 0.5, 9.0]];
        let all: Vec<[f64; 2]> = a.iter().chain(b.iter()).copied().collect();
        let merged = Moments::from_rows(&a)
            .expect("valid input")
            .merge(&Moments::from_rows(&b).expect("valid input"));
        let direct = Moments::from_rows(&all).expect("valid input");
        assert_eq!(merged.n(), 5);
        for i in 0..2 {
            assert!(close(merged.mean(i), direct.mean(i), 1e-15));
            for j in 0..2 {
                assert!(close(merged.covariance(i, j), direct.covariance(i, j), 1e-12));
            }
        }
        assert_eq!(merged.merge(&Moments::empty()), merged);
        assert_eq!(Moments::empty().merge(&merged), merged);
    }

    #[test]
    fn sums_round_trip() {
        let rows = [[1.0, 2.0], [3.0, 5.0], [4.0, 4.0]];
        let m = Moments::from_rows(&rows).expect("valid input");
        let s = Moments::from_sums(
            3,
            [8.0, 11.0],
            [[26.0, 33.0], [f64::NAN, 45.0]], // lower triangle is never read
        )
        .expect("valid input");
        for i in 0..2 {
            assert!(close(m.sum(i), s.sum(i), 1e-15));
            for j in i..2 {
                assert!(close(m.sum_of_products(i, j), s.sum_of_products(i, j), 1e-15));
                assert!(close(m.covariance(i, j), s.covariance(i, j), 1e-14));
            }
        }
    }

    #[test]
    fn small_samples_have_no_variance() {
        let one = Moments::from_values(&[4.0]).expect("valid input");
        assert_eq!(one.mean(0), 4.0);
        assert!(one.variance(0).is_nan());
        let none = Moments::<1>::from_values(&[]).expect("valid input");
        assert!(none.mean(0).is_nan());
        let summary = ArmSummary::from_mean(&one);
        assert_eq!(
            summary.check("control"),
            Err(StatsError::TooFewUnits {
                role: "control",
                n: 1,
                needed: 2
            })
        );
    }

    #[test]
    fn non_finite_rows_are_rejected_with_their_row() {
        let err = Moments::from_values(&[1.0, f64::NAN]).expect_err("must fail");
        assert!(matches!(err, StatsError::NonFinite { row: 1, .. }));
        assert!(err.to_string().contains("`NaN`"));
    }

    #[test]
    fn ratio_of_zero_denominator_is_an_error() {
        let m = Moments::from_rows(&[[1.0, 0.0], [2.0, 0.0]]).expect("valid input");
        assert_eq!(ArmSummary::from_ratio(&m), Err(StatsError::ZeroDenominator { value: 0.0 }));
        // An empty arm says so, rather than reporting a NaN denominator.
        let empty = Moments::from_rows(&[]).expect("no rows is valid input");
        assert_eq!(
            ArmSummary::from_ratio(&empty),
            Err(StatsError::TooFewUnits {
                role: "arm",
                n: 0,
                needed: 2
            })
        );
    }

    #[test]
    fn ratio_of_proportional_units_has_zero_variance() {
        // x = 0.25 y in every unit: the linearised residual x − R y is 0.
        let m = Moments::from_rows(&[[1.0, 4.0], [2.0, 8.0], [5.0, 20.0]]).expect("valid input");
        let s = ArmSummary::from_ratio(&m).expect("valid input");
        assert_eq!(s.mean, 0.25);
        assert!(s.variance.abs() < 1e-15);
    }

    #[test]
    fn proportion_validates_counts() {
        assert!(ArmSummary::from_proportion(3, 2).is_err());
        assert!(ArmSummary::from_proportion(0, 0).is_err());
        let s = ArmSummary::from_proportion(1, 4).expect("valid input");
        assert_eq!((s.mean, s.variance), (0.25, 0.1875));
    }
}
