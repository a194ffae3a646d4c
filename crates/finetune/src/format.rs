//! The record formats: OpenAI chat fine-tuning JSONL, OpenAI preference (DPO) JSONL,
//! and the validators that every line passes before it is written.
//!
//! The chat checks are those of OpenAI's "data preparation and analysis for chat model
//! fine-tuning" guide: each line is an object with a non-empty `messages` list; every
//! message has only known keys (`role`, `content`, `name`, `weight`, `function_call`),
//! a known role (`system`, `user`, `assistant`, `function`) and non-empty string content; at least one message is the
//! assistant's. The preference checks apply the same rules to `input.messages` and
//! require exactly one assistant message in each of `preferred_output` and
//! `non_preferred_output`.

use serde::Serialize;
use serde_json::Value;

/// A chat message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: &'static str,
    pub content: String,
}

/// An SFT record: `{"messages": [...]}`.
#[derive(Debug, Serialize)]
pub struct ChatRecord<'a> {
    pub messages: &'a [Message],
}

/// A preference record in OpenAI's DPO format.
#[derive(Debug, Serialize)]
pub struct PreferenceRecord<'a> {
    pub input: ChatRecord<'a>,
    pub preferred_output: [&'a Message; 1],
    pub non_preferred_output: [&'a Message; 1],
}

/// The roles the guide accepts (its `unrecognized_role` check).
const ROLES: &[&str] = &["system", "user", "assistant", "function"];
const MESSAGE_KEYS: &[&str] = &["role", "content", "name", "weight", "function_call"];

/// Checks one message list. `need_assistant`: at least one assistant message.
fn check_messages(messages: Option<&Value>, where_: &str, need_assistant: bool) -> Result<(), String> {
    let Some(Value::Array(messages)) = messages else {
        return Err(format!("`{where_}` is missing or not a list"));
    };
    if messages.is_empty() {
        return Err(format!("`{where_}` is empty"));
    }
    for (i, message) in messages.iter().enumerate() {
        let Value::Object(fields) = message else {
            return Err(format!("`{where_}[{i}]` is not an object"));
        };
        if let Some(key) = fields.keys().find(|k| !MESSAGE_KEYS.contains(&k.as_str())) {
            return Err(format!("`{where_}[{i}]` has unrecognized key `{key}`"));
        }
        match fields.get("role") {
            Some(Value::String(role)) if ROLES.contains(&role.as_str()) => {}
            Some(other) => return Err(format!("`{where_}[{i}]` has unrecognized role {other}")),
            None => return Err(format!("`{where_}[{i}]` has no `role`")),
        }
        match fields.get("content") {
            Some(Value::String(c)) if !c.trim().is_empty() => {}
            Some(Value::String(_)) => return Err(format!("`{where_}[{i}]` has empty content")),
            _ => return Err(format!("`{where_}[{i}]` has missing or non-string content")),
        }
    }
    if need_assistant && !messages.iter().any(|m| m.get("role").and_then(Value::as_str) == Some("assistant")) {
        return Err(format!("`{where_}` has no assistant message"));
    }
    Ok(())
}

fn parse_object(line: &str) -> Result<serde_json::Map<String, Value>, String> {
    if line.contains('\n') {
        return Err("line contains a raw newline".to_owned());
    }
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("line is not a JSON object".to_owned()),
        Err(e) => Err(format!("line is not JSON: {e}")),
    }
}

/// Validates one line of OpenAI chat fine-tuning JSONL.
pub fn validate_chat_line(line: &str) -> Result<(), String> {
    let map = parse_object(line)?;
    if let Some(key) = map.keys().find(|k| k.as_str() != "messages") {
        return Err(format!("unrecognized key `{key}`"));
    }
    check_messages(map.get("messages"), "messages", true)
}

/// Validates one line of OpenAI preference fine-tuning JSONL.
pub fn validate_preference_line(line: &str) -> Result<(), String> {
    let map = parse_object(line)?;
    if let Some(key) = map
        .keys()
        .find(|k| !matches!(k.as_str(), "input" | "preferred_output" | "non_preferred_output"))
    {
        return Err(format!("unrecognized key `{key}`"));
    }
    let Some(Value::Object(input)) = map.get("input") else {
        return Err("`input` is missing or not an object".to_owned());
    };
    check_messages(input.get("messages"), "input.messages", false)?;
    if input
        .get("messages")
        .and_then(Value::as_array)
        .and_then(|m| m.last())
        .and_then(|m| m.get("role"))
        .and_then(Value::as_str)
        == Some("assistant")
    {
        return Err("`input.messages` must not end with an assistant message".to_owned());
    }
    for side in ["preferred_output", "non_preferred_output"] {
        check_messages(map.get(side), side, true)?;
        if map.get(side).and_then(Value::as_array).map(Vec::len) != Some(1) {
            return Err(format!("`{side}` must hold exactly one assistant message"));
        }
    }
    if map.get("preferred_output") == map.get("non_preferred_output") {
        return Err("`preferred_output` equals `non_preferred_output`".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_error_kinds_are_caught() {
        assert!(validate_chat_line(r#"{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}"#).is_ok());
        for bad in [
            r#"{"messages":[]}"#,
            r#"{"messages":[{"role":"user","content":"a"}]}"#,
            r#"{"messages":[{"role":"robot","content":"a"},{"role":"assistant","content":"b"}]}"#,
            r#"{"messages":[{"role":"tool","content":"a"},{"role":"assistant","content":"b"}]}"#,
            r#"{"messages":[{"role":"assistant","content":""}]}"#,
            r#"{"messages":[{"role":"assistant","content":null}]}"#,
            r#"{"messages":[{"role":"assistant","content":"b","extra":1}]}"#,
            r#"{"messages":[{"role":"assistant","content":"b"}],"other":1}"#,
            r"[1]",
        ] {
            assert!(validate_chat_line(bad).is_err(), "{bad}");
        }
        let ok = r#"{"input":{"messages":[{"role":"user","content":"q"}]},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"b"}]}"#;
        assert!(validate_preference_line(ok).is_ok());
        let same = r#"{"input":{"messages":[{"role":"user","content":"q"}]},"preferred_output":[{"role":"assistant","content":"a"}],"non_preferred_output":[{"role":"assistant","content":"a"}]}"#;
        assert!(validate_preference_line(same).is_err());
    }
}
