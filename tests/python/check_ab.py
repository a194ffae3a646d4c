"""Recomputes ab-significance's fixed-horizon results from `generation_scores` with
pandas, numpy, scipy and statsmodels, independently of the Rust code, and compares them
with `ab_results` to 1e-9 relative.

    check_ab.py ROOT DATE EXPERIMENT_ID CONTROL START END WEIGHTS

WEIGHTS is `variant=weight,...` in config order.

Checks, per treatment: the per-project grouping (units, generations), the ratio
metric with the delta method (z test), Welch's t on project mean diff_score
(scipy.stats.ttest_ind), the clustered share rewritten (delta method), the SRM
chi-square (scipy.stats.chisquare) and Holm / BH (statsmodels multipletests).
Projects are taken as logged (the test lake routes every project correctly).
Prints the number of values compared as JSON.
"""

import json
import sys

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
from scipy import stats
from statsmodels.stats.multitest import multipletests

root, date, experiment, control, start, end, weight_spec = sys.argv[1:8]
weights = [(name, float(w)) for name, w in (item.split("=") for item in weight_spec.split(","))]
scores = ds.dataset(f"{root}/generation_scores", format="parquet", partitioning="hive").to_table().to_pandas()
scores = scores[scores["dt"] <= date]
day = scores["generated_at"].dt.strftime("%Y-%m-%d")
last = min(date, end)
scores = scores[(scores["experiment_id"] == experiment) & (day >= start) & (day <= last)]
results = ds.dataset(f"{root}/ab_results/dt={date}", format="parquet").to_table().to_pandas()
results = results[results["experiment_id"] == experiment]

projects = scores.groupby(["project_id", "variant"]).agg(
    removed=("lines_removed", "sum"),
    generated=("lines_generated", "sum"),
    diff_score=("diff_score", "mean"),
    rewritten=("rewritten", "sum"),
    generations=("event_id", "size"),
).reset_index()
compared = 0


def close(name, ours, reference, row):
    global compared
    compared += 1
    if not np.isclose(ours, reference, rtol=1e-9, atol=1e-300):
        raise SystemExit(f"{row['treatment_variant']} {row['metric']} {name}: ours {ours!r}, reference {reference!r}")


def ratio_arm(frame, num, den):
    x, y = frame[num].astype(float), frame[den].astype(float)
    r = x.sum() / y.sum()
    mx, my = x.mean(), y.mean()
    cov = np.cov(x, y, ddof=1)
    var = (cov[0, 0] - 2 * r * cov[0, 1] + r * r * cov[1, 1]) / my**2
    return r, var / len(frame)


for _, row in results.iterrows():
    c = projects[projects["variant"] == control]
    t = projects[projects["variant"] == row["treatment_variant"]]
    close("units_control", row["units_control"], len(c), row)
    close("units_treatment", row["units_treatment"], len(t), row)
    close("generations_treatment", row["generations_treatment"], t["generations"].sum(), row)
    metric = row["metric"]
    if metric in ("rewrite_rate", "rewritten_share"):
        if row["method"].endswith("+cuped"):
            continue
        num, den = ("removed", "generated") if metric == "rewrite_rate" else ("rewritten", "generations")
        rc, vc = ratio_arm(c, num, den)
        rt, vt = ratio_arm(t, num, den)
        estimate, se = rt - rc, np.sqrt(vc + vt)
        p = 2 * stats.norm.sf(abs(estimate / se))
        z = stats.norm.ppf(1 - row["alpha"] / 2)
        close("control_mean", row["control_mean"], rc, row)
        close("treatment_mean", row["treatment_mean"], rt, row)
        close("estimate", row["estimate"], estimate, row)
        close("p_value", row["p_value"], p, row)
        close("ci_low", row["ci_low"], estimate - z * se, row)
        close("ci_high", row["ci_high"], estimate + z * se, row)
    elif metric == "diff_score":
        welch = stats.ttest_ind(t["diff_score"], c["diff_score"], equal_var=False)
        close("estimate", row["estimate"], t["diff_score"].mean() - c["diff_score"].mean(), row)
        close("p_value", row["p_value"], welch.pvalue, row)

# SRM over every variant of the experiment.
counts = projects.groupby("variant").size()
observed = [int(counts.get(name, 0)) for name, _ in weights]
expected = [w * sum(observed) for _, w in weights]
close("srm_p_value", results["srm_p_value"].iloc[0], stats.chisquare(observed, expected).pvalue, results.iloc[0])
with_p = results[results["p_value"].notna()]
holm = multipletests(with_p["p_value"], method="holm")[1]
bh = multipletests(with_p["p_value"], method="fdr_bh")[1]
for (_, row), h, b in zip(with_p.iterrows(), holm, bh):
    close("p_value_adjusted", row["p_value_adjusted"], h, row)
    close("p_value_bh", row["p_value_bh"], b, row)
print(json.dumps({"compared": compared, "projects": int(len(projects)), "variant_counts": {k: int(v) for k, v in counts.items()}}))
