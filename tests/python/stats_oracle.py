"""Reference outputs for hive-stats from scipy, statsmodels and gbstats.

    .venv/oracles/bin/python tests/python/stats_oracle.py [OUT.json]

Prints (or writes to OUT.json) one JSON document:

    {"versions": {...}, "cases": [{"name", "kind", "input", "expected", "source"}, ...]}

`expected` is either {"values": {output: number}} or {"error": "StatsError variant"} for
the degenerate inputs where the reference itself gives NaN or its uninformative default.
Every float is written as its repr string, which Rust's `str::parse::<f64>` reads back
exactly (JSON number parsers may be off by an ulp, which matters for 1e9 + small).

The cases are deterministic (fixed seeds): tiny samples, unequal sizes, one constant arm,
huge counts, p-values down to 1e-300, three to five arms, long lists for Holm/BH. Where a
reference is numerically lossy, the script substitutes an exact equivalent and asserts
the two agree to the loss bound:

- gbstats p-values are `2*(1 - t.cdf)`, which cancels below ~1e-6: replaced by
  `2*t.sf` of gbstats' own statistic and df;
- gbstats' chance to win for inverse metrics is `1 - norm.sf`: replaced by `norm.cdf`;
- statsmodels `solve_power` stops at xtol=1e-5: the MDE is a tight brentq root of
  statsmodels' own `NormalIndPower.power`.
"""

import json
import sys
import warnings
from fractions import Fraction

import numpy as np
import scipy
import scipy.optimize
import scipy.stats as st
import statsmodels
import statsmodels.stats.multitest as smm
import statsmodels.stats.power as smp
import statsmodels.stats.proportion as smprop
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

import gbstats
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)
from gbstats.utils import check_srm

warnings.simplefilter("ignore")  # degenerate cases make scipy warn; their NaNs are asserted

CASES = []


def case(name, kind, inp, values=None, error=None, source=""):
    assert (values is None) != (error is None), name
    if values is not None:
        for key, value in values.items():
            assert np.isfinite(value), f"{name}: reference {key} is {value}"
    CASES.append(
        {
            "name": name,
            "kind": kind,
            "input": inp,
            "expected": {"values": values} if values is not None else {"error": error},
            "source": source,
        }
    )


def exact(value):
    """repr strings for every float, recursively (ints stay ints)."""
    if isinstance(value, dict):
        return {k: exact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact(v) for v in value]
    if isinstance(value, (bool, str)) or value is None:
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    return repr(float(value))


# ---------------------------------------------------------------------------------------
# dist: the distribution functions, scipy.stats
# ---------------------------------------------------------------------------------------
def dist_cases():
    tiny = 1e-300  # keep references in the normal range
    for x in [-38, -30, -20, -10, -8.3, -5, -3, -1.5, -0.3, 0, 0.2, 1, 1.96, 3, 5, 8.3, 10, 20, 30, 37]:
        for fn, ref in [("norm_cdf", st.norm.cdf(x)), ("norm_sf", st.norm.sf(x))]:
            if ref > tiny:
                case(f"{fn}(x={x})", "dist", {"fn": fn, "x": x}, {"value": ref}, source="scipy.stats.norm")
    for p in [1e-300, 1e-100, 1e-20, 1e-12, 1e-6, 1e-3, 0.025, 0.3, 0.5, 0.6, 0.975, 0.999, 1 - 1e-9, 1 - 1e-15]:
        case(f"norm_ppf(p={p!r})", "dist", {"fn": "norm_ppf", "x": p}, {"value": st.norm.ppf(p)}, source="scipy.stats.norm")
    dfs = [1, 1.3, 2, 2.5, 3, 4.7, 10, 29.5, 30, 31.2, 100.7, 1000.5, 12345.6, 1e5, 1e6, 1e7]
    xs = [-1e4, -300, -40, -12, -7, -4, -2.5, -1, -0.3, -0.01, 0, 0.5, 1.96, 3, 6, 9, 20, 100]
    for df in dfs:
        for x in xs:
            for fn, ref in [("t_cdf", st.t.cdf(x, df)), ("t_sf", st.t.sf(x, df))]:
                if ref > tiny:
                    case(f"{fn}(x={x}, df={df})", "dist", {"fn": fn, "x": x, "df": df}, {"value": ref}, source="scipy.stats.t")
        for p in [1e-15, 1e-12, 1e-8, 1e-4, 0.0125, 0.025, 0.05, 0.2, 0.4, 0.8, 0.95, 0.975, 0.995, 1 - 1e-8]:
            case(f"t_ppf(p={p!r}, df={df})", "dist", {"fn": "t_ppf", "x": p, "df": df}, {"value": st.t.ppf(p, df)}, source="scipy.stats.t")
    for df in [1, 2, 3, 4, 5, 7, 10, 20]:
        for x in [1e-6, 0.01, 0.5, 1, 2, 3.84, 7, 15, 30, 60, 100, 300, 700, 1300]:
            ref = st.chi2.sf(x, df)
            if ref > tiny:
                case(f"chi2_sf(x={x}, df={df})", "dist", {"fn": "chi2_sf", "x": x, "df": df}, {"value": ref}, source="scipy.stats.chi2")


