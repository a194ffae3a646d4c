//! Strict YAML for every config file of the workspace (experiments, quality gates,
//! fine-tuning recipe). serde_yaml alone reports a value error at the enclosing mapping
//! and without the field's path; users fixing a config need the field, its line and its
//! column. One implementation, so that every config names errors the same way.

use serde::de::DeserializeOwned;

/// Deserializes `text`; an error names the field's path, line and column (see
/// [`describe_error`]). Unknown keys are errors when `T` denies them.
pub fn from_str_strict<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    check_nesting(text)?;
    serde_path_to_error::deserialize(serde_yaml::Deserializer::from_str(text)).map_err(|e| describe_error(text, &e))
}

/// Deepest flow nesting (`[`, `{`) a YAML document read here may have.
pub const MAX_FLOW_DEPTH: usize = 128;
/// Furthest column a block (indentation and compact `- ` entries) may start at.
pub const MAX_BLOCK_COLUMN: usize = 1024;

/// Refuses a document nested deeper than any config is, before parsing it: the YAML
/// parser's cost grows with the square of the depth (100,000 levels took a minute), and
/// serde's recursion limit applies only after the whole document was parsed. A linear
/// scan bounds flow nesting (brackets outside quotes and comments) and how far right a
/// block entry starts (indentation plus compact `- ` entries), naming the line.
pub fn check_nesting(text: &str) -> Result<(), String> {
    let mut flow = 0usize;
    for (number, line) in text.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        let mut rest = &line[indent..];
        let mut column = indent;
        while let Some(after) = rest.strip_prefix("- ").or_else(|| rest.strip_prefix("? ")) {
            let trimmed = after.trim_start_matches(' ');
            column += rest.len() - trimmed.len();
            rest = trimmed;
        }
        if column > MAX_BLOCK_COLUMN {
            return Err(format!(
                "line {}: nested deeper than {MAX_BLOCK_COLUMN} columns: not a document this project reads",
                number + 1
            ));
        }
        let mut quote: Option<char> = None;
        let mut previous = ' ';
        for c in rest.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (None, '"' | '\'') if matches!(previous, ' ' | '[' | '{' | ',' | ':') => quote = Some(c),
                (None, '#') if previous == ' ' => break,
                (None, '[' | '{') => {
                    flow += 1;
                    if flow > MAX_FLOW_DEPTH {
                        return Err(format!(
                            "line {}: brackets nested deeper than {MAX_FLOW_DEPTH} levels: not a document this project reads",
                            number + 1
                        ));
                    }
                }
                (None, ']' | '}') => flow = flow.saturating_sub(1),
                // Inside quotes, or an ordinary character.
                _ => {}
            }
            previous = c;
        }
    }
    Ok(())
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
    fn deep_nesting_is_refused_before_parsing_in_linear_time() {
        let flow = format!("a: {}1{}\n", "[".repeat(100_000), "]".repeat(100_000));
        let err = from_str_strict::<serde_yaml::Value>(&flow).unwrap_err();
        assert!(err.contains("line 1") && err.contains("128"), "{err}");
        let block = format!("{}1\n", "- ".repeat(100_000));
        let err = from_str_strict::<serde_yaml::Value>(&block).unwrap_err();
        assert!(err.contains("line 1") && err.contains("columns"), "{err}");
        // Brackets inside quotes and comments do not count; ordinary configs pass.
        let quoted = format!("a: \"{}\"  # {}\nb: [1, [2, {{c: 3}}]]\n", "[".repeat(500), "{".repeat(500));
        assert!(check_nesting(&quoted).is_ok());
        assert!(from_str_strict::<serde_yaml::Value>(&quoted).is_ok());
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
