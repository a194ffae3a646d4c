//! Holds hive-stats to scipy 1.13, statsmodels 0.14 and gbstats 0.8.0.
//!
//! Runs `tests/python/stats_oracle.py` with the pinned oracle environment (made by
//! `bash scripts/setup-venvs.sh oracles`), feeds each case's input to the Rust functions
//! and requires agreement within 1e-9 relative, or within 1e-12 absolute where the
//! reference is exactly 0. Degenerate cases expect the named `StatsError` variant. On
//! failure every disagreeing case is listed by name; the worst relative error per kind
//! is printed either way (`cargo test -p hive-stats --test oracle -- --nocapture`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use hive_stats::bayes::{BayesOptions, GaussianPrior, posterior};
use hive_stats::cuped::{cuped, cuped_ratio};
use hive_stats::fixed_horizon::{Proportion, Reference, TestOptions, sample_ratio_mismatch, two_proportions, two_sample};
use hive_stats::power::{minimum_detectable_effect, power};
use hive_stats::sequential::{SequentialOptions, always_valid};
use hive_stats::{ArmSummary, Difference, Direction, Moments, StatsError, TestResult, dist, multiple};
use serde_json::Value;

const REL_TOL: f64 = 1e-9;
const ZERO_FLOOR: f64 = 1e-12;

type Outputs = Vec<(String, f64)>;