# ---------------------------------------------------------------------------------------
# moments: exact rational arithmetic on the doubles given
# ---------------------------------------------------------------------------------------
def exact_moments(rows):
    n = len(rows)
    k = len(rows[0])
    cols = [[Fraction(r[i]) for r in rows] for i in range(k)]
    means = [sum(c) / n for c in cols]
    out = {}
    for i in range(k):
        out[f"mean_{i}"] = float(means[i])
        out[f"sum_{i}"] = float(sum(cols[i]))
        for j in range(i, k):
            cov = sum((a - means[i]) * (b - means[j]) for a, b in zip(cols[i], cols[j])) / (n - 1)
            out[f"cov_{i}{j}"] = float(cov)
    return out


def moment_cases():
    rs = np.random.RandomState(7)
    for n in [2, 4, 100, 2000]:
        rows = [[1e9 + u] for u in rs.uniform(0, 1, n)]
        case(f"moments 1e9 + U(0,1), n={n}", "moments", {"rows": rows}, exact_moments(rows), source="exact fractions")
    for n in [3, 500]:
        x = 1e9 + rs.normal(0, 0.01, n)
        y = -1e6 + 3 * (x - 1e9) + rs.normal(0, 0.001, n)
        rows = [[a, b] for a, b in zip(x, y)]
        case(f"moments bivariate 1e9 + N(0, 0.01), n={n}", "moments", {"rows": rows}, exact_moments(rows), source="exact fractions")
    rows = [[-3.5, 1e-3], [2.25, -7.0]]
    case("moments n=2 mixed signs", "moments", {"rows": rows}, exact_moments(rows), source="exact fractions")


# ---------------------------------------------------------------------------------------
# tests: Welch t (scipy) and z (statsmodels) on unit means
# ---------------------------------------------------------------------------------------
def welch_cases():
    rs = np.random.RandomState(11)
    samples = [
        ("n=2 vs 2", rs.normal(10, 2, 2), rs.normal(11, 2, 2)),
        ("n=2 vs 3", rs.normal(0.3, 0.1, 2), rs.normal(0.2, 0.1, 3)),
        ("n=3 vs 50", rs.normal(5, 1, 3), rs.normal(5.5, 3, 50)),
        ("n=40 vs 25 unequal var", rs.normal(0, 1, 40), rs.normal(0.4, 4, 25)),
        ("n=5000 vs 7000", rs.normal(0.25, 0.1, 5000), rs.normal(0.252, 0.12, 7000)),
        ("p about 1e-12", rs.normal(0, 1, 60), rs.normal(1.45, 1, 60)),
        ("p about 1e-30", rs.normal(0, 1, 80), rs.normal(2.3, 1, 90)),
        ("p about 1e-100", rs.normal(0, 1, 200), rs.normal(2.4, 1, 200)),
        ("n=3 far apart", np.array([1.0, 1.1, 0.9]), np.array([5.0, 5.2, 4.9])),
        ("1e6 offset", 1e6 + rs.normal(0, 1, 30), 1e6 + rs.normal(0.5, 1, 35)),
        ("control constant", np.array([2.0, 2.0, 2.0, 2.0]), rs.normal(2.5, 1, 6)),
        ("treatment constant", rs.normal(0.1, 0.02, 9), np.array([0.0, 0.0, 0.0])),
        ("identical arms", np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])),
    ]
    for label, control, treatment in samples:
        for alpha in [0.05, 0.01] if label.startswith("n=40") else [0.05]:
            inp = {"control": control.tolist(), "treatment": treatment.tolist(), "alpha": alpha}
            res = st.ttest_ind(treatment, control, equal_var=False)
            ci = res.confidence_interval(confidence_level=1 - alpha)
            vc, vt = control.var(ddof=1) / len(control), treatment.var(ddof=1) / len(treatment)
            values = {
                "estimate": treatment.mean() - control.mean(),
                "std_error": np.sqrt(vc + vt),
                "statistic": res.statistic,
                "df": res.df,
                "p_value": res.pvalue,
                "ci_low": ci.low,
                "ci_high": ci.high,
            }
            if label == "identical arms":
                values["estimate"] = 0.0
            source = "scipy.stats.ttest_ind(equal_var=False)"
            if label == "1e6 offset":
                # numpy's float means are off by ~1e-9 relative in their difference here.
                values, source = exact_welch(control, treatment, alpha, values), "exact moments + scipy.stats.t"
            case(f"welch {label} alpha={alpha}", "two_sample", {**inp, "reference": "t"}, values, source=source)
            cm = CompareMeans(DescrStatsW(treatment), DescrStatsW(control))
            z, p = cm.ztest_ind(usevar="unequal")
            low, high = cm.zconfint_diff(alpha=alpha, usevar="unequal")
            zvalues = {k: values[k] for k in ["estimate", "std_error"]}
            zvalues.update({"statistic": z, "p_value": p, "ci_low": low, "ci_high": high})
            source = "statsmodels CompareMeans.ztest_ind(usevar='unequal')"
            if label == "1e6 offset":
                zvalues, source = exact_z(values, alpha, zvalues), "exact moments + scipy.stats.norm"
            case(f"z-test {label} alpha={alpha}", "two_sample", {**inp, "reference": "normal"}, zvalues, source=source)
    # Degenerate: scipy gives NaN.
    both = st.ttest_ind([2.0, 2.0, 2.0], [1.0, 1.0], equal_var=False)
    assert not np.isfinite(both.statistic) or not np.isfinite(both.pvalue) or both.pvalue == 0
    case("welch both arms constant", "two_sample", {"control": [1.0, 1.0], "treatment": [2.0, 2.0, 2.0], "alpha": 0.05, "reference": "t"}, error="ZeroVariance", source="scipy: t=inf, p=0 (no variance)")
    single = st.ttest_ind([3.0, 4.0, 5.0], [1.0], equal_var=False)
    assert np.isnan(single.pvalue)
    case("welch control n=1", "two_sample", {"control": [1.0], "treatment": [3.0, 4.0, 5.0], "alpha": 0.05, "reference": "t"}, error="TooFewUnits", source="scipy: NaN")


