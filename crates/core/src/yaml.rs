//! Strict YAML for every config file of the workspace (experiments, quality gates,
//! fine-tuning recipe). serde_yaml alone reports a value error at the enclosing mapping
//! and without the field's path; users fixing a config need the field, its line and its
//! column. One implementation, so that every config names errors the same way.

use serde::de::DeserializeOwned;

/// Deserializes `text`; an error names the field's path, line and column (see
/// [`describe_error`]). Unknown keys are errors when `T` denies them.
pub fn from_str_strict<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| describe_error(text, &e))
}

/// "`gates[0].operator` (line 12, column 15): unknown variant ...": the field's path,
/// the line and column of its key when it can be found, and serde_yaml's message without
/// its own location (which points at the enclosing mapping for value errors).
pub fn describe_error(text: &str, error: &serde_path_to_error::Error<serde_yaml::Error>) -> String {
    let path = error.path().to_string();
    let inner = error.inner();
    let mut message = inner.to_string();
    let Some(location) = inner.location() else {
        return format!("`{path}`: {message}");
    };
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    let message = message.trim_start_matches(&format!("{path}: ")).to_owned();
    // A duplicate key is reported at the start of its mapping: point at the second one.
    if let Some(dup) = ["duplicate key `", "duplicate field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|m| m.split('`').next())
    {
        let indent = location.column().saturating_sub(1);
        let found = text
            .lines()
            .enumerate()
            .skip(location.line().saturating_sub(1))
            .filter(|(_, l)| {
                let rest = l.get(indent..).unwrap_or("");
                l.len() - l.trim_start().len() == indent && rest.trim_start_matches(['"', '\'']).starts_with(dup)
            })
            .nth(1);
        if let Some((i, _)) = found {
            return format!("`{path}` (line {}, column {}): {message}", i + 1, indent + 1);
        }
    }
    // The key named last in the path, searched from the reported line on.
    let key = path.rsplit('.').next().unwrap_or("").split('[').next().unwrap_or("");
    let found = text.lines().enumerate().skip(location.line().saturating_sub(1)).find_map(|(i, l)| {
        let start = l.find(key)?;
        let before = l[..start].trim_start().trim_start_matches("- ").trim_start_matches('{').trim();
        let after = l[start + key.len()..].trim_start();
        (!key.is_empty() && (before.is_empty() || before.ends_with(',')) && after.starts_with(':')).then_some((i + 1, start + 1))
    });
    let (line, column) = found.unwrap_or((location.line(), location.column()));
    format!("`{path}` (line {line}, column {column}): {message}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "tests")]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Outer {
        name: String,
        inner: Vec<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only deserialized")]
    struct Inner {
        ratio: f64,
    }

    #[test]
    fn errors_name_the_field_line_and_column() {
        let e = from_str_strict::<Outer>("name: a\ninner:\n  - ratio: 0.5\n  - ratio: high\n").unwrap_err();
        assert!(e.starts_with("`inner[1].ratio` (line 4, column 5)"), "{e}");
        let e = from_str_strict::<Outer>("name: a\ninner: []\nnmae: b\n").unwrap_err();
        assert!(e.contains("unknown field `nmae`") && e.contains("line 3"), "{e}");
        let e = from_str_strict::<Outer>("name: a\ninner: []\nname: b\n").unwrap_err();
        assert!(e.contains("duplicate") && e.contains("line 3, column 1"), "{e}");
    }
}
