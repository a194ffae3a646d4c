//! The human-readable report of a run: for each experiment, today's effects with their
//! intervals, and an SVG chart of how the primary metric's estimate and its always-valid
//! interval moved night by night (read back from earlier `ab_results` partitions).
//!
//! The chart is a few dozen lines of SVG written here: a plotting crate would bring font
//! handling and many dependencies for one line chart with a band.

use std::fmt::Write as _;
use std::path::Path;

use hive_core::lake::{committed_parts, partition_dir};
use hive_core::schema::AB_RESULTS;
use hive_core::{CoreError, PartitionDate};

use crate::config::ExperimentsConfig;
use crate::output::{StoredRow, read_rows};

/// How many earlier nights the charts show.
pub const HISTORY_DAYS: u32 = 90;

/// `ab_results` rows of the last [`HISTORY_DAYS`] nights through `date`, by night.
pub fn history(root: &Path, date: PartitionDate) -> Result<Vec<(PartitionDate, Vec<StoredRow>)>, CoreError> {
    let mut out = Vec::new();
    for day in date.minus_days(HISTORY_DAYS).through(date) {
        if !partition_dir(root, AB_RESULTS, day).join("_SUCCESS").exists() {
            continue;
        }
        let mut rows = Vec::new();
        for part in committed_parts(root, AB_RESULTS, day)? {
            rows.extend(read_rows(&part)?);
        }
        out.push((day, rows));
    }
    Ok(out)
}

fn number(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

fn percent(value: Option<f64>) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{:+.1}%", 100.0 * v))
}

/// The report files: `report.md` and one `<experiment>-<treatment>.svg` per primary
/// comparison with history.
pub fn render(config: &ExperimentsConfig, date: PartitionDate, history: &[(PartitionDate, Vec<StoredRow>)]) -> Vec<(String, String)> {
    let today: &[StoredRow] = history.iter().find(|(d, _)| *d == date).map_or(&[], |(_, rows)| rows.as_slice());
    let mut files = Vec::new();
    let mut md = String::new();
    let _ = writeln!(md, "# Template experiments, {date}\n");
    let _ = writeln!(
        md,
        "Lower rewrite rates are better. Decide on the **sequential** interval and p-value (always valid, safe to read every \
         night); the fixed-horizon columns are valid only at a horizon fixed in advance. Lifts are treatment minus control.\n"
    );
    for experiment in &config.experiments {
        let rows: Vec<&StoredRow> = today.iter().filter(|r| r.experiment_id == experiment.id).collect();
        let _ = writeln!(md, "## `{}` (template `{}`)\n", experiment.id, experiment.template_id);
        let Some(first) = rows.first() else {
            let _ = writeln!(md, "Not analysed on this date (starts {}).\n", experiment.start);
            continue;
        };
        let _ = writeln!(
            md,
            "Day {} of {}..{}. Projects: control {}; sample-ratio check p = {}{}; routing mismatches excluded: {}.\n",
            first.days_running,
            experiment.start,
            experiment.end,
            first.units_control,
            number(first.srm_p_value, 4),
            if first.srm_flag {
                " **(SRM: the split is broken, do not trust the results)**"
            } else {
                ""
            },
            first.routing_mismatches
        );
        let _ = writeln!(
            md,
            "| treatment | metric | role | projects | lift | 95% CI | p | sequential CI | seq. p | P(win) | guardrail | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for r in &rows {
            let _ = writeln!(
                md,
                "| {} (v{}) | {} | {} | {} | {} ({}) | [{}, {}] | {} | [{}, {}] | {} | {} | {} | {} |",
                r.treatment_variant,
                r.treatment_version,
                r.metric,
                r.metric_role,
                r.units_treatment,
                number(r.estimate, 4),
                percent(r.relative_lift),
                number(r.ci_low, 4),
                number(r.ci_high, 4),
                number(r.p_value, 4),
                number(r.seq_ci_low, 4),
                number(r.seq_ci_high, 4),
                number(r.seq_p_value, 4),
                number(r.chance_to_win, 3),
                r.guardrail_status.as_deref().unwrap_or(""),
                r.note.as_deref().unwrap_or("")
            );
        }
        md.push('\n');
        decision_notes(&mut md, experiment, &rows);
        for r in rows.iter().filter(|r| r.metric_role == "primary") {
            let series: Vec<(PartitionDate, &StoredRow)> = history
                .iter()
                .filter_map(|(d, rows)| {
                    rows.iter()
                        .find(|x| x.experiment_id == r.experiment_id && x.treatment_variant == r.treatment_variant && x.metric == r.metric)
                        .map(|x| (*d, x))
                })
                .collect();
            let name = format!("{}-{}.svg", experiment.id, r.treatment_variant);
            let _ = writeln!(
                md,
                "![{} vs control, night by night]({name})\n\n*Absolute lift of `{}` for `{}` with its always-valid interval, by analysis night.*\n",
                r.treatment_variant, r.metric, r.treatment_variant
            );
            files.push((
                name,
                chart(
                    &format!("{} — {} vs control ({})", experiment.id, r.treatment_variant, r.metric),
                    &series,
                ),
            ));
        }
    }
    files.insert(0, ("report.md".to_owned(), md));
    files
}