def exact_welch(control, treatment, alpha, scipy_values):
    """Welch's test from exactly computed moments; checks scipy is within its rounding."""
    moments = []
    for x in (control, treatment):
        xs = [Fraction(float(v)) for v in x]
        mean = sum(xs) / len(xs)
        var = sum((v - mean) ** 2 for v in xs) / (len(xs) - 1)
        moments.append((mean, var / len(xs), len(xs)))
    (mc, vc, nc), (mt, vt, nt) = moments
    est, var = float(mt - mc), float(vc + vt)
    se = np.sqrt(var)
    df = float((vc + vt) ** 2 / (vc**2 / (nc - 1) + vt**2 / (nt - 1)))
    stat = est / se
    crit = st.t.isf(alpha / 2, df)
    values = {"estimate": est, "std_error": se, "statistic": stat, "df": df, "p_value": 2 * st.t.sf(abs(stat), df), "ci_low": est - crit * se, "ci_high": est + crit * se}
    for key, value in values.items():
        assert abs(value - scipy_values[key]) <= 1e-8 * abs(value), (key, value, scipy_values[key])
    return values


def exact_z(welch, alpha, statsmodels_values):
    est, se = welch["estimate"], welch["std_error"]
    crit = st.norm.isf(alpha / 2)
    values = {"estimate": est, "std_error": se, "statistic": est / se, "p_value": 2 * st.norm.sf(abs(est / se)), "ci_low": est - crit * se, "ci_high": est + crit * se}
    for key, value in values.items():
        assert abs(value - statsmodels_values[key]) <= 1e-8 * abs(value), (key, value, statsmodels_values[key])
    return values


# ---------------------------------------------------------------------------------------
# gbstats frequentist (mean, proportion, ratio) from sums
# ---------------------------------------------------------------------------------------
def gb_stat(spec):
    if spec["type"] == "mean":
        return SampleMeanStatistic(n=spec["n"], sum=spec["sum"], sum_squares=spec["sum_squares"])
    if spec["type"] == "proportion":
        return ProportionStatistic(n=spec["n"], sum=spec["sum"])
    if spec["type"] == "ratio":
        return RatioStatistic(
            n=spec["n"],
            m_statistic=SampleMeanStatistic(n=spec["n"], sum=spec["m_sum"], sum_squares=spec["m_sum_squares"]),
            d_statistic=SampleMeanStatistic(n=spec["n"], sum=spec["d_sum"], sum_squares=spec["d_sum_squares"]),
            m_d_sum_of_products=spec["m_d_sum_of_products"],
        )
    raise ValueError(spec)


def mean_spec(values):
    values = [float(v) for v in values]
    return {"type": "mean", "n": len(values), "sum": float(sum(Fraction(v) for v in values)), "sum_squares": float(sum(Fraction(v) ** 2 for v in values))}


def ratio_spec(rows):
    # Integer line counts: the sums are exact.
    m = [int(r[0]) for r in rows]
    d = [int(r[1]) for r in rows]
    return {
        "type": "ratio",
        "n": len(rows),
        "m_sum": float(sum(m)),
        "m_sum_squares": float(sum(v * v for v in m)),
        "d_sum": float(sum(d)),
        "d_sum_squares": float(sum(v * v for v in d)),
        "m_d_sum_of_products": float(sum(a * b for a, b in zip(m, d))),
    }


def precise_p(test, p, name):
    """gbstats' 2*(1 - cdf) cancels for small p; use 2*sf of its own statistic."""
    if p >= 1e-6:
        return p, ""
    sf = 2 * st.t.sf(abs(test.critical_value), test.dof)
    assert abs(sf - p) <= 1e-15, f"{name}: gbstats p {p} vs 2*sf {sf}"
    return sf, " (p-value: 2*t.sf of gbstats' statistic)"


