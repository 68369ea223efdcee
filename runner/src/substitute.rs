//! `${Name}` substitutions in the definition text, as CloudFormation's
//! `DefinitionSubstitutions` applies them: plain text replacement before the JSON is parsed.

use std::collections::{BTreeSet, HashMap};

use crate::error::{DefinitionError, DefinitionErrors};

/// Replaces every `${Name}` with `substitutions[Name]`. Unresolved or unterminated placeholders
/// are errors (all of them are reported).
pub(crate) fn substitute(
    text: &str,
    substitutions: &HashMap<String, String>,
) -> Result<String, DefinitionErrors> {
    let mut out = String::with_capacity(text.len());
    let mut missing = BTreeSet::new();
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) if after[..end].chars().all(is_name_char) => {
                let name = &after[..end];
                match substitutions.get(name) {
                    Some(value) => out.push_str(value),
                    None => {
                        missing.insert(name.to_string());
                        out.push_str(&rest[start..start + 3 + end]);
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                errors.push(DefinitionError::new(
                    None,
                    None,
                    format!(
                        "unterminated substitution '${{' at byte {} (a name is letters, digits, '_', '-', '.' or ':' followed by '}}')",
                        text.len() - rest.len() + start
                    ),
                ));
                out.push_str("${");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    for name in missing {
        errors.push(DefinitionError::new(
            None,
            None,
            format!("unresolved substitution '${{{name}}}': no value was given for '{name}'"),
        ));
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(DefinitionErrors(errors))
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_known_names() {
        let subs = HashMap::from([("Fn".to_string(), "arn:fn".to_string())]);
        let out = substitute(r#"{"Resource": "${Fn}", "x": "${Fn}-2"}"#, &subs).expect("ok");
        assert_eq!(out, r#"{"Resource": "arn:fn", "x": "arn:fn-2"}"#);
    }

    #[test]
    fn unresolved_and_unterminated_are_errors() {
        let err = substitute(r#"{"a": "${Nope}", "b": "${Also}"}"#, &HashMap::new())
            .expect_err("unresolved");
        assert!(err.mentions("'${Nope}'"), "{err}");
        assert!(err.mentions("'${Also}'"), "{err}");
        let err = substitute(r#"{"c": "${oops"}"#, &HashMap::new()).expect_err("unterminated");
        assert!(err.mentions("unterminated"), "{err}");
    }

    #[test]
    fn text_without_placeholders_is_unchanged() {
        let text = r#"{"Parameters": {"x.$": "States.Format('{}', $.a)"}}"#;
        assert_eq!(substitute(text, &HashMap::new()).expect("ok"), text);
    }
}
