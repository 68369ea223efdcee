//! JSON paths of request fields, and serde's errors turned into messages that name them.

use std::fmt;

use serde_path_to_error::Segment;

use super::ids::regex;
use crate::error::StepError;

/// Keys longer than this are cut in paths, so a garbage key cannot make a huge message.
const MAX_KEY_IN_PATH: usize = 128;

/// The path of a field in the request: `endpoints[1].securityGroups.allowFromCidrs[0]`.
///
/// Keys that are not plain identifiers are written in brackets: `tags["cost-center"]`. The
/// root displays as `request`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldPath(String);

impl FieldPath {
    /// The whole request.
    pub(crate) fn root() -> Self {
        FieldPath::default()
    }

    /// The member `key` of this object.
    pub(crate) fn key(&self, key: &str) -> Self {
        let plain = regex!("^[A-Za-z_][A-Za-z0-9_]*$").is_match(key);
        if key.chars().count() > MAX_KEY_IN_PATH {
            let cut: String = key.chars().take(MAX_KEY_IN_PATH).collect();
            FieldPath(format!("{}[{cut:?}…]", self.0))
        } else if plain && self.0.is_empty() {
            FieldPath(key.to_owned())
        } else if plain {
            FieldPath(format!("{}.{key}", self.0))
        } else {
            FieldPath(format!("{}[{key:?}]", self.0))
        }
    }

    /// The element `index` of this array.
    pub(crate) fn index(&self, index: usize) -> Self {
        FieldPath(format!("{}[{index}]", self.0))
    }

    fn is_root(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_root() {
            f.write_str("request")
        } else {
            f.write_str(&self.0)
        }
    }
}

/// A serde error (with the path where it happened) as an `InvalidRequest` naming the field.
pub(super) fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> StepError {
    let mut parent = FieldPath::root();
    let mut path = FieldPath::root();
    for segment in err.path().iter() {
        parent = path.clone();
        path = match segment {
            Segment::Seq { index } => path.index(*index),
            Segment::Map { key } => path.key(key),
            Segment::Enum { variant } => path.key(variant),
            Segment::Unknown => path.key("?"),
        };
    }
    let inner = err.inner().to_string();

    if let Some(rest) = inner.strip_prefix("unknown field `")
        && let Some((field, expected)) = rest.split_once('`')
    {
        // The path already ends with the unknown key.
        let within = if parent.is_root() {
            "the request".to_owned()
        } else {
            parent.to_string()
        };
        let expected = expected.trim_start_matches([',', ' ']);
        let field_shown = path_key_shown(field);
        let mut message = format!("unknown field `{field_shown}` in {within}, {expected}");
        if let Some(suggestion) = suggest(field, expected) {
            message.push_str(&format!("; did you mean `{suggestion}`?"));
        }
        return StepError::invalid(path, message);
    }
    if let Some(rest) = inner.strip_prefix("missing field `")
        && let Some((field, _)) = rest.split_once('`')
    {
        return StepError::invalid(path.key(field), "is required");
    }
    StepError::invalid(path, humanize(&inner))
}

fn path_key_shown(key: &str) -> String {
    if key.chars().count() > MAX_KEY_IN_PATH {
        let cut: String = key.chars().take(MAX_KEY_IN_PATH).collect();
        format!("{cut}…")
    } else {
        key.to_owned()
    }
}

/// serde's wording in JSON terms, with string values left out (they could be anything,
/// including a secret pasted into the wrong field).
fn humanize(message: &str) -> String {
    let redacted = regex!(r#"string "(?:[^"\\]|\\.)*""#).replace_all(message, "a string");
    redacted
        .replace("invalid type: map", "invalid type: object")
        .replace("invalid type: sequence", "invalid type: array")
        .replace("expected a map", "expected a JSON object")
        .replace("expected a sequence", "expected a JSON array")
        .replace("invalid type: unit value", "invalid type: null")
}

/// The expected field closest to an unknown one, if it is close enough to be a typo.
fn suggest(unknown: &str, expected: &str) -> Option<String> {
    let candidates = expected.split('`').skip(1).step_by(2);
    let lower = unknown.to_ascii_lowercase();
    candidates
        .map(|candidate| {
            let distance = edit_distance(&lower, &candidate.to_ascii_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 4).max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate.to_owned())
}

/// Levenshtein distance over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            let insertion = current[j] + 1;
            let deletion = previous[j + 1] + 1;
            current.push(substitution.min(insertion).min(deletion));
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_render_like_json_paths() {
        let root = FieldPath::root();
        assert_eq!(root.to_string(), "request");
        let cidr = root
            .key("endpoints")
            .index(1)
            .key("securityGroups")
            .key("allowFromCidrs")
            .index(0);
        assert_eq!(
            cidr.to_string(),
            "endpoints[1].securityGroups.allowFromCidrs[0]"
        );
        assert_eq!(
            root.key("tags").key("cost-center").to_string(),
            r#"tags["cost-center"]"#
        );
        assert_eq!(root.key("tags").key("").to_string(), r#"tags[""]"#);
        let long = "k".repeat(300);
        assert!(root.key("tags").key(&long).to_string().len() < 140);
    }

    #[test]
    fn suggestions() {
        let expected = "expected one of `region`, `vpcId`, `subnetIds`, `vpcTag`, `securityGroups`";
        assert_eq!(suggest("subnetId", expected).as_deref(), Some("subnetIds"));
        assert_eq!(suggest("vpcid", expected).as_deref(), Some("vpcId"));
        assert_eq!(
            suggest("securityGroup", expected).as_deref(),
            Some("securityGroups")
        );
        assert_eq!(suggest("color", expected), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn string_values_are_redacted() {
        assert_eq!(
            humanize(r#"invalid type: string "hunter\"2", expected a boolean"#),
            "invalid type: a string, expected a boolean"
        );
        assert_eq!(
            humanize("invalid type: map, expected a sequence"),
            "invalid type: object, expected a JSON array"
        );
    }
}