def frequentist_case(name, kind, control, treatment, difference, alpha, extra=None):
    config = FrequentistConfig(difference_type=difference, alpha=alpha)
    test = TwoSidedTTest(gb_stat(control), gb_stat(treatment), config)
    res = test.compute_result()
    inp = {"control": control, "treatment": treatment, "difference": difference, "alpha": alpha, **(extra or {})}
    source = f"gbstats {gbstats.__version__} TwoSidedTTest"
    if res.error_message == "ZERO_NEGATIVE_BASELINE_VARIATION":
        case(name, kind, inp, error="ZeroControlMean" if difference == "relative" else "ZeroDenominator", source=source + ": " + res.error_message)
        return
    if res.error_message == "ZERO_NEGATIVE_VARIANCE":
        both = test.stat_a.variance <= 0 and test.stat_b.variance <= 0
        error = "TooFewUnits" if min(control["n"], treatment["n"]) < 2 else "ZeroVariance"
        assert both or error == "TooFewUnits", name
        case(name, kind, inp, error=error, source=source + ": " + res.error_message)
        return
    assert res.error_message is None, res.error_message
    p, note = precise_p(test, res.p_value, name)
    values = {"estimate": res.expected, "ci_low": res.ci[0], "ci_high": res.ci[1], "p_value": p, "df": test.dof, "std_error": np.sqrt(test.variance)}
    case(name, kind, inp, values, source=source + note)


def gbstats_frequentist_cases():
    rs = np.random.RandomState(23)
    pairs = [
        ("mean n=30 vs 35", rs.normal(0.3, 0.2, 30), rs.normal(0.26, 0.25, 35)),
        ("mean n=3 vs 4", rs.normal(4, 1, 3), rs.normal(6, 2, 4)),
        ("mean p tiny", rs.normal(1, 0.1, 400), rs.normal(1.05, 0.1, 400)),
    ]
    for label, c, t in pairs:
        for difference in ["absolute", "relative"]:
            frequentist_case(f"gbstats {label} {difference}", "gbstats", mean_spec(c), mean_spec(t), difference, 0.05)
    frequentist_case("gbstats mean zero control relative", "gbstats", mean_spec([-1.0, 1.0]), mean_spec([2.0, 4.0]), "relative", 0.05)
    frequentist_case("gbstats mean both constant", "gbstats", mean_spec([1.0, 1.0]), mean_spec([2.0, 2.0, 2.0]), "absolute", 0.05)
    for label, (sc, nc), (stt, nt) in [("proportion 120/1000 vs 150/1000", (120, 1000), (150, 1000)), ("proportion 3/7 vs 5/6", (3, 7), (5, 6))]:
        for difference in ["absolute", "relative"]:
            control = {"type": "proportion", "n": nc, "sum": float(sc)}
            treatment = {"type": "proportion", "n": nt, "sum": float(stt)}
            frequentist_case(f"gbstats {label} {difference}", "gbstats", control, treatment, difference, 0.1)


def rewrite_rows(rs, n, rate, size=40.0):
    """Per project: [removed lines, generated lines], the primary metric's shape."""
    generated = np.maximum(1, rs.lognormal(np.log(size), 1.0, n).astype(int))
    project_rate = np.clip(rs.beta(2, 2 * (1 - rate) / rate, n), 0, 1)
    removed = rs.binomial(generated, project_rate)
    return [[int(r), int(g)] for r, g in zip(removed, generated)]


def delta_z(rows_c, rows_t, difference, alpha):
    """Independent delta-method z-test from per-unit data (Deng et al. 2018)."""
    out = []
    for rows in (rows_c, rows_t):
        a = np.array(rows, dtype=float)
        cov = np.cov(a[:, 0], a[:, 1], ddof=1)
        mx, my = a[:, 0].mean(), a[:, 1].mean()
        var = cov[0, 0] / my**2 - 2 * mx * cov[0, 1] / my**3 + mx**2 * cov[1, 1] / my**4
        out.append((a[:, 0].sum() / a[:, 1].sum(), var, len(rows)))
    (rc, vc, nc), (rt, vt, nt) = out
    if difference == "absolute":
        est, var = rt - rc, vc / nc + vt / nt
    else:
        est, var = (rt - rc) / rc, vt / (rc**2 * nt) + vc * rt**2 / (rc**4 * nc)
    se = np.sqrt(var)
    z = est / se
    crit = st.norm.isf(alpha / 2)
    return {"estimate": est, "std_error": se, "statistic": z, "p_value": 2 * st.norm.sf(abs(z)), "ci_low": est - crit * se, "ci_high": est + crit * se}


def ratio_cases():
    rs = np.random.RandomState(31)
    arms = [
        ("n=3 vs 3", rewrite_rows(rs, 3, 0.2), rewrite_rows(rs, 3, 0.15)),
        ("n=12 vs 9", rewrite_rows(rs, 12, 0.25), rewrite_rows(rs, 9, 0.2)),
        ("n=300 vs 320", rewrite_rows(rs, 300, 0.2), rewrite_rows(rs, 320, 0.18)),
        ("n=5000 vs 5000 p tiny", rewrite_rows(rs, 5000, 0.2), rewrite_rows(rs, 5000, 0.17)),
        ("n=40 vs 2000 large projects", rewrite_rows(rs, 40, 0.3, 2000.0), rewrite_rows(rs, 2000, 0.3, 2000.0)),
    ]
    for label, c, t in arms:
        for difference in ["absolute", "relative"]:
            extra = {"rows_control": c, "rows_treatment": t}
            frequentist_case(f"ratio {label} {difference}", "ratio", ratio_spec(c), ratio_spec(t), difference, 0.05, extra)
            inp = {"rows_control": c, "rows_treatment": t, "difference": difference, "alpha": 0.05}
            case(f"ratio z {label} {difference}", "ratio_z", inp, delta_z(c, t, difference, 0.05), source="numpy delta method (Deng et al. 2018) + scipy.stats.norm")
    zero_den = [[0, 0], [0, 0], [0, 0]]
    frequentist_case("ratio control denominators all zero", "ratio", ratio_spec(zero_den), ratio_spec([[1, 5], [2, 6]]), "absolute", 0.05, {"rows_control": zero_den, "rows_treatment": [[1, 5], [2, 6]]})
    one = [[3, 10]]
    frequentist_case("ratio control n=1", "ratio", ratio_spec(one), ratio_spec([[1, 5], [2, 6]]), "relative", 0.05, {"rows_control": one, "rows_treatment": [[1, 5], [2, 6]]})


