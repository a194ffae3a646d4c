//! Integration tests of the routing spec (docs/routing.md): every published test vector
//! (`data/routing-test-vectors.json`, made by the GrowthBook SDK with
//! `scripts/make-routing-vectors.py`) against `hive_core::routing` and through
//! `route-project`, the config mode on the sample experiments config, and the errors an
//! operator can make.

// Buckets are exact: both sides divide an integer by 10 000, so floats compare with `==`.
#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::format_collect)]

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use hive_ab::config::ExperimentsConfig;
use serde_json::Value;
use support::{Run, Workdir, ok, run};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn sample_config() -> PathBuf {
    root().join("data/sample/experiments.yaml")
}

fn route_project() -> Command {
    support::bin("route-project")
}

/// One published vector.
#[derive(Debug, Clone)]
struct Vector {
    case: String,
    salt: String,
    project_id: String,
    weights: Vec<f64>,
    bucket: f64,
    variant: usize,
}

fn vectors() -> Vec<Vector> {
    let path = root().join("data/routing-test-vectors.json");
    let text = fs_err::read_to_string(&path).unwrap();
    let list: Vec<Value> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("`{}` is not a JSON list: {e}", path.display()));
    list.iter()
        .map(|v| {
            let field = |name: &str| v.get(name).unwrap_or_else(|| panic!("vector without `{name}`: {v}"));
            Vector {
                case: field("case").as_str().unwrap().to_owned(),
                salt: field("salt").as_str().unwrap().to_owned(),
                project_id: field("project_id").as_str().unwrap().to_owned(),
                weights: field("weights").as_array().unwrap().iter().map(|w| w.as_f64().unwrap()).collect(),
                bucket: field("bucket").as_f64().unwrap(),
                variant: usize::try_from(field("variant").as_u64().unwrap()).unwrap(),
            }
        })
        .collect()
}

/// The vectors grouped by salt and weights, in file order: one `route-project` call each.
fn groups(vectors: &[Vector]) -> Vec<Vec<Vector>> {
    let mut out: Vec<Vec<Vector>> = Vec::new();
    for v in vectors {
        match out.iter_mut().find(|g| g[0].salt == v.salt && g[0].weights == v.weights) {
            Some(group) => group.push(v.clone()),
            None => out.push(vec![v.clone()]),
        }
    }
    out
}

fn weights_arg(weights: &[f64]) -> String {
    weights.iter().map(f64::to_string).collect::<Vec<_>>().join(",")
}

/// stdout as one JSON object per line.
fn lines(run: &Run) -> Vec<Value> {
    run.stdout()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| run.fail(&format!("line {l:?} is not JSON: {e}"))))
        .collect()
}

