//! Rules for the user's tags (copied onto every AWS resource the workflow creates).

use std::collections::BTreeMap;

use super::ids::regex;
use super::model::Tags;
use super::path::FieldPath;
use crate::error::StepError;

/// At most this many user tags: AWS allows 50 per resource, and the workflow adds its own.
pub const MAX_USER_TAGS: usize = 40;

/// Tag keys the workflow sets on what it creates start with this; users may not use it.
pub const RESERVED_TAG_PREFIX: &str = "atlas-privatelink:";

/// Longest tag key, in characters.
pub const MAX_TAG_KEY_CHARS: usize = 128;

/// Longest tag value, in characters.
pub const MAX_TAG_VALUE_CHARS: usize = 256;

const ALLOWED: &str = "letters, digits, spaces and _ . : / = + - @";

pub(super) fn check_tags(
    path: &FieldPath,
    tags: BTreeMap<String, String>,
) -> Result<Tags, StepError> {
    if tags.len() > MAX_USER_TAGS {
        return Err(StepError::invalid(
            path,
            format!(
                "has {} tags; at most {MAX_USER_TAGS} are allowed (AWS allows 50 per resource \
                 and the workflow adds its own)",
                tags.len()
            ),
        ));
    }
    for (key, value) in &tags {
        check_tag(&path.key(key), key, value)?;
    }
    Ok(tags)
}

fn check_tag(path: &FieldPath, key: &str, value: &str) -> Result<(), StepError> {
    let chars = regex!(r"^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$");
    let key_len = key.chars().count();
    if key_len == 0 {
        return Err(StepError::invalid(path, "tag keys must not be empty"));
    }
    if key_len > MAX_TAG_KEY_CHARS {
        return Err(StepError::invalid(
            path,
            format!("the tag key is {key_len} characters long; at most {MAX_TAG_KEY_CHARS}"),
        ));
    }
    if !chars.is_match(key) {
        return Err(StepError::invalid(
            path,
            format!("the tag key has a character AWS tags do not allow; use {ALLOWED}"),
        ));
    }
    let lower = key.to_lowercase();
    if lower.starts_with("aws:") {
        return Err(StepError::invalid(
            path,
            "tag keys starting with \"aws:\" are reserved for AWS",
        ));
    }
    if lower.starts_with(RESERVED_TAG_PREFIX) {
        return Err(StepError::invalid(
            path,
            format!(
                "tag keys starting with {RESERVED_TAG_PREFIX:?} are reserved for the tags \
                 atlas-privatelink sets itself"
            ),
        ));
    }
    let value_len = value.chars().count();
    if value_len > MAX_TAG_VALUE_CHARS {
        return Err(StepError::invalid(
            path,
            format!("the tag value is {value_len} characters long; at most {MAX_TAG_VALUE_CHARS}"),
        ));
    }
    if !chars.is_match(value) {
        return Err(StepError::invalid(
            path,
            format!("the tag value has a character AWS tags do not allow; use {ALLOWED}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(key: &str, value: &str) -> Result<Tags, StepError> {
        check_tags(
            &FieldPath::root().key("tags"),
            BTreeMap::from([(key.to_owned(), value.to_owned())]),
        )
    }

    #[test]
    fn allowed_tags() {
        assert!(check("team", "platform").is_ok());
        assert!(check("Cost Center", "").is_ok());
        assert!(check("app/owner", "ops@example.com").is_ok());
        assert!(check("équipe", "données+1=2:x").is_ok());
        assert!(check(&"k".repeat(128), &"v".repeat(256)).is_ok());
    }

    #[test]
    fn rejected_tags() {
        for (key, value, needle) in [
            ("", "x", "must not be empty"),
            ("aws:createdBy", "x", "reserved for AWS"),
            ("AWS:Foo", "x", "reserved for AWS"),
            ("atlas-privatelink:execution", "x", "reserved for the tags"),
            ("Atlas-PrivateLink:x", "x", "reserved for the tags"),
            ("a*b", "x", "tag key has a character"),
            ("team", "a;b", "tag value has a character"),
        ] {
            let err = check(key, value).expect_err(key);
            assert!(err.message.contains(needle), "{key}: {}", err.message);
        }
        assert!(check(&"k".repeat(129), "v").is_err());
        assert!(check("k", &"v".repeat(257)).is_err());
    }
}