# ---------------------------------------------------------------------------------------
# proportions (statsmodels), SRM (scipy + gbstats), multiple testing (statsmodels)
# ---------------------------------------------------------------------------------------
def proportion_cases():
    pairs = [
        ("120/1000 vs 150/1000", (120, 1000), (150, 1000), 0.05),
        ("1/3 vs 2/3", (1, 3), (2, 3), 0.05),
        ("0/50 vs 4/60", (0, 50), (4, 60), 0.1),
        ("huge counts, p about 1e-22", (123_456_789, 1_000_000_000), (123_600_000, 1_000_000_000), 0.05),
        ("huge counts, p about 0.6", (400_000_000, 999_999_999), (400_010_000, 1_000_000_001), 0.01),
        ("tiny rate 7/2e6 vs 31/2.1e6", (7, 2_000_000), (31, 2_100_000), 0.05),
    ]
    for label, (sc, nc), (stt, nt), alpha in pairs:
        z, p = smprop.proportions_ztest([stt, sc], [nt, nc])
        low, high = smprop.confint_proportions_2indep(stt, nt, sc, nc, method="wald", compare="diff", alpha=alpha)
        pt, pc = stt / nt, sc / nc
        values = {"estimate": pt - pc, "statistic": z, "p_value": p, "ci_low": low, "ci_high": high, "std_error": np.sqrt(pt * (1 - pt) / nt + pc * (1 - pc) / nc)}
        case(f"proportions {label}", "proportions", {"control": [sc, nc], "treatment": [stt, nt], "alpha": alpha}, values, source="statsmodels proportions_ztest + confint_proportions_2indep(wald)")
    for label, c, t in [("all zero", (0, 10), (0, 12)), ("all one", (10, 10), (12, 12))]:
        z, p = smprop.proportions_ztest([t[0], c[0]], [t[1], c[1]])
        assert np.isnan(p)
        case(f"proportions {label}", "proportions", {"control": list(c), "treatment": list(t), "alpha": 0.05}, error="ZeroVariance", source="statsmodels: NaN")


def srm_cases():
    for label, observed, weights in [
        ("2 arms balanced", [5030, 4970], [0.5, 0.5]),
        ("2 arms exact", [500, 500], [1, 1]),
        ("3 arms", [2010, 2990, 5120], [0.2, 0.3, 0.5]),
        ("4 arms unnormalised weights", [98, 205, 310, 390], [1, 2, 3, 4]),
        ("5 arms small", [3, 1, 4, 1, 5], [1, 1, 1, 1, 1]),
        ("huge counts, p tiny", [500_100_000, 499_900_000], [0.5, 0.5]),
        ("huge counts 3 arms, p about 1e-100", [333_660_000, 333_170_000, 333_170_000], [1, 1, 1]),
    ]:
        total = sum(observed)
        w = np.array(weights, dtype=float)
        expected = w / w.sum() * total
        res = st.chisquare(observed, expected)
        gb = check_srm(observed, weights)
        assert abs(gb - res.pvalue) <= 1e-12 * max(res.pvalue, 1e-300) + 1e-300, (label, gb, res.pvalue)
        case(f"srm {label}", "srm", {"observed": observed, "weights": [float(x) for x in weights]}, {"statistic": res.statistic, "p_value": res.pvalue}, source="scipy.stats.chisquare (= gbstats check_srm)")
    assert check_srm([0, 0], [1, 1]) == 1
    case("srm no units", "srm", {"observed": [0, 0], "weights": [1.0, 1.0]}, error="TooFewUnits", source="scipy: NaN (gbstats: 1)")


def multiple_cases():
    rs = np.random.RandomState(41)
    lists = [
        ("single", [0.03]),
        ("textbook", [0.01, 0.04, 0.03, 0.005]),
        ("10 uniform", rs.uniform(0, 1, 10).tolist()),
        ("ties, 0 and 1", [0.02, 0.02, 0.0, 1.0, 0.5, 0.02, 0.04]),
        ("50 treatments mixed", np.concatenate([rs.uniform(0, 1e-3, 10), rs.uniform(0, 1, 40)]).tolist()),
        ("extreme", [1e-300, 1e-12, 3e-9, 0.2, 0.9999999]),
    ]
    for label, p in lists:
        holm = smm.multipletests(p, method="holm")[1]
        bh = smm.multipletests(p, method="fdr_bh")[1]
        values = {}
        for i, (h, b) in enumerate(zip(holm, bh)):
            values[f"holm_{i}"] = h
            values[f"bh_{i}"] = b
        case(f"multiple {label}", "multiple", {"p_values": p}, values, source="statsmodels multipletests holm / fdr_bh")


