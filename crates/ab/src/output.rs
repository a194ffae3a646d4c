//! `ab_results` rows to Arrow and back: the job writes them, and the report and
//! `promote-templates` read them.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Float64Type, Int64Type, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use hive_core::CoreError;

use crate::analysis::ResultRow;

fn strings<'a>(rows: &'a [ResultRow], f: impl Fn(&'a ResultRow) -> Option<&'a str>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<StringArray>())
}
fn floats(rows: &[ResultRow], f: impl Fn(&ResultRow) -> Option<f64>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Float64Array>())
}
fn ints(rows: &[ResultRow], f: impl Fn(&ResultRow) -> i64) -> ArrayRef {
    Arc::new(rows.iter().map(|r| Some(f(r))).collect::<Int64Array>())
}

/// The `ab_results` batch of `rows` (column order of `hive_core::schema::ab_results_spec`).
pub fn to_batch(rows: &[ResultRow], schema: SchemaRef) -> Result<RecordBatch, CoreError> {
    let columns: Vec<ArrayRef> = vec![
        strings(rows, |r| Some(r.experiment_id.as_str())),
        strings(rows, |r| Some(r.template_id.as_str())),
        strings(rows, |r| Some(r.metric)),
        strings(rows, |r| Some(r.metric_role)),
        strings(rows, |r| Some(r.direction)),
        strings(rows, |r| Some(r.method)),
        strings(rows, |r| Some(r.control_variant.as_str())),
        strings(rows, |r| Some(r.treatment_variant.as_str())),
        strings(rows, |r| Some(r.control_version.as_str())),
        strings(rows, |r| Some(r.treatment_version.as_str())),
        ints(rows, |r| r.days_running),
        ints(rows, |r| r.units_control + r.units_treatment),
        ints(rows, |r| r.units_control),
        ints(rows, |r| r.units_treatment),
        ints(rows, |r| r.generations_control),
        ints(rows, |r| r.generations_treatment),
        floats(rows, |r| r.control_mean),
        floats(rows, |r| r.treatment_mean),
        floats(rows, |r| r.estimate),
        floats(rows, |r| r.ci_low),
        floats(rows, |r| r.ci_high),
        floats(rows, |r| r.relative_lift),
        floats(rows, |r| r.relative_ci_low),
        floats(rows, |r| r.relative_ci_high),
        floats(rows, |r| r.p_value),
        floats(rows, |r| r.p_value_adjusted),
        floats(rows, |r| r.p_value_bh),
        floats(rows, |r| r.seq_ci_low),
        floats(rows, |r| r.seq_ci_high),
        floats(rows, |r| r.seq_p_value),
        floats(rows, |r| r.seq_relative_ci_low),
        floats(rows, |r| r.seq_relative_ci_high),
        floats(rows, |r| r.chance_to_win),
        floats(rows, |r| r.expected_loss),
        floats(rows, |r| r.mde),
        floats(rows, |r| r.power_at_target),
        floats(rows, |r| r.seq_mde),
        floats(rows, |r| r.seq_power_at_target),
        floats(rows, |r| Some(r.alpha)),
        floats(rows, |r| r.srm_p_value),
        Arc::new(rows.iter().map(|r| Some(r.srm_flag)).collect::<BooleanArray>()),
        ints(rows, |r| r.routing_mismatches),
        ints(rows, |r| r.version_mismatches),
        floats(rows, |r| r.cuped_theta),
        floats(rows, |r| r.variance_reduction),
        floats(rows, |r| r.guardrail_margin),
        strings(rows, |r| r.guardrail_status),
        floats(rows, |r| r.guardrail_seq_p_value),
        strings(rows, |r| r.note.as_deref()),
    ];
    RecordBatch::try_new(schema, columns).map_err(|source| CoreError::Arrow {
        path: "ab_results".into(),
        source,
    })
}

