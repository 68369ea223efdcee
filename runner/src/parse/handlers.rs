//! Parsing `Retry` and `Catch`.

use serde_json::Value;

use super::{KNOWN_STATES_ERRORS, MAX_SECONDS, Parser, uint, unread_reason};
use crate::definition::{Catcher, Jitter, ResultPath, Retrier};
use crate::fields::Obj;

impl Parser {
    pub(super) fn error_equals(
        &mut self,
        name: &str,
        field: &str,
        value: Option<&Value>,
    ) -> Vec<String> {
        let errors: Option<Vec<String>> = value.and_then(|v| v.as_array()).and_then(|items| {
            items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect()
        });
        let Some(errors) = errors.filter(|e| !e.is_empty()) else {
            self.diag.err(
                Some(name),
                Some(&format!("{field}.ErrorEquals")),
                "is required: a non-empty array of error names",
            );
            return Vec::new();
        };
        for error in &errors {
            if error.starts_with("States.") && !KNOWN_STATES_ERRORS.contains(&error.as_str()) {
                self.diag.err(
                    Some(name),
                    Some(&format!("{field}.ErrorEquals")),
                    format!("unknown error name '{error}'"),
                );
            }
        }
        if errors.len() > 1 && errors.iter().any(|e| e == "States.ALL") {
            self.diag.err(
                Some(name),
                Some(&format!("{field}.ErrorEquals")),
                "States.ALL must appear alone",
            );
        }
        errors
    }

    pub(super) fn retriers(&mut self, name: &str, obj: &Obj<'_>) -> Vec<Retrier> {
        let Some(value) = obj.get("Retry") else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.diag
                .err(Some(name), Some("Retry"), "must be an array of retriers");
            return Vec::new();
        };
        let mut retriers = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("Retry[{i}]");
            let Some(map) = item.as_object() else {
                self.diag
                    .err(Some(name), Some(&field), "a retrier must be an object");
                continue;
            };
            let r = Obj::new(map);
            r.get("Comment");
            let errors = self.error_equals(name, &field, r.get("ErrorEquals"));
            if errors.iter().any(|e| e == "States.ALL") && i + 1 != items.len() {
                self.diag.err(
                    Some(name),
                    Some(&field),
                    "a retrier for States.ALL must be the last one",
                );
            }
            let mut int = |key: &str, default: u64, min: u64, max: u64| -> u64 {
                match r.get(key) {
                    None => default,
                    Some(v) => uint(v)
                        .filter(|x| (min..=max).contains(x))
                        .unwrap_or_else(|| {
                            self.diag.err(
                                Some(name),
                                Some(&format!("{field}.{key}")),
                                format!("must be an integer from {min} to {max}"),
                            );
                            default
                        }),
                }
            };
            let interval_seconds = int("IntervalSeconds", 1, 1, MAX_SECONDS);
            let max_attempts = int("MaxAttempts", 3, 0, MAX_SECONDS);
            let max_delay_seconds = r
                .get("MaxDelaySeconds")
                .is_some()
                .then(|| int("MaxDelaySeconds", 1, 1, 31_622_400));
            let backoff_rate = match r.get("BackoffRate") {
                None => 2.0,
                Some(v) => v
                    .as_f64()
                    .filter(|b| *b >= 1.0 && b.is_finite())
                    .unwrap_or_else(|| {
                        self.diag.err(
                            Some(name),
                            Some(&format!("{field}.BackoffRate")),
                            "must be a number of at least 1.0",
                        );
                        2.0
                    }),
            };
            let jitter = match r.get("JitterStrategy").map(|j| j.as_str()) {
                None | Some(Some("NONE")) => Jitter::None,
                Some(Some("FULL")) => Jitter::Full,
                Some(_) => {
                    self.diag.err(
                        Some(name),
                        Some(&format!("{field}.JitterStrategy")),
                        "must be FULL or NONE",
                    );
                    Jitter::None
                }
            };
            for unread in r.unread() {
                self.diag.err(
                    Some(name),
                    Some(&format!("{field}.{unread}")),
                    "unknown field in a retrier",
                );
            }
            retriers.push(Retrier {
                errors,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter,
            });
        }
        retriers
    }

    pub(super) fn catchers(&mut self, name: &str, obj: &Obj<'_>) -> Vec<Catcher> {
        let Some(value) = obj.get("Catch") else {
            return Vec::new();
        };
        let Some(items) = value.as_array() else {
            self.diag
                .err(Some(name), Some("Catch"), "must be an array of catchers");
            return Vec::new();
        };
        let mut catchers = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let field = format!("Catch[{i}]");
            let Some(map) = item.as_object() else {
                self.diag
                    .err(Some(name), Some(&field), "a catcher must be an object");
                continue;
            };
            let c = Obj::new(map);
            c.get("Comment");
            let errors = self.error_equals(name, &field, c.get("ErrorEquals"));
            if errors.iter().any(|e| e == "States.ALL") && i + 1 != items.len() {
                self.diag.err(
                    Some(name),
                    Some(&field),
                    "a catcher for States.ALL must be the last one",
                );
            }
            let next = match c.get("Next").map(|n| n.as_str()) {
                Some(Some(next)) => Some(next.to_string()),
                _ => {
                    self.diag.err(
                        Some(name),
                        Some(&format!("{field}.Next")),
                        "is required: a state name",
                    );
                    None
                }
            };
            let result_path = match c.get("ResultPath") {
                None => Some(ResultPath::At(Vec::new())),
                Some(v) => self.result_path(Some(name), &format!("{field}.ResultPath"), v),
            };
            for unread in c.unread() {
                let reason = match unread {
                    "Assign" | "Output" => unread_reason(unread, ""),
                    _ => "unknown field in a catcher".to_string(),
                };
                self.diag
                    .err(Some(name), Some(&format!("{field}.{unread}")), reason);
            }
            if let (Some(next), Some(result_path)) = (next, result_path) {
                catchers.push(Catcher {
                    errors,
                    next,
                    result_path,
                });
            }
        }
        catchers
    }
}
