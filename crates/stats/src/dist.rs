//! Distribution functions (normal, Student t, chi-square) accurate far into the tails.
//!
//! Every p-value, confidence bound and credible bound in this crate ends here, and the
//! oracle test holds them to scipy within 1e-9 relative, including p-values like 1e-12
//! and Welch degrees of freedom that are not integers. The well-kept crates were first
//! measured against scipy 1.13 on the oracle's grid and fell short:
//!
//! - `statrs` 0.19: Student t quantiles off by up to 100% in the far tails (`df = 1`,
//!   `p = 1e-12`) and by 1.6e-6 at `df = 1e5`, `p = 0.05`; t cdf off by 3.6e-8 at
//!   `df = 1e7` (lgamma cancellation); normal cdf off by 8.6e-11.
//! - `puruspe` 0.4: incomplete beta off by 4.7e-6 at `df = 1000`; `gammq` NaN at `a = 150`.
//!
//! So the special functions are written here, on top of `libm` (rust-lang's port of musl
//! libm, within 1 ulp) for `erfc`, `lgamma` and `tgamma`:
//!
//! - Normal cdf/sf: `erfc(∓x/√2)/2`, as cephes `ndtr`. Quantile: Wichura's AS 241
//!   (PPND16, Applied Statistics 37:477, 1988), relative error below 1e-16.
//! - Student t cdf/sf: `P(T > t) = I_x(ν/2, 1/2)/2` with `x = ν/(ν+t²)` (Abramowitz &
//!   Stegun 26.7.1). The regularized incomplete beta `I` comes from the continued
//!   fraction of Numerical Recipes §6.4 (modified Lentz), whose prefactor
//!   `x^a y^b / (a B(a,b))` is formed in logs with `ln B` from a Stirling-series
//!   difference (the idea of TOMS 708's `algdiv`; plain `lgamma` differences lose eight
//!   digits at `ν = 1e7`). Near the centre of a large-`ν` distribution that fraction is
//!   ill-conditioned, so there the branch choice of TOMS 708's `bratio` is followed and
//!   the asymptotic expansion `bgrat` (Didonato & Morris, ACM TOMS 18:360, 1992) is used.
//! - Student t quantile: safeguarded Newton on the log tail from a Cornish–Fisher start
//!   (A&S 26.7.5), as accurate as the cdf.
//! - Chi-square sf: the regularized upper incomplete gamma `Q(k/2, x/2)` by series or
//!   continued fraction (Numerical Recipes §6.2).
//!
//! Measured against scipy 1.13 on the oracle grid (`df` from 1 to 1e7, tails down to
//! 1e-300): normal cdf/sf/ppf within 6e-14 relative, t cdf/sf within 1.1e-13, chi-square
//! sf within 1e-14, t quantiles within 3.6e-11 — the accuracy of scipy's own `stdtrit`.
//!
//! Invalid parameters (`df <= 0`, `p` outside `[0, 1]`, NaN) give NaN, as in scipy; the
//! public tests validate their inputs before calling in.

// The special functions keep the one-letter names of the formulas they implement.
#![allow(clippy::many_single_char_names)]

use std::cmp::Ordering;
use std::f64::consts::{FRAC_1_SQRT_2, PI};

/// Machine epsilon, the convergence target of the series and continued fractions.
const EPS: f64 = f64::EPSILON;
/// Floor that keeps the Lentz recurrences from dividing by 0.
const TINY: f64 = 1e-300;
/// Safety cap of the series and continued fractions; the branch choices keep them in
/// their fast regions (tens to a few thousand steps).
const MAX_ITER: usize = 1_000_000;
/// Above this many degrees of freedom the t distribution is the normal one in double
/// precision: the first correction to a tail is of relative size `t⁴/(4ν)`, below 1e-14
/// for `|t| < 40`.
const T_DF_NORMAL: f64 = 1e20;

/// Standard normal cdf `Φ(x)`.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * FRAC_1_SQRT_2)
}

/// Standard normal survival function `1 − Φ(x)`, accurate for large `x`.
pub fn norm_sf(x: f64) -> f64 {
    0.5 * libm::erfc(x * FRAC_1_SQRT_2)
}

/// Standard normal density.
pub fn norm_pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * PI).sqrt()
}

