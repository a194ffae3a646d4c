//! Quality filters on the kept code, after those BigCode applied to The Stack: very long
//! lines, a long mean line, or few alphanumeric characters mark minified, generated or
//! encoded data rather than code a person wrote and kept.

use crate::config::QualityConfig;

/// `Ok` when `text` passes every filter, else the exclusion reason.
pub fn check(text: &str, config: &QualityConfig) -> Result<(), &'static str> {
    let mut lines = 0usize;
    let mut chars = 0usize;
    let mut longest = 0usize;
    for line in text.lines() {
        let n = line.chars().count();
        lines += 1;
        chars += n;
        longest = longest.max(n);
    }
    if longest > config.max_line_length {
        return Err("max_line_length");
    }
    if lines > 0 && chars as f64 / lines as f64 > config.max_mean_line_length {
        return Err("mean_line_length");
    }
    let total = text.chars().count();
    let alnum = text.chars().filter(|c| c.is_alphanumeric()).count();
    if total > 0 && (alnum as f64 / total as f64) < config.min_alphanum_fraction {
        return Err("alphanum_fraction");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_filter_has_its_reason() {
        let c = QualityConfig::default();
        assert_eq!(check("fn main() {\n    println!(\"hi\");\n}\n", &c), Ok(()));
        assert_eq!(check(&"x".repeat(1001), &c), Err("max_line_length"));
        assert_eq!(check(&format!("{}\n", "y".repeat(150)), &c), Err("mean_line_length"));
        assert_eq!(check("{}[]();;\n==--++\n", &c), Err("alphanum_fraction"));
    }
}
