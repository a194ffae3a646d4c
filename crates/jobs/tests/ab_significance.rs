//! Integration tests of `ab-significance` and `promote-templates` on generated
//! `generation_scores` lakes: fixed-horizon results recomputed by scipy / statsmodels,
//! CUPED, the sample-ratio check, routing checks, guardrails blocking promotion, the
//! report, and determinism.

#![allow(clippy::unwrap_used, clippy::format_collect)]

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray};
use serde_json::{Value, json};
use support::{Workdir, ok, parts, run};

use hive_core::lake::PartWriter;
use hive_core::schema::generation_scores_spec;
use hive_core::{PartitionDate, Shard};

/// A deterministic pseudo-random stream (SplitMix64) so lakes are reproducible.
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// How a test lake is made.
struct Scenario {
    projects: usize,
    variants: Vec<(&'static str, &'static str, f64)>,
    /// Multiplier of the rewrite propensity per variant index (1 = no effect).
    rewrite_effect: Vec<f64>,
    /// Added to the diff_score per variant index.
    diff_score_shift: Vec<f64>,
    /// Share of the last variant's projects that never show up (a broken split).
    drop_last_variant: f64,
    /// Share of projects logged under another variant than the spec's.
    misrouted: f64,
    /// Generations before the start, for CUPED.
    pre_period: bool,
    /// Their days relative to the start (scored on day + 7).
    pre_days: [i64; 2],
    /// Rows the statistics cannot use, written into the first partition: one with more
    /// lines removed than generated, one with a NaN `diff_score`.
    bad_rows: bool,
    guardrail: Option<&'static str>,
    /// Also write `diff_scores` (two text files and a binary one per generation), for
    /// the report's breakdowns.
    diff_scores: bool,
    seed: u64,
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            projects: 1200,
            variants: vec![("control", "1.0.0", 0.5), ("treatment", "2.0.0", 0.5)],
            rewrite_effect: vec![1.0, 1.0],
            diff_score_shift: vec![0.0, 0.0],
            drop_last_variant: 0.0,
            misrouted: 0.0,
            pre_period: false,
            pre_days: [-12, -10],
            bad_rows: false,
            guardrail: None,
            diff_scores: false,
            seed: 1,
        }
    }
}

const START: &str = "2026-06-01";
const END: &str = "2026-06-14";
/// The night every generation's window has closed.
const FINAL: &str = "2026-06-21";

#[derive(Default)]
struct Rows {
    event: Vec<String>,
    project: Vec<String>,
    version: Vec<String>,
    experiment: Vec<Option<String>>,
    variant: Vec<Option<String>>,
    at: Vec<i64>,
    generated: Vec<i64>,
    removed: Vec<i64>,
    diff_score: Vec<f64>,
}

fn write_partition(root: &Path, date: PartitionDate, rows: &Rows) {
    let n = rows.event.len();
    let mut part = PartWriter::create(root, generation_scores_spec(), date, Shard::ALL).unwrap();
    let strings = |v: &[String]| -> ArrayRef { Arc::new(v.iter().map(|s| Some(s.as_str())).collect::<StringArray>()) };
    let options = |v: &[Option<String>]| -> ArrayRef { Arc::new(v.iter().map(|s| s.as_deref()).collect::<StringArray>()) };
    let ints = |v: Vec<i64>| -> ArrayRef { Arc::new(Int64Array::from(v)) };
    let rate: Vec<f64> = (0..n).map(|i| rows.removed[i] as f64 / rows.generated[i] as f64).collect();
    let columns: Vec<ArrayRef> = vec![
        strings(&rows.event),
        strings(&rows.project),
        strings(&vec!["tmpl".to_owned(); n]),
        strings(&rows.version),
        options(&rows.experiment),
        options(&rows.variant),
        Arc::new(TimestampMicrosecondArray::from(rows.at.clone()).with_timezone("UTC")),
        ints(vec![3; n]),
        ints(vec![0; n]),
        ints(vec![0; n]),
        ints(rows.generated.clone()),
        ints((0..n).map(|i| rows.generated[i] - rows.removed[i]).collect()),
        ints(rows.removed.clone()),
        ints(rows.removed.clone()),
        Arc::new(Float64Array::from(rate.clone())),
        Arc::new(Float64Array::from(rows.diff_score.clone())),
        Arc::new(rate.iter().map(|r| Some(*r > 0.5)).collect::<BooleanArray>()),
    ];
    part.write(&RecordBatch::try_new(part.schema(), columns).unwrap()).unwrap();
    part.commit().unwrap();
}

/// The language and main file of a project's generations (every project writes one).
fn project_language(project: &str) -> (&'static str, &'static str) {
    let languages = [("rust", "src/main.rs"), ("python", "app/main.py"), ("typescript", "src/index.ts")];
    let n: usize = project.bytes().map(usize::from).sum();
    languages[n % languages.len()]
}

/// Writes the `diff_scores` partition of `rows`' generations: each generation's lines
/// split between its project's main file and `README.md` (so they sum to the
/// generation's), plus a binary `logo.png` without line counts.
/// A fixture file: generation index, path, language, and (generated, removed) lines
/// (`None` for a binary file).
type FixtureFile<'a> = (usize, &'a str, &'a str, Option<(i64, i64)>);