# ---------------------------------------------------------------------------------------
# CUPED: gbstats RegressionAdjustedStatistic; ratio CUPED by an independent numpy version
# ---------------------------------------------------------------------------------------
def cuped_spec(post, pre):
    post = [float(v) for v in post]
    pre = [float(v) for v in pre]
    F = Fraction
    return {
        "n": len(post),
        "post_sum": float(sum(F(v) for v in post)),
        "post_sum_squares": float(sum(F(v) ** 2 for v in post)),
        "pre_sum": float(sum(F(v) for v in pre)),
        "pre_sum_squares": float(sum(F(v) ** 2 for v in pre)),
        "post_pre_sum_of_products": float(sum(F(a) * F(b) for a, b in zip(post, pre))),
    }


def gb_ra(spec):
    n = spec["n"]
    return RegressionAdjustedStatistic(
        n=n,
        post_statistic=SampleMeanStatistic(n=n, sum=spec["post_sum"], sum_squares=spec["post_sum_squares"]),
        pre_statistic=SampleMeanStatistic(n=n, sum=spec["pre_sum"], sum_squares=spec["pre_sum_squares"]),
        post_pre_sum_of_products=spec["post_pre_sum_of_products"],
        theta=0,
    )


def cuped_cases():
    rs = np.random.RandomState(53)

    def arm(n, effect, slope=0.8):
        pre = rs.normal(10, 3, n)
        return pre * slope + 2 + effect + rs.normal(0, 1, n), pre

    arms = [
        ("n=3 vs 4", arm(3, 0), arm(4, 0.5)),
        ("n=200 vs 230", arm(200, 0), arm(230, 0.3)),
        ("n=3000 vs 3000 p tiny", arm(3000, 0), arm(3000, 0.2)),
        ("weak covariate", arm(100, 0, 0.05), arm(120, 0.1, 0.05)),
    ]
    for label, (c_post, c_pre), (t_post, t_pre) in arms:
        for difference in ["absolute", "relative"]:
            c, t = cuped_spec(c_post, c_pre), cuped_spec(t_post, t_pre)
            test = TwoSidedTTest(gb_ra(c), gb_ra(t), FrequentistConfig(difference_type=difference, alpha=0.05))
            res = test.compute_result()
            assert res.error_message is None
            p, note = precise_p(test, res.p_value, label)
            values = {
                "theta": test.stat_a.theta,
                "control_mean": test.stat_a.mean,
                "control_variance": test.stat_a.variance,
                "treatment_mean": test.stat_b.mean,
                "treatment_variance": test.stat_b.variance,
                "estimate": res.expected,
                "ci_low": res.ci[0],
                "ci_high": res.ci[1],
                "p_value": p,
            }
            case(f"cuped {label} {difference}", "cuped", {"control": c, "treatment": t, "difference": difference, "alpha": 0.05}, values, source=f"gbstats {gbstats.__version__} RegressionAdjustedStatistic + TwoSidedTTest" + note)
    # Constant pre-period: gbstats reverts to the unadjusted statistic (theta 0).
    c, t = cuped_spec([1.0, 2.0, 4.0], [5.0, 5.0, 5.0]), cuped_spec([2.0, 3.0], [5.0, 5.0])
    test = TwoSidedTTest(gb_ra(c), gb_ra(t), FrequentistConfig(difference_type="absolute"))
    res = test.compute_result()
    values = {"theta": 0.0, "control_mean": test.stat_a.mean, "control_variance": test.stat_a.variance, "treatment_mean": test.stat_b.mean, "treatment_variance": test.stat_b.variance, "estimate": res.expected, "ci_low": res.ci[0], "ci_high": res.ci[1], "p_value": res.p_value}
    case("cuped constant pre-period", "cuped", {"control": c, "treatment": t, "difference": "absolute", "alpha": 0.05}, values, source="gbstats: theta 0, unadjusted statistic")


def ratio_cuped_reference(arms):
    parts = []
    for rows in arms:
        a = np.array(rows, dtype=float)
        lam = np.cov(a.T, ddof=1)
        mu = a.mean(axis=0)
        g_post = np.array([1 / mu[1], -mu[0] / mu[1] ** 2])
        g_pre = np.array([1 / mu[2 + 1], -mu[2] / mu[3] ** 2])
        parts.append((a, lam, g_post, g_pre))
    num = sum(g_pre @ lam[2:4, 0:2] @ g_post for _, lam, g_post, g_pre in parts)
    den = sum(g_pre @ lam[2:4, 2:4] @ g_pre for _, lam, _, g_pre in parts)
    theta = num / den
    out = {"theta": theta}
    for role, (a, lam, g_post, g_pre) in zip(["control", "treatment"], parts):
        nabla = np.concatenate([g_post, -theta * g_pre])
        out[f"{role}_mean"] = a[:, 0].sum() / a[:, 1].sum() - theta * a[:, 2].sum() / a[:, 3].sum()
        out[f"{role}_variance"] = nabla @ lam @ nabla
        out[f"{role}_unadjusted_mean"] = a[:, 0].sum() / a[:, 1].sum()
    return out


