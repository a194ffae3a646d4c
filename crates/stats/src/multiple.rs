//! Multiple-comparison adjustment of p-values across variants and metrics.
//!
//! An experiment with several treatments and several metrics makes many comparisons; the
//! job reports adjusted p-values so that "significant" keeps its meaning. Both procedures
//! return adjusted p-values in the input order, equal to statsmodels
//! `multipletests(method='holm')` and `multipletests(method='fdr_bh')`:
//!
//! - Holm (1979), family-wise error: with `p_(1) <= … <= p_(m)`,
//!   `p̃_(i) = max_{j<=i} min(1, (m − j + 1) p_(j))`.
//! - Benjamini & Hochberg (1995), false discovery rate:
//!   `p̃_(i) = min_{j>=i} min(1, m p_(j) / j)`.
//!
//! Ties need no care: tied p-values get the same adjusted value whatever their order.

use crate::StatsError;

/// Holm step-down adjusted p-values.
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    let order = sorted_order(p_values)?;
    let m = p_values.len() as f64;
    let mut adjusted = vec![0.0; p_values.len()];
    let mut running = 0.0_f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max((m - rank as f64) * p_values[i]);
        adjusted[i] = running.min(1.0);
    }
    Ok(adjusted)
}

/// Benjamini–Hochberg step-up adjusted p-values (q-values).
pub fn benjamini_hochberg(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    let order = sorted_order(p_values)?;
    let m = p_values.len() as f64;
    let mut adjusted = vec![0.0; p_values.len()];
    let mut running = f64::INFINITY;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p_values[i] / ((rank + 1) as f64 / m));
        adjusted[i] = running.min(1.0);
    }
    Ok(adjusted)
}

/// Indices that sort `p_values` ascending, after checking each lies in `[0, 1]`.
fn sorted_order(p_values: &[f64]) -> Result<Vec<usize>, StatsError> {
    if p_values.is_empty() {
        return Err(StatsError::Empty { name: "p_values" });
    }
    if let Some(&value) = p_values.iter().find(|p| !(0.0..=1.0).contains(*p)) {
        return Err(StatsError::InvalidParameter {
            name: "p-value",
            value,
            expected: "between 0 and 1",
        });
    }
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    Ok(order)
}

#[cfg(test)]
mod unit_tests {
    use super::*;

    #[test]
    fn textbook_example() {
        let p = [0.01, 0.04, 0.03, 0.005];
        let cases = [
            (holm(&p), [0.03, 0.06, 0.06, 0.02]),
            (benjamini_hochberg(&p), [0.02, 0.04, 0.04, 0.02]),
        ];
        for (got, want) in cases {
            for (got, want) in got.expect("valid").iter().zip(want) {
                assert!((got - want).abs() < 1e-15, "{got} vs {want}");
            }
        }
    }

    #[test]
    fn ties_and_bounds() {
        assert_eq!(holm(&[0.5, 0.5, 0.5]).expect("valid"), vec![1.0, 1.0, 1.0]);
        assert_eq!(benjamini_hochberg(&[0.02, 0.02]).expect("valid"), vec![0.02, 0.02]);
        assert_eq!(holm(&[0.0]).expect("valid"), vec![0.0]);
    }

    #[test]
    fn invalid_p_values_are_rejected() {
        assert_eq!(holm(&[]), Err(StatsError::Empty { name: "p_values" }));
        assert!(benjamini_hochberg(&[0.1, f64::NAN]).is_err());
        let err = holm(&[1.2]).expect_err("out of range");
        assert!(err.to_string().contains("`1.2`"));
    }
}