fn write_diff_scores(root: &Path, date: PartitionDate, rows: &Rows) {
    use arrow::array::new_null_array;
    use arrow::datatypes::DataType;
    let mut part = PartWriter::create(root, hive_core::schema::diff_scores_spec(), date, Shard::ALL).unwrap();
    let schema = part.schema();
    let mut files: Vec<FixtureFile<'_>> = Vec::new();
    for i in 0..rows.event.len() {
        let (language, path) = project_language(&rows.project[i]);
        let (generated, removed) = (rows.generated[i], rows.removed[i]);
        let main = generated * 2 / 3;
        let main_removed = (removed * main / generated.max(1)).min(main);
        files.push((i, path, language, Some((main, main_removed))));
        files.push((i, "README.md", "markdown", Some((generated - main, removed - main_removed))));
        files.push((i, "logo.png", "binary", None));
    }
    let n = files.len();
    let text = |f: &dyn Fn(&FixtureFile<'_>) -> String| -> ArrayRef { Arc::new(files.iter().map(|x| Some(f(x))).collect::<StringArray>()) };
    let lines = |f: &dyn Fn((i64, i64)) -> i64| -> ArrayRef { Arc::new(files.iter().map(|x| x.3.map(f)).collect::<Int64Array>()) };
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match field.name().as_str() {
            "event_id" => text(&|x| rows.event[x.0].clone()),
            "project_id" => text(&|x| rows.project[x.0].clone()),
            "template_id" => text(&|_| "tmpl".to_owned()),
            "template_version" => text(&|x| rows.version[x.0].clone()),
            "experiment_id" => Arc::new(files.iter().map(|x| rows.experiment[x.0].clone()).collect::<StringArray>()) as ArrayRef,
            "variant" => Arc::new(files.iter().map(|x| rows.variant[x.0].clone()).collect::<StringArray>()),
            "generated_at" => {
                Arc::new(TimestampMicrosecondArray::from(files.iter().map(|x| rows.at[x.0]).collect::<Vec<_>>()).with_timezone("UTC"))
            }
            "path" => text(&|x| x.1.to_owned()),
            "language" => text(&|x| x.2.to_owned()),
            "lines_generated" => lines(&|(g, _)| g),
            "lines_removed" => lines(&|(_, r)| r),
            "lines_kept" => lines(&|(g, r)| g - r),
            hive_core::schema::IS_BINARY => Arc::new(files.iter().map(|x| Some(x.3.is_none())).collect::<BooleanArray>()),
            _ if field.is_nullable() => new_null_array(field.data_type(), n),
            _ => match field.data_type() {
                DataType::Utf8 => text(&|x| format!("{}-{}", field.name(), x.0)),
                other => panic!("diff_scores column `{}` ({other}) needs a value", field.name()),
            },
        })
        .collect();
    part.write(&RecordBatch::try_new(schema, columns).unwrap()).unwrap();
    part.commit().unwrap();
}

/// Writes `generation_scores` partitions (by window-close day) and the config.
fn build(dir: &Workdir, scenario: &Scenario) -> (PathBuf, PathBuf) {
    let root = dir.join("lake");
    let start: PartitionDate = START.parse().unwrap();
    let weights: Vec<f64> = scenario.variants.iter().map(|v| v.2).collect();
    let mut random = Random(scenario.seed);
    let mut by_close: std::collections::BTreeMap<PartitionDate, Rows> = std::collections::BTreeMap::new();
    let mut event = 0;
    for p in 0..scenario.projects {
        let project = format!("proj-{p:05}");
        let spec = hive_core::routing::assign("exp-1", &project, &weights).unwrap();
        let mut variant = spec;
        if random.next() < scenario.misrouted {
            variant = (variant + 1) % weights.len();
        }
        if variant == weights.len() - 1 && random.next() < scenario.drop_last_variant {
            continue;
        }
        let propensity = (0.1 + 0.6 * random.next()).min(0.95);
        let days: Vec<i64> = if scenario.pre_period { scenario.pre_days.to_vec() } else { vec![] };
        let in_experiment = 1 + (random.next() * 3.0) as i64;
        let experiment_days: Vec<i64> = (0..in_experiment).map(|_| (random.next() * 14.0) as i64).collect();
        for offset in days.into_iter().chain(experiment_days) {
            let pre = offset < 0;
            let effect = if pre { 1.0 } else { scenario.rewrite_effect[variant] };
            let generated = 80 + (random.next() * 200.0) as i64;
            let rate = (propensity * effect + 0.1 * (random.next() - 0.5)).clamp(0.0, 1.0);
            let removed = ((generated as f64) * rate).round() as i64;
            let shift = if pre { 0.0 } else { scenario.diff_score_shift[variant] };
            let day = if pre {
                start.minus_days(offset.unsigned_abs() as u32)
            } else {
                start.plus_days(offset as u32)
            };
            let rows = by_close.entry(day.plus_days(7)).or_default();
            event += 1;
            rows.event.push(format!("e{event:06}"));
            rows.project.push(project.clone());
            rows.version.push(if pre {
                "0.9.0".to_owned()
            } else {
                scenario.variants[variant].1.to_owned()
            });
            rows.experiment.push((!pre).then(|| "exp-1".to_owned()));
            rows.variant.push((!pre).then(|| scenario.variants[variant].0.to_owned()));
            let noon = day.date().and_hms_opt(12, 0, 0).unwrap().and_utc();
            rows.at.push(noon.timestamp_micros());
            rows.generated.push(generated);
            rows.removed.push(removed);
            rows.diff_score.push((0.8 * rate + 0.1 * random.next() + shift).clamp(0.0, 1.0));
        }
    }
    if scenario.bad_rows {
        let (_, rows) = by_close.iter_mut().next().unwrap();
        for (i, (removed, diff)) in [(999, 0.1), (1, f64::NAN)].into_iter().enumerate() {
            rows.event.push(format!("bad{i}"));
            rows.project.push(rows.project[0].clone());
            rows.version.push(rows.version[0].clone());
            rows.experiment.push(rows.experiment[0].clone());
            rows.variant.push(rows.variant[0].clone());
            rows.at.push(rows.at[0]);
            rows.generated.push(10);
            rows.removed.push(removed);
            rows.diff_score.push(diff);
        }
    }
    for (date, rows) in &by_close {
        write_partition(&root, *date, rows);
        if scenario.diff_scores {
            write_diff_scores(&root, *date, rows);
        }
    }
    let variants: String = scenario
        .variants
        .iter()
        .map(|(name, version, weight)| format!("      - {{name: {name}, version: \"{version}\", weight: {weight}}}\n"))
        .collect();
    let guardrail = scenario.guardrail.map_or(String::new(), |g| {
        format!("    guardrails:\n      - {{metric: {g}, margin: 0.05}}\n")
    });
    let config = format!(
        "experiments:\n  - id: exp-1\n    template_id: tmpl\n    start: {START}\n    end: {END}\n    control: control\n    variants:\n{variants}    primary_metric: rewrite_rate\n    secondary_metrics: [diff_score, rewritten_share]\n{guardrail}    sequential_tuning: 1000\n    min_runtime_days: 12\n    target_relative_effect: 0.1\n"
    );
    let config_path = dir.write("experiments.yaml", config);
    (root, config_path)
}