/// Standard normal quantile `Φ⁻¹(p)` (AS 241, PPND16).
#[allow(clippy::excessive_precision)] // AS 241's published constants, kept verbatim.
pub fn norm_ppf(p: f64) -> f64 {
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180_625 - q * q;
        return q
            * (((((((r * 2_509.080_928_730_122_7 + 33_430.575_583_588_128) * r + 67_265.770_927_008_7) * r + 45_921.953_931_549_87)
                * r
                + 13_731.693_765_509_461)
                * r
                + 1_971.590_950_306_551_3)
                * r
                + 133.141_667_891_784_38)
                * r
                + 3.387_132_872_796_366_5)
            / (((((((r * 5_226.495_278_852_545 + 28_729.085_735_721_943) * r + 39_307.895_800_092_71) * r + 21_213.794_301_586_597)
                * r
                + 5_394.196_021_424_751)
                * r
                + 687.187_007_492_057_9)
                * r
                + 42.313_330_701_600_911)
                * r
                + 1.0);
    }
    let tail = if q < 0.0 { p } else { 1.0 - p };
    let r = (-tail.ln()).sqrt();
    let z = if r <= 5.0 {
        let r = r - 1.6;
        (((((((r * 7.745_450_142_783_414e-4 + 0.022_723_844_989_269_184) * r + 0.241_780_725_177_450_6) * r + 1.270_458_252_452_368_4)
            * r
            + 3.647_848_324_763_204_5)
            * r
            + 5.769_497_221_460_691)
            * r
            + 4.630_337_846_156_546)
            * r
            + 1.423_437_110_749_683_5)
            / (((((((r * 1.050_750_071_644_416_9e-9 + 5.475_938_084_995_345e-4) * r + 0.015_198_666_563_616_457) * r
                + 0.148_103_976_427_480_08)
                * r
                + 0.689_767_334_985_1)
                * r
                + 1.676_384_830_183_803_8)
                * r
                + 2.053_191_626_637_759)
                * r
                + 1.0)
    } else {
        let r = r - 5.0;
        (((((((r * 2.010_334_399_292_288_1e-7 + 2.711_555_568_743_487_6e-5) * r + 1.242_660_947_388_078_4e-3) * r
            + 0.026_532_189_526_576_124)
            * r
            + 0.296_560_571_828_504_9)
            * r
            + 1.784_826_539_917_291_3)
            * r
            + 5.463_784_911_164_114)
            * r
            + 6.657_904_643_501_103)
            / (((((((r * 2.044_263_103_389_939_7e-15 + 1.421_511_758_316_446e-7) * r + 1.846_318_317_510_054_8e-5) * r
                + 7.868_691_311_456_133e-4)
                * r
                + 0.014_875_361_290_850_615)
                * r
                + 0.136_929_880_922_735_8)
                * r
                + 0.599_832_206_555_888)
                * r
                + 1.0)
    };
    if q < 0.0 { -z } else { z }
}

/// Standard normal inverse survival function `Φ⁻¹(1 − q)`, exact for small `q`.
pub fn norm_isf(q: f64) -> f64 {
    -norm_ppf(q)
}

/// Student t cdf with `df > 0` degrees of freedom (not necessarily an integer).
pub fn t_cdf(x: f64, df: f64) -> f64 {
    if x.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if df > T_DF_NORMAL {
        return norm_cdf(x);
    }
    if x <= 0.0 {
        t_upper_tail(-x, df)
    } else {
        1.0 - t_upper_tail(x, df)
    }
}

/// Student t survival function `P(T > x)`.
pub fn t_sf(x: f64, df: f64) -> f64 {
    t_cdf(-x, df)
}

/// Student t density.
pub fn t_pdf(x: f64, df: f64) -> f64 {
    if df > T_DF_NORMAL {
        return norm_pdf(x);
    }
    // Γ((ν+1)/2) / Γ(ν/2) = exp(-(ln Γ(ν/2) − ln Γ(ν/2 + 1/2)))
    let log_norm = -ln_gamma_ratio(0.5 * df, 0.5) - 0.5 * (df * PI).ln();
    (log_norm - 0.5 * (df + 1.0) * (x * x / df).ln_1p()).exp()
}