/// A row read back from `ab_results` (the fields decisions and reports use).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRow {
    pub experiment_id: String,
    pub metric: String,
    pub metric_role: String,
    pub method: String,
    pub treatment_variant: String,
    pub treatment_version: String,
    pub control_version: String,
    pub days_running: i64,
    pub units_control: i64,
    pub units_treatment: i64,
    /// Generations of the projects in each arm.
    pub generations_control: i64,
    pub generations_treatment: i64,
    /// Each arm's unadjusted metric (for a ratio, sum over sum).
    pub control_mean: Option<f64>,
    pub treatment_mean: Option<f64>,
    pub estimate: Option<f64>,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    /// (treatment - control) / control; under CUPED the adjusted difference over the
    /// unadjusted control mean.
    pub relative_lift: Option<f64>,
    /// Fixed-horizon interval of `relative_lift`.
    pub relative_ci_low: Option<f64>,
    pub relative_ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub seq_ci_low: Option<f64>,
    pub seq_ci_high: Option<f64>,
    pub seq_p_value: Option<f64>,
    pub seq_relative_ci_low: Option<f64>,
    pub seq_relative_ci_high: Option<f64>,
    /// Fixed-horizon MDE and power at the target at tonight's size.
    pub mde: Option<f64>,
    pub power_at_target: Option<f64>,
    /// Sequential MDE and power at the target by `end + window_days` (schema 2 on).
    pub seq_mde: Option<f64>,
    pub seq_power_at_target: Option<f64>,
    pub chance_to_win: Option<f64>,
    pub srm_p_value: Option<f64>,
    pub srm_flag: bool,
    pub routing_mismatches: i64,
    pub guardrail_margin: Option<f64>,
    pub guardrail_status: Option<String>,
    /// Always-valid p-value of "worse by exactly the margin" (schema 2 on).
    pub guardrail_seq_p_value: Option<f64>,
    pub direction: String,
    pub note: Option<String>,
}

/// Reads every row of an `ab_results` part.
pub fn read_rows(path: &Path) -> Result<Vec<StoredRow>, CoreError> {
    let file = std::fs::File::open(path).map_err(|e| CoreError::io(path, e))?;
    let parquet = |source| CoreError::Parquet {
        path: path.to_owned(),
        source,
    };
    let mut out = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(parquet)?
        .build()
        .map_err(parquet)?
    {
        let batch = batch.map_err(|source| CoreError::Arrow {
            path: path.to_owned(),
            source,
        })?;
        out.extend(rows_of_batch(path, &batch)?);
    }
    Ok(out)
}