/// `job --data-root root --date date --quiet --config config`.
fn job(name: &str, root: &Path, config: &Path, date: &str) -> std::process::Command {
    let mut cmd = support::bin(name);
    let (root, config) = (root.to_str().unwrap(), config.to_str().unwrap());
    cmd.args(["--data-root", root, "--date", date, "--quiet", "--config", config]);
    cmd
}

fn analyse(root: &Path, config: &Path, date: &str) -> support::Run {
    run(job("ab-significance", root, config, date))
}

fn promote(root: &Path, config: &Path, date: &str) -> Value {
    ok(job("promote-templates", root, config, date)).summary()
}

/// `ab_results` rows as JSON objects (via the rows the report reads).
fn results(root: &Path, date: &str) -> Vec<hive_ab::output::StoredRow> {
    parts(root, "ab_results", date)
        .iter()
        .flat_map(|p| hive_ab::output::read_rows(p).unwrap())
        .collect()
}

fn promotions(root: &Path, date: &str) -> Vec<String> {
    support::sorted_rows(&parts(root, "promotions", date))
}

fn oracle(root: &Path, scenario: &Scenario) -> Value {
    let weights: Vec<String> = scenario.variants.iter().map(|(n, _, w)| format!("{n}={w}")).collect();
    let mut cmd = std::process::Command::new(support::oracle_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_ab.py"));
    cmd.args([root.to_str().unwrap(), FINAL, "exp-1", "control", START, END, &weights.join(",")]);
    serde_json::from_str(ok(cmd).stdout().trim()).unwrap()
}

#[test]
fn fixed_horizon_results_match_scipy_and_statsmodels() {
    let scenario = Scenario {
        variants: vec![("control", "1.0.0", 0.4), ("b", "2.0.0", 0.3), ("c", "3.0.0", 0.3)],
        rewrite_effect: vec![1.0, 0.9, 1.05],
        diff_score_shift: vec![0.0, 0.0, 0.01],
        ..Scenario::default()
    };
    let dir = Workdir::new("ab-oracle");
    let (root, config) = build(&dir, &scenario);
    let summary = analyse(&root, &config, FINAL).expect_code(0).summary();
    assert_eq!(summary["rows_out"], json!(6), "{summary}");
    let checked = oracle(&root, &scenario);
    assert!(checked["compared"].as_u64().unwrap() >= 50, "{checked}");
    let rows = results(&root, FINAL);
    assert!(rows.iter().all(|r| r.method != "delta_ratio+cuped"), "no pre-period, no CUPED");
    assert!(rows.iter().all(|r| r.note.is_none()), "{rows:?}");
}

#[test]
fn cuped_uses_the_pre_period_and_narrows_the_interval() {
    let dir = Workdir::new("ab-cuped");
    let (root, config) = build(
        &dir,
        &Scenario {
            pre_period: true,
            ..Scenario::default()
        },
    );
    analyse(&root, &config, FINAL).expect_code(0);
    let rows = results(&root, FINAL);
    let primary = rows.iter().find(|r| r.metric == "rewrite_rate").unwrap();
    assert_eq!(primary.method, "delta_ratio+cuped");
    // The same lake without the pre-period: the interval is much wider, because the
    // pre-period propensity explains most of the between-project variance by construction.
    let without = Workdir::new("ab-no-cuped");
    let (root2, config2) = build(&without, &Scenario::default());
    analyse(&root2, &config2, FINAL).expect_code(0);
    let plain = results(&root2, FINAL).into_iter().find(|r| r.metric == "rewrite_rate").unwrap();
    let width = |r: &hive_ab::output::StoredRow| r.ci_high.unwrap() - r.ci_low.unwrap();
    assert!(
        width(primary) < 0.8 * width(&plain),
        "CUPED {} vs plain {}",
        width(primary),
        width(&plain)
    );
}

#[test]
fn srm_flags_a_skewed_split_and_not_a_correct_one() {
    let dir = Workdir::new("ab-srm-ok");
    let (root, config) = build(&dir, &Scenario::default());
    analyse(&root, &config, FINAL).expect_code(0);
    let rows = results(&root, FINAL);
    assert!(
        rows.iter().all(|r| !r.srm_flag && r.srm_p_value.unwrap() > 0.001),
        "{:?}",
        rows[0].srm_p_value
    );

    let dir = Workdir::new("ab-srm-skewed");
    let (root, config) = build(
        &dir,
        &Scenario {
            drop_last_variant: 0.25,
            ..Scenario::default()
        },
    );
    let summary = analyse(&root, &config, FINAL).expect_code(1).summary();
    assert_eq!(summary["srm_flags"], json!(["exp-1"]));
    assert!(results(&root, FINAL).iter().all(|r| r.srm_flag));
    // `--on-srm warn` (the nightly DAG's setting) exits 0 with the same flags and rows.
    let written = support::sorted_rows(&parts(&root, "ab_results", FINAL));
    let mut cmd = job("ab-significance", &root, &config, FINAL);
    cmd.args(["--on-srm", "warn"]);
    let warned = run(cmd).expect_code(0).expect_stderr("sample ratio mismatch");
    assert_eq!(warned.summary()["srm_flags"], json!(["exp-1"]));
    assert_eq!(support::sorted_rows(&parts(&root, "ab_results", FINAL)), written);
    promote(&root, &config, FINAL);
    let decision = promotions(&root, FINAL).join("\n");
    assert!(
        decision.contains("stop") && decision.contains("sample ratio mismatch"),
        "{decision}"
    );
}

#[test]
fn misrouted_projects_are_counted_and_excluded() {
    let dir = Workdir::new("ab-routing");
    let (root, config) = build(
        &dir,
        &Scenario {
            misrouted: 0.05,
            ..Scenario::default()
        },
    );
    let summary = analyse(&root, &config, FINAL).expect_code(0).summary();
    let mismatches = summary["routing_mismatches"].as_u64().unwrap();
    assert!((30..=90).contains(&mismatches), "about 5% of 1200: {mismatches}");
    let row = &results(&root, FINAL)[0];
    assert_eq!(row.routing_mismatches as u64, mismatches);
    assert!((row.units_control + row.units_treatment) as u64 + mismatches <= 1200);
}

#[test]
fn a_clear_winner_is_promoted_unless_a_guardrail_fails() {
    let winner = Scenario {
        rewrite_effect: vec![1.0, 0.6],
        guardrail: Some("diff_score"),
        diff_score_shift: vec![0.0, -0.2],
        ..Scenario::default()
    };
    let dir = Workdir::new("ab-promote");
    let (root, config) = build(&dir, &winner);
    analyse(&root, &config, FINAL).expect_code(0);
    // Too early: day 10 of a minimum of 12.
    analyse(&root, &config, "2026-06-10").expect_code(0);
    let early = promote(&root, &config, "2026-06-10");
    assert_eq!(early["decisions"]["exp-1"], json!("continue"), "{early}");
    let summary = promote(&root, &config, FINAL);
    assert_eq!(summary["decisions"]["exp-1"], json!("promote"), "{summary}");
    let decision = promotions(&root, FINAL).join("\n");
    assert!(decision.contains("2.0.0") && decision.contains("guardrails pass"), "{decision}");
    // The serving contract: the champion per night, without MLflow (docs/contracts.md).
    let champion = |night: &str| -> Value {
        let path = root.join(format!("champions/dt={night}/champions.json"));
        serde_json::from_str::<Value>(&fs_err::read_to_string(path).unwrap()).unwrap()["champions"][0].clone()
    };
    let (before, after) = (champion("2026-06-10"), champion(FINAL));
    assert_eq!(
        (&before["version"], &before["basis"]),
        (&json!("1.0.0"), &json!("control")),
        "{before}"
    );
    assert_eq!(
        (&after["version"], &after["basis"]),
        (&json!("2.0.0"), &json!("promoted")),
        "{after}"
    );
    assert_eq!(
        summary["outputs"]["champions"],
        json!(root.join(format!("champions/dt={FINAL}/champions.json")))
    );

    // The same win on the primary metric, but users' diffs grow: the guardrail fails.
    let dir = Workdir::new("ab-guardrail");
    let (root, config) = build(
        &dir,
        &Scenario {
            diff_score_shift: vec![0.0, 0.3],
            ..winner
        },
    );
    analyse(&root, &config, FINAL).expect_code(0);
    let rows = results(&root, FINAL);
    let guard = rows.iter().find(|r| r.metric_role == "guardrail").unwrap();
    assert_eq!(guard.guardrail_status.as_deref(), Some("fail"), "{guard:?}");
    let summary = promote(&root, &config, FINAL);
    assert_eq!(summary["decisions"]["exp-1"], json!("stop"), "{summary}");
    assert!(promotions(&root, FINAL).join("\n").contains("fails a guardrail"));
}

/// Writes a `gate_results` partition: each project of `projects` gets `evaluations`
/// gate outcomes, passing with the probability its variant's entry in `pass_rate` gives.
fn write_gates(root: &Path, scenario: &Scenario, pass_rate: &[f64]) {
    use arrow::datatypes::{DataType, Field, Schema};
    let weights: Vec<f64> = scenario.variants.iter().map(|v| v.2).collect();
    let mut random = Random(99);
    let (mut projects, mut statuses) = (Vec::new(), Vec::new());
    for p in 0..scenario.projects {
        let project = format!("proj-{p:05}");
        let variant = hive_core::routing::assign("exp-1", &project, &weights).unwrap();
        for _ in 0..4 {
            projects.push(project.clone());
            statuses.push(if random.next() < pass_rate[variant] { "pass" } else { "fail" });
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("project_id", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
    ]));
    let spec = hive_core::schema::TableSpec {
        name: "gate_results".into(),
        version: 1,
        schema: Arc::clone(&schema),
    };
    let mut part = PartWriter::create(root, spec, "2026-06-10".parse().unwrap(), Shard::ALL).unwrap();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(projects.iter().map(|p| Some(p.as_str())).collect::<StringArray>()),
        Arc::new(statuses.iter().map(|s| Some(*s)).collect::<StringArray>()),
    ];
    part.write(&RecordBatch::try_new(schema, columns).unwrap()).unwrap();
    part.commit().unwrap();
}

