//! Validating a body against a media type's schema, with the compiled validators cached per
//! (operation, direction, status, media type, discriminator variant): compiling is the slow
//! part, and the same few exchanges repeat all through a test run.

use std::sync::{Arc, PoisonError};

use jsonschema::Validator;
use serde_json::{Value, json};

use crate::compile::compile;
use crate::model::{CacheKey, Contract, Media};
use crate::refs::def_ref;

/// Validation errors reported per body (the rest are counted).
const MAX_BODY_ERRORS: usize = 10;

impl Contract {
    /// Validates `body` against `media`'s schema; returns the messages of the violations.
    pub(crate) fn validate_body(
        &self,
        mut key: CacheKey,
        media: &Media,
        params: &[(String, String)],
        body: &Value,
        label: &str,
    ) -> Vec<String> {
        let Some(schema) = &media.schema else {
            return Vec::new();
        };
        // The discriminator value may come from the path (`cloudProvider`) when the body lacks it.
        key.variant = media.discriminator.as_ref().and_then(|d| {
            let object = body.as_object()?;
            if object.contains_key(&d.property) {
                return None;
            }
            let (_, value) = params.iter().find(|(name, _)| *name == d.property)?;
            d.targets.get(value).cloned()
        });
        let validator = match self.validator(&key, schema) {
            Ok(validator) => validator,
            Err(error) => {
                return vec![format!(
                    "{label}: the spec's schema does not compile: {error}"
                )];
            }
        };
        if validator.is_valid(body) {
            return Vec::new();
        }
        let mut messages = Vec::new();
        let mut more = 0usize;
        for error in validator.iter_errors(body) {
            let at = error.instance_path().as_str();
            let at = if at.is_empty() { "/" } else { at };
            let message = format!("{label} at `{at}`: {error}");
            // The base of a discriminated schema is reached twice (directly and via the variant).
            if messages.contains(&message) {
                continue;
            }
            if messages.len() == MAX_BODY_ERRORS {
                more += 1;
                continue;
            }
            messages.push(message);
        }
        if more > 0 {
            messages.push(format!("{label}: {more} more schema errors"));
        }
        if messages.is_empty() {
            messages.push(format!("{label} does not match its schema"));
        }
        messages
    }

    /// The cached validator for `key` (compiled from `schema`, or the key's variant, on first use).
    fn validator(&self, key: &CacheKey, schema: &Value) -> Result<Arc<Validator>, String> {
        let mut cache = self
            .validators
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(cached) = cache.get(key) {
            return cached.clone();
        }
        let schema = match &key.variant {
            Some(target) => json!({ "$ref": def_ref(target) }),
            None => schema.clone(),
        };
        let compiled = compile(&self.defs[key.direction as usize], &schema).map(Arc::new);
        if let Err(error) = &compiled {
            tracing::error!(
                operation = %self.operations[key.operation].id,
                error = %error,
                "contract: a schema of the spec does not compile"
            );
        }
        cache.insert(key.clone(), compiled.clone());
        compiled
    }
}

#[cfg(test)]
mod tests {
    use std::sync::PoisonError;

    use serde_json::json;

    use crate::model::{CacheKey, Contract, Direction};
    use crate::test_support::*;

    /// Compiles every schema of every operation (tests: the conversion must compile).
    fn compile_all(c: &Contract) -> Vec<String> {
        let mut failures = Vec::new();
        for (index, op) in c.operations.iter().enumerate() {
            let request = op.request_body.iter().flat_map(|rb| {
                rb.media
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (Direction::Request, String::new(), i, m))
            });
            let responses = op.responses.iter().flat_map(|(status, r)| {
                r.media
                    .iter()
                    .enumerate()
                    .map(move |(i, m)| (Direction::Response, status.clone(), i, m))
            });
            for (direction, status, media, m) in request.chain(responses) {
                let Some(schema) = &m.schema else { continue };
                let variants = std::iter::once(None).chain(
                    m.discriminator
                        .iter()
                        .flat_map(|d| d.targets.values().cloned().map(Some)),
                );
                for variant in variants {
                    let key = CacheKey {
                        operation: index,
                        direction,
                        status: status.clone(),
                        media,
                        variant,
                    };
                    if let Err(e) = c.validator(&key, schema) {
                        failures.push(format!("{} {status} {}: {e}", op.id, m.name));
                    }
                }
            }
        }
        failures
    }

    #[test]
    fn every_schema_of_the_spec_compiles() {
        let Some(c) = contract() else { return };
        let failures = compile_all(c);
        assert!(
            failures.is_empty(),
            "schemas that do not compile:\n{}",
            failures.join("\n")
        );
    }

    #[test]
    fn validators_are_cached() {
        let Some(c) = contract() else { return };
        let body = json!({ "id": VPCE });
        for _ in 0..200 {
            assert_ok(c.check_request("POST", &endpoints(), Some(V2023), Some(V2023), Some(&body)));
        }
        let cache = c.validators.lock().unwrap_or_else(PoisonError::into_inner);
        let keys: Vec<_> = cache
            .keys()
            .filter(|k| k.direction == Direction::Request && k.variant.is_some())
            .collect();
        assert!(!keys.is_empty());
    }
}