/// Student t quantile.
pub fn t_ppf(p: f64, df: f64) -> f64 {
    if p.is_nan() || df.is_nan() || df <= 0.0 || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if df > T_DF_NORMAL {
        return norm_ppf(p);
    }
    match p.partial_cmp(&0.5) {
        Some(Ordering::Less) => -t_upper_quantile(p, df),
        Some(Ordering::Greater) => t_upper_quantile(1.0 - p, df),
        _ => 0.0,
    }
}

/// Student t inverse survival function: the `x` with `P(T > x) = q`.
pub fn t_isf(q: f64, df: f64) -> f64 {
    -t_ppf(q, df)
}

/// Chi-square survival function `P(X > x)` with `df > 0` degrees of freedom.
pub fn chi2_sf(x: f64, df: f64) -> f64 {
    if x.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if x <= 0.0 {
        return 1.0;
    }
    gamma_q(0.5 * df, 0.5 * x)
}

/// `P(T > t)` for `t >= 0`: `I_x(ν/2, 1/2) / 2` with `x = ν/(ν+t²)`, `y = 1 − x`.
fn t_upper_tail(t: f64, df: f64) -> f64 {
    if t == 0.0 {
        return 0.5;
    }
    if t.is_infinite() {
        return 0.0;
    }
    let t2 = t * t;
    // Both x and its complement are formed directly: neither is 1 minus the other.
    let (x, y) = if t2.is_finite() {
        (df / (df + t2), t2 / (df + t2))
    } else {
        (df / t / t, 1.0)
    };
    let a = 0.5 * df;
    // The branch choice follows TOMS 708's `bratio` for b = 1/2: near the centre of a
    // large-ν distribution the continued fraction is ill-conditioned (it wanders at the
    // 1e-10 level for ν = 1e7), so there the asymptotic expansion `bgrat` takes over.
    if a >= 15.0 && x > 0.5 && a * y > 0.49 {
        0.5 * beta_inc_half_large_a(a, x, y)
    } else {
        0.5 * beta_inc(a, 0.5, x, y)
    }
}

/// `I_x(a, 1/2)` for `a >= 15` and `x > 1/2`: the asymptotic expansion of Didonato &
/// Morris (TOMS 708 `bgrat`, ACM TOMS 18:360, 1992) in powers of `1/ν`, `ν = a − 1/4`,
/// around the incomplete gamma `Q(1/2, z) = erfc(√z)` with `z = −ν ln x`.
fn beta_inc_half_large_a(a: f64, x: f64, y: f64) -> f64 {
    const B: f64 = 0.5;
    const BM1: f64 = B - 1.0;
    let nu = a + 0.5 * BM1;
    let ln_x = if y > 0.375 { x.ln() } else { (-y).ln_1p() };
    let z = -nu * ln_x;
    // R = e^{-z} z^b / Γ(b); the series below is carried as K_n = R·J_n so that no
    // ratio of two underflowing numbers is ever formed.
    let r = (-z).exp() * z.sqrt() / PI.sqrt();
    let scale = (-(ln_gamma_ratio(a, B) + B * nu.ln())).exp();
    let v = 0.25 / (nu * nu);
    let t2 = 0.25 * ln_x * ln_x;
    let mut k = libm::erfc(z.sqrt());
    let mut sum = k;
    let (mut t, mut cn, mut n2) = (1.0, 1.0, 0.0);
    let mut c = [0.0_f64; 31];
    let mut d = [0.0_f64; 31];
    for n in 1..=30 {
        let bp2n = B + n2;
        k = (bp2n * (bp2n + 1.0) * k + (z + bp2n + 1.0) * t * r) * v;
        n2 += 2.0;
        t *= t2;
        cn /= n2 * (n2 + 1.0);
        c[n] = cn;
        let mut s = 0.0;
        let mut coef = B - n as f64;
        for i in 1..n {
            s += coef * c[i] * d[n - i];
            coef += B;
        }
        d[n] = BM1 * cn + s / n as f64;
        let dk = d[n] * k;
        sum += dk;
        if dk.abs() <= EPS * sum {
            break;
        }
    }
    scale * sum
}