fn keys(line: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = line.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

/// Asserts that `route-project --salt --weights` printed exactly the group's vectors.
fn check_salt_output(run: &Run, group: &[Vector]) {
    let lines = lines(run);
    if lines.len() != group.len() {
        run.fail(&format!("expected {} lines", group.len()));
    }
    for (line, v) in lines.iter().zip(group) {
        assert_eq!(keys(line), ["bucket", "project_id", "salt", "variant"], "{line}");
        let got = (
            line["salt"].as_str(),
            line["project_id"].as_str(),
            line["bucket"].as_f64(),
            line["variant"].as_u64(),
        );
        let want = (
            Some(v.salt.as_str()),
            Some(v.project_id.as_str()),
            Some(v.bucket),
            Some(v.variant as u64),
        );
        if got != want {
            run.fail(&format!("vector `{}` ({:?}): got {got:?}, want {want:?}", v.case, v.project_id));
        }
    }
}

#[test]
fn published_vectors_cover_the_cases_the_spec_names() {
    let vectors = vectors();
    let has = |what: &str, pred: &dyn Fn(&Vector) -> bool| assert!(vectors.iter().any(pred), "no vector with {what}");
    has("a non-ASCII id", &|v| !v.project_id.is_ascii());
    has("a CJK id", &|v| {
        v.project_id.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
    });
    has("a surrogate pair", &|v| v.project_id.chars().any(|c| c.len_utf16() == 2));
    has("an empty id", &|v| v.project_id.is_empty());
    has("a non-ASCII salt", &|v| !v.salt.is_ascii());
    has("a zero-weight arm", &|v| v.weights.contains(&0.0));
    has("unequal weights", &|v| v.weights.windows(2).any(|w| w[0] != w[1]));
    for arms in [2, 3, 5] {
        has(&format!("{arms} arms"), &|v| v.weights.len() == arms);
    }
    // Exactly on a boundary: the bucket equals the float sum of the weights before it.
    has("a bucket on a range boundary", &|v| {
        let start: f64 = v.weights[..v.variant].iter().sum();
        v.variant > 0 && v.bucket == start
    });
    // ... and one where the float sum is just above the decimal boundary (0.6 in arm 2).
    has("a bucket below a float-rounded boundary", &|v| {
        let end: f64 = v.weights[..=v.variant].iter().sum();
        v.bucket * 10_000.0 == (end * 10_000.0).round() && v.bucket < end
    });
}

#[test]
fn every_published_vector_matches_the_library() {
    let mut wrong = Vec::new();
    for v in vectors() {
        let bucket = hive_core::routing::bucket(&v.salt, &v.project_id);
        let variant = hive_core::routing::assign(&v.salt, &v.project_id, &v.weights).unwrap();
        if bucket != v.bucket || variant != v.variant {
            wrong.push(format!(
                "`{}`: salt {:?} id {:?} weights {:?}: got bucket {bucket} variant {variant}, SDK says {} {}",
                v.case, v.salt, v.project_id, v.weights, v.bucket, v.variant
            ));
        }
    }
    assert!(wrong.is_empty(), "{} vectors disagree:\n{}", wrong.len(), wrong.join("\n"));
}

#[test]
fn every_published_vector_matches_the_binary_given_ids_as_arguments() {
    for group in groups(&vectors()) {
        let mut cmd = route_project();
        cmd.args(["--salt", &group[0].salt, "--weights", &weights_arg(&group[0].weights), "--"]);
        cmd.args(group.iter().map(|v| v.project_id.as_str()));
        check_salt_output(&ok(cmd), &group);
    }
}

#[test]
fn every_published_vector_matches_the_binary_given_ids_on_stdin() {
    let dir = Workdir::new("routing-stdin");
    for (i, group) in groups(&vectors()).iter().enumerate() {
        // One id per line; the empty id is an empty line; the last line has `\r\n`.
        let mut input: String = group.iter().map(|v| format!("{}\n", v.project_id)).collect();
        input.insert(input.len() - 1, '\r');
        let path = dir.write(&format!("ids-{i}.txt"), input);
        let mut cmd = route_project();
        cmd.args(["--salt", &group[0].salt, "--weights", &weights_arg(&group[0].weights)]);
        cmd.stdin(fs_err::File::open(&path).unwrap().into_parts().0);
        check_salt_output(&ok(cmd), group);
    }
}

#[test]
fn config_mode_routes_the_sample_experiments_like_the_vectors() {
    let config = ExperimentsConfig::load(&sample_config()).unwrap();
    let vectors = vectors();
    for experiment in &config.experiments {
        let mine: Vec<&Vector> = vectors
            .iter()
            .filter(|v| v.salt == experiment.salt && v.weights == experiment.weights())
            .collect();
        assert!(mine.len() >= 5, "too few vectors for `{}` of the sample config", experiment.id);
        let mut cmd = route_project();
        cmd.args(["--config", sample_config().to_str().unwrap(), "--experiment", &experiment.id, "--"]);
        cmd.args(mine.iter().map(|v| v.project_id.as_str()));
        let run = ok(cmd);
        let lines = lines(&run);
        assert_eq!(lines.len(), mine.len());
        for (line, v) in lines.iter().zip(&mine) {
            assert_eq!(
                keys(line),
                ["bucket", "experiment_id", "project_id", "variant", "version"],
                "{line}"
            );
            let variant = &experiment.variants[v.variant];
            let got = (line["experiment_id"].as_str(), line["project_id"].as_str(), line["bucket"].as_f64());
            if got != (Some(experiment.id.as_str()), Some(v.project_id.as_str()), Some(v.bucket))
                || line["variant"] != variant.name.as_str()
                || line["version"] != variant.version.as_str()
            {
                run.fail(&format!(
                    "vector `{}` ({:?}): want variant `{}` version `{}`",
                    v.case, v.project_id, variant.name, variant.version
                ));
            }
        }
    }
}

#[test]
fn config_mode_and_salt_mode_agree_on_many_projects() {
    let dir = Workdir::new("routing-bulk");
    let ids: String = (0..2000).map(|i| format!("prj-{i:012x}\n")).collect();
    let path = dir.write("ids.txt", ids);
    let config = ExperimentsConfig::load(&sample_config()).unwrap();
    let experiment = config
        .experiments
        .iter()
        .find(|e| e.variants.len() == 3)
        .expect("a 3-arm sample experiment");
    let stdin = || fs_err::File::open(&path).unwrap().into_parts().0;

    let mut cmd = route_project();
    cmd.args(["--config", sample_config().to_str().unwrap(), "--experiment", &experiment.id]);
    cmd.stdin(stdin());
    let by_config = lines(&ok(cmd));
    let mut cmd = route_project();
    cmd.args(["--salt", &experiment.salt, "--weights", &weights_arg(&experiment.weights())]);
    cmd.stdin(stdin());
    let by_salt = lines(&ok(cmd));

    assert_eq!(by_config.len(), 2000);
    assert_eq!(by_salt.len(), 2000);
    let mut used = BTreeSet::new();
    for (c, s) in by_config.iter().zip(&by_salt) {
        assert_eq!((&c["project_id"], &c["bucket"]), (&s["project_id"], &s["bucket"]));
        let index = usize::try_from(s["variant"].as_u64().unwrap()).unwrap();
        assert_eq!(c["variant"], experiment.variants[index].name.as_str(), "{c} vs {s}");
        used.insert(index);
    }
    assert_eq!(used.len(), 3, "2000 projects reach every arm");
}

#[test]
fn unknown_experiment_exits_2_naming_it_and_the_known_ones() {
    let config = ExperimentsConfig::load(&sample_config()).unwrap();
    let known: Vec<String> = config.experiments.iter().map(|e| format!("`{}`", e.id)).collect();
    let mut cmd = route_project();
    cmd.args(["--config", sample_config().to_str().unwrap(), "--experiment", "exp-nope", "prj-1"]);
    run(cmd)
        .expect_code(2)
        .expect_stderr("error: experiment `exp-nope` is not in `")
        .expect_stderr(&format!("experiments.yaml` (it has: {})", known.join(", ")));
}

#[test]
fn bad_weights_exit_2_naming_the_problem() {
    let cases: [(&str, &str); 5] = [
        ("0.5,0.6", "weights must sum to 1"),
        ("1", "at least two variants"),
        ("-0.5,1.5", "finite and non-negative"),
        ("0.5,NaN", "finite and non-negative"),
        ("0.5,x", "invalid value 'x' for '--weights"),
    ];
    for (weights, message) in cases {
        let mut cmd = route_project();
        cmd.args(["--salt", "s", &format!("--weights={weights}"), "prj-1"]);
        let run = run(cmd).expect_code(2).expect_stderr(message);
        if !run.stdout().is_empty() {
            run.fail("nothing may be printed on stdout");
        }
    }
}

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

#[test]
fn bad_config_exits_2_naming_file_and_line() {
    let dir = Workdir::new("routing-config");
    let good = fs_err::read_to_string(sample_config()).unwrap();
    let first = ExperimentsConfig::load(&sample_config()).unwrap().experiments[0].clone();
    let start = line_of(&good, &format!("id: {}", first.id));
    let weight = format!("weight: {}", first.variants[0].weight.0);
    let sum = good.replacen(&weight, &format!("weight: {}", first.variants[0].weight.0 + 0.1), 1);
    let typo = good.replacen("    primary_metric", "    primary_metrc: x\n    primary_metric", 1);
    let cases = [
        ("sum.yaml", &sum, format!("experiment `{}` (line {start})", first.id)),
        ("sum.yaml", &sum, "weights must sum to 1".to_owned()),
        (
            "typo.yaml",
            &typo,
            format!("primary_metrc` (line {},", line_of(&typo, "primary_metrc")),
        ),
    ];
    for (name, text, message) in cases {
        let path = dir.write(name, text);
        let mut cmd = route_project();
        cmd.args(["--config", path.to_str().unwrap(), "--experiment", &first.id, "prj-1"]);
        run(cmd)
            .expect_code(2)
            .expect_stderr(&format!("`{}`", path.display()))
            .expect_stderr(&message);
    }
    let mut cmd = route_project();
    cmd.args(["--config", dir.join("missing.yaml").to_str().unwrap(), "--experiment", "e", "prj-1"]);
    run(cmd)
        .expect_code(2)
        .expect_stderr("cannot read experiments config `")
        .expect_stderr("missing.yaml`");
}

#[test]
fn usage_errors_exit_2() {
    let config = sample_config();
    let config = config.to_str().unwrap();
    let cases: [(&[&str], &str); 9] = [
        (&["prj-1"], "required arguments were not provided"),
        (&["--growthbook-features"], "--growthbook-features needs --config"),
        (&["--config", config, "--growthbook-features", "prj-1"], "cannot be used with"),
        (
            &["--config", config, "prj-1"],
            "<--experiment <ID>|--salt <SALT>|--growthbook-features>",
        ),
        (
            &["--experiment", "exp-axum-2", "prj-1"],
            "--experiment needs --config (or `HIVE_EXPERIMENTS_CONFIG`)",
        ),
        (&["--salt", "s", "prj-1"], "--weights"),
        (
            &["--experiment", "exp-axum-2", "--salt", "s", "--weights", "0.5,0.5", "p"],
            "cannot be used with",
        ),
        (
            &["--config", config, "--salt", "s", "--weights", "0.5,0.5", "p"],
            "--config is for --experiment",
        ),
        (
            &["--salt", "s", "--weights", "0.5,0.5", "--frobnicate", "p"],
            "unexpected argument '--frobnicate'",
        ),
    ];
    for (args, message) in cases {
        let mut cmd = route_project();
        cmd.args(args);
        run(cmd).expect_code(2).expect_stderr(message);
    }
}

#[test]
fn config_from_the_environment_serves_experiment_mode_and_does_not_block_salt_mode() {
    let vectors = vectors();
    let v = vectors
        .iter()
        .find(|v| v.salt == "exp-axum-2" && v.weights == [0.4, 0.3, 0.3])
        .unwrap();
    let mut cmd = route_project();
    cmd.env(hive_core::env::EXPERIMENTS_CONFIG, sample_config());
    cmd.args(["--experiment", "exp-axum-2", &v.project_id]);
    let run = ok(cmd);
    assert_eq!(lines(&run)[0]["bucket"].as_f64(), Some(v.bucket), "{}", run.stdout());
    let mut cmd = route_project();
    cmd.env(hive_core::env::EXPERIMENTS_CONFIG, sample_config());
    cmd.args(["--salt", &v.salt, "--weights", &weights_arg(&v.weights), &v.project_id]);
    check_salt_output(&ok(cmd), std::slice::from_ref(v));
}

#[test]
fn stdin_that_is_not_utf8_exits_2_naming_the_line() {
    let dir = Workdir::new("routing-utf8");
    let path = dir.write("ids.txt", b"prj-1\nprj-\xff\n");
    let mut cmd = route_project();
    cmd.args(["--salt", "s", "--weights", "0.5,0.5"]);
    cmd.stdin(fs_err::File::open(&path).unwrap().into_parts().0);
    run(cmd).expect_code(2).expect_stderr("stdin line 2 is not UTF-8");
}

#[test]
fn help_states_the_spec_and_gives_examples() {
    let mut cmd = route_project();
    cmd.arg("--help");
    let help = ok(cmd).stdout();
    for needle in [
        "fnv1a32(salt + project_id)",
        "UTF-16 code units",
        "% 10000) / 10000",
        "half-open",
        "data/routing-test-vectors.json",
        "docs/routing.md",
        "Exit codes:",
        "Examples:\n  route-project --config",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    // The examples are written to fit clap's 100 columns: no line of them is wrapped.
    let examples = help.split("Examples:\n").nth(1).unwrap().split("\n\n").next().unwrap();
    for line in examples.lines() {
        assert!(
            line.starts_with("  route-project ") || line.starts_with("  cut "),
            "wrapped example line {line:?}:\n{help}"
        );
    }
}