#[test]
fn agrees_with_scipy_statsmodels_and_gbstats() {
    let doc = run_oracle();
    let cases = doc["cases"].as_array().expect("`cases` is an array");
    assert!(cases.len() > 500, "the oracle produced only {} cases", cases.len());
    let mut failures = Vec::new();
    let mut worst: BTreeMap<String, (f64, String)> = BTreeMap::new();
    for case in cases {
        let name = case["name"].as_str().expect("case name");
        let kind = case["kind"].as_str().expect("case kind");
        let expected = &case["expected"];
        for (path, got) in evaluate(kind, &case["input"]) {
            let label = if path.is_empty() {
                name.to_string()
            } else {
                format!("{name} [{path}]")
            };
            match (expected.get("values"), expected.get("error"), got) {
                (Some(values), _, Ok(outputs)) => {
                    let outputs: BTreeMap<String, f64> = outputs.into_iter().collect();
                    for (key, want) in values.as_object().expect("values object") {
                        let want = num(want);
                        let Some(&got) = outputs.get(key) else {
                            failures.push(format!("{label}: no output `{key}`"));
                            continue;
                        };
                        let (ok, rel) = agree(got, want);
                        let entry = worst.entry(kind.to_string()).or_insert((0.0, String::new()));
                        if rel > entry.0 {
                            *entry = (rel, format!("{label}: {key}"));
                        }
                        if !ok {
                            failures.push(format!("{label}: {key} = {got:e}, reference {want:e} (rel {rel:.2e})"));
                        }
                    }
                }
                (Some(_), _, Err(err)) => failures.push(format!("{label}: error `{err}`, reference has values")),
                (None, Some(want), Ok(outputs)) => failures.push(format!("{label}: got {outputs:?}, reference error {want}")),
                (None, Some(want), Err(err)) => {
                    if variant(&err) != want.as_str().expect("error name") {
                        failures.push(format!("{label}: error {} (`{err}`), reference error {want}", variant(&err)));
                    }
                }
                (None, None, _) => failures.push(format!("{label}: case has neither values nor error")),
            }
        }
    }
    eprintln!("oracle versions: {}", doc["versions"]);
    for (kind, (rel, at)) in &worst {
        eprintln!("  worst relative error {kind:12} {rel:9.2e}  ({at})");
    }
    assert!(
        failures.is_empty(),
        "{} disagreements with the references:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// `(within tolerance, relative error)`.
fn agree(got: f64, want: f64) -> (bool, f64) {
    if want == 0.0 {
        return (got.abs() <= ZERO_FLOOR, got.abs());
    }
    let rel = ((got - want) / want).abs();
    (rel <= REL_TOL, if rel.is_nan() { f64::INFINITY } else { rel })
}

/// Runs the Rust side of one case; most kinds have one evaluation path, ratio cases two
/// (from SQL-style sums and from per-unit rows).
fn evaluate(kind: &str, input: &Value) -> Vec<(String, Result<Outputs, StatsError>)> {
    let one = |result| vec![(String::new(), result)];
    match kind {
        "dist" => one(Ok(vec![("value".into(), dist_value(input))])),
        "moments" => one(moments(input)),
        "two_sample" => one(two_sample_case(input)),
        "gbstats" => one(frequentist(&arm(&input["control"]), &arm(&input["treatment"]), input)),
        "ratio" => {
            let from_rows = || -> Result<Outputs, StatsError> {
                let control = ArmSummary::from_ratio(&Moments::from_rows(&rows::<2>(&input["rows_control"]))?)?;
                let treatment = ArmSummary::from_ratio(&Moments::from_rows(&rows::<2>(&input["rows_treatment"]))?)?;
                frequentist(&Ok(control), &Ok(treatment), input)
            };
            vec![
                (
                    "sums".into(),
                    frequentist(&arm(&input["control"]), &arm(&input["treatment"]), input),
                ),
                ("rows".into(), from_rows()),
            ]
        }
        "ratio_z" => one(ratio_z(input)),
        "proportions" => one(proportions(input)),
        "srm" => one(srm(input)),
        "multiple" => one(multiple_case(input)),
        "cuped" => one(cuped_case(input)),
        "cuped_ratio" => one(cuped_ratio_case(input)),
        "bayes" => one(bayes_case(input)),
        "sequential" => one(sequential_case(input)),
        "power" => one(power(num(&input["effect"]), num(&input["std_error"]), num(&input["alpha"])).map(|p| vec![("power".into(), p)])),
        "mde" => one(
            minimum_detectable_effect(num(&input["std_error"]), num(&input["alpha"]), num(&input["power"]))
                .map(|m| vec![("mde".into(), m)]),
        ),
        other => panic!("unknown case kind `{other}`"),
    }
}

fn dist_value(input: &Value) -> f64 {
    let x = num(&input["x"]);
    let df = || num(&input["df"]);
    match input["fn"].as_str().expect("fn") {
        "norm_cdf" => dist::norm_cdf(x),
        "norm_sf" => dist::norm_sf(x),
        "norm_ppf" => dist::norm_ppf(x),
        "t_cdf" => dist::t_cdf(x, df()),
        "t_sf" => dist::t_sf(x, df()),
        "t_ppf" => dist::t_ppf(x, df()),
        "chi2_sf" => dist::chi2_sf(x, df()),
        other => panic!("unknown distribution function `{other}`"),
    }
}

fn moments(input: &Value) -> Result<Outputs, StatsError> {
    fn outputs<const K: usize>(m: &Moments<K>) -> Outputs {
        let mut out = Vec::new();
        for i in 0..K {
            out.push((format!("mean_{i}"), m.mean(i)));
            out.push((format!("sum_{i}"), m.sum(i)));
            for j in i..K {
                out.push((format!("cov_{i}{j}"), m.covariance(i, j)));
            }
        }
        out
    }
    let width = input["rows"][0].as_array().expect("rows").len();
    match width {
        1 => Ok(outputs(&Moments::from_rows(&rows::<1>(&input["rows"]))?)),
        2 => Ok(outputs(&Moments::from_rows(&rows::<2>(&input["rows"]))?)),
        other => panic!("no moments case of width {other}"),
    }
}

fn two_sample_case(input: &Value) -> Result<Outputs, StatsError> {
    let control = ArmSummary::from_mean(&Moments::from_values(&nums(&input["control"]))?);
    let treatment = ArmSummary::from_mean(&Moments::from_values(&nums(&input["treatment"]))?);
    let reference = match input["reference"].as_str() {
        Some("t") => Reference::StudentT,
        Some("normal") => Reference::Normal,
        other => panic!("unknown reference {other:?}"),
    };
    let options = TestOptions {
        alpha: num(&input["alpha"]),
        difference: Difference::Absolute,
        reference,
    };
    Ok(test_outputs(&two_sample(&control, &treatment, &options)?))
}

/// gbstats' `TwoSidedTTest`: Welch df, absolute or relative.
fn frequentist(
    control: &Result<ArmSummary, StatsError>,
    treatment: &Result<ArmSummary, StatsError>,
    input: &Value,
) -> Result<Outputs, StatsError> {
    let options = TestOptions {
        alpha: num(&input["alpha"]),
        difference: difference(input),
        reference: Reference::StudentT,
    };
    Ok(test_outputs(&two_sample(&control.clone()?, &treatment.clone()?, &options)?))
}

fn ratio_z(input: &Value) -> Result<Outputs, StatsError> {
    let control = ArmSummary::from_ratio(&Moments::from_rows(&rows::<2>(&input["rows_control"]))?)?;
    let treatment = ArmSummary::from_ratio(&Moments::from_rows(&rows::<2>(&input["rows_treatment"]))?)?;
    let options = TestOptions {
        alpha: num(&input["alpha"]),
        difference: difference(input),
        reference: Reference::Normal,
    };
    Ok(test_outputs(&two_sample(&control, &treatment, &options)?))
}

fn proportions(input: &Value) -> Result<Outputs, StatsError> {
    let counts = |v: &Value| Proportion {
        successes: int(&v[0]),
        trials: int(&v[1]),
    };
    let result = two_proportions(counts(&input["control"]), counts(&input["treatment"]), num(&input["alpha"]))?;
    Ok(test_outputs(&result))
}

fn srm(input: &Value) -> Result<Outputs, StatsError> {
    let observed: Vec<u64> = input["observed"].as_array().expect("observed").iter().map(int).collect();
    let result = sample_ratio_mismatch(&observed, &nums(&input["weights"]))?;
    Ok(vec![("statistic".into(), result.statistic), ("p_value".into(), result.p_value)])
}

fn multiple_case(input: &Value) -> Result<Outputs, StatsError> {
    let p = nums(&input["p_values"]);
    let mut out = Vec::new();
    for (i, (h, b)) in multiple::holm(&p)?.into_iter().zip(multiple::benjamini_hochberg(&p)?).enumerate() {
        out.push((format!("holm_{i}"), h));
        out.push((format!("bh_{i}"), b));
    }
    Ok(out)
}

fn cuped_case(input: &Value) -> Result<Outputs, StatsError> {
    let moments = |s: &Value| {
        Moments::from_sums(
            int(&s["n"]),
            [num(&s["post_sum"]), num(&s["pre_sum"])],
            [
                [num(&s["post_sum_squares"]), num(&s["post_pre_sum_of_products"])],
                [0.0, num(&s["pre_sum_squares"])],
            ],
        )
    };
    let adjusted = cuped(&moments(&input["control"])?, &moments(&input["treatment"])?)?;
    let mut out = vec![
        ("theta".into(), adjusted.theta),
        ("control_mean".into(), adjusted.control.mean),
        ("control_variance".into(), adjusted.control.variance),
        ("treatment_mean".into(), adjusted.treatment.mean),
        ("treatment_variance".into(), adjusted.treatment.variance),
    ];
    out.extend(frequentist(&Ok(adjusted.control), &Ok(adjusted.treatment), input)?);
    Ok(out)
}

fn cuped_ratio_case(input: &Value) -> Result<Outputs, StatsError> {
    let control = Moments::from_rows(&rows::<4>(&input["rows_control"]))?;
    let treatment = Moments::from_rows(&rows::<4>(&input["rows_treatment"]))?;
    let adjusted = cuped_ratio(&control, &treatment)?;
    let mut out = vec![("theta".into(), adjusted.theta)];
    for (role, arm) in [("control", adjusted.control), ("treatment", adjusted.treatment)] {
        out.push((format!("{role}_mean"), arm.mean));
        out.push((format!("{role}_variance"), arm.variance));
        out.push((format!("{role}_unadjusted_mean"), arm.unadjusted_mean));
    }
    Ok(out)
}

fn bayes_case(input: &Value) -> Result<Outputs, StatsError> {
    let prior = match &input["prior"] {
        Value::Null => None,
        p => Some(GaussianPrior {
            mean: num(&p["mean"]),
            variance: num(&p["variance"]),
        }),
    };
    let options = BayesOptions {
        alpha: num(&input["alpha"]),
        difference: difference(input),
        direction: match input["direction"].as_str() {
            Some("lower") => Direction::LowerIsBetter,
            Some("higher") => Direction::HigherIsBetter,
            other => panic!("unknown direction {other:?}"),
        },
        prior,
    };
    let r = posterior(&arm(&input["control"])?, &arm(&input["treatment"])?, &options)?;
    Ok(vec![
        ("mean".into(), r.mean),
        ("std_dev".into(), r.std_dev),
        ("ci_low".into(), r.ci_low),
        ("ci_high".into(), r.ci_high),
        ("chance_to_win".into(), r.chance_to_win),
        ("risk_control".into(), r.risk_control),
        ("risk_treatment".into(), r.risk_treatment),
    ])
}

fn sequential_case(input: &Value) -> Result<Outputs, StatsError> {
    let options = SequentialOptions {
        alpha: num(&input["alpha"]),
        tuning: num(&input["tuning"]),
        difference: difference(input),
    };
    Ok(test_outputs(&always_valid(
        &arm(&input["control"])?,
        &arm(&input["treatment"])?,
        &options,
    )?))
}

fn test_outputs(r: &TestResult) -> Outputs {
    let mut out = vec![
        ("estimate".into(), r.estimate),
        ("std_error".into(), r.std_error),
        ("statistic".into(), r.statistic),
        ("p_value".into(), r.p_value),
        ("ci_low".into(), r.ci_low),
        ("ci_high".into(), r.ci_high),
    ];
    if let Some(df) = r.df {
        out.push(("df".into(), df));
    }
    out
}

/// A gbstats-style statistic (sums, as a SQL query returns them) as an [`ArmSummary`].
fn arm(spec: &Value) -> Result<ArmSummary, StatsError> {
    let n = int(&spec["n"]);
    match spec["type"].as_str() {
        Some("mean") => Ok(ArmSummary::from_mean(&Moments::from_sums(
            n,
            [num(&spec["sum"])],
            [[num(&spec["sum_squares"])]],
        )?)),
        Some("proportion") => ArmSummary::from_proportion(num(&spec["sum"]) as u64, n),
        Some("ratio") => ArmSummary::from_ratio(&Moments::from_sums(
            n,
            [num(&spec["m_sum"]), num(&spec["d_sum"])],
            [
                [num(&spec["m_sum_squares"]), num(&spec["m_d_sum_of_products"])],
                [0.0, num(&spec["d_sum_squares"])],
            ],
        )?),
        other => panic!("unknown statistic type {other:?}"),
    }
}

fn difference(input: &Value) -> Difference {
    match input["difference"].as_str() {
        Some("absolute") => Difference::Absolute,
        Some("relative") => Difference::Relative,
        other => panic!("unknown difference {other:?}"),
    }
}

fn variant(err: &StatsError) -> &'static str {
    match err {
        StatsError::InvalidParameter { .. } => "InvalidParameter",
        StatsError::NonFinite { .. } => "NonFinite",
        StatsError::TooFewUnits { .. } => "TooFewUnits",
        StatsError::ZeroVariance => "ZeroVariance",
        StatsError::ZeroControlMean { .. } => "ZeroControlMean",
        StatsError::ZeroDenominator { .. } => "ZeroDenominator",
        StatsError::LengthMismatch { .. } => "LengthMismatch",
        StatsError::Empty { .. } => "Empty",
    }
}

/// Floats cross as repr strings (exact through `str::parse`); integers as JSON integers.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|e| panic!("`{s}` is not a float: {e}")),
        Value::Number(n) => n.as_f64().unwrap_or_else(|| panic!("`{n}` is not a number")),
        other => panic!("expected a number, got {other}"),
    }
}