#[test]
fn gate_results_serve_as_a_guardrail() {
    let scenario = Scenario {
        rewrite_effect: vec![1.0, 0.6],
        guardrail: Some("gate_pass_rate"),
        ..Scenario::default()
    };
    let dir = Workdir::new("ab-gates");
    let (root, config) = build(&dir, &scenario);
    // Without gate data the guardrail cannot be judged: an explicit state in ab_results,
    // the summary, the report and the decision's reason, never a silent block.
    let summary = analyse(&root, &config, FINAL).expect_code(0).summary();
    assert_eq!(
        summary["guardrails_not_judged"],
        json!(["exp-1/treatment/gate_pass_rate"]),
        "{summary}"
    );
    let gate_row = |root: &Path| results(root, FINAL).into_iter().find(|r| r.metric == "gate_pass_rate").unwrap();
    let unjudged = gate_row(&root);
    assert_eq!(unjudged.guardrail_status.as_deref(), Some("not_judged"));
    assert!(unjudged.note.as_deref().unwrap_or("").contains("--gate-results"), "{unjudged:?}");
    let report = fs_err::read_to_string(root.join(format!("reports/ab-significance/dt={FINAL}/report.md"))).unwrap();
    assert!(
        report.contains("Guardrail `gate_pass_rate` of `treatment` is not judged"),
        "{report}"
    );
    // Before the end of scoring the experiment waits, saying which guardrail holds it.
    analyse(&root, &config, "2026-06-20").expect_code(0);
    assert_eq!(promote(&root, &config, "2026-06-20")["decisions"]["exp-1"], json!("continue"));
    let waiting = promotions(&root, "2026-06-20").join("\n");
    assert!(waiting.contains("gate_pass_rate is not judged"), "{waiting}");
    // On end + window_days the unjudged guardrail stops the experiment, and the reason says so.
    assert_eq!(promote(&root, &config, FINAL)["decisions"]["exp-1"], json!("stop"));
    assert!(
        promotions(&root, FINAL).join("\n").contains("gate_pass_rate is not judged"),
        "{:?}",
        promotions(&root, FINAL)
    );
    // The ledger replays ab_results: with the guardrail judged below, tonight's rerun and
    // the one night before decide afresh (nothing else was analysed).
    fs_err::remove_dir_all(root.join("ab_results/dt=2026-06-20")).unwrap();
    // The treatment's projects fail their quality gates far more often.
    write_gates(&root, &scenario, &[0.95, 0.6]);
    let mut with_gates = job("ab-significance", &root, &config, FINAL);
    with_gates.arg("--gate-results");
    ok(with_gates);
    let row = gate_row(&root);
    assert_eq!(
        (row.metric_role.as_str(), row.direction.as_str()),
        ("guardrail", "higher_is_better")
    );
    assert_eq!(row.guardrail_status.as_deref(), Some("fail"), "{row:?}");
    assert_eq!(promote(&root, &config, FINAL)["decisions"]["exp-1"], json!("stop"));
    // Equal gate pass rates: non-inferiority is shown and the winner is promoted.
    write_gates(&root, &scenario, &[0.9, 0.9]);
    let mut with_gates = job("ab-significance", &root, &config, FINAL);
    with_gates.arg("--gate-results");
    ok(with_gates);
    assert_eq!(gate_row(&root).guardrail_status.as_deref(), Some("pass"));
    assert_eq!(promote(&root, &config, FINAL)["decisions"]["exp-1"], json!("promote"));
}