def ratio_cuped_cases():
    rs = np.random.RandomState(59)

    def arm(n, rate):
        pre = rewrite_rows(rs, n, 0.2)
        rows = []
        for removed_pre, generated_pre in pre:
            generated = max(1, int(generated_pre * rs.uniform(0.5, 1.5)))
            own = removed_pre / generated_pre
            removed = rs.binomial(generated, min(1.0, 0.5 * own + 0.5 * rate))
            rows.append([int(removed), generated, removed_pre, generated_pre])
        return rows

    for label, c, t in [("n=5 vs 6", arm(5, 0.2), arm(6, 0.15)), ("n=400 vs 380", arm(400, 0.2), arm(380, 0.18))]:
        case(f"ratio cuped {label}", "cuped_ratio", {"rows_control": c, "rows_treatment": t}, ratio_cuped_reference([c, t]), source="numpy: delta method on np.cov of [m_post, d_post, m_pre, d_pre] (gbstats >= 0.9 formulas)")


# ---------------------------------------------------------------------------------------
# Bayesian (gbstats EffectBayesianABTest) and sequential (gbstats SequentialTwoSidedTTest)
# ---------------------------------------------------------------------------------------
def bayes_cases():
    rs = np.random.RandomState(61)
    specs = [
        ("mean near even", mean_spec(rs.normal(1, 1, 100)), mean_spec(rs.normal(1.02, 1, 110))),
        ("mean clear win", mean_spec(rs.normal(1, 1, 400)), mean_spec(rs.normal(1.3, 1, 400))),
        ("mean z about -7", mean_spec(rs.normal(1, 0.2, 500)), mean_spec(rs.normal(0.91, 0.2, 500))),
        ("ratio rewrite rate", ratio_spec(rewrite_rows(rs, 300, 0.2)), ratio_spec(rewrite_rows(rs, 310, 0.18))),
        ("ratio n=3", ratio_spec(rewrite_rows(rs, 3, 0.2)), ratio_spec(rewrite_rows(rs, 3, 0.25))),
    ]
    priors = [None, {"mean": 0.01, "variance": 0.0004}]
    for label, c, t in specs:
        for difference in ["relative", "absolute"]:
            for inverse in [False, True]:
                for prior in priors:
                    if prior is not None and (inverse or difference == "absolute" and label != "mean clear win"):
                        continue
                    bayes_case(f"bayes {label} {difference} inverse={inverse} prior={'proper' if prior else 'flat'}", c, t, difference, inverse, prior)
    # One constant arm: gbstats returns its default; compare its formulas with the guard off.
    bayes_case("bayes control constant (gbstats guard bypassed)", mean_spec([2.0, 2.0, 2.0]), mean_spec(rs.normal(2.5, 1, 8)), "absolute", True, None, bypass=True)


def bayes_case(name, control, treatment, difference, inverse, prior, bypass=False):
    gp = GaussianPrior(mean=prior["mean"], variance=prior["variance"], proper=True) if prior else GaussianPrior()
    config = EffectBayesianConfig(difference_type=difference, inverse=inverse, prior_effect=gp, prior_type=difference, alpha=0.05)
    test = EffectBayesianABTest(gb_stat(control), gb_stat(treatment), config)
    if bypass:
        test._has_zero_variance = lambda: False
    res = test.compute_result()
    assert res.error_message is None, (name, res.error_message)
    ctw, note = res.chance_to_win, ""
    if inverse and ctw < 1e-6:
        exact_ctw = st.norm.cdf(0, res.expected, res.uplift.stddev)
        assert abs(exact_ctw - ctw) <= 1e-15, (name, ctw, exact_ctw)
        ctw, note = exact_ctw, " (chance to win: norm.cdf, gbstats takes 1 - sf)"
    risk = list(res.risk)
    # gbstats multiplies a tail probability by scipy's truncated-normal mean, which loses
    # relative accuracy deep in the tail (7.7e-4 at z = -7, against mpmath). There the
    # reference is the closed form E[max(D, 0)] = s(z Phi(z) + phi(z)), within the
    # absolute error of gbstats' value.
    mu, sd = res.expected, res.uplift.stddev
    z = mu / sd
    gain = sd * (z * st.norm.cdf(z) + st.norm.pdf(z))
    shortfall = sd * (st.norm.pdf(z) - z * st.norm.sf(z))
    closed = [shortfall, gain] if inverse else [gain, shortfall]
    for i in range(2):
        if closed[i] < 1e-6 * sd:
            assert abs(risk[i] - closed[i]) <= 1e-15 * sd, (name, risk[i], closed[i])
            risk[i] = closed[i]
            note += f" (risk[{i}]: closed form, scipy truncnorm is lossy this deep)"
    values = {
        "mean": res.expected,
        "std_dev": res.uplift.stddev,
        "ci_low": res.ci[0],
        "ci_high": res.ci[1],
        "chance_to_win": ctw,
        "risk_control": risk[0],
        "risk_treatment": risk[1],
    }
    inp = {"control": control, "treatment": treatment, "difference": difference, "direction": "lower" if inverse else "higher", "prior": prior, "alpha": 0.05}
    case(name, "bayes", inp, values, source=f"gbstats {gbstats.__version__} EffectBayesianABTest" + note)