/// The `t >= 0` with `P(T > t) = q`, for `0 < q < 0.5`.
fn t_upper_quantile(q: f64, df: f64) -> f64 {
    if q <= 0.0 {
        return f64::INFINITY;
    }
    // Start: Cornish–Fisher expansion of t around the normal quantile (A&S 26.7.5),
    // or for heavy tails the power-law tail P(T > t) ≈ C t^-ν.
    let z = norm_isf(q);
    let (z2, nu) = (z * z, df);
    let cf = z
        + (z2 + 1.0) * z / (4.0 * nu)
        + ((5.0 * z2 + 16.0) * z2 + 3.0) * z / (96.0 * nu * nu)
        + (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / (384.0 * nu * nu * nu);
    let ln_k = -ln_gamma_ratio(0.5 * df, 0.5) - 0.5 * (df * PI).ln();
    let log_c = ln_k + 0.5 * (df + 1.0) * df.ln() - df.ln();
    let power_law = ((log_c - q.ln()) / df).exp();
    let mut t = if cf.is_finite() && cf > 0.0 && (df >= 3.0 || q > 1e-3) {
        cf
    } else {
        power_law
    };
    if !(t.is_finite() && t > 0.0) {
        t = z.max(1.0);
    }
    // Bracket [lo, hi] with tail(lo) > q > tail(hi), then Newton on ln tail(t) − ln q,
    // falling back to (geometric) bisection whenever a step leaves the bracket.
    let (mut lo, mut hi) = (0.0_f64, f64::INFINITY);
    let ln_q = q.ln();
    for _ in 0..200 {
        let tail = t_upper_tail(t, df);
        let h = tail.ln() - ln_q;
        if h == 0.0 {
            return t;
        }
        if h > 0.0 {
            lo = t;
        } else {
            hi = t;
        }
        // d/dt ln tail = −pdf/tail.
        let step = h * tail / t_pdf(t, df);
        let mut next = t + step;
        if !(next > lo && next < hi && next.is_finite()) {
            next = if hi.is_infinite() {
                2.0 * t
            } else if lo > 0.0 {
                (lo * hi).sqrt()
            } else {
                0.5 * hi
            };
        }
        if (next - t).abs() <= 4.0 * EPS * next.abs() {
            return next;
        }
        t = next;
    }
    t
}

/// Regularized incomplete beta `I_x(a, b)`, given `x` and `y = 1 − x` separately so
/// that neither loses digits to the subtraction.
fn beta_inc(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    // The continued fraction converges fast below the mean-ish point; above it, use
    // I_x(a, b) = 1 − I_y(b, a).
    if x < (a + 1.0) / (a + b + 2.0) {
        beta_prefix(a, b, x, y) * beta_cf(a, b, x) / a
    } else {
        1.0 - beta_prefix(b, a, y, x) * beta_cf(b, a, y) / b
    }
}

/// `x^a y^b / B(a, b)`, formed in logs.
fn beta_prefix(a: f64, b: f64, x: f64, y: f64) -> f64 {
    let ln_x = if x > 0.5 { (-y).ln_1p() } else { x.ln() };
    let ln_y = if y > 0.5 { (-x).ln_1p() } else { y.ln() };
    (a * ln_x + b * ln_y - ln_beta(a, b)).exp()
}

/// Continued fraction for the incomplete beta (Numerical Recipes `betacf`, modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..MAX_ITER {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() <= EPS {
            break;
        }
    }
    h
}

/// `ln B(a, b)` without the cancellation of three large `lgamma`s.
fn ln_beta(a: f64, b: f64) -> f64 {
    let (p, q) = if a < b { (a, b) } else { (b, a) };
    if q < 10.0 {
        return libm::lgamma(p) + libm::lgamma(q) - libm::lgamma(p + q);
    }
    libm::lgamma(p) + ln_gamma_ratio(q, p)
}

/// `ln Γ(q) − ln Γ(q + p)` for `p > 0`, via Stirling's series when `q >= 10`:
/// `(q−½)ln q − (q+p−½)ln(q+p) + p + ω(q) − ω(q+p)`, rearranged as
/// `−(q−½)·ln1p(p/q) − p·ln(q+p) + p + ω(q) − ω(q+p)`.
fn ln_gamma_ratio(q: f64, p: f64) -> f64 {
    if q < 10.0 {
        return libm::lgamma(q) - libm::lgamma(q + p);
    }
    -(q - 0.5) * (p / q).ln_1p() - p * (q + p).ln() + p + stirling_tail(q) - stirling_tail(q + p)
}

