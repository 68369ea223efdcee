//! Media type names: the essence of a `Content-Type`, the list an `Accept` names, and how lists
//! of them read in messages. Used when the spec is read and when requests and responses are
//! checked, so it sits below both.

use crate::model::Media;

/// `type/subtype` of a media type, lower case, without parameters.
pub(crate) fn essence(media_type: &str) -> String {
    media_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// The media types an `Accept` header names (without parameters such as `q`).
pub(crate) fn media_list(header: &str) -> Vec<String> {
    header
        .split(',')
        .map(essence)
        .filter(|m| !m.is_empty())
        .collect()
}

/// The index of the only media type, if there is exactly one: the schema to validate a body
/// against when its `Content-Type` is missing or wrong, so the body is still checked.
pub(crate) fn single(media: &[Media]) -> Option<usize> {
    (media.len() == 1).then_some(0)
}

/// `[`a`, `b`]` (or `(none)`) for messages.
pub(crate) fn listing<T: AsRef<str>>(items: impl IntoIterator<Item = T>) -> String {
    let items: Vec<String> = items
        .into_iter()
        .map(|s| format!("`{}`", s.as_ref()))
        .collect();
    if items.is_empty() {
        "(none)".to_owned()
    } else {
        format!("[{}]", items.join(", "))
    }
}
