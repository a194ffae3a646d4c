//! evaluate-gates end to end: reports written at test time by the real tools (pytest
//! with coverage.py, cargo-nextest, jest with jest-junit, Locust, ruff), with every total compared to the
//! tool's own; hand-written fixtures only for what this machine cannot run (Surefire
//! reruns, JaCoCo, k6, go-junit-report), each carrying the tool's totals; hostile and
//! broken inputs; the gate edge cases; the committed config and its schema.
//!
//! The Python tools come from `.venv/reports` (`bash scripts/setup-venvs.sh reports`),
//! jest and jest-junit from `tests/node/jest` (`bash scripts/setup-node.sh`).

#![allow(clippy::unwrap_used, clippy::float_cmp, clippy::too_many_lines, clippy::similar_names)]

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Map, Value, json};
use support::{Run, Workdir, bin, run};

const DATE: &str = "2026-10-12";

type Row = Map<String, Value>;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/gates").join(name)
}

/// A program of the `reports` venv (pytest, coverage, locust, ruff, python).
fn venv_tool(name: &str) -> PathBuf {
    let dir = std::env::var_os("HIVE_REPORTS_VENV").map_or_else(|| repo().join(".venv/reports"), PathBuf::from);
    let path = dir.join("bin").join(name);
    assert!(
        path.exists(),
        "{} is missing: run `bash scripts/setup-venvs.sh reports` (scripts/test.sh does)",
        path.display()
    );
    path
}

/// Runs evaluate-gates with `config` over `projects` (ID, reports dir), lake under
/// `root`, with `extra` arguments.
fn gates(root: &Path, config: &Path, projects: &[(&str, &Path)], extra: &[&str]) -> Run {
    // The lake the tables go to: a data root must exist (a wrong one is exit 2).
    fs_err::create_dir_all(root).unwrap();
    let mut cmd = bin("evaluate-gates");
    cmd.args([
        "--data-root",
        root.to_str().unwrap(),
        "--date",
        DATE,
        "--config",
        config.to_str().unwrap(),
    ]);
    for (id, dir) in projects {
        cmd.arg("--project").arg(format!("{id}={}", dir.display()));
    }
    cmd.args(extra);
    run(cmd)
}

/// Every row of a table's committed partition, as JSON objects.
fn table(root: &Path, name: &str) -> Vec<Row> {
    support::json_rows(root, name, DATE)
}

/// The `gate_results` row of one project and gate.
fn gate<'a>(rows: &'a [Row], project: &str, id: &str) -> &'a Row {
    rows.iter()
        .find(|r| r["project_id"] == project && r["gate_id"] == id)
        .unwrap_or_else(|| panic!("no gate_results row for {project}/{id} in {rows:#?}"))
}

fn actual(rows: &[Row], project: &str, id: &str) -> Option<f64> {
    gate(rows, project, id)["actual"].as_f64()
}

fn status<'a>(rows: &'a [Row], project: &str, id: &str) -> &'a str {
    gate(rows, project, id)["status"].as_str().unwrap()
}

/// Counts of the test cases of one project by outcome.
fn case_counts(rows: &[Row], project: &str) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for r in rows.iter().filter(|r| r["project_id"] == project) {
        *counts.entry(r["outcome"].as_str().unwrap().to_owned()).or_default() += 1;
    }
    counts
}

/// `N word` in a tool's summary line (`3 passed`, `1 error`), 0 when absent.
fn count_before(text: &str, word: &str) -> u64 {
    let tokens: Vec<&str> = text.split([' ', ',', '(', ')', '=']).filter(|t| !t.is_empty()).collect();
    tokens
        .windows(2)
        .filter(|w| w[1] == word)
        .map(|w| w[0].parse::<u64>().unwrap_or(0))
        .sum()
}

/// The value of `attr="..."` on the first `<element` of an XML text.
fn xml_attr(text: &str, element: &str, attr: &str) -> f64 {
    let start = text.find(&format!("<{element} ")).unwrap();
    let tag = &text[start..start + text[start..].find('>').unwrap()];
    let at = tag.find(&format!(" {attr}=\"")).unwrap() + attr.len() + 3;
    tag[at..at + tag[at..].find('"').unwrap()].parse().unwrap()
}

fn command(program: &Path, dir: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir);
    cmd
}

const PY_MODULE: &str = r#"def classify(n):
    if n < 0:
        return "negative"
    elif n == 0:
        return "zero"
    return "positive"


def safe_div(a, b):
    if b == 0:
        return None
    return a / b


def unused(x):
    for i in range(x):
        if i % 2:
            x += i
    return x
"#;

const PY_TESTS: &str = r#"import pytest

from calc import classify, safe_div


def test_negative():
    assert classify(-1) == "negative"


def test_zero():
    assert classify(0) == "zero"


def test_div():
    assert safe_div(4, 2) == 2


def test_fails():
    assert safe_div(1, 0) == 0


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


@pytest.mark.xfail(reason="known bug")
def test_xfail():
    assert classify(5) == "zero"


@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")


def test_setup_error(broken):
    pass
"#;

/// pytest's JUnit and coverage.py's Cobertura XML and LCOV, made here, give the counts
/// pytest prints and the totals `coverage json` reports, file by file.
#[test]
fn pytest_and_coverage_reports_agree_with_pytest_and_coverage_json() {
    let dir = Workdir::new("gates-pytest");
    let project = dir.join("py");
    let w = |rel: &str, text: &str| dir.write(&format!("py/{rel}"), text);
    w("calc.py", PY_MODULE);
    w("test_calc.py", PY_TESTS);
    let python = venv_tool("python");
    let mut cmd = command(&python, &project);
    cmd.args(["-m", "pytest", "-p", "no:cacheprovider", "--junitxml=reports/unit/junit.xml"]);
    cmd.args(["--cov=calc", "--cov-branch", "--cov-report=", "test_calc.py"]);
    let pytest = run(cmd).expect_code(1);
    let last = pytest.stdout().lines().last().unwrap_or_default().to_owned();
    // pytest's own totals, from its summary line ("1 failed, 3 passed, 1 skipped, ...").
    let (p_failed, p_passed, p_skipped, p_xfailed, p_xpassed, p_errors) = (
        count_before(&last, "failed"),
        count_before(&last, "passed"),
        count_before(&last, "skipped"),
        count_before(&last, "xfailed"),
        count_before(&last, "xpassed"),
        count_before(&last, "error") + count_before(&last, "errors"),
    );
    assert_eq!(
        (p_failed, p_passed, p_skipped, p_xfailed, p_errors),
        (1, 3, 1, 1, 1),
        "pytest summary: {last}"
    );
    for (what, out) in [
        ("xml", "reports/unit/coverage.xml"),
        ("lcov", "reports/unit/lcov.info"),
        ("json", "coverage.json"),
    ] {
        let mut cmd = command(&python, &project);
        cmd.args(["-m", "coverage", what, "-o", out]);
        support::ok(cmd);
    }
    let truth: Value = serde_json::from_slice(&fs_err::read(project.join("coverage.json")).unwrap()).unwrap();

    // One reports directory, read by three projects: the default reports (Cobertura)
    // and two overrides (LCOV only; both formats merged).
    let config = dir.write(
        "q.yaml",
        r#"version: 1
test_types:
  unit:
    reports:
      - {format: junit, paths: ["reports/unit/junit.xml"], tool: pytest}
      - {format: cobertura, paths: ["reports/unit/coverage.xml"], tool: coverage.py}
gates:
  - {id: tests, test_type: unit, metric: tests, operator: ">=", threshold: 0}
  - {id: passed, test_type: unit, metric: passed, operator: ">=", threshold: 0}
  - {id: failed, test_type: unit, metric: failed, operator: "==", threshold: 0}
  - {id: errors, test_type: unit, metric: errors, operator: "==", threshold: 0, level: warning}
  - {id: skipped, test_type: unit, metric: skipped, operator: "<=", threshold: 2}
  - {id: pass-rate, test_type: unit, metric: pass_rate, operator: ">=", threshold: 0.5}
  - {id: lines, test_type: unit, metric: line_coverage, operator: ">=", threshold: 0.7}
  - {id: branches, test_type: unit, metric: branch_coverage, operator: ">=", threshold: 0.7, level: warning}
projects:
  py-lcov:
    reports:
      unit:
        - {format: junit, paths: ["reports/unit/junit.xml"], tool: pytest}
        - {format: lcov, paths: ["reports/unit/lcov.info"], tool: coverage.py}
  py-both:
    reports:
      unit:
        - {format: junit, paths: ["reports/unit/junit*.xml"], tool: pytest}
        - {format: cobertura, paths: ["reports/unit/coverage.xml"], tool: coverage.py}
        - {format: lcov, paths: ["reports/unit/lcov.info"], tool: coverage.py}
"#,
    );
    let root = dir.join("lake");
    let junit_out = dir.join("verdicts.xml");
    let out = gates(
        &root,
        &config,
        &[("py-cobertura", &project), ("py-lcov", &project), ("py-both", &project)],
        &["--junit-out", junit_out.to_str().unwrap()],
    )
    .expect_code(1);
    let results = table(&root, "gate_results");
    let totals = &truth["totals"];
    let n = |v: &Value| v.as_u64().unwrap();
    let line_rate = n(&totals["covered_lines"]) as f64 / n(&totals["num_statements"]) as f64;
    let branch_rate = n(&totals["covered_branches"]) as f64 / n(&totals["num_branches"]) as f64;
    for project in ["py-cobertura", "py-lcov", "py-both"] {
        // pytest writes xfail as <skipped>, and counts a setup error as an error.
        assert_eq!(
            actual(&results, project, "tests"),
            Some((p_failed + p_passed + p_skipped + p_xfailed + p_xpassed + p_errors) as f64)
        );
        assert_eq!(actual(&results, project, "passed"), Some((p_passed + p_xpassed) as f64));
        assert_eq!(actual(&results, project, "failed"), Some(p_failed as f64));
        assert_eq!(actual(&results, project, "errors"), Some(p_errors as f64));
        assert_eq!(actual(&results, project, "skipped"), Some((p_skipped + p_xfailed) as f64));
        assert_eq!(
            actual(&results, project, "pass-rate"),
            Some(p_passed as f64 / (p_passed + p_failed + p_errors) as f64)
        );
        assert_eq!(actual(&results, project, "lines"), Some(line_rate), "{project}");
        assert_eq!(actual(&results, project, "branches"), Some(branch_rate), "{project}");
        assert_eq!(status(&results, project, "failed"), "fail");
        assert_eq!(status(&results, project, "errors"), "warn");
        assert_eq!(status(&results, project, "lines"), "pass");
        assert_eq!(status(&results, project, "branches"), "warn");
    }
    // The coverage table, file by file, equals coverage.py's JSON report.
    let coverage = table(&root, "coverage");
    let files = truth["files"].as_object().unwrap();
    for project in ["py-cobertura", "py-lcov", "py-both"] {
        let rows: Vec<&Row> = coverage.iter().filter(|r| r["project_id"] == project).collect();
        assert_eq!(rows.len(), files.len(), "{project}: {rows:#?}");
        for row in rows {
            let summary = &files[row["file"].as_str().unwrap()]["summary"];
            assert_eq!(row["lines_valid"], summary["num_statements"], "{project}");
            assert_eq!(row["lines_covered"], summary["covered_lines"], "{project}");
            assert_eq!(row["branches_valid"], summary["num_branches"], "{project}");
            assert_eq!(row["branches_covered"], summary["covered_branches"], "{project}");
        }
    }
    let cases = table(&root, "test_cases");
    let counts = case_counts(&cases, "py-cobertura");
    assert_eq!(
        counts,
        BTreeMap::from([
            ("error".to_owned(), p_errors),
            ("failed".to_owned(), p_failed),
            ("passed".to_owned(), p_passed),
            ("skipped".to_owned(), p_skipped + p_xfailed),
        ])
    );
    let failing = cases
        .iter()
        .find(|r| r["project_id"] == "py-cobertura" && r["name"] == "test_fails")
        .unwrap();
    assert!(failing["message"].as_str().unwrap().contains("assert None == 0"), "{failing:?}");
    assert_eq!(failing["classname"], "test_calc");
    // The summary line and the JUnit of verdicts agree with gate_results.
    let summary = out.summary();
    assert_eq!(summary["status"], "fail");
    assert_eq!(summary["gates"], 24);
    assert_eq!(
        summary["blocking_failures"],
        json!(["py-both/failed", "py-cobertura/failed", "py-lcov/failed"])
    );
    let verdicts = fs_err::read_to_string(&junit_out).unwrap();
    assert_eq!(xml_attr(&verdicts, "testsuites", "tests"), 24.0);
    assert_eq!(xml_attr(&verdicts, "testsuites", "failures"), 3.0);
}