/// `ω(x) = ln Γ(x) − ((x−½)ln x − x + ½ln 2π)` for `x >= 10` (A&S 6.1.41).
fn stirling_tail(x: f64) -> f64 {
    let r = 1.0 / x;
    let r2 = r * r;
    r * (1.0 / 12.0
        - r2 * (1.0 / 360.0 - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0 - r2 * (1.0 / 1188.0 - r2 * (691.0 / 360_360.0 - r2 / 156.0))))))
}

/// Regularized upper incomplete gamma `Q(a, x)`.
fn gamma_q(a: f64, x: f64) -> f64 {
    let ln_prefix = a * x.ln() - x - libm::lgamma(a);
    if x < a + 1.0 {
        // Series for P(a, x) (NR `gser`), then Q = 1 − P; here P is not close to 1.
        let mut ap = a;
        let mut del = 1.0 / a;
        let mut sum = del;
        for _ in 0..MAX_ITER {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * EPS {
                break;
            }
        }
        1.0 - sum * ln_prefix.exp()
    } else {
        // Continued fraction for Q(a, x) (NR `gcf`, modified Lentz).
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..MAX_ITER {
            let i = i as f64;
            let an = -i * (i - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() <= EPS {
                break;
            }
        }
        ln_prefix.exp() * h
    }
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    fn close(got: f64, want: f64, rel: f64) -> bool {
        (got - want).abs() <= rel * want.abs()
    }

    #[test]
    fn closed_forms() {
        for x in [-1e6_f64, -300.0, -3.0, -0.5, 0.0, 0.7, 12.0, 1e4] {
            // Cauchy (df = 1) and df = 2 have closed-form cdfs.
            let cauchy = if x < 0.0 { (-1.0 / x).atan() / PI } else { 0.5 + x.atan() / PI };
            assert!(close(t_cdf(x, 1.0), cauchy, 1e-13), "df=1 x={x}");
            let two = 0.5 + x / (2.0 * (2.0 + x * x).sqrt());
            let two_lower = 1.0 / ((2.0 + x * x).sqrt() * ((2.0 + x * x).sqrt() - x));
            let want = if x < 0.0 { two_lower } else { two };
            assert!(close(t_cdf(x, 2.0), want, 1e-13), "df=2 x={x}");
        }
        for x in [1e-3_f64, 1.0, 50.0, 1300.0] {
            assert!(close(chi2_sf(x, 2.0), (-x / 2.0).exp(), 1e-14), "chi2 df=2 x={x}");
            assert!(close(chi2_sf(x, 1.0), 2.0 * norm_sf(x.sqrt()), 1e-13), "chi2 df=1 x={x}");
        }
    }

    #[test]
    fn quantiles_invert_cdfs() {
        for df in [0.7, 1.0, 3.3, 40.0, 1e6, 1e15] {
            for p in [1e-14, 0.01, 0.3, 0.5, 0.9, 0.999] {
                let x = t_ppf(p, df);
                assert!(close(t_cdf(x, df), p, 1e-12), "df={df} p={p}");
                assert!(close(t_isf(p, df), -x, 0.0), "df={df} p={p}");
            }
        }
        // The cdf amplifies an ulp of x by x² (about 1400 at p = 1e-300).
        for p in [1e-300, 1e-10, 0.2, 0.5, 0.8] {
            assert!(close(norm_cdf(norm_ppf(p)), p, 1e-12), "p={p}");
        }
    }

    #[test]
    fn edges_and_invalid_parameters() {
        assert_eq!(norm_ppf(0.0), f64::NEG_INFINITY);
        assert_eq!(norm_ppf(1.0), f64::INFINITY);
        assert_eq!(t_ppf(0.5, 3.0), 0.0);
        assert_eq!(t_sf(f64::INFINITY, 3.0), 0.0);
        assert_eq!(chi2_sf(0.0, 4.0), 1.0);
        assert!(norm_ppf(1.5).is_nan() && t_ppf(-0.1, 2.0).is_nan());
        assert!(t_cdf(1.0, 0.0).is_nan() && t_cdf(f64::NAN, 2.0).is_nan() && chi2_sf(1.0, -1.0).is_nan());
        // Beyond 1e20 degrees of freedom the t is the normal to double precision.
        assert_eq!(t_sf(2.5, 1e21), norm_sf(2.5));
        assert!(close(t_sf(2.5, 1e15), norm_sf(2.5), 1e-13));
    }
}
