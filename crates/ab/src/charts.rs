//! The report's charts, drawn by plotters' SVG backend: the night-by-night relative lift
//! of a comparison with its always-valid interval, and a forest plot of tonight's relative
//! lifts with their intervals. Axes are in percent of the control and span the data (an
//! interval far wider than the rest, as on the first nights, is clipped at the axis and
//! the caption says so), so a lift of a few percent is readable.
//!
//! The SVG text is laid out by whoever displays it (no font is compiled in): labels are
//! plain `<text>` elements.

use plotters::prelude::*;

use hive_core::PartitionDate;

/// Why a chart could not be drawn (a plotters drawing error, as text).
#[derive(Debug, thiserror::Error)]
#[error("drawing the chart `{title}`: {message}")]
pub struct ChartError {
    pub title: String,
    pub message: String,
}

/// One night of a comparison: its relative lift and always-valid relative interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Night {
    pub date: PartitionDate,
    pub lift: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

/// One row of a forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub label: String,
    pub lift: Option<f64>,
    /// Always-valid interval (decides).
    pub seq: Option<(f64, f64)>,
    /// Fixed-horizon interval (secondary).
    pub fixed: Option<(f64, f64)>,
    /// Whether lower values are better (colours the verdict).
    pub lower_is_better: bool,
}

/// Colours of a verdict: shown better, shown worse, not shown either way.
const BETTER: RGBColor = RGBColor(26, 152, 80);
const WORSE: RGBColor = RGBColor(215, 48, 39);
const UNDECIDED: RGBColor = RGBColor(120, 120, 120);
const ESTIMATE: RGBColor = RGBColor(8, 81, 156);
const BAND: RGBColor = RGBColor(158, 202, 225);

/// Which way an interval points, for a metric where lower is better or not.
pub fn verdict(interval: (f64, f64), lower_is_better: bool) -> Option<bool> {
    let (low, high) = interval;
    if high < 0.0 {
        Some(lower_is_better)
    } else if low > 0.0 {
        Some(!lower_is_better)
    } else {
        None
    }
}

fn colour(interval: (f64, f64), lower_is_better: bool) -> RGBColor {
    match verdict(interval, lower_is_better) {
        Some(true) => BETTER,
        Some(false) => WORSE,
        None => UNDECIDED,
    }
}

/// An axis range covering `core` (always shown: estimates, zero, the latest interval) and
/// `extra` (intervals) up to twice `core`'s span beyond it, padded by 8%. The second value
/// says whether something of `extra` falls outside.
fn axis(core: &[f64], extra: &[f64]) -> ((f64, f64), bool) {
    let finite = |v: &&f64| v.is_finite();
    let mut low = core.iter().filter(finite).copied().fold(0.0_f64, f64::min);
    let mut high = core.iter().filter(finite).copied().fold(0.0_f64, f64::max);
    let span = (high - low).max(0.01);
    let (floor, ceiling) = (low - 2.0 * span, high + 2.0 * span);
    let mut clipped = false;
    for &v in extra.iter().filter(finite) {
        if v < floor || v > ceiling {
            clipped = true;
        }
        low = low.min(v.max(floor));
        high = high.max(v.min(ceiling));
    }
    let pad = 0.08 * (high - low).max(0.01);
    ((low - pad, high + pad), clipped)
}

/// A percentage tick label: one decimal below 10% of span, none above.
fn percent_label(value: f64, span: f64) -> String {
    if span < 0.1 {
        format!("{:+.1}%", 100.0 * value)
    } else {
        format!("{:+.0}%", 100.0 * value)
    }
}

fn failed(title: &str) -> impl Fn(&dyn std::fmt::Display) -> ChartError + '_ {
    move |e| ChartError {
        title: title.to_owned(),
        message: e.to_string(),
    }
}