/// cargo-nextest's JUnit of a throwaway crate (a pass, a failure retried and failing
/// again, a flaky test passing on its retry, an ignored test) gives nextest's own
/// summary line.
#[test]
fn nextest_junit_agrees_with_the_nextest_summary() {
    let dir = Workdir::new("gates-nextest");
    dir.write(
        "tiny/Cargo.toml",
        "[package]\nname = \"tiny\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    );
    dir.write(
        "tiny/src/lib.rs",
        r#"#[cfg(test)]
mod tests {
    #[test]
    fn passes_a() {}
    #[test]
    fn passes_b() {
        assert_eq!(1 + 1, 2);
    }
    #[test]
    fn fails() {
        assert_eq!(1 + 1, 3, "arithmetic");
    }
    #[test]
    #[ignore = "slow"]
    fn ignored() {}
    #[test]
    fn flaky() {
        let marker = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("flaky-marker");
        if !marker.exists() {
            std::fs::write(&marker, b"1").unwrap();
            panic!("first attempt fails");
        }
    }
}
"#,
    );
    dir.write(
        "tiny/.config/nextest.toml",
        "[profile.ci]\nretries = 1\nfail-fast = false\n\n[profile.ci.junit]\npath = \"junit.xml\"\n",
    );
    let project = dir.join("tiny");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(&project)
        .args(["nextest", "run", "--profile", "ci", "--no-fail-fast"])
        .env("CARGO_TARGET_DIR", project.join("target"))
        .env("CARGO_TERM_COLOR", "never")
        .env("NEXTEST_HIDE_PROGRESS_BAR", "1")
        .env_remove("NEXTEST_PROFILE")
        .env_remove("RUSTFLAGS");
    let nextest = run(cmd);
    if nextest.code() != Some(100) {
        nextest.fail("cargo nextest should exit 100 (a test failed); is cargo-nextest installed?");
    }
    let stderr = nextest.stderr();
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("Summary ["))
        .unwrap_or_else(|| nextest.fail("no nextest Summary line"))
        .to_owned();
    let (ran, passed, flaky, failed, skipped) = (
        count_before(&line, "tests") + count_before(&line, "test"),
        count_before(&line, "passed"),
        count_before(&line, "flaky"),
        count_before(&line, "failed"),
        count_before(&line, "skipped"),
    );
    assert_eq!((ran, passed, flaky, failed, skipped), (4, 3, 1, 1, 1), "{line}");
    let config = dir.write(
        "q.yaml",
        r#"version: 1
test_types:
  unit:
    reports:
      - {format: junit, paths: ["target/nextest/ci/junit.xml"], tool: cargo-nextest}
gates:
  - {id: tests, metric: tests, operator: ">=", threshold: 1}
  - {id: flaky, metric: flaky, operator: "==", threshold: 0, level: warning}
  - {id: failed, metric: failed, operator: "==", threshold: 0}
  - {id: skipped, metric: skipped, operator: "==", threshold: 0}
  - {id: pass-rate, metric: pass_rate, operator: ">=", threshold: 0.75}
"#,
    );
    let root = dir.join("lake");
    gates(&root, &config, &[("tiny", &project)], &[]).expect_code(1);
    let results = table(&root, "gate_results");
    assert_eq!(actual(&results, "tiny", "tests"), Some(ran as f64));
    assert_eq!(actual(&results, "tiny", "flaky"), Some(flaky as f64));
    assert_eq!(actual(&results, "tiny", "failed"), Some(failed as f64));
    // nextest leaves skipped (ignored, filtered) tests out of its JUnit.
    assert_eq!(actual(&results, "tiny", "skipped"), Some(0.0));
    // A flaky test passed in the end: nextest counts it among the passed.
    assert_eq!(actual(&results, "tiny", "pass-rate"), Some(passed as f64 / ran as f64));
    assert_eq!(status(&results, "tiny", "pass-rate"), "pass");
    assert_eq!(status(&results, "tiny", "flaky"), "warn");
    assert_eq!(status(&results, "tiny", "failed"), "fail");
    let cases = table(&root, "test_cases");
    let reruns: BTreeMap<&str, (i64, &str)> = cases
        .iter()
        .map(|r| {
            (
                r["name"].as_str().unwrap(),
                (r["reruns"].as_i64().unwrap(), r["outcome"].as_str().unwrap()),
            )
        })
        .collect();
    assert_eq!(reruns["tests::flaky"], (1, "flaky"));
    assert_eq!(reruns["tests::fails"], (1, "failed"));
    assert_eq!(reruns["tests::passes_a"], (0, "passed"));
}

/// The `jest` launcher and the `jest-junit` reporter of the pinned npm tree
/// (`bash scripts/setup-node.sh`).
fn jest_tools() -> (PathBuf, PathBuf) {
    let modules = std::env::var_os("HIVE_JEST_NODE_MODULES").map_or_else(|| repo().join("tests/node/jest/node_modules"), PathBuf::from);
    let (jest, reporter) = (modules.join("jest/bin/jest.js"), modules.join("jest-junit"));
    assert!(
        jest.exists() && reporter.exists(),
        "{} lacks jest or jest-junit: run `bash scripts/setup-node.sh` (scripts/test.sh does)",
        modules.display()
    );
    (jest, reporter)
}

