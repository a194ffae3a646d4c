//! `report.html`: the nightly report as one self-contained page (inline CSS and SVG, no
//! script, no external asset; its Content-Security-Policy forbids loading any), so it
//! opens offline, from a lake directory or as an MLflow artifact. It shows the figures of
//! [`crate::report`] as a product manager reads them: the verdict first, then the checks,
//! the arms, the lifts, the progress, the trend and the exploratory breakdowns. The
//! index page (`reports/ab-significance/index.html`) lists the experiments and nights.

use std::fmt::Write as _;

use hive_core::PartitionDate;

use crate::charts::{self, ChartError, Interval};
use crate::config::Experiment;
use crate::output::StoredRow;
use crate::promote::Decision;
use crate::report::{
    EXPLORATORY, ExperimentExtras, LIFT_DEFINITION, ReportInput, arm_lines, escape, headline, interval, metric_value, metrics_of, number,
    percent, progress,
};

const STYLE: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1d2430;line-height:1.45}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{font-size:1.6em;margin:0 0 4px}h2{font-size:1.3em;margin:0}h3{font-size:1.05em;margin:22px 0 8px}
section.experiment{background:#fff;border:1px solid #dde1e7;border-radius:10px;padding:20px 24px;margin:22px 0}
.meta{color:#5b6575;font-size:.92em;margin:4px 0 12px}
.banner{border-radius:8px;padding:12px 16px;margin:10px 0;border-left:6px solid}
.banner strong{font-size:1.1em}
.verdict-promote{background:#e8f5ec;border-color:#1a9850}.verdict-continue{background:#eef3fb;border-color:#3b73c4}
.verdict-stop{background:#fdecea;border-color:#d73027}
.alarm{background:#fdecea;border-color:#d73027}.caution{background:#fff6e0;border-color:#e6a700}.ok{background:#f1f4f7;border-color:#9aa5b1;font-size:.92em}
table{border-collapse:collapse;width:100%;font-size:.92em;margin:6px 0;display:block;overflow-x:auto}
th,td{padding:6px 8px;border-bottom:1px solid #e5e8ec;text-align:right;white-space:nowrap}
th:first-child,td:first-child{text-align:left}th{background:#f1f4f7;font-weight:600}
td.note{white-space:normal;text-align:left;color:#5b6575;max-width:260px}
.better{color:#1a7a43;font-weight:600}.worse{color:#c0261c;font-weight:600}.open{color:#5b6575}
.progress{display:grid;grid-template-columns:190px 1fr;gap:6px 12px;align-items:center;margin:8px 0}
.bar{background:#e5e8ec;border-radius:4px;height:12px;overflow:hidden}.bar span{display:block;height:100%;background:#3b73c4}
.bar span.met{background:#1a9850}.progress p{margin:0 0 6px;grid-column:2;font-size:.9em;color:#3c4555}
.chart svg{max-width:100%;height:auto}
.exploratory{border:1px dashed #e6a700;border-radius:8px;padding:10px 14px;background:#fffdf6;margin-top:16px}
.tag{display:inline-block;background:#e6a700;color:#fff;border-radius:4px;padding:1px 7px;font-size:.8em;font-weight:600;margin-right:6px}
footer{color:#5b6575;font-size:.85em;margin:24px 0}
a{color:#2b5fae}
";

fn head(out: &mut String, title: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n",
        escape(title)
    );
}

fn decision_class(decision: Decision) -> &'static str {
    match decision {
        Decision::Promote => "verdict-promote",
        Decision::Continue => "verdict-continue",
        Decision::Stop => "verdict-stop",
    }
}

/// Inline code spans of a reason (`x`) as `<code>`, the rest escaped.
fn with_code(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&escape(part));
        }
    }
    out
}

/// The class of a relative interval's verdict (`better`, `worse`, `open`).
fn verdict_class(row: &StoredRow) -> &'static str {
    match (row.seq_relative_ci_low, row.seq_relative_ci_high) {
        (Some(low), Some(high)) => match charts::verdict((low, high), row.direction == "lower_is_better") {
            Some(true) => "better",
            Some(false) => "worse",
            None => "open",
        },
        _ => "open",
    }
}

/// The whole `report.html`.
pub fn report(input: &ReportInput<'_>) -> Result<String, ChartError> {
    let mut out = String::new();
    head(&mut out, &format!("Template experiments, {}", input.date));
    let _ = write!(
        out,
        "<h1>Template experiments, night of {}</h1>\n<p class=\"meta\">Lower rewrite rates are better. The <b>always-valid</b> interval decides: it stays valid when read every night. The fixed-horizon interval is shown for reference only. {} Experiments: <a href=\"../index.html\">all nights</a>.</p>\n",
        input.date,
        with_code(LIFT_DEFINITION)
    );
    for experiment in &input.config.experiments {
        experiment_section(&mut out, input, experiment)?;
    }
    let _ = write!(
        out,
        "<footer>Written by ab-significance from <code>ab_results</code>, <code>generation_scores</code> and <code>diff_scores</code>; the decision is promote-templates' rule (docs/ab-significance.md). Also as Markdown: <a href=\"report.md\">report.md</a>.</footer>\n</main>\n</body>\n</html>\n"
    );
    Ok(out)
}

#[allow(clippy::too_many_lines, reason = "the sections of one experiment, top to bottom")]
fn experiment_section(out: &mut String, input: &ReportInput<'_>, experiment: &Experiment) -> Result<(), ChartError> {
    let rows = input.today(experiment);
    let _ = write!(
        out,
        "<section class=\"experiment\" id=\"{}\">\n<h2>{} <span class=\"meta\">template <code>{}</code></span></h2>\n<p class=\"meta\">{} to {}",
        escape(&experiment.id),
        escape(&experiment.id),
        escape(&experiment.template_id),
        experiment.start,
        experiment.end
    );
    if let Some(first) = rows.first() {
        let _ = write!(out, " · day {}", first.days_running);
    }
    if let Some(owner) = &experiment.owner {
        let _ = write!(out, " · owner {}", escape(owner));
    }
    out.push_str("</p>\n");
    if let Some(hypothesis) = &experiment.hypothesis {
        let _ = writeln!(out, "<p><b>Hypothesis:</b> {}</p>", escape(hypothesis));
    }
    let Some(first) = rows.first() else {
        let _ = writeln!(
            out,
            "<div class=\"banner ok\">Not analysed on this night (runs {} to {}).</div>\n</section>",
            experiment.start, experiment.end
        );
        return Ok(());
    };
    let extras = input.extras.get(&experiment.id).cloned().unwrap_or_default();
    if let Some(decision) = &extras.decision {
        let _ = writeln!(
            out,
            "<div class=\"banner {}\" data-verdict=\"{}\"><strong>{}</strong><br>{}</div>",
            decision_class(decision.decision),
            decision.decision.as_str(),
            with_code(&headline(decision)),
            with_code(&decision.reason)
        );
    }
    if first.srm_flag {
        let _ = writeln!(
            out,
            "<div class=\"banner alarm\" data-check=\"srm\"><strong>Sample ratio mismatch</strong> (p = {:.2e}): projects are not split as configured. Do not trust any result until routing is fixed.</div>",
            first.srm_p_value.unwrap_or(f64::NAN)
        );
    } else {
        let _ = writeln!(
            out,
            "<div class=\"banner ok\" data-check=\"srm\">Split check passed: projects are split as configured (sample-ratio p = {}).</div>",
            number(first.srm_p_value, 3)
        );
    }
    if first.routing_mismatches > 0 {
        let _ = writeln!(
            out,
            "<div class=\"banner caution\" data-check=\"routing\"><strong>Routing:</strong> {} projects excluded: their logged variant differs from the routing spec or changed between generations.</div>",
            first.routing_mismatches
        );
    }
    for r in rows
        .iter()
        .filter(|r| r.guardrail_status.as_deref() == Some(crate::analysis::NOT_JUDGED))
    {
        let _ = writeln!(
            out,
            "<div class=\"banner caution\"><strong>Guardrail <code>{}</code> of <code>{}</code> is not judged</strong> ({}): promotion is blocked until it is.</div>",
            escape(&r.metric),
            escape(&r.treatment_variant),
            escape(r.note.as_deref().unwrap_or("no statistic"))
        );
    }
    // Per-arm values.
    let metrics = metrics_of(&rows);
    out.push_str(
        "<h3>Arms</h3>\n<table class=\"arms\">\n<tr><th>arm</th><th>version</th><th>traffic</th><th>projects</th><th>generations</th>",
    );
    for m in &metrics {
        let _ = write!(out, "<th>{}</th>", escape(&m.replace('_', " ")));
    }
    out.push_str("</tr>\n");
    for arm in arm_lines(experiment, &rows, &metrics) {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{:.0}%</td><td>{}</td><td>{}</td>",
            escape(&arm.name),
            escape(&arm.version),
            100.0 * arm.weight,
            arm.projects.map_or("–".to_owned(), |v| v.to_string()),
            arm.generations.map_or("–".to_owned(), |v| v.to_string())
        );
        for (m, v) in metrics.iter().zip(&arm.values) {
            let _ = write!(out, "<td>{}</td>", metric_value(m, *v));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    // Lifts.
    out.push_str("<h3>Relative lift vs control</h3>\n<table class=\"lifts\">\n<tr><th>treatment</th><th>metric</th><th>role</th><th>lift</th><th>always-valid interval (decides)</th><th>fixed-horizon interval</th><th>P(better)</th><th>guardrail</th><th>note</th></tr>\n");
    for r in &rows {
        let cuped = if r.method.contains("cuped") { " (CUPED)" } else { "" };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}{}</td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"note\">{}</td></tr>",
            escape(&r.treatment_variant),
            escape(&r.metric),
            cuped,
            escape(&r.metric_role),
            verdict_class(r),
            percent(r.relative_lift),
            verdict_class(r),
            interval(r.seq_relative_ci_low, r.seq_relative_ci_high),
            interval(r.relative_ci_low, r.relative_ci_high),
            r.chance_to_win.map_or("–".to_owned(), |p| format!("{:.0}%", 100.0 * p)),
            escape(r.guardrail_status.as_deref().unwrap_or("")),
            escape(r.note.as_deref().unwrap_or(""))
        );
    }
    out.push_str("</table>\n");
    let intervals: Vec<Interval> = rows
        .iter()
        .map(|r| Interval {
            label: format!("{} · {}", r.treatment_variant, r.metric),
            lift: r.relative_lift,
            seq: r.seq_relative_ci_low.zip(r.seq_relative_ci_high),
            fixed: r.relative_ci_low.zip(r.relative_ci_high),
            lower_is_better: r.direction == "lower_is_better",
        })
        .collect();
    let _ = writeln!(
        out,
        "<div class=\"chart\" data-chart=\"lifts\">{}</div>",
        charts::forest(
            "Relative lift tonight (green: shown better, red: shown worse, grey: not shown)",
            &intervals
        )?
    );
    // Progress.
    out.push_str("<h3>Progress toward a decision</h3>\n<div class=\"progress\">\n");
    for (label, done, needed, sentence) in progress(experiment, input.date, &rows, &extras).bars {
        let share = if needed > 0.0 { (done / needed).clamp(0.0, 1.0) } else { 0.0 };
        let met = if needed > 0.0 && done >= needed { " class=\"met\"" } else { "" };
        let _ = writeln!(
            out,
            "<div>{}</div><div class=\"bar\" title=\"{:.0}%\"><span{met} style=\"width:{:.1}%\"></span></div><p>{}</p>",
            with_code(&label),
            100.0 * share,
            100.0 * share,
            with_code(&sentence)
        );
    }
    out.push_str("</div>\n");
    // Trend.
    for r in rows.iter().filter(|r| r.metric_role == "primary") {
        let _ = writeln!(
            out,
            "<h3>Night by night: <code>{}</code> vs control, {}</h3>\n<div class=\"chart\" data-chart=\"trend\">{}</div>",
            escape(&r.treatment_variant),
            escape(&r.metric),
            charts::lift_over_time(
                &format!("Relative lift of {} and its always-valid interval, by night", r.metric),
                &input.series(r)
            )?
        );
    }
    breakdowns(out, experiment, &extras);
    out.push_str("</section>\n");
    Ok(())
}

fn breakdowns(out: &mut String, experiment: &Experiment, extras: &ExperimentExtras) {
    let _ = writeln!(
        out,
        "<div class=\"exploratory\" data-section=\"breakdowns\"><h3><span class=\"tag\">EXPLORATORY</span>Breakdowns</h3>\n<p class=\"meta\">{}</p>",
        escape(EXPLORATORY)
    );
    let computed = match &extras.breakdowns {
        Ok(list) => list,
        Err(why) => {
            let _ = writeln!(out, "<p>No breakdown: {}.</p>\n</div>", escape(why));
            return;
        }
    };
    let control = experiment.control;
    for b in computed {
        let _ = write!(
            out,
            "<h3>Rewrite rate by {}</h3>\n<table class=\"breakdown\">\n<tr><th>{}</th>",
            escape(b.dimension),
            escape(b.dimension)
        );
        for (i, v) in experiment.variants.iter().enumerate() {
            let _ = write!(
                out,
                "<th>{} projects</th><th>{} rewrite rate</th>",
                escape(&v.name),
                escape(&v.name)
            );
            if i != control {
                let _ = write!(out, "<th>{} vs control</th>", escape(&v.name));
            }
        }
        out.push_str("</tr>\n");
        for (value, cells) in &b.values {
            let control_rate = cells.get(control).cloned().flatten().and_then(|c| c.rewrite_rate());
            let _ = write!(out, "<tr><td><code>{}</code></td>", escape(value));
            for (i, cell) in cells.iter().enumerate() {
                let rate = cell.as_ref().and_then(crate::breakdown::Cell::rewrite_rate);
                let _ = write!(
                    out,
                    "<td>{}</td><td>{}</td>",
                    cell.as_ref().map_or("–".to_owned(), |c| c.projects.to_string()),
                    metric_value("rewrite_rate", rate)
                );
                if i != control {
                    let lift = rate.zip(control_rate).filter(|(_, c)| *c > 0.0).map(|(t, c)| (t - c) / c);
                    let _ = write!(out, "<td>{}</td>", percent(lift));
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</table>\n");
        if b.values_left_out > 0 {
            let _ = writeln!(
                out,
                "<p class=\"meta\">{} more values with fewer generations are not shown.</p>",
                b.values_left_out
            );
        }
    }
    out.push_str("</div>\n");
}

/// One experiment's line on the index page.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexLine {
    pub experiment: String,
    pub template: String,
    pub start: PartitionDate,
    pub end: PartitionDate,
    /// `promote`, `continue`, `stop`, or why there is no decision (`not started`).
    pub status: String,
    pub reason: String,
    pub days_running: Option<i64>,
}

/// `reports/ab-significance/index.html`: every experiment with its status on `date` and a
/// link to its section of that night's report, then every night with a report.
pub fn index(date: PartitionDate, lines: &[IndexLine], nights: &[PartitionDate]) -> String {
    let mut out = String::new();
    head(&mut out, "Template experiments");
    let _ = write!(
        out,
        "<h1>Template experiments</h1>\n<p class=\"meta\">Status as of the night of {date}.</p>\n<table class=\"index\">\n<tr><th>experiment</th><th>template</th><th>status</th><th>days running</th><th>dates</th><th>why</th></tr>\n"
    );
    for l in lines {
        let class = match l.status.as_str() {
            "promote" => "better",
            "stop" => "worse",
            _ => "open",
        };
        let _ = writeln!(
            out,
            "<tr><td><a href=\"{}/report.html#{}\">{}</a></td><td><code>{}</code></td><td class=\"{class}\">{}</td><td>{}</td><td>{} to {}</td><td class=\"note\">{}</td></tr>",
            date.dir_name(),
            escape(&l.experiment),
            escape(&l.experiment),
            escape(&l.template),
            escape(&l.status),
            l.days_running.map_or("–".to_owned(), |d| d.to_string()),
            l.start,
            l.end,
            with_code(&l.reason)
        );
    }
    out.push_str("</table>\n<h3>Nightly reports</h3>\n<ul>\n");
    for night in nights.iter().rev() {
        let _ = writeln!(
            out,
            "<li><a href=\"{}/report.html\">{night}</a> (<a href=\"{}/report.md\">Markdown</a>)</li>",
            night.dir_name(),
            night.dir_name()
        );
    }
    out.push_str("</ul>\n</main>\n</body>\n</html>\n");
    out
}