/// The relative lift of one comparison night by night with its always-valid interval
/// (band), and the zero line. One point per night with an estimate.
pub fn lift_over_time(title: &str, nights: &[Night]) -> Result<String, ChartError> {
    let err = failed(title);
    let (width, height) = (720_u32, 320_u32);
    let mut svg = String::new();
    let Some(first) = nights.first() else {
        return Ok(empty(title, width, height, "no night analysed yet"));
    };
    let day = |d: PartitionDate| (d.date() - first.date.date()).num_days() as i32;
    let last_day = nights.last().map_or(0, |n| day(n.date)).max(1);
    let estimates: Vec<f64> = nights.iter().filter_map(|n| n.lift).collect();
    if estimates.is_empty() {
        return Ok(empty(title, width, height, "no estimate yet"));
    }
    let latest = nights.iter().rev().find_map(|n| Some((n.low?, n.high?)));
    let mut core = estimates.clone();
    if let Some((low, high)) = latest {
        core.extend([low, high]);
    }
    let bounds: Vec<f64> = nights.iter().flat_map(|n| [n.low, n.high]).flatten().collect();
    let ((y_low, y_high), clipped) = axis(&core, &bounds);
    let clamp = |v: f64| v.clamp(y_low, y_high);
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption(title, clipped), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(80)
            .build_cartesian_2d(0..last_day, y_low..y_high)
            .map_err(|e| err(&e))?;
        let span = y_high - y_low;
        let label_day = |x: &i32| first.date.plus_days((*x).max(0) as u32).to_string()[5..].to_owned();
        chart
            .configure_mesh()
            .x_labels(10)
            .x_label_formatter(&label_day)
            .y_labels(8)
            .y_label_formatter(&|v| percent_label(*v, span))
            .y_desc("relative lift vs control")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| err(&e))?;
        // The band: one polygon per run of consecutive nights with an interval.
        let mut runs: Vec<Vec<(i32, f64, f64)>> = Vec::new();
        let mut previous_had = false;
        for n in nights {
            match (n.low, n.high) {
                (Some(low), Some(high)) => {
                    if !previous_had {
                        runs.push(Vec::new());
                    }
                    if let Some(run) = runs.last_mut() {
                        run.push((day(n.date), clamp(low), clamp(high)));
                    }
                    previous_had = true;
                }
                _ => previous_had = false,
            }
        }
        for run in &runs {
            let outline: Vec<(i32, f64)> = run.iter().map(|p| (p.0, p.2)).chain(run.iter().rev().map(|p| (p.0, p.1))).collect();
            if run.len() == 1 {
                let (x, low, high) = run[0];
                chart
                    .draw_series(std::iter::once(PathElement::new(vec![(x, low), (x, high)], BAND.stroke_width(6))))
                    .map_err(|e| err(&e))?;
            } else {
                chart
                    .draw_series(std::iter::once(Polygon::new(outline, BAND.mix(0.6).filled())))
                    .map_err(|e| err(&e))?;
            }
        }
        chart
            .draw_series(DashedLineSeries::new(
                [(0, 0.0), (last_day, 0.0)],
                5,
                4,
                RGBColor(85, 85, 85).stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
        let points: Vec<(i32, f64)> = nights.iter().filter_map(|n| Some((day(n.date), clamp(n.lift?)))).collect();
        chart
            .draw_series(LineSeries::new(points.clone(), ESTIMATE.stroke_width(2)))
            .map_err(|e| err(&e))?;
        chart
            .draw_series(points.iter().map(|p| Circle::new(*p, 3, ESTIMATE.filled())))
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// Tonight's relative lifts as a forest plot: per row the always-valid interval (thick,
/// coloured by what it shows), the fixed-horizon interval (thin, grey, below it) and the
/// estimate, against the zero line.
pub fn forest(title: &str, rows: &[Interval]) -> Result<String, ChartError> {
    let err = failed(title);
    let width = 720_u32;
    let height = 70 + 34 * rows.len().max(1) as u32;
    if rows.iter().all(|r| r.lift.is_none()) {
        return Ok(empty(title, width, height, "no estimate yet"));
    }
    let core: Vec<f64> = rows
        .iter()
        .flat_map(|r| [r.lift, r.seq.map(|s| s.0), r.seq.map(|s| s.1)])
        .flatten()
        .collect();
    let extra: Vec<f64> = rows.iter().filter_map(|r| r.fixed).flat_map(|f| [f.0, f.1]).collect();
    let ((x_low, x_high), clipped) = axis(&core, &extra);
    let clamp = |v: f64| v.clamp(x_low, x_high);
    let count = rows.len() as i32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(caption(title, clipped), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(230)
            .build_cartesian_2d(x_low..x_high, -0.5_f64..(f64::from(count) - 0.5))
            .map_err(|e| err(&e))?;
        let span = x_high - x_low;
        let label = |y: &f64| {
            let i = y.round();
            if (y - i).abs() > 1e-9 || i < 0.0 {
                return String::new();
            }
            // Row 0 at the top.
            rows.get((count - 1 - i as i32) as usize)
                .map(|r| r.label.clone())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(8)
            .x_label_formatter(&|v| percent_label(*v, span))
            .y_labels(rows.len() * 2 + 1)
            .y_label_formatter(&label)
            .x_desc("relative lift vs control (thick: always-valid, decides; thin: fixed-horizon)")
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 16))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(|e| err(&e))?;
        chart
            .draw_series(DashedLineSeries::new(
                [(0.0, -0.5), (0.0, f64::from(count) - 0.5)],
                5,
                4,
                RGBColor(85, 85, 85).stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
        for (i, r) in rows.iter().enumerate() {
            let y = f64::from(count - 1 - i as i32);
            if let Some((low, high)) = r.fixed {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(clamp(low), y - 0.22), (clamp(high), y - 0.22)],
                        UNDECIDED.stroke_width(2),
                    )))
                    .map_err(|e| err(&e))?;
            }
            if let Some((low, high)) = r.seq {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(clamp(low), y - 0.1), (clamp(high), y + 0.14)],
                        colour((low, high), r.lower_is_better).mix(0.75).filled(),
                    )))
                    .map_err(|e| err(&e))?;
            }
            if let Some(lift) = r.lift {
                chart
                    .draw_series(std::iter::once(Circle::new((clamp(lift), y + 0.02), 4, ESTIMATE.filled())))
                    .map_err(|e| err(&e))?;
            }
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