const JEST_SUITE: &str = r#"const classify = (n) => (n < 0 ? "negative" : n === 0 ? "zero" : "positive");
describe("classify", () => {
  test("negative", () => { expect(classify(-1)).toBe("negative"); });
  test("zero", () => { expect(classify(0)).toBe("zero"); });
  test("wrong on purpose", () => { expect(classify(5)).toBe("zero"); });
  test.skip("skipped", () => {});
  test.todo("write me");
  describe("nested", () => {
    test("deep pass", () => { expect(1).toBe(1); });
    test("throws", () => { throw new Error("boom"); });
  });
});
"#;

const JEST_TOP_LEVEL: &str = r#"test("top level passes", () => { expect(true).toBe(true); });
test.failing("known bug", () => { expect(1).toBe(2); });
"#;

/// jest with the jest-junit reporter, run here, gives the counts of jest's own `--json`
/// results, case by case: a test file that fails to run is one error (jest-junit's two
/// cases for it count once), `test.skip` is skipped, and `test.todo` counts as passed
/// because jest-junit writes it as a bare case (a limitation of its format, stated in
/// docs/quality-gates.md).
#[test]
fn jest_junit_agrees_with_jest_json() {
    let (jest, reporter) = jest_tools();
    let dir = Workdir::new("gates-jest");
    dir.write("web/jest.config.json", r#"{"testEnvironment": "node"}"#);
    dir.write("web/calc.test.js", JEST_SUITE);
    dir.write("web/top.test.js", JEST_TOP_LEVEL);
    dir.write(
        "web/broken.test.js",
        "require(\"./does-not-exist\");\ntest(\"never runs\", () => {});\n",
    );
    let project = dir.join("web");
    let mut cmd = command(Path::new("node"), &project);
    cmd.arg(&jest)
        .args(["--ci", "--rootDir", ".", "--json", "--outputFile=jest.json"])
        .arg(format!("--reporters={}", reporter.display()))
        .env("JEST_JUNIT_OUTPUT_DIR", project.join("reports"))
        .env("JEST_JUNIT_OUTPUT_NAME", "junit.xml")
        .env("JEST_JUNIT_REPORT_TEST_SUITE_ERRORS", "true");
    let jest_run = run(cmd);
    if jest_run.code() != Some(1) {
        jest_run.fail("jest should exit 1 (tests failed)");
    }
    let results: Value = serde_json::from_slice(&fs_err::read(project.join("jest.json")).unwrap()).unwrap();
    let n = |key: &str| results[key].as_u64().unwrap();
    // The suite above, as jest counts it.
    assert_eq!(
        (
            n("numTotalTests"),
            n("numPassedTests"),
            n("numFailedTests"),
            n("numPendingTests"),
            n("numTodoTests"),
            n("numRuntimeErrorTestSuites")
        ),
        (9, 5, 2, 1, 1, 1)
    );

    let config = dir.write(
        "q.yaml",
        r#"version: 1
test_types:
  unit:
    reports:
      - {format: junit, paths: ["reports/*.xml"], tool: jest-junit}
gates:
  - {id: tests, metric: tests, operator: ">=", threshold: 1}
  - {id: passed, metric: passed, operator: ">=", threshold: 0}
  - {id: failed, metric: failed, operator: "==", threshold: 0}
  - {id: errors, metric: errors, operator: "==", threshold: 0}
  - {id: skipped, metric: skipped, operator: "<=", threshold: 10}
  - {id: pass-rate, metric: pass_rate, operator: ">=", threshold: 0.5}
"#,
    );
    let root = dir.join("lake");
    gates(&root, &config, &[("web", &project)], &[]).expect_code(1);
    let gate_rows = table(&root, "gate_results");
    let (todo, errored) = (n("numTodoTests"), n("numRuntimeErrorTestSuites"));
    let passed = n("numPassedTests") + todo;
    let tests = n("numTotalTests") + errored;
    assert_eq!(actual(&gate_rows, "web", "tests"), Some(tests as f64));
    assert_eq!(actual(&gate_rows, "web", "passed"), Some(passed as f64));
    assert_eq!(actual(&gate_rows, "web", "failed"), Some(n("numFailedTests") as f64));
    assert_eq!(actual(&gate_rows, "web", "errors"), Some(errored as f64));
    assert_eq!(actual(&gate_rows, "web", "skipped"), Some(n("numPendingTests") as f64));
    let executed = tests - n("numPendingTests");
    assert_eq!(actual(&gate_rows, "web", "pass-rate"), Some(passed as f64 / executed as f64));
    assert_eq!(status(&gate_rows, "web", "failed"), "fail");
    assert_eq!(status(&gate_rows, "web", "errors"), "fail");

    // Case by case: jest's fullName and status against the test_cases table.
    let mut expected: BTreeMap<String, &str> = BTreeMap::new();
    for file in results["testResults"].as_array().unwrap() {
        let assertions = file["assertionResults"].as_array().unwrap();
        // A file that failed to run has no assertions, or (jest-junit's
        // reportTestSuiteErrors adds one to jest's own results) a single one of status
        // `error`; jest-junit names its case by the file's path.
        if assertions.iter().all(|a| a["status"] == "error") {
            assert!(file["message"].as_str().unwrap().contains("Test suite failed to run"), "{file:#}");
            let path = Path::new(file["name"].as_str().unwrap());
            let name = path.strip_prefix(&project).unwrap_or(path).display().to_string();
            expected.insert(name, "error");
            continue;
        }
        for a in assertions {
            let status = match a["status"].as_str().unwrap() {
                "passed" | "todo" => "passed",
                "failed" => "failed",
                "pending" => "skipped",
                other => panic!("unexpected jest status {other} in {a:#}"),
            };
            expected.insert(a["fullName"].as_str().unwrap().to_owned(), status);
        }
    }
    let cases = table(&root, "test_cases");
    let got: BTreeMap<String, &str> = cases
        .iter()
        .filter(|r| r["project_id"] == "web")
        .map(|r| (r["name"].as_str().unwrap().trim().to_owned(), r["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(cases.len(), got.len(), "a case was reported twice: {cases:#?}");
    assert_eq!(got, expected);
    let broken = cases.iter().find(|r| r["name"] == "broken.test.js").unwrap();
    assert!(
        broken["message"].as_str().unwrap().contains("Test suite failed to run"),
        "{broken:#?}"
    );
}

/// A free TCP port on the loopback interface.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A child process killed when the test ends, passing or not.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const LOCUSTFILE: &str = r#"from locust import HttpUser, task


class Visitor(HttpUser):
    # Each user sends exactly 40 requests early in the run, then idles: Locust rewrites
    # its stats CSV once a second and not at shutdown, so the last second's requests
    # would otherwise be missing from it.
    sent = 0

    def wait_time(self):
        return 0.005 if self.sent < 40 else 3600

    @task(3)
    def index(self):
        self.sent += 1
        self.client.get("/")

    @task(1)
    def missing(self):
        self.sent += 1
        self.client.get("/missing")
"#;

/// Locust's percentiles, computed by Locust's own function over the response-time
/// histogram it prints with `--json`.
const LOCUST_TRUTH: &str = r#"
import json, sys
from locust.stats import calculate_response_time_percentile
entries = json.load(open(sys.argv[1]))
times = {}
for e in entries:
    for k, v in e["response_times"].items():
        times[int(float(k))] = times.get(int(float(k)), 0) + v
n = sum(e["num_requests"] for e in entries)
print(json.dumps({
    "requests": n,
    "failures": sum(e["num_failures"] for e in entries),
    "avg": sum(e["total_response_time"] for e in entries) / n,
    "max": max(e["max_response_time"] for e in entries),
    "p50": calculate_response_time_percentile(times, n, 0.5),
    "p95": calculate_response_time_percentile(times, n, 0.95),
    "p99": calculate_response_time_percentile(times, n, 0.99),
}))
"#;

/// A headless Locust run against a local `python -m http.server`: the stats CSV gives
/// the request and failure counts the server logged and Locust's own JSON totals.
#[test]
fn locust_stats_agree_with_locust_json_and_the_server_log() {
    let dir = Workdir::new("gates-locust");
    dir.write("www/index.html", "hello\n");
    dir.write("perf/locustfile.py", LOCUSTFILE);
    let python = venv_tool("python");
    let port = free_port();
    let server_log = fs_err::File::create(dir.join("server.log")).unwrap().into_file();
    let server = Child(
        Command::new(&python)
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir.join("www"))
            .stdout(std::process::Stdio::null())
            .stderr(server_log)
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let mut cmd = command(&venv_tool("locust"), &dir.join("perf"));
    cmd.args([
        "-f",
        "locustfile.py",
        "--headless",
        "-u",
        "2",
        "-r",
        "2",
        "-t",
        "4s",
        "--only-summary",
        "--json",
    ]);
    cmd.args(["--host", &format!("http://127.0.0.1:{port}"), "--csv", "reports/performance/locust"]);
    // Locust exits 1 when a request failed (the 404s).
    let locust = run(cmd).expect_code(1);
    drop(server);
    fs_err::write(dir.join("locust.json"), locust.output.stdout.as_slice()).unwrap();
    let mut cmd = Command::new(&python);
    cmd.args(["-c", LOCUST_TRUTH]).arg(dir.join("locust.json"));
    let truth: Value = serde_json::from_str(support::ok(cmd).stdout().trim()).unwrap();
    let log = fs_err::read_to_string(dir.join("server.log")).unwrap();
    let served = log.lines().filter(|l| l.contains("\"GET / HTTP/1.1\" 200")).count() as u64;
    let not_found = log.lines().filter(|l| l.contains("\"GET /missing HTTP/1.1\" 404")).count() as u64;
    assert_eq!(truth["requests"], served + not_found);
    assert_eq!(truth["failures"], not_found);
    assert_eq!(served + not_found, 80, "2 users x 40 requests");

    let config = dir.write(
        "q.yaml",
        r#"version: 1
test_types:
  performance:
    reports:
      - {format: locust_csv, paths: ["reports/performance/*_stats.csv"], tool: locust}
gates:
  - {id: requests, test_type: performance, metric: requests, operator: ">", threshold: 0}
  - {id: error-rate, test_type: performance, metric: error_rate, operator: "<=", threshold: 0.01}
  - {id: avg, test_type: performance, metric: latency_avg_ms, operator: "<=", threshold: 60000}
  - {id: p50, test_type: performance, metric: latency_p50_ms, operator: "<=", threshold: 60000}
  - {id: p95, test_type: performance, metric: latency_p95_ms, operator: "<=", threshold: 60000}
  - {id: p99, test_type: performance, metric: latency_p99_ms, operator: "<=", threshold: 60000}
  - {id: max, test_type: performance, metric: latency_max_ms, operator: "<=", threshold: 60000}
  - {id: rps, test_type: performance, metric: requests_per_second, operator: ">", threshold: 0}
"#,
    );
    let root = dir.join("lake");
    let out = gates(&root, &config, &[("web", &dir.join("perf"))], &["--summary-md", "-"]).expect_code(1);
    let results = table(&root, "gate_results");
    let f = |v: &Value| v.as_f64().unwrap();
    assert_eq!(actual(&results, "web", "requests"), Some(f(&truth["requests"])));
    assert_eq!(
        actual(&results, "web", "error-rate"),
        Some(f(&truth["failures"]) / f(&truth["requests"]))
    );
    assert_eq!(status(&results, "web", "error-rate"), "fail");
    let avg = actual(&results, "web", "avg").unwrap();
    assert!((avg - f(&truth["avg"])).abs() <= 1e-9 * avg, "{avg} vs {}", truth["avg"]);
    let csv = fs_err::read_to_string(dir.join("perf/reports/performance/locust_stats.csv")).unwrap();
    assert_eq!(actual(&results, "web", "max"), Some(f(&truth["max"])), "{truth}\n{csv}");
    for p in ["p50", "p95", "p99"] {
        assert_eq!(actual(&results, "web", p), Some(f(&truth[p])), "{p}: {truth}\n{csv}");
    }
    let md = out.stdout();
    assert!(md.starts_with("## Quality gates: ❌ failed"), "{md}");
    assert!(md.contains("| ❌ fail | `error-rate` | performance | `error_rate` |"), "{md}");
}

/// ruff's SARIF, made here, holds the findings ruff's JSON output lists.
#[test]
fn ruff_sarif_agrees_with_ruff_json() {
    let dir = Workdir::new("gates-ruff");
    dir.write(
        "src/app/risky.py",
        "import os\nimport subprocess\n\n\ndef run(cmd):\n    assert cmd\n    try:\n        return eval(cmd)\n    except:\n        subprocess.call(cmd, shell=True)\n",
    );
    let ruff = venv_tool("ruff");
    fs_err::create_dir_all(dir.join("src/reports/security")).unwrap();
    let check = |format: &str, out: &str| {
        let mut cmd = command(&ruff, &dir.join("src"));
        cmd.args(["check", "--no-cache", "--isolated", "--select", "F,E,S", "--exit-zero"]);
        cmd.args(["--output-format", format, "--output-file", out, "app"]);
        support::ok(cmd);
    };
    check("sarif", "reports/security/ruff.sarif");
    check("json", "ruff.json");
    let listed: Value = serde_json::from_slice(&fs_err::read(dir.join("src/ruff.json")).unwrap()).unwrap();
    let mut codes: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect();
    codes.sort();
    assert!(codes.len() >= 4, "{codes:?}");
    let config = dir.write(
        "q.yaml",
        r#"version: 1
test_types:
  security:
    reports:
      - {format: sarif, paths: ["reports/security/*.sarif"], tool: ruff}
gates:
  - {id: total, test_type: security, metric: findings_total, operator: "<=", threshold: 100}
  - {id: errors, test_type: security, metric: findings_error, operator: "==", threshold: 0}
  - {id: critical, test_type: security, metric: findings_critical, operator: "==", threshold: 0}
"#,
    );
    let root = dir.join("lake");
    gates(&root, &config, &[("app", &dir.join("src"))], &[]).expect_code(1);
    let results = table(&root, "gate_results");
    assert_eq!(actual(&results, "app", "total"), Some(codes.len() as f64));
    // ruff reports every violation at SARIF level `error` and no security-severity.
    assert_eq!(actual(&results, "app", "errors"), Some(codes.len() as f64));
    assert_eq!(actual(&results, "app", "critical"), Some(0.0));
    let findings = table(&root, "findings");
    let mut rules: Vec<String> = findings.iter().map(|r| r["rule_id"].as_str().unwrap().to_owned()).collect();
    rules.sort();
    assert_eq!(rules, codes);
    assert!(
        findings
            .iter()
            .all(|r| r["tool"] == "ruff" && r["file"].as_str().unwrap().ends_with("app/risky.py"))
    );
    let mut lines: Vec<i64> = findings.iter().map(|r| r["line"].as_i64().unwrap()).collect();
    let mut want: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["location"]["row"].as_i64().unwrap())
        .collect();
    lines.sort_unstable();
    want.sort_unstable();
    assert_eq!(lines, want);
}

const FIXTURES_CONFIG: &str = r#"version: 1
test_types:
  unit:
    reports:
      - {format: junit, paths: ["surefire-reports/TEST-*.xml"], tool: Maven Surefire}
      - {format: jacoco, paths: ["jacoco/jacoco.xml"], tool: JaCoCo}
  integration:
    reports:
      - {format: junit, paths: ["go/report.xml"], tool: go-junit-report}
  performance:
    reports:
      - {format: k6_summary, paths: ["k6/summary.json"], tool: k6}
gates:
  - {id: unit-tests, test_type: unit, metric: tests, operator: ">", threshold: 0}
  - {id: unit-failed, test_type: unit, metric: failed, operator: "==", threshold: 0}
  - {id: unit-errors, test_type: unit, metric: errors, operator: "==", threshold: 0}
  - {id: unit-skipped, test_type: unit, metric: skipped, operator: "<=", threshold: 5}
  - {id: unit-flaky, test_type: unit, metric: flaky, operator: "==", threshold: 0, level: warning}
  - {id: unit-lines, test_type: unit, metric: line_coverage, operator: ">=", threshold: 0.75}
  - {id: unit-branches, test_type: unit, metric: branch_coverage, operator: ">=", threshold: 0.6}
  - {id: go-tests, test_type: integration, metric: tests, operator: ">", threshold: 0}
  - {id: go-failed, test_type: integration, metric: failed, operator: "==", threshold: 0}
  - {id: go-errors, test_type: integration, metric: errors, operator: "==", threshold: 0}
  - {id: go-skipped, test_type: integration, metric: skipped, operator: "==", threshold: 0, level: warning}
  - {id: go-duration, test_type: integration, metric: duration_seconds, operator: "<", threshold: 1}
  - {id: k6-requests, test_type: performance, metric: requests, operator: ">", threshold: 0}
  - {id: k6-error-rate, test_type: performance, metric: error_rate, operator: "<=", threshold: 0.01}
  - {id: k6-p95, test_type: performance, metric: latency_p95_ms, operator: "<=", threshold: 200}
  - {id: k6-thresholds, test_type: performance, metric: perf_thresholds_failed, operator: "==", threshold: 0}
  - {id: k6-p99, test_type: performance, metric: latency_p99_ms, operator: "<=", threshold: 1000, on_missing: warn}
  - {id: all-tests, metric: tests, operator: ">", threshold: 0}
"#;

fn fixtures_project(dir: &Workdir) -> PathBuf {
    for (from, to) in [
        (
            "TEST-com.example.CalculatorTest.xml",
            "svc/surefire-reports/TEST-com.example.CalculatorTest.xml",
        ),
        ("jacoco.xml", "svc/jacoco/jacoco.xml"),
        ("go-junit-report.xml", "svc/go/report.xml"),
        ("k6-summary.json", "svc/k6/summary.json"),
    ] {
        dir.write(to, fs_err::read(fixture(from)).unwrap());
    }
    dir.join("svc")
}

/// The hand-written fixtures (formats this machine cannot produce) give the totals
/// their tools wrote into them: Surefire's root counts (with reruns), JaCoCo's report
/// counters, go-junit-report's root counts, k6's request counts and threshold verdicts.
/// Reruns write byte-identical Parquet.
#[test]
fn surefire_jacoco_go_and_k6_fixtures_give_their_tools_totals() {
    let dir = Workdir::new("gates-fixtures");
    let project = fixtures_project(&dir);
    let config = dir.write("q.yaml", FIXTURES_CONFIG);
    let root = dir.join("lake");
    let md = dir.join("out/summary.md");
    let run1 = gates(&root, &config, &[("svc", &project)], &["--summary-md", md.to_str().unwrap()]).expect_code(1);
    let results = table(&root, "gate_results");

    let surefire = fs_err::read_to_string(fixture("TEST-com.example.CalculatorTest.xml")).unwrap();
    let s = |a: &str| Some(xml_attr(&surefire, "testsuite", a));
    assert_eq!(actual(&results, "svc", "unit-tests"), s("tests"));
    assert_eq!(actual(&results, "svc", "unit-failed"), s("failures"));
    assert_eq!(actual(&results, "svc", "unit-errors"), s("errors"));
    assert_eq!(actual(&results, "svc", "unit-skipped"), s("skipped"));
    assert_eq!(actual(&results, "svc", "unit-flaky"), s("flakes"));
    let cases = table(&root, "test_cases");
    let case = |name: &str| cases.iter().find(|r| r["name"] == name).unwrap();
    assert_eq!(
        (
            case("retriesThenPasses")["outcome"].as_str(),
            case("retriesThenPasses")["reruns"].as_i64()
        ),
        (Some("flaky"), Some(1))
    );
    assert_eq!(
        (case("alwaysFails")["outcome"].as_str(), case("alwaysFails")["reruns"].as_i64()),
        (Some("failed"), Some(2))
    );
    assert_eq!(
        (case("crashes")["outcome"].as_str(), case("crashes")["reruns"].as_i64()),
        (Some("error"), Some(1))
    );
    assert_eq!(case("alwaysFails")["message"], "expected: <1> but was: <2>");
    assert_eq!(case("disabled")["message"], "not ready");

    // JaCoCo's own report-level counters: LINE missed 2 covered 6, BRANCH missed 3 covered 3.
    let jacoco = fs_err::read_to_string(fixture("jacoco.xml")).unwrap();
    let counter = |kind: &str| {
        let at = jacoco.rfind(&format!("<counter type=\"{kind}\"")).unwrap();
        let missed = xml_attr(&jacoco[at..], "counter", "missed");
        let covered = xml_attr(&jacoco[at..], "counter", "covered");
        covered / (missed + covered)
    };
    assert_eq!(actual(&results, "svc", "unit-lines"), Some(counter("LINE")));
    assert_eq!(actual(&results, "svc", "unit-branches"), Some(counter("BRANCH")));
    assert_eq!(status(&results, "svc", "unit-lines"), "pass", "0.75 >= 0.75");
    assert_eq!(status(&results, "svc", "unit-branches"), "fail", "0.5 < 0.6");
    let coverage = table(&root, "coverage");
    let files: Vec<&str> = coverage.iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(files, ["org/example/Calc.java", "org/example/util/Util.java"]);

    let go = fs_err::read_to_string(fixture("go-junit-report.xml")).unwrap();
    let g = |a: &str| Some(xml_attr(&go, "testsuites", a));
    assert_eq!(actual(&results, "svc", "go-tests"), g("tests"));
    assert_eq!(actual(&results, "svc", "go-failed"), g("failures"));
    assert_eq!(actual(&results, "svc", "go-errors"), g("errors"));
    assert_eq!(actual(&results, "svc", "go-skipped"), g("skipped"));
    // No root `time`: the suites' times add up (0.012 + 0.001).
    assert!((actual(&results, "svc", "go-duration").unwrap() - 0.013).abs() < 1e-12);
    assert_eq!(
        actual(&results, "svc", "all-tests"),
        Some(xml_attr(&surefire, "testsuite", "tests") + xml_attr(&go, "testsuites", "tests"))
    );

    let k6: Value = serde_json::from_slice(&fs_err::read(fixture("k6-summary.json")).unwrap()).unwrap();
    let m = &k6["metrics"];
    assert_eq!(actual(&results, "svc", "k6-requests"), m["http_reqs"]["count"].as_f64());
    // `passes` of http_req_failed are the failed requests; `value` is their rate.
    assert_eq!(actual(&results, "svc", "k6-error-rate"), m["http_req_failed"]["value"].as_f64());
    assert_eq!(actual(&results, "svc", "k6-p95"), m["http_req_duration"]["p(95)"].as_f64());
    // Exactly one threshold has `true`, which in k6's export means it failed.
    let failed_thresholds = m
        .as_object()
        .unwrap()
        .values()
        .filter_map(|v| v.get("thresholds"))
        .flat_map(|t| t.as_object().unwrap().values())
        .filter(|b| b.as_bool() == Some(true))
        .count();
    assert_eq!(actual(&results, "svc", "k6-thresholds"), Some(failed_thresholds as f64));
    assert_eq!(status(&results, "svc", "k6-thresholds"), "fail");
    // k6 reports no p(99) by default: missing, not 0, and its policy says warn.
    assert_eq!(
        (status(&results, "svc", "k6-p99"), actual(&results, "svc", "k6-p99")),
        ("missing", None)
    );
    assert!(!gate(&results, "svc", "k6-p99")["blocks_run"].as_bool().unwrap());

    // Reruns are byte-identical, table by table, and so is the summary.
    let bytes = |root: &Path| -> Vec<Vec<u8>> {
        ["gate_results", "test_cases", "coverage", "findings"]
            .iter()
            .flat_map(|t| support::parts(root, t, DATE))
            .map(|p| fs_err::read(p).unwrap())
            .collect()
    };
    let first = bytes(&root);
    let md1 = fs_err::read(&md).unwrap();
    let run2 = gates(&root, &config, &[("svc", &project)], &["--summary-md", md.to_str().unwrap()]).expect_code(1);
    assert_eq!(bytes(&root), first);
    assert_eq!(fs_err::read(&md).unwrap(), md1);
    let other = dir.join("lake2");
    gates(&other, &config, &[("svc", &project)], &[]).expect_code(1);
    assert_eq!(bytes(&other), first);
    assert_eq!(run1.summary()["blocking_failures"], run2.summary()["blocking_failures"]);
}

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<testsuites><testsuite name="s"><testcase name="&lol9;"/></testsuite></testsuites>
"#;

/// Broken, truncated, oversized and hostile reports of every format: exit 2, the
/// message names the file, nothing panics, and no output partition is committed.
#[test]
fn malformed_truncated_and_hostile_reports_exit_2_naming_the_file() {
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let junit = fs_err::read_to_string(fixture("TEST-com.example.CalculatorTest.xml")).unwrap();
    let jacoco = fs_err::read_to_string(fixture("jacoco.xml")).unwrap();
    let k6 = fs_err::read_to_string(fixture("k6-summary.json")).unwrap();
    let xxe =
        r#"<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&xxe;"/></testsuite>"#;
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "junit",
            "r/junit.xml",
            BILLION_LAUGHS.as_bytes().to_vec(),
            "DOCTYPE declares entities",
        ),
        ("junit", "r/junit.xml", xxe.as_bytes().to_vec(), "DOCTYPE declares entities"),
        (
            "junit",
            "r/junit.xml",
            junit.as_bytes()[..junit.len() / 2].to_vec(),
            "malformed junit report",
        ),
        ("junit", "r/junit.xml", garbage.clone(), "malformed junit report"),
        ("junit", "r/junit.xml", b"".to_vec(), "no root element"),
        ("cobertura", "r/coverage.xml", garbage.clone(), "malformed cobertura report"),
        (
            "cobertura",
            "r/coverage.xml",
            b"<coverage><packages><package><classes><class filename=\"a\"><lines><line number=\"x\" hits=\"1\"/>".to_vec(),
            "valid `number`",
        ),
        (
            "jacoco",
            "r/jacoco.xml",
            jacoco.as_bytes()[..jacoco.len() - 40].to_vec(),
            "malformed jacoco report",
        ),
        ("jacoco", "r/jacoco.xml", garbage.clone(), "malformed jacoco report"),
        ("lcov", "r/lcov.info", garbage.clone(), "malformed lcov report"),
        ("lcov", "r/lcov.info", b"SF:a.py\nDA:1,1\n".to_vec(), "truncated"),
        ("sarif", "r/x.sarif", garbage.clone(), "not JSON"),
        (
            "sarif",
            "r/x.sarif",
            br#"{"version":"2.1.0","runs":[{"tool":{"driver":{"name":"x"}},"results":[{"ruleId":"a","level":"fatal"}]}]}"#.to_vec(),
            "`fatal`",
        ),
        ("locust_csv", "r/x_stats.csv", garbage.clone(), "malformed locust_csv report"),
        (
            "locust_csv",
            "r/x_stats.csv",
            b"Type,Name,Request Count,Failure Count\nGET,/,ten,0\n".to_vec(),
            "`ten` is not a count",
        ),
        ("k6_summary", "r/k6.json", k6.as_bytes()[..k6.len() / 2].to_vec(), "not JSON"),
        ("k6_summary", "r/k6.json", garbage, "not JSON"),
    ];
    for (i, (format, rel, bytes, needle)) in cases.into_iter().enumerate() {
        let dir = Workdir::new("gates-hostile");
        let report = dir.write(&format!("p/{rel}"), &bytes);
        let config = dir.write(
            "q.yaml",
            format!(
                "version: 1\ntest_types:\n  unit:\n    reports:\n      - {{format: {format}, paths: [\"{rel}\"], tool: t}}\ngates: []\n"
            ),
        );
        let root = dir.join("lake");
        let out = gates(&root, &config, &[("p", &dir.join("p"))], &[])
            .expect_code(2)
            .expect_stderr(&report.display().to_string())
            .expect_stderr(needle);
        if out.stderr().contains("panicked") {
            out.fail(&format!("case {i} panicked"));
        }
        assert!(!root.join("gate_results").exists(), "case {i}: nothing is committed");
    }

    // A report beyond the size cap is refused before it is parsed.
    let dir = Workdir::new("gates-huge");
    let report = dir.write(
        "p/r/junit.xml",
        format!("<testsuites>{}</testsuites>", "<testsuite/>".repeat(10_000)),
    );
    let config = dir.write(
        "q.yaml",
        "version: 1\ndefaults: {max_report_bytes: 1000}\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [\"r/*.xml\"], tool: t}\ngates: []\n",
    );
    gates(&dir.join("lake"), &config, &[("p", &dir.join("p"))], &[])
        .expect_code(2)
        .expect_stderr(&report.display().to_string())
        .expect_stderr("larger than the limit of 1000 bytes");
    // The flag overrides the config both ways.
    gates(
        &dir.join("lake"),
        &config,
        &[("p", &dir.join("p"))],
        &["--max-report-bytes", "100000000"],
    )
    .expect_code(0);
    gates(&dir.join("lake"), &config, &[("p", &dir.join("p"))], &["--max-report-bytes", "0"])
        .expect_code(2)
        .expect_stderr("--max-report-bytes");
}

/// Three unit reports (5 executed: 4 passed, 1 failed; LCOV: 3 of 4 lines) and gates
/// that sit exactly on the values.
fn boundary_project(dir: &Workdir) -> PathBuf {
    dir.write(
        "p/unit/junit.xml",
        r#"<testsuites><testsuite name="s">
<testcase name="a"/><testcase name="b"/><testcase name="c"/><testcase name="d"/>
<testcase name="e"><failure message="no"/></testcase>
<testcase name="f"><skipped/></testcase>
</testsuite></testsuites>"#,
    );
    dir.write("p/unit/lcov.info", "SF:a.py\nDA:1,1\nDA:2,1\nDA:3,1\nDA:4,0\nend_of_record\n");
    dir.join("p")
}

/// `actual == threshold` passes `>=`, `<=` and `==`, fails `>`, `<` and `!=`, for a
/// ratio (4/5 = 0.8), a coverage rate (3/4) and a count.
#[test]
fn thresholds_exactly_at_the_boundary() {
    let dir = Workdir::new("gates-boundary");
    let project = boundary_project(&dir);
    let mut yaml = String::from(
        "version: 1\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [unit/junit.xml], tool: t}\n      - {format: lcov, paths: [unit/lcov.info], tool: t}\ngates:\n",
    );
    for (metric, value) in [("pass_rate", "0.8"), ("line_coverage", "0.75"), ("failed", "1")] {
        for (op, name) in [(">=", "ge"), ("<=", "le"), ("==", "eq"), (">", "gt"), ("<", "lt"), ("!=", "ne")] {
            writeln!(
                yaml,
                "  - {{id: {metric}-{name}, test_type: unit, metric: {metric}, operator: \"{op}\", threshold: {value}}}"
            )
            .unwrap();
        }
    }
    let config = dir.write("q.yaml", &yaml);
    let root = dir.join("lake");
    gates(&root, &config, &[("p", &project)], &[]).expect_code(1);
    let results = table(&root, "gate_results");
    for metric in ["pass_rate", "line_coverage", "failed"] {
        for (name, want) in [
            ("ge", "pass"),
            ("le", "pass"),
            ("eq", "pass"),
            ("gt", "fail"),
            ("lt", "fail"),
            ("ne", "fail"),
        ] {
            assert_eq!(status(&results, "p", &format!("{metric}-{name}")), want, "{metric} {name}");
        }
    }
    assert_eq!(actual(&results, "p", "pass_rate-ge"), Some(0.8));
    assert_eq!(actual(&results, "p", "line_coverage-ge"), Some(0.75));
}

/// A gate whose report is missing: `fail` fails the run (blocking) or warns (warning
/// level), `warn` warns, `ignore` neither; the policy comes from the gate, else its
/// test type, else `defaults`. The exit status follows.
#[test]
fn missing_reports_follow_each_policy() {
    let dir = Workdir::new("gates-missing");
    let project = boundary_project(&dir);
    let config = |defaults: &str, type_policy: &str, gate_policy: &str, level: &str| {
        dir.write(
            "q.yaml",
            format!(
                "version: 1\ndefaults: {{on_missing: {defaults}}}\ntest_types:\n  unit:\n    reports:\n      - {{format: junit, paths: [unit/junit.xml], tool: t}}\n  security:\n{type_policy}    reports:\n      - {{format: sarif, paths: [\"security/*.sarif\"], tool: ruff}}\ngates:\n  - {{id: unit, test_type: unit, metric: failed, operator: \"<=\", threshold: 1}}\n  - {{id: sec, test_type: security, metric: findings_total, operator: \"==\", threshold: 0, level: {level}{gate_policy}}}\n"
            ),
        )
    };
    // (defaults, test type policy, gate policy, level) -> (exit, blocks_run, summary status)
    let cases = [
        ("fail", "", "", "blocking", 1, true),
        ("fail", "", "", "warning", 0, false),
        ("warn", "", "", "blocking", 0, false),
        ("ignore", "", "", "blocking", 0, false),
        ("ignore", "    on_missing: fail\n", "", "blocking", 1, true),
        ("fail", "    on_missing: ignore\n", "", "blocking", 0, false),
        ("fail", "    on_missing: ignore\n", ", on_missing: fail", "blocking", 1, true),
        ("fail", "", ", on_missing: warn", "blocking", 0, false),
    ];
    for (i, (defaults, type_policy, gate_policy, level, code, blocks)) in cases.into_iter().enumerate() {
        let cfg = config(defaults, type_policy, gate_policy, level);
        let root = dir.join(&format!("lake{i}"));
        let md = dir.join(&format!("md{i}.md"));
        let out = gates(&root, &cfg, &[("p", &project)], &["--summary-md", md.to_str().unwrap()]).expect_code(code);
        let results = table(&root, "gate_results");
        let row = gate(&results, "p", "sec");
        assert_eq!(row["status"], "missing", "case {i}");
        assert_eq!(row["actual"], Value::Null, "case {i}");
        assert_eq!(row["blocks_run"], blocks, "case {i}");
        assert_eq!(status(&results, "p", "unit"), "pass", "case {i}");
        assert_eq!(out.summary()["missing"], 1, "case {i}");
        let text = fs_err::read_to_string(&md).unwrap();
        let label = if blocks {
            "❌ missing"
        } else if row["on_missing"] == "ignore" {
            "➖ missing"
        } else {
            "⚠️ missing"
        };
        assert!(text.contains(&format!("| {label} | `sec` |")), "case {i}: {text}");
        if blocks {
            // `--on-blocking-failure warn` (the nightly DAG's setting): the same rows and
            // failures, exit 0.
            let rows = support::sorted_rows(&support::parts(&root, "gate_results", DATE));
            let warned = gates(&root, &cfg, &[("p", &project)], &["--on-blocking-failure", "warn"]).expect_code(0);
            assert_eq!(warned.summary()["blocking_failures"], json!(["p/sec"]), "case {i}");
            assert_eq!(warned.summary()["status"], "fail", "case {i}");
            assert!(warned.stderr().contains("blocking gate failed"), "case {i}: {}", warned.stderr());
            assert_eq!(support::sorted_rows(&support::parts(&root, "gate_results", DATE)), rows, "case {i}");
        }
    }
}

/// A night on which no project's reports landed is nothing to process (99) whether the
/// projects root is missing or empty, and writes nothing; with neither --project nor
/// --projects-root it reads the lake's landing directory; a missing config is an error
/// even then.
#[test]
fn no_reports_landed_is_nothing_to_process() {
    let dir = Workdir::new("gates-nothing-landed");
    let config = dir.write(
        "q.yaml",
        "version: 1\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [junit.xml], tool: t}\ngates:\n  - {id: failed, metric: failed, operator: \"==\", threshold: 0}\n",
    );
    let root = dir.join("lake");
    let missing = dir.join("reports/dt=2026-10-12");
    let args = ["--projects-root", missing.to_str().unwrap()];
    let out = gates(&root, &config, &[], &args).expect_code(99);
    assert_eq!(out.summary()["status"], "nothing_to_process", "{}", out.stdout());
    assert!(out.stderr().contains("does not exist"), "{}", out.stderr());
    fs_err::create_dir_all(&missing).unwrap();
    gates(&root, &config, &[], &args).expect_code(99);
    assert!(!root.join("gate_results").exists(), "nothing may be written");
    // Without --project or --projects-root, the lake's landing directory is read.
    gates(&root, &config, &[], &[])
        .expect_code(99)
        .expect_stderr("raw/quality-reports/dt=2026-10-12");
    let absent = dir.join("absent.yaml");
    gates(&root, &absent, &[], &args).expect_code(2).expect_stderr("absent.yaml");
    // The same root with a project in it is evaluated.
    dir.write(
        "reports/dt=2026-10-12/web/junit.xml",
        r#"<testsuite name="s"><testcase name="a"/></testsuite>"#,
    );
    gates(&root, &config, &[], &args).expect_code(0);
    assert_eq!(status(&table(&root, "gate_results"), "web", "failed"), "pass");
}

/// The config's `environment` is the contract for the CI that ran the suites: the Compose
/// file it landed with each project's reports is checked and recorded on every row.
#[test]
fn the_compose_environment_each_project_ran_in_is_recorded() {
    let dir = Workdir::new("gates-environment");
    let config = dir.write(
        "q.yaml",
        "version: 1\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [junit.xml], tool: t}\ngates:\n  - {id: failed, metric: failed, operator: \"==\", threshold: 0}\nenvironment:\n  compose_file: ci/compose.yaml\n  services: [postgres, app]\n",
    );
    let junit = r#"<testsuite name="s"><testcase name="a"/></testsuite>"#;
    let compose = "services:\n  postgres: {image: postgres:16}\n  app: {build: .}\n";
    let verified = dir.join("verified");
    dir.write("verified/junit.xml", junit);
    dir.write("verified/ci/compose.yaml", compose);
    let missing = dir.join("missing");
    dir.write("missing/junit.xml", junit);
    let invalid = dir.join("invalid");
    dir.write("invalid/junit.xml", junit);
    dir.write("invalid/ci/compose.yaml", "services:\n  postgres: {image: postgres:16}\n");
    let root = dir.join("lake");
    let out = gates(
        &root,
        &config,
        &[("verified", &verified), ("missing", &missing), ("invalid", &invalid)],
        &[],
    )
    .expect_code(0);
    let rows = table(&root, "gate_results");
    let env = |project: &str, column: &str| gate(&rows, project, "failed")[column].clone();
    assert_eq!(env("verified", "environment_status"), json!("verified"));
    assert_eq!(env("verified", "environment_compose_file"), json!("ci/compose.yaml"));
    let digest = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(compose.as_bytes()));
    assert_eq!(env("verified", "environment_sha256"), json!(digest));
    assert_eq!(env("missing", "environment_status"), json!("missing"));
    assert_eq!(env("missing", "environment_sha256"), Value::Null);
    assert_eq!(env("invalid", "environment_status"), json!("invalid"));
    assert!(out.stderr().contains("does not declare service `app`"), "{}", out.stderr());
    // The gate verdicts themselves are unaffected: the environment is recorded, not judged.
    for project in ["verified", "missing", "invalid"] {
        assert_eq!(status(&rows, project, "failed"), "pass");
    }
    // A compose_file that leaves the reports directory is a config error.
    let escaping = dir.write(
        "escaping.yaml",
        fs_err::read_to_string(&config)
            .unwrap()
            .replace("ci/compose.yaml", "../compose.yaml"),
    );
    gates(&root, &escaping, &[("verified", &verified)], &[])
        .expect_code(2)
        .expect_stderr("environment.compose_file");
}

/// Per-project overrides: another threshold, level, policy, report location, or the
/// gate switched off, for one project only; the others keep the defaults.
#[test]
fn per_project_overrides_apply_to_their_project_only() {
    let dir = Workdir::new("gates-overrides");
    let project = boundary_project(&dir);
    dir.write("moved/elsewhere/junit.xml", fs_err::read(project.join("unit/junit.xml")).unwrap());
    let config = dir.write(
        "q.yaml",
        r#"version: 1
test_types:
  unit:
    reports:
      - {format: junit, paths: [unit/junit.xml], tool: t}
      - {format: lcov, paths: [unit/lcov.info], tool: t}
gates:
  - {id: pass-rate, test_type: unit, metric: pass_rate, operator: ">=", threshold: 1.0}
  - {id: lines, test_type: unit, metric: line_coverage, operator: ">=", threshold: 0.9}
projects:
  lenient:
    gates:
      pass-rate: {threshold: 0.8}
      lines: {level: warning}
  off:
    gates:
      pass-rate: {enabled: false}
      lines: {operator: "<=", threshold: 0.75}
  moved:
    reports:
      unit:
        - {format: junit, paths: [elsewhere/*.xml], tool: t}
    gates:
      pass-rate: {threshold: 0.5}
      lines: {on_missing: ignore}
"#,
    );
    let root = dir.join("lake");
    let verdicts = dir.join("verdicts.xml");
    let out = gates(
        &root,
        &config,
        &[
            ("strict", &project),
            ("lenient", &project),
            ("off", &project),
            ("moved", &dir.join("moved")),
        ],
        &["--junit-out", verdicts.to_str().unwrap()],
    )
    .expect_code(1);
    let r = table(&root, "gate_results");
    assert_eq!((status(&r, "strict", "pass-rate"), status(&r, "strict", "lines")), ("fail", "fail"));
    assert_eq!(
        (status(&r, "lenient", "pass-rate"), status(&r, "lenient", "lines")),
        ("pass", "warn")
    );
    assert_eq!(gate(&r, "lenient", "pass-rate")["threshold"], 0.8);
    assert!(r.iter().all(|row| !(row["project_id"] == "off" && row["gate_id"] == "pass-rate")));
    assert_eq!(status(&r, "off", "lines"), "pass");
    assert_eq!(gate(&r, "off", "lines")["operator"], "<=");
    assert_eq!(status(&r, "moved", "pass-rate"), "pass");
    assert_eq!(
        (status(&r, "moved", "lines"), gate(&r, "moved", "lines")["blocks_run"].as_bool()),
        ("missing", Some(false))
    );
    assert_eq!(out.summary()["blocking_failures"], json!(["strict/pass-rate", "strict/lines"]));
    // The JUnit of verdicts reads back, through our own parser, as the same verdicts.
    let parsed = hive_gates::reports::parse(hive_gates::config::ReportFormat::Junit, &verdicts, 1 << 20).unwrap();
    let hive_gates::reports::Parsed::Tests(t) = parsed else {
        panic!("not tests")
    };
    let failed: Vec<String> = t
        .cases
        .iter()
        .filter(|c| c.status == hive_gates::reports::CaseStatus::Failed)
        .map(|c| format!("{}/{}", c.classname, c.name))
        .collect();
    assert_eq!(failed, ["strict.unit/pass-rate", "strict.unit/lines"]);
    assert_eq!(t.cases.len(), 7);
    // gate_results is what ab-significance reads: `project_id` and `status == pass`.
    assert_eq!(r.iter().filter(|row| row["status"] == "pass").count(), 3);
}

/// Unknown keys and bad values in the config are exit 2 naming the file, the field,
/// the line and the column.
#[test]
fn config_errors_name_the_line_and_column() {
    let dir = Workdir::new("gates-config");
    let project = boundary_project(&dir);
    let good = "version: 1\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [unit/junit.xml], tool: t}\ngates:\n  - id: g\n    test_type: unit\n    metric: pass_rate\n    operator: \">=\"\n    threshold: 0.5\n";
    let cfg = dir.write("good.yaml", good);
    gates(&dir.join("lake"), &cfg, &[("p", &project)], &[]).expect_code(0);
    for (i, (bad, needles)) in [
        (
            good.replace("    threshold: 0.5\n", "    threshold: 0.5\n    treshold: 1\n"),
            &["unknown field `treshold`", "line 12, column 5"][..],
        ),
        (
            good.replace("operator: \">=\"", "operator: \"=>\""),
            &["gates[0].operator", "line 10, column 5", "=>"][..],
        ),
        (
            good.replace("threshold: 0.5", "threshold: high"),
            &["gates[0].threshold", "line 11, column 5"][..],
        ),
        (good.replace("format: junit", "format: junit5"), &["junit5", "line 5"][..]),
        (
            good.replace("metric: pass_rate", "metric: line_coverage"),
            &["gate `g` (line 7)", "Coverage report"][..],
        ),
        (good.replace("version: 1", "version: 2"), &["`version` (line 1)"][..]),
        ("version: 1\ntest_types: [\n".to_owned(), &["line"][..]),
        (
            good.replace("gates:\n", "test_types: {}\ngates:\n"),
            &["duplicate field `test_types`", "line 6"][..],
        ),
        (
            good.replace("gates:\n", "  unit:\n    reports: []\ngates:\n"),
            &["duplicate key `unit`", "line 6, column 3"][..],
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let cfg = dir.write(&format!("bad{i}.yaml"), &bad);
        let out = gates(&dir.join("lake"), &cfg, &[("p", &project)], &[])
            .expect_code(2)
            .expect_stderr(&cfg.display().to_string());
        for needle in needles {
            if !out.stderr().contains(needle) {
                out.fail(&format!("case {i}: stderr lacks {needle:?}"));
            }
        }
    }
    // Without --project the reports are read from the lake; a data root that does not
    // exist is a misconfiguration (exit 2), not a night without reports.
    let mut cmd = bin("evaluate-gates");
    cmd.args(["--date", DATE, "--config", cfg.to_str().unwrap(), "--data-root"]);
    cmd.arg(dir.join("no-lake"));
    run(cmd).expect_code(2).expect_stderr("data root");
    gates(&dir.join("lake"), &cfg, &[("p", &dir.join("nowhere"))], &[])
        .expect_code(2)
        .expect_stderr("is not a directory");
}

/// The committed quality-fabric-config.schema.json is what the Rust types generate, and
/// the committed quality-fabric-config.yaml parses and evaluates this repository's own
/// nextest JUnit (a fixture in its place) with the `template-evolution` entry.
#[test]
fn committed_config_parses_and_its_schema_is_generated_from_the_types() {
    let committed = fs_err::read_to_string(repo().join("quality-fabric-config.schema.json")).unwrap();
    assert!(
        committed == hive_gates::config::QualityConfig::json_schema(),
        "quality-fabric-config.schema.json is stale: run `HIVE_UPDATE_SCHEMA=1 cargo test -p hive-gates the_committed_json_schema` and commit it"
    );
    let schema: Value = serde_json::from_str(&committed).unwrap();
    assert_eq!(schema["title"], "quality-fabric-config.yaml");
    let config_path = repo().join("quality-fabric-config.yaml");
    let config = hive_gates::config::QualityConfig::load(&config_path).unwrap();
    assert!(config.projects.contains_key("template-evolution"));
    let dir = Workdir::new("gates-dogfood");
    dir.write(
        "repo/target/nextest/ci/junit.xml",
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="2" failures="0" errors="0" time="1.5">
  <testsuite name="hive-core" tests="2" failures="0" errors="0"><testcase name="a" classname="hive-core" time="0.1"/><testcase name="b" classname="hive-core" time="0.2"/></testsuite>
</testsuites>"#,
    );
    // The DAG tests' pytest JUnit (scripts/test-dags.sh) is the integration report.
    dir.write(
        "repo/target/pytest/dags-junit.xml",
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="0" failures="0" skipped="0" tests="2" time="56.2" timestamp="2026-11-30T12:00:00" hostname="ci"><testcase classname="test_dag_runs" name="test_two_consecutive_nights_produce_their_partitions" time="30.1" /><testcase classname="test_dag_structure" name="test_task_graph_is_as_designed[quality_gates-expected1]" time="0.4" /></testsuite></testsuites>"#,
    );
    let root = dir.join("lake");
    let out = gates(
        &root,
        &config_path,
        &[("template-evolution", &dir.join("repo"))],
        &["--summary-md", "-"],
    )
    .expect_code(0);
    assert!(out.stdout().contains("## Quality gates: ✅ passed"), "{}", out.stdout());
    let r = table(&root, "gate_results");
    assert_eq!(status(&r, "template-evolution", "unit-pass-rate"), "pass");
    assert_eq!(actual(&r, "template-evolution", "unit-duration"), Some(1.5));
    assert_eq!(status(&r, "template-evolution", "integration-pass-rate"), "pass");
    assert_eq!(actual(&r, "template-evolution", "all-tests-pass"), Some(1.0));
    // Without cargo-llvm-cov's LCOV the line-coverage gate warns; branch coverage,
    // which stable Rust cannot measure, is ignored.
    assert_eq!(status(&r, "template-evolution", "unit-line-coverage"), "missing");
    assert_eq!(gate(&r, "template-evolution", "unit-line-coverage")["blocks_run"], false);
    assert_eq!(gate(&r, "template-evolution", "unit-branch-coverage")["on_missing"], "ignore");

    // With it (cargo llvm-cov's LCOV: FN/FNDA/DA/LF/LH records, no BRDA): 9 of 10 lines
    // is exactly the 0.9 bar, and `>=` passes; 8 of 10 fails the run.
    dir.write(
        "repo/target/coverage/lcov.info",
        "SF:/src/crates/core/src/lib.rs\nFN:1,_RNvCs_4core3run\nFNDA:1,_RNvCs_4core3run\nFNF:1\nFNH:1\nDA:1,1\nDA:2,4\nDA:3,0\nDA:4,1\nDA:5,1\nDA:6,1\nDA:7,2\nDA:8,1\nDA:9,1\nDA:10,1\nLF:10\nLH:9\nend_of_record\n",
    );
    let root = dir.join("lake2");
    gates(&root, &config_path, &[("template-evolution", &dir.join("repo"))], &[]).expect_code(0);
    let r = table(&root, "gate_results");
    assert_eq!(actual(&r, "template-evolution", "unit-line-coverage"), Some(0.9));
    assert_eq!(status(&r, "template-evolution", "unit-line-coverage"), "pass");
    dir.write(
        "repo/target/coverage/lcov.info",
        "SF:/src/a.rs\nDA:1,1\nDA:2,0\nDA:3,0\nDA:4,1\nDA:5,1\nDA:6,1\nDA:7,1\nDA:8,1\nDA:9,1\nDA:10,1\nend_of_record\n",
    );
    let root = dir.join("lake3");
    gates(&root, &config_path, &[("template-evolution", &dir.join("repo"))], &[]).expect_code(1);
    assert_eq!(
        status(&table(&root, "gate_results"), "template-evolution", "unit-line-coverage"),
        "fail"
    );
}

/// `--shard k/n` evaluates the projects with `xxh3(project_id) % n == k`: the rows of
/// two shards are the rows of one run.
#[test]
fn shards_add_up_to_one_run() {
    let dir = Workdir::new("gates-shards");
    let project = boundary_project(&dir);
    let config = dir.write(
        "q.yaml",
        "version: 1\ntest_types:\n  unit:\n    reports:\n      - {format: junit, paths: [unit/junit.xml], tool: t}\n      - {format: lcov, paths: [unit/lcov.info], tool: t}\ngates:\n  - {id: rate, metric: pass_rate, operator: \">=\", threshold: 0.5}\n  - {id: lines, test_type: unit, metric: line_coverage, operator: \">=\", threshold: 0.5}\n",
    );
    let ids: Vec<String> = (0..6).map(|i| format!("project-{i}")).collect();
    let projects: Vec<(&str, &Path)> = ids.iter().map(|id| (id.as_str(), project.as_path())).collect();
    let one = dir.join("one");
    assert_eq!(gates(&one, &config, &projects, &[]).expect_code(0).summary()["projects"], 6);
    let sharded = dir.join("sharded");
    let mut seen = 0;
    for k in 0..2 {
        let s = gates(&sharded, &config, &projects, &["--shard", &format!("{k}/2")])
            .expect_code(0)
            .summary();
        seen += s["projects"].as_u64().unwrap();
    }
    assert_eq!(seen, 6);
    for t in ["gate_results", "test_cases", "coverage", "findings"] {
        assert_eq!(support::parts(&sharded, t, DATE).len(), 2, "{t}");
        assert_eq!(
            support::sorted_rows(&support::parts(&sharded, t, DATE)),
            support::sorted_rows(&support::parts(&one, t, DATE)),
            "{t}"
        );
    }
    // With more shards than projects, the shards that own none commit empty parts and
    // the partition still completes.
    let many = dir.join("many");
    let mut empty_shards = 0;
    for k in 0..12 {
        let s = gates(&many, &config, &projects, &["--shard", &format!("{k}/12")])
            .expect_code(0)
            .summary();
        empty_shards += u32::from(s["projects"] == 0);
    }
    assert!(empty_shards > 0, "the scenario needs a shard without projects");
    for t in ["gate_results", "test_cases", "coverage", "findings"] {
        assert_eq!(support::parts(&many, t, DATE).len(), 12, "{t}");
        assert_eq!(
            support::sorted_rows(&support::parts(&many, t, DATE)),
            support::sorted_rows(&support::parts(&one, t, DATE)),
            "{t}"
        );
    }
}