/// The rows of one `ab_results` batch (`path` names it in errors). `read_rows` reads
/// files with it; the decision calibration test reads [`to_batch`]'s batches with it, so
/// it decides on exactly what the job would read back.
#[allow(clippy::too_many_lines, reason = "one line per column read")]
pub fn rows_of_batch(path: &Path, batch: &RecordBatch) -> Result<Vec<StoredRow>, CoreError> {
    let mut out = Vec::new();
    {
        let column = |name: &str| {
            batch.column_by_name(name).ok_or_else(|| CoreError::MissingColumn {
                path: path.to_owned(),
                column: name.to_owned(),
                found: String::new(),
            })
        };
        let wrong = |name: &str, expected: &str| CoreError::WrongColumnType {
            path: path.to_owned(),
            column: name.to_owned(),
            expected: expected.to_owned(),
            found: String::new(),
        };
        let text = |name: &str| -> Result<Vec<Option<String>>, CoreError> {
            let c = column(name)?;
            let a = c.as_string_opt::<i32>().ok_or_else(|| wrong(name, "utf8"))?;
            Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i).to_owned())).collect())
        };
        let real = |name: &str| -> Result<Vec<Option<f64>>, CoreError> {
            let c = column(name)?;
            let a = c.as_primitive_opt::<Float64Type>().ok_or_else(|| wrong(name, "double"))?;
            Ok((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect())
        };
        // Columns added in schema 2: absent (null) in older partitions.
        let later_real = |name: &str| -> Result<Vec<Option<f64>>, CoreError> {
            if batch.column_by_name(name).is_none() {
                return Ok(vec![None; batch.num_rows()]);
            }
            real(name)
        };
        let (fixed_mde, fixed_power) = (real("mde")?, real("power_at_target")?);
        let (seq_rel_low, seq_rel_high, seq_mde, seq_power, guard_p) = (
            real("seq_relative_ci_low")?,
            real("seq_relative_ci_high")?,
            later_real("seq_mde")?,
            later_real("seq_power_at_target")?,
            later_real("guardrail_seq_p_value")?,
        );
        let int = |name: &str| -> Result<Vec<i64>, CoreError> {
            let c = column(name)?;
            let a = c.as_primitive_opt::<Int64Type>().ok_or_else(|| wrong(name, "int64"))?;
            Ok((0..a.len()).map(|i| a.value(i)).collect())
        };
        let flag = column("srm_flag")?
            .as_boolean_opt()
            .ok_or_else(|| wrong("srm_flag", "bool"))?
            .clone();
        let s = |v: &Vec<Option<String>>, i: usize| v[i].clone().unwrap_or_default();
        let (experiment, metric, role, method, treatment, t_version, c_version, direction, status, note) = (
            text("experiment_id")?,
            text("metric")?,
            text("metric_role")?,
            text("method")?,
            text("treatment_variant")?,
            text("treatment_version")?,
            text("control_version")?,
            text("direction")?,
            text("guardrail_status")?,
            text("note")?,
        );
        let (days, uc, ut, mismatches, gc, gt) = (
            int("days_running")?,
            int("units_control")?,
            int("units_treatment")?,
            int("routing_mismatches")?,
            int("generations_control")?,
            int("generations_treatment")?,
        );
        let (control_mean, treatment_mean, rel_low, rel_high) = (
            real("control_mean")?,
            real("treatment_mean")?,
            real("relative_ci_low")?,
            real("relative_ci_high")?,
        );
        let (estimate, ci_low, ci_high, relative, p, seq_low, seq_high, seq_p, ctw, srm, margin) = (
            real("estimate")?,
            real("ci_low")?,
            real("ci_high")?,
            real("relative_lift")?,
            real("p_value")?,
            real("seq_ci_low")?,
            real("seq_ci_high")?,
            real("seq_p_value")?,
            real("chance_to_win")?,
            real("srm_p_value")?,
            real("guardrail_margin")?,
        );
        for i in 0..batch.num_rows() {
            out.push(StoredRow {
                experiment_id: s(&experiment, i),
                metric: s(&metric, i),
                metric_role: s(&role, i),
                method: s(&method, i),
                treatment_variant: s(&treatment, i),
                treatment_version: s(&t_version, i),
                control_version: s(&c_version, i),
                days_running: days[i],
                units_control: uc[i],
                units_treatment: ut[i],
                generations_control: gc[i],
                generations_treatment: gt[i],
                control_mean: control_mean[i],
                treatment_mean: treatment_mean[i],
                estimate: estimate[i],
                ci_low: ci_low[i],
                ci_high: ci_high[i],
                relative_lift: relative[i],
                relative_ci_low: rel_low[i],
                relative_ci_high: rel_high[i],
                p_value: p[i],
                seq_ci_low: seq_low[i],
                seq_ci_high: seq_high[i],
                seq_p_value: seq_p[i],
                seq_relative_ci_low: seq_rel_low[i],
                seq_relative_ci_high: seq_rel_high[i],
                mde: fixed_mde[i],
                power_at_target: fixed_power[i],
                seq_mde: seq_mde[i],
                seq_power_at_target: seq_power[i],
                chance_to_win: ctw[i],
                srm_p_value: srm[i],
                srm_flag: flag.is_valid(i) && flag.value(i),
                routing_mismatches: mismatches[i],
                guardrail_margin: margin[i],
                guardrail_status: status[i].clone(),
                guardrail_seq_p_value: guard_p[i],
                direction: s(&direction, i),
                note: note[i].clone(),
            });
        }
    }
    Ok(out)
}