/// A chart area saying why there is nothing to draw.
fn empty(title: &str, width: u32, height: u32, message: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"13\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"12\" y=\"22\" font-size=\"15\">{}</text>\n<text x=\"12\" y=\"{}\">{}</text>\n</svg>\n",
        crate::report::escape(title),
        height / 2,
        crate::report::escape(message)
    )
}

/// A chart's title, saying when an interval was cut at the axis.
fn caption(title: &str, clipped: bool) -> String {
    if clipped {
        format!("{title} (interval clipped at the axis)")
    } else {
        title.to_owned()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn night(day: u32, lift: f64, half: f64) -> Night {
        Night {
            date: PartitionDate::new(chrono::NaiveDate::from_ymd_opt(2026, 6, 1).unwrap()).plus_days(day),
            lift: Some(lift),
            low: Some(lift - half),
            high: Some(lift + half),
        }
    }

    #[test]
    fn the_axis_spans_the_lift_not_the_first_nights_interval() {
        // A -3% lift whose first interval is ±400%: the axis follows the latest interval
        // and the estimates, and says the early band is clipped.
        let nights = [night(0, -0.02, 4.0), night(1, -0.03, 0.05), night(2, -0.03, 0.02)];
        let svg = lift_over_time("rewrite_rate", &nights).unwrap();
        assert!(svg.contains("clipped at the axis"), "{svg}");
        assert_eq!(svg.matches("<circle").count(), 3, "{svg}");
        assert!(!svg.contains("+400%") && !svg.contains("-400%"), "{svg}");
        // Percent tick labels exist and stay within a few tens of percent.
        let ticks: Vec<f64> = svg
            .split('>')
            .filter_map(|s| s.split('<').next())
            .filter_map(|t| t.trim().strip_suffix('%'))
            .filter_map(|t| t.parse().ok())
            .collect();
        assert!(ticks.len() >= 4, "{ticks:?}");
        assert!(ticks.iter().all(|t| t.abs() <= 30.0), "{ticks:?}");
    }

    #[test]
    fn forest_colours_intervals_by_what_they_show() {
        let rows = [
            Interval {
                label: "better".into(),
                lift: Some(-0.1),
                seq: Some((-0.15, -0.05)),
                fixed: Some((-0.13, -0.07)),
                lower_is_better: true,
            },
            Interval {
                label: "worse".into(),
                lift: Some(0.1),
                seq: Some((0.05, 0.15)),
                fixed: None,
                lower_is_better: true,
            },
            Interval {
                label: "open".into(),
                lift: Some(0.0),
                seq: Some((-0.05, 0.05)),
                fixed: None,
                lower_is_better: false,
            },
        ];
        let svg = forest("tonight", &rows).unwrap();
        for (name, c) in [("green", BETTER), ("red", WORSE), ("grey", UNDECIDED)] {
            let hex = format!("#{:02X}{:02X}{:02X}", c.0, c.1, c.2);
            assert!(svg.to_uppercase().contains(&hex), "{name} {hex} missing: {svg}");
        }
        for label in ["better", "worse", "open"] {
            assert!(svg.contains(&format!("\n{label}\n</text>")), "{label}: {svg}");
        }
        assert_eq!(verdict((-0.2, -0.1), false), Some(false));
        assert_eq!(verdict((0.1, 0.2), false), Some(true));
    }

    #[test]
    fn nothing_to_draw_says_so() {
        assert!(lift_over_time("t", &[]).unwrap().contains("no night analysed yet"));
    }
}