def sequential_cases():
    rs = np.random.RandomState(67)
    specs = [
        ("mean n=10 vs 12", mean_spec(rs.normal(1, 1, 10)), mean_spec(rs.normal(1.5, 1, 12))),
        ("mean n=2500 vs 2500", mean_spec(rs.normal(1, 1, 2500)), mean_spec(rs.normal(1.08, 1, 2500))),
        ("mean n=50000 vs 50000", mean_spec(rs.normal(1, 1, 50000)), mean_spec(rs.normal(1.01, 1, 50000))),
        ("ratio rewrite rate", ratio_spec(rewrite_rows(rs, 2000, 0.2)), ratio_spec(rewrite_rows(rs, 2100, 0.19))),
    ]
    for label, c, t in specs:
        for difference in ["absolute", "relative"]:
            for alpha, tuning in [(0.05, 5000.0), (0.1, 500.0), (0.05, 50000.0)]:
                if label.startswith("ratio") is False and difference == "relative" and tuning != 5000.0:
                    continue
                sequential_case(f"sequential {label} {difference} alpha={alpha} tuning={tuning:g}", c, t, difference, alpha, tuning)
    sequential_case("sequential treatment constant (gbstats guard bypassed)", mean_spec(rs.normal(0.3, 0.1, 20)), mean_spec([0.2] * 15), "absolute", 0.05, 5000.0, bypass=True)


def sequential_case(name, control, treatment, difference, alpha, tuning, bypass=False):
    config = SequentialConfig(difference_type=difference, alpha=alpha, sequential_tuning_parameter=tuning)
    test = SequentialTwoSidedTTest(gb_stat(control), gb_stat(treatment), config)
    if bypass:
        ci, p, est = test.confidence_interval, test.p_value, test.point_estimate
    else:
        res = test.compute_result()
        assert res.error_message is None, (name, res.error_message)
        ci, p, est = res.ci, res.p_value, res.expected
    values = {"estimate": est, "ci_low": ci[0], "ci_high": ci[1], "p_value": p, "std_error": np.sqrt(test.variance)}
    inp = {"control": control, "treatment": treatment, "difference": difference, "alpha": alpha, "tuning": tuning}
    case(name, "sequential", inp, values, source=f"gbstats {gbstats.__version__} SequentialTwoSidedTTest")


# ---------------------------------------------------------------------------------------
# power: statsmodels NormalIndPower
# ---------------------------------------------------------------------------------------
def power_cases():
    power = smp.NormalIndPower()
    sigma = 2.5
    for n1, ratio, alpha, d in [(50, 1.0, 0.05, 0.3), (1000, 1.5, 0.01, 0.1), (20, 0.5, 0.1, 1.2), (100000, 1.0, 0.05, 0.005), (30, 1.0, 0.05, 0.0)]:
        n2 = n1 * ratio
        se = sigma * np.sqrt(1 / n1 + 1 / n2)
        ref = power.power(effect_size=d, nobs1=n1, alpha=alpha, ratio=ratio)
        case(f"power n1={n1} ratio={ratio} alpha={alpha} d={d}", "power", {"effect": d * sigma, "std_error": se, "alpha": alpha}, {"power": ref}, source="statsmodels NormalIndPower.power")
    for n1, ratio, alpha, target in [(50, 1.0, 0.05, 0.8), (1000, 1.5, 0.01, 0.9), (20, 0.5, 0.1, 0.5), (100000, 1.0, 0.05, 0.8), (400, 1.0, 0.05, 0.06)]:
        n2 = n1 * ratio
        se = sigma * np.sqrt(1 / n1 + 1 / n2)
        root = scipy.optimize.brentq(
            lambda d: power.power(effect_size=d, nobs1=n1, alpha=alpha, ratio=ratio) - target,
            1e-9,
            50.0,
            xtol=1e-300,
            rtol=4 * np.finfo(float).eps,
            maxiter=500,
        )
        loose = power.solve_power(effect_size=None, nobs1=n1, alpha=alpha, power=target, ratio=ratio)
        assert abs(loose - root) <= 1e-4, (loose, root)
        case(f"mde n1={n1} ratio={ratio} alpha={alpha} power={target}", "mde", {"std_error": se, "alpha": alpha, "power": target}, {"mde": root * sigma}, source="brentq on statsmodels NormalIndPower.power (solve_power stops at xtol=1e-5)")


def main():
    dist_cases()
    moment_cases()
    welch_cases()
    gbstats_frequentist_cases()
    ratio_cases()
    proportion_cases()
    srm_cases()
    multiple_cases()
    cuped_cases()
    ratio_cuped_cases()
    bayes_cases()
    sequential_cases()
    power_cases()
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    doc = {
        "versions": {"numpy": np.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__, "gbstats": gbstats.__version__},
        "cases": exact(CASES),
    }
    text = json.dumps(doc)
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