#[test]
fn reruns_are_byte_identical_and_the_report_has_charts() {
    let dir = Workdir::new("ab-determinism");
    let (root, config) = build(
        &dir,
        &Scenario {
            pre_period: true,
            ..Scenario::default()
        },
    );
    for date in ["2026-06-15", "2026-06-18", FINAL] {
        analyse(&root, &config, date).expect_code(0);
    }
    let read = || {
        let mut bytes = parts(&root, "ab_results", FINAL)
            .iter()
            .map(|p| fs_err::read(p).unwrap())
            .collect::<Vec<_>>();
        bytes.push(fs_err::read(root.join(format!("reports/ab-significance/dt={FINAL}/report.html"))).unwrap());
        bytes.push(fs_err::read(root.join("reports/ab-significance/index.html")).unwrap());
        bytes.push(fs_err::read(root.join(format!("reports/ab-significance/dt={FINAL}/report.md"))).unwrap());
        bytes.push(fs_err::read(root.join(format!("reports/ab-significance/dt={FINAL}/exp-1-treatment.svg"))).unwrap());
        bytes
    };
    let first = read();
    analyse(&root, &config, FINAL).expect_code(0);
    assert!(first == read(), "outputs differ between two runs");
    let report = String::from_utf8(first[first.len() - 2].clone()).unwrap();
    assert!(report.contains("## `exp-1`") && report.contains("exp-1-treatment.svg"), "{report}");
    let svg = String::from_utf8(first[first.len() - 1].clone()).unwrap();
    // One point per analysed night.
    assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
}

