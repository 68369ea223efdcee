//! How schemas are referenced, before and after the conversion: the spec's
//! `#/components/schemas/X` and the converted documents' `#/$defs/X`. Shared by the
//! conversion, the compilation and the validation, so none of them depends on another for it.

/// How component schemas are referenced in the spec.
pub(crate) const COMPONENT_SCHEMA_REF: &str = "#/components/schemas/";
/// How converted schemas are referenced in the JSON Schema documents.
pub(crate) const DEFS_REF: &str = "#/$defs/";

/// `#/$defs/<name>` with the JSON-pointer escapes.
pub(crate) fn def_ref(name: &str) -> String {
    format!("{DEFS_REF}{}", name.replace('~', "~0").replace('/', "~1"))
}

/// A definition name back from a JSON-pointer segment (the reverse of [`def_ref`]'s escapes).
pub(crate) fn unescape_pointer(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}