/// What holds a decision back (a guardrail not judged) and the power of the rule that
/// decides, under the experiment's table.
fn decision_notes(md: &mut String, experiment: &crate::config::Experiment, rows: &[&StoredRow]) {
    for r in rows
        .iter()
        .filter(|r| r.guardrail_status.as_deref() == Some(crate::analysis::NOT_JUDGED))
    {
        let _ = writeln!(
            md,
            "**Guardrail `{}` of `{}` is not judged** ({}): promotion is blocked until it is.\n",
            r.metric,
            r.treatment_variant,
            r.note.as_deref().unwrap_or("no statistic")
        );
    }
    for r in rows.iter().filter(|r| r.metric_role == "primary") {
        let _ = writeln!(
            md,
            "Power of `{}`: the nightly sequential rule that decides detects the target effect by {} + the scoring window with probability {} (MDE {}); a fixed-horizon test read once at tonight's size would have power {} (MDE {}).\n",
            r.treatment_variant,
            experiment.end,
            number(r.seq_power_at_target, 3),
            number(r.seq_mde, 4),
            number(r.power_at_target, 3),
            number(r.mde, 4)
        );
    }
}

/// A line chart of the estimate with its sequential band, and the zero line.
pub fn chart(title: &str, series: &[(PartitionDate, &StoredRow)]) -> String {
    let (width, height, left, right, top, bottom) = (720.0, 320.0, 70.0, 20.0, 40.0, 50.0);
    let points: Vec<(usize, f64, f64, f64)> = series
        .iter()
        .enumerate()
        .filter_map(|(i, (_, r))| Some((i, r.estimate?, r.seq_ci_low?, r.seq_ci_high?)))
        .collect();
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"{left}\" y=\"22\" font-size=\"14\">{}</text>\n",
        escape(title)
    );
    if points.is_empty() {
        let _ = writeln!(svg, "<text x=\"{left}\" y=\"{}\">no estimate yet</text>\n</svg>", height / 2.0);
        return svg;
    }
    let low = points.iter().map(|p| p.2).fold(0.0_f64, f64::min);
    let high = points.iter().map(|p| p.3).fold(0.0_f64, f64::max);
    let span = if high > low { high - low } else { 1.0 };
    let (plot_w, plot_h) = (width - left - right, height - top - bottom);
    let n = series.len().max(2) - 1;
    let x = |i: usize| left + plot_w * i as f64 / n as f64;
    let y = |v: f64| top + plot_h * (high - v) / span;
    let band: Vec<String> = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", x(p.0), y(p.3)))
        .chain(points.iter().rev().map(|p| format!("{:.1},{:.1}", x(p.0), y(p.2))))
        .collect();
    let _ = writeln!(
        svg,
        "<polygon points=\"{}\" fill=\"#9ecae1\" fill-opacity=\"0.5\"/>",
        band.join(" ")
    );
    let _ = writeln!(
        svg,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#555\" stroke-dasharray=\"4 3\"/>",
        width - right,
        y(0.0),
        y(0.0)
    );
    let line: Vec<String> = points.iter().map(|p| format!("{:.1},{:.1}", x(p.0), y(p.1))).collect();
    let _ = writeln!(
        svg,
        "<polyline points=\"{}\" fill=\"none\" stroke=\"#08519c\" stroke-width=\"2\"/>",
        line.join(" ")
    );
    for p in &points {
        let _ = writeln!(svg, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#08519c\"/>", x(p.0), y(p.1));
    }
    for (value, label) in [(high, high), (0.0, 0.0), (low, low)] {
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{label:+.4}</text>",
            left - 6.0,
            y(value) + 4.0
        );
    }
    for (i, (day, _)) in series.iter().enumerate() {
        if series.len() <= 10 || i % series.len().div_ceil(10) == 0 || i + 1 == series.len() {
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x(i),
                height - bottom + 18.0,
                &day.to_string()[5..]
            );
        }
    }
    let _ = writeln!(
        svg,
        "<text x=\"{left}\" y=\"{}\" fill=\"#555\">estimate (line) and always-valid interval (band); dashed: no difference</text>\n</svg>",
        height - 10.0
    );
    svg
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}