#[test]
fn cuped_ignores_pre_period_generations_scored_after_the_start() {
    // Generations 5 and 3 days before the start are scored on snapshots up to 7 days
    // later, after the treatment began: they are not a pre-period.
    let dir = Workdir::new("ab-cuped-leak");
    let (root, config) = build(
        &dir,
        &Scenario {
            pre_period: true,
            pre_days: [-5, -3],
            ..Scenario::default()
        },
    );
    analyse(&root, &config, FINAL).expect_code(0);
    let primary = results(&root, FINAL).into_iter().find(|r| r.metric == "rewrite_rate").unwrap();
    assert_eq!(primary.method, "delta_ratio", "{primary:?}");
}

#[test]
fn unusable_rows_are_quarantined_and_the_metrics_survive() {
    let dir = Workdir::new("ab-quarantine");
    let (root, config) = build(
        &dir,
        &Scenario {
            bad_rows: true,
            ..Scenario::default()
        },
    );
    let summary = analyse(&root, &config, FINAL).expect_code(0).summary();
    assert_eq!(
        summary["rows_quarantined"],
        json!({"impossible_line_counts": 1, "non_finite_score": 1}),
        "{summary}"
    );
    let quarantined = support::sorted_rows(&parts(&root, "quarantine/ab-significance", FINAL)).join("\n");
    assert!(
        quarantined.contains("`lines_removed` 999 must be between 0 and `lines_generated` 10"),
        "{quarantined}"
    );
    assert!(quarantined.contains("`diff_score` is NaN"), "{quarantined}");
    let rows = results(&root, FINAL);
    let diff = rows.iter().find(|r| r.metric == "diff_score").unwrap();
    assert!(diff.estimate.is_some_and(f64::is_finite) && diff.note.is_none(), "{diff:?}");
}

/// Promotions of every night from the first scored one through `last`, run in `order`.
fn ledger(root: &Path, config: &Path, nights: &[String]) -> Vec<(String, Vec<String>)> {
    for night in nights {
        promote(root, config, night);
    }
    let mut out: Vec<(String, Vec<String>)> = nights.iter().map(|n| (n.clone(), promotions(root, n))).collect();
    out.sort();
    out
}

#[test]
fn decisions_are_final_and_backfills_give_the_same_ledger() {
    let winner = Scenario {
        rewrite_effect: vec![1.0, 0.6],
        ..Scenario::default()
    };
    let dir = Workdir::new("ab-ledger");
    let (root, config) = build(&dir, &winner);
    let start: PartitionDate = START.parse().unwrap();
    let nights: Vec<String> = (7..=28).map(|k| start.plus_days(k).to_string()).collect();
    for night in &nights {
        analyse(&root, &config, night).expect_code(0);
    }
    let forward = ledger(&root, &config, &nights);
    let decisions: Vec<(String, String)> = forward.iter().map(|(night, rows)| (night.clone(), rows.join(" "))).collect();
    // Promote comes once and stays: every later night repeats it with the night it was taken.
    let first = decisions
        .iter()
        .position(|(_, r)| r.contains("\u{1f}promote\u{1f}"))
        .expect("a promotion");
    let decided_on = decisions[first].0.clone();
    for (night, row) in &decisions[first..] {
        assert!(row.contains("\u{1f}promote\u{1f}") && row.contains(&decided_on), "{night}: {row}");
    }
    for (night, row) in &decisions[..first] {
        assert!(row.contains("\u{1f}continue\u{1f}"), "{night}: {row}");
    }
    // A backfill of the whole range in reverse order gives byte-identical promotions.
    let mut reversed = nights.clone();
    reversed.reverse();
    let backward = ledger(&root, &config, &reversed);
    assert_eq!(forward, backward);
    let bytes = |night: &str| {
        parts(&root, "promotions", night)
            .iter()
            .map(|p| fs_err::read(p).unwrap())
            .collect::<Vec<_>>()
    };
    let last = nights.last().unwrap();
    let before = bytes(last);
    promote(&root, &config, last);
    assert!(before == bytes(last), "a rerun changed the promotions");

    // No winner: "ended" only once end + window_days has passed, never on the end date.
    let dir = Workdir::new("ab-ledger-null");
    let (root, config) = build(&dir, &Scenario::default());
    for night in [END, "2026-06-20", FINAL] {
        analyse(&root, &config, night).expect_code(0);
    }
    for (night, expected) in [(END, "continue"), ("2026-06-20", "continue"), (FINAL, "stop")] {
        assert_eq!(promote(&root, &config, night)["decisions"]["exp-1"], json!(expected), "{night}");
    }
    assert!(promotions(&root, FINAL).join("\n").contains("scored through 2026-06-21"));
}

#[test]
fn bad_configs_exit_2_naming_the_line() {
    let dir = Workdir::new("ab-bad-config");
    let (root, _) = build(
        &dir,
        &Scenario {
            projects: 50,
            ..Scenario::default()
        },
    );
    let config = dir.write(
        "bad.yaml",
        "experiments:\n  - id: x\n    template_id: t\n    start: 2026-06-01\n    end: 2026-06-10\n    control: a\n    variants:\n      - {name: a, version: '1', weight: 0.5}\n      - {name: b, version: '2', weight: 0.7}\n    primary_metric: rewrite_rate\n",
    );
    analyse(&root, &config, FINAL)
        .expect_code(2)
        .expect_stderr("experiment `x` (line 2)");
    let typo = dir.write("typo.yaml", "experiments:\n  - id: x\n    templte_id: t\n");
    analyse(&root, &typo, FINAL).expect_code(2).expect_stderr("line 3");
    // Before any experiment starts there is nothing to do.
    let early = Workdir::new("ab-early");
    let (_, config) = build(
        &early,
        &Scenario {
            projects: 10,
            ..Scenario::default()
        },
    );
    analyse(&root, &config, "2026-05-01").expect_code(99);
}

