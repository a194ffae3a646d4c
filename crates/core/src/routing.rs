//! Deterministic assignment of a project to an experiment variant.
//!
//! The serving side (maestro-hive) and the analysis must route a project identically,
//! or the analysis compares the wrong groups. We use GrowthBook's published hashing
//! (version 2) so that its SDKs route the same way: the bucket of a project is
//! `fnv32a(str(fnv32a(salt + project_id))) % 10000 / 10000`, and variant `i` owns the
//! half-open range `[w_0 + .. + w_{i-1}, w_0 + .. + w_i)` of normalised weights.
//! FNV-1a runs over UTF-16 code units, as GrowthBook's JavaScript reference does.

use crate::CoreError;

/// 32-bit FNV-1a over the UTF-16 code units of `value`.
pub fn fnv32a(value: &str) -> u32 {
    let mut hash: u32 = 0x811C_9DC5;
    for unit in value.encode_utf16() {
        hash ^= u32::from(unit);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// The bucket of `project_id` under `salt`, in `[0, 1)` with 4 decimals.
pub fn bucket(salt: &str, project_id: &str) -> f64 {
    let inner = fnv32a(&format!("{salt}{project_id}"));
    f64::from(fnv32a(&inner.to_string()) % 10_000) / 10_000.0
}

/// Validates weights: finite, non-negative, summing to 1 within 1e-6.
pub fn check_weights(weights: &[f64]) -> Result<(), CoreError> {
    let bad = |reason: &str| CoreError::InvalidWeights {
        weights: weights.to_vec(),
        reason: reason.to_owned(),
    };
    if weights.len() < 2 {
        return Err(bad("an experiment needs at least two variants"));
    }
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) {
        return Err(bad("weights must be finite and non-negative"));
    }
    let sum: f64 = weights.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(bad("weights must sum to 1"));
    }
    Ok(())
}

/// The variant index `project_id` is routed to among `weights` (which must pass
/// [`check_weights`]).
pub fn assign(salt: &str, project_id: &str, weights: &[f64]) -> Result<usize, CoreError> {
    check_weights(weights)?;
    let n = bucket(salt, project_id);
    let mut cumulative = 0.0;
    for (i, w) in weights.iter().enumerate() {
        let start = cumulative;
        cumulative += w;
        if n >= start && n < cumulative {
            return Ok(i);
        }
    }
    // Rounding can leave the top of [0, 1) uncovered; it belongs to the last variant.
    Ok(weights.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv32a_matches_reference_values() {
        // Reference values of 32-bit FNV-1a (offset basis 2166136261).
        assert_eq!(fnv32a(""), 0x811C_9DC5);
        assert_eq!(fnv32a("a"), 0xE40C_292C);
        assert_eq!(fnv32a("foobar"), 0xBF9C_F968);
    }

    #[test]
    fn assignment_follows_weights() {
        let weights = [0.2, 0.8];
        let n = 20_000;
        let first = (0..n)
            .filter(|i| assign("exp", &format!("p-{i}"), &weights).expect("valid") == 0)
            .count();
        let share = first as f64 / f64::from(n);
        assert!((share - 0.2).abs() < 0.015, "share {share}");
    }

    #[test]
    fn rejects_bad_weights() {
        assert!(check_weights(&[0.5, 0.6]).is_err());
        assert!(check_weights(&[1.0]).is_err());
        assert!(check_weights(&[f64::NAN, 1.0]).is_err());
    }
}