fn int(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("expected a non-negative integer, got {v}"))
}

fn nums(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected an array, got {v}"))
        .iter()
        .map(num)
        .collect()
}

fn rows<const K: usize>(v: &Value) -> Vec<[f64; K]> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected rows, got {v}"))
        .iter()
        .map(|row| {
            let values = nums(row);
            <[f64; K]>::try_from(values.as_slice()).unwrap_or_else(|_| panic!("row {row} does not have {K} columns"))
        })
        .collect()
}

/// Runs the oracle script and parses its JSON; on failure prints what was run and why.
fn run_oracle() -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = oracle_python(&root);
    let script = root.join("tests/python/stats_oracle.py");
    let mut cmd = Command::new(&python);
    cmd.arg(&script).current_dir(&root);
    let output = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        output.status.success(),
        "{cmd:?} in {} failed with {}\nstderr:\n{}",
        root.display(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{cmd:?} printed invalid JSON: {e}"))
}

/// The Python with scipy, statsmodels and gbstats, or `HIVE_ORACLE_PYTHON`.
fn oracle_python(root: &Path) -> PathBuf {
    if let Some(p) = std::env::var_os("HIVE_ORACLE_PYTHON") {
        return PathBuf::from(p);
    }
    let python = root.join(".venv/oracles/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `bash scripts/setup-venvs.sh oracles` (the README's test command does)",
        python.display()
    );
    python
}