/// The headless Chromium the report is checked in (`HIVE_CHROMIUM`, else `chromium` on
/// the PATH). `None` outside CI when it is not installed: `.ci/run` installs Debian's
/// package, and in CI (`CI` set) a missing browser fails the test.
fn chromium() -> Option<PathBuf> {
    let candidate = std::env::var_os("HIVE_CHROMIUM").map_or_else(|| PathBuf::from("chromium"), PathBuf::from);
    let found = std::process::Command::new(&candidate)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Some(candidate);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "`{}` is not installed: .ci/run installs Debian's `chromium` package",
        candidate.display()
    );
    eprintln!("SKIPPED: no `chromium` to render the report in (apt-get install chromium)");
    None
}

/// What headless Chromium made of a page: the DOM after loading, the console messages
/// it logged at error level, and a full-width screenshot at `screenshot`.
struct Rendered {
    dom: String,
    console_errors: Vec<String>,
}

fn render_in_chromium(browser: &Path, page: &Path, profile: &Path, screenshot: &Path) -> Rendered {
    let url = format!("file://{}", page.display());
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--enable-logging=stderr",
        "--v=0",
    ];
    let user_data = |name: &str| format!("--user-data-dir={}", profile.join(name).display());
    let chromium = |extra: &[String]| {
        let mut cmd = std::process::Command::new("timeout");
        cmd.arg("120").arg(browser).args(common).args(extra).arg(&url);
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "chromium failed on {url}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let dumped = chromium(&[user_data("dom"), "--dump-dom".to_owned()]);
    let shot = chromium(&[
        user_data("shot"),
        format!("--screenshot={}", screenshot.display()),
        "--window-size=1280,6000".to_owned(),
    ]);
    // Console messages are logged as `...:CONSOLE(line)] "message", source: url (line)`;
    // a blocked load or a CSP violation is logged at error level with the same tag.
    let console_errors = [&dumped.stderr, &shot.stderr]
        .iter()
        .flat_map(|e| String::from_utf8_lossy(e).lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| l.contains("CONSOLE") || l.contains("Refused to") || l.contains("ERR_"))
        .collect();
    Rendered {
        dom: String::from_utf8_lossy(&dumped.stdout).into_owned(),
        console_errors,
    }
}

/// Parses the Markdown breakdown table rows of `dimension` (`| value | arm | projects |
/// generations | files | generated | removed | rate | vs |`) into the oracle's shape.
fn breakdown_rows(report: &str, heading: &str) -> Vec<Value> {
    let section = report
        .split(&format!("#### Rewrite rate by {heading}\n"))
        .nth(1)
        .unwrap_or_else(|| panic!("no {heading} breakdown:\n{report}"));
    let mut rows: Vec<Value> = section
        .lines()
        .skip(3)
        .take_while(|l| l.starts_with('|'))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            let int = |i: usize| json!(cells[i].parse::<i64>().unwrap());
            json!([cells[0], cells[1], int(2), int(3), int(4), int(5), int(6)])
        })
        .collect();
    rows.sort_by_key(ToString::to_string);
    rows
}

#[test]
#[allow(clippy::too_many_lines, reason = "one scenario checked from Markdown to the rendered page")]
fn the_report_page_reads_well_in_headless_chromium() {
    let scenario = Scenario {
        rewrite_effect: vec![1.0, 0.8],
        pre_period: true,
        misrouted: 0.02,
        bad_rows: true,
        diff_scores: true,
        ..Scenario::default()
    };
    let dir = Workdir::new("ab-report-page");
    let (root, config) = build(&dir, &scenario);
    let mut text = fs_err::read_to_string(&config).unwrap();
    text.push_str("    owner: Ana <ana@example.com>\n    hypothesis: \"Shorter imports in the template mean fewer rewritten lines\"\n");
    fs_err::write(&config, text).unwrap();
    for date in ["2026-06-13", "2026-06-16", "2026-06-18", FINAL] {
        analyse(&root, &config, date).expect_code(0);
    }
    let night = root.join(format!("reports/ab-significance/dt={FINAL}"));
    let report = fs_err::read_to_string(night.join("report.md")).unwrap();
    let rows = results(&root, FINAL);
    let primary = rows.iter().find(|r| r.metric == "rewrite_rate").unwrap();
    assert_eq!(primary.method, "delta_ratio+cuped", "{primary:?}");

    // The decision in the report is promote-templates' own, run next on the same lake.
    let decided = promote(&root, &config, FINAL)["decisions"]["exp-1"].as_str().unwrap().to_owned();
    let reason = promotions(&root, FINAL).join("\n");
    assert_eq!(decided, "promote", "{reason}");
    assert!(
        report.contains("**Decision: promote.** Promote `treatment` (v2.0.0): ")
            && report.contains("`treatment` (v2.0.0) beats the control"),
        "{report}"
    );

    // The breakdowns agree with DuckDB over the same Parquet (joins and filters redone in SQL).
    let logged = generation_variants(&root);
    let excluded: Vec<String> = (0..scenario.projects)
        .map(|p| format!("proj-{p:05}"))
        .filter(|p| {
            let spec = hive_core::routing::assign("exp-1", p, &[0.5, 0.5]).unwrap();
            // A project is excluded when any generation logs another arm than the spec's.
            let name = ["control", "treatment"][spec];
            logged.get(p).is_some_and(|v| v.iter().any(|x| x != name))
        })
        .collect();
    assert!(!excluded.is_empty(), "the scenario misroutes some projects");
    let excluded_path = dir.write("excluded.json", serde_json::to_string(&excluded).unwrap());
    let mut oracle = std::process::Command::new(support::oracle_python());
    oracle.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_breakdown.py"));
    oracle.args([root.to_str().unwrap(), FINAL, "exp-1", START, END, excluded_path.to_str().unwrap()]);
    let duckdb: Value = serde_json::from_str(ok(oracle).stdout().trim()).unwrap();
    let sorted = |v: &Value| {
        let mut rows = v.as_array().unwrap().clone();
        rows.sort_by_key(ToString::to_string);
        rows
    };
    assert_eq!(breakdown_rows(&report, "language"), sorted(&duckdb["language"]), "{report}");
    assert_eq!(breakdown_rows(&report, "template file"), sorted(&duckdb["path"]), "{report}");
    // Per language the arms add up to the analysis' own generation counts.
    let generations: i64 = breakdown_rows(&report, "language")
        .iter()
        .filter(|r| r[0] != json!("markdown"))
        .map(|r| r[3].as_i64().unwrap())
        .sum();
    assert_eq!(generations, primary.generations_control + primary.generations_treatment);

    let Some(browser) = chromium() else { return };
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-page");
    fs_err::create_dir_all(&screenshots).unwrap();
    // The console check sees errors: a page loading a script and an image from outside
    // under the report's policy logs them.
    let html = fs_err::read_to_string(night.join("report.html")).unwrap();
    let policy = html.lines().find(|l| l.contains("Content-Security-Policy")).unwrap();
    let control_page = dir.write(
        "control.html",
        format!("<!DOCTYPE html><html><head>{policy}</head><body><img src=\"https://example.invalid/x.png\"><script>console.error('boom')</script></body></html>"),
    );
    let control = render_in_chromium(
        &browser,
        &control_page,
        &dir.join("profile-control"),
        &screenshots.join("control.png"),
    );
    assert!(
        !control.console_errors.is_empty(),
        "the console check saw nothing on a page with errors"
    );

    let page = render_in_chromium(
        &browser,
        &night.join("report.html"),
        &dir.join("profile"),
        &screenshots.join("report.png"),
    );
    assert!(page.console_errors.is_empty(), "{:#?}", page.console_errors);
    let dom = &page.dom;
    assert!(dom.contains("data-verdict=\"promote\""), "{dom}");
    assert!(dom.contains("Promote <code>treatment</code> (v2.0.0)"), "{dom}");
    // Per-arm values as ab_results has them, in percent, with project and generation counts.
    for (mean, units, generations) in [
        (primary.control_mean, primary.units_control, primary.generations_control),
        (primary.treatment_mean, primary.units_treatment, primary.generations_treatment),
    ] {
        let cells = format!("<td>{units}</td><td>{generations}</td><td>{:.1}%</td>", 100.0 * mean.unwrap());
        assert!(dom.contains(&cells), "{cells} missing: {dom}");
    }
    assert!(dom.contains(&format!("{:+.1}%", 100.0 * primary.relative_lift.unwrap())), "{dom}");
    assert!(dom.contains("data-check=\"routing\""), "misrouted projects are announced: {dom}");
    assert!(dom.contains("Hypothesis:") && dom.contains("Ana &lt;ana@example.com&gt;"), "{dom}");
    assert!(dom.contains("unadjusted control mean"), "{dom}");
    assert!(
        dom.contains("EXPLORATORY") && dom.contains("not corrected for multiplicity"),
        "{dom}"
    );
    // The charts: the forest plot and the trend, with one point per analysed night.
    assert_eq!(dom.matches("<svg").count(), 2, "{dom}");
    let trend = dom.split("data-chart=\"trend\"").nth(1).unwrap();
    assert_eq!(trend.split("</svg>").next().unwrap().matches("<circle").count(), 4, "{trend}");
    let png = fs_err::read(screenshots.join("report.png")).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 50_000, "{} bytes", png.len());
    // The index lists the experiment with its status and links to the night.
    let index = fs_err::read_to_string(root.join("reports/ab-significance/index.html")).unwrap();
    assert!(index.contains(&format!("href=\"dt={FINAL}/report.html#exp-1\"")), "{index}");
    assert!(index.contains(">promote<"), "{index}");
    eprintln!("screenshot: {}", screenshots.join("report.png").display());
}

/// Each project's logged variants in the lake's `generation_scores` (experiment rows).
fn generation_variants(root: &Path) -> std::collections::BTreeMap<String, Vec<String>> {
    use arrow::array::Array as _;
    let mut out: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
    for dir in fs_err::read_dir(root.join("generation_scores")).unwrap() {
        let dir = dir.unwrap().path();
        for part in fs_err::read_dir(&dir).unwrap() {
            let part = part.unwrap().path();
            if part.extension().is_none_or(|e| e != "parquet") {
                continue;
            }
            for batch in support::batches(&part) {
                let column = |name: &str| {
                    batch
                        .column_by_name(name)
                        .unwrap()
                        .as_any()
                        .downcast_ref::<StringArray>()
                        .unwrap()
                        .clone()
                };
                let (project, variant) = (column("project_id"), column("variant"));
                for i in 0..batch.num_rows() {
                    if variant.is_valid(i) {
                        out.entry(project.value(i).to_owned())
                            .or_default()
                            .push(variant.value(i).to_owned());
                    }
                }
            }
        }
    }
    out
}
