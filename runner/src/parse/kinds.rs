//! Parsing the fields specific to Task, Wait, Fail, Parallel and Map states.

use std::sync::Arc;

use serde_json::Value;

use super::Parser;
use crate::context::parse_timestamp;
use crate::definition::{
    FailField, Graph, MapState, ParallelState, Seconds, StateKind, TaskState, WaitFor,
};
use crate::fields::Obj;
use crate::intrinsics::Intrinsic;
use crate::paths::Path;
use crate::template::Template;

impl Parser {
    pub(super) fn task(&mut self, name: &str, obj: &Obj<'_>) -> Option<TaskState> {
        let n = Some(name);
        let resource = self.string(n, obj, "Resource");
        match &resource {
            None if obj.get("Resource").is_none() => {
                self.diag.err(n, Some("Resource"), "is required")
            }
            Some(r) if r.ends_with(".waitForTaskToken") => self.diag.err(
                n,
                Some("Resource"),
                "the .waitForTaskToken callback pattern is not supported by asl-runner",
            ),
            Some(r)
                if r.starts_with("arn:") && r.contains(":states:") && r.contains(":activity:") =>
            {
                self.diag.err(
                    n,
                    Some("Resource"),
                    "Activities are not supported by asl-runner",
                )
            }
            _ => {}
        }
        let timeout = self.seconds(name, obj, "TimeoutSeconds", "TimeoutSecondsPath", 1);
        let retry = self.retriers(name, obj);
        let catch = self.catchers(name, obj);
        Some(TaskState {
            resource: resource?,
            timeout,
            retry,
            catch,
        })
    }

    pub(super) fn wait(&mut self, name: &str, obj: &Obj<'_>) -> Option<WaitFor> {
        let n = Some(name);
        let present: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|f| obj.get(f).is_some())
            .collect();
        if present.len() != 1 {
            self.diag.err(n, None, "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp or TimestampPath");
            return None;
        }
        match present[0] {
            "Seconds" | "SecondsPath" => self
                .seconds(name, obj, "Seconds", "SecondsPath", 0)
                .map(WaitFor::Seconds),
            "Timestamp" => {
                let text = self.string(n, obj, "Timestamp")?;
                match parse_timestamp(&text) {
                    Some(t) => Some(WaitFor::Timestamp(t)),
                    None => {
                        self.diag.err(
                            n,
                            Some("Timestamp"),
                            "must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z",
                        );
                        None
                    }
                }
            }
            _ => self
                .reference_path(name, obj, "TimestampPath")
                .map(WaitFor::TimestampPath),
        }
    }

    pub(super) fn fail(&mut self, name: &str, obj: &Obj<'_>) -> StateKind {
        let mut field = |literal: &str, path: &str| -> Option<FailField> {
            let lit = self.string(Some(name), obj, literal);
            let dynamic = self.string(Some(name), obj, path).and_then(|text| {
                let parsed = if text.trim_start().starts_with("States.") {
                    Intrinsic::parse(&text).map(|i| FailField::Intrinsic(Box::new(i)))
                } else {
                    Path::parse_reference(&text).map(FailField::Path)
                };
                parsed
                    .map_err(|e| self.diag.err(Some(name), Some(path), e))
                    .ok()
            });
            match (lit, dynamic) {
                (Some(_), Some(_)) => {
                    self.diag.err(
                        Some(name),
                        Some(path),
                        format!("cannot be used together with {literal}"),
                    );
                    None
                }
                (Some(l), None) => Some(FailField::Literal(l)),
                (None, d) => d,
            }
        };
        let error = field("Error", "ErrorPath");
        let cause = field("Cause", "CausePath");
        StateKind::Fail { error, cause }
    }

    pub(super) fn parallel(&mut self, name: &str, obj: &Obj<'_>) -> Option<ParallelState> {
        let n = Some(name);
        let retry = self.retriers(name, obj);
        let catch = self.catchers(name, obj);
        let Some(branches) = obj
            .get("Branches")
            .and_then(|b| b.as_array())
            .filter(|b| !b.is_empty())
        else {
            self.diag.err(
                n,
                Some("Branches"),
                "is required: a non-empty array of branches",
            );
            return None;
        };
        let mut graphs = Vec::new();
        for (i, branch) in branches.iter().enumerate() {
            let prefix = format!("Branches[{i}].");
            let Some(map) = branch.as_object() else {
                self.diag.err(
                    n,
                    Some(&format!("Branches[{i}]")),
                    "a branch must be an object",
                );
                continue;
            };
            let branch_obj = Obj::new(map);
            branch_obj.get("Comment");
            if let Some(graph) = self.graph(&branch_obj, n, &prefix) {
                graphs.push(Arc::new(graph));
            }
            for field in branch_obj.unread() {
                self.diag.err(
                    n,
                    Some(&format!("{prefix}{field}")),
                    "unknown field in a branch",
                );
            }
        }
        (graphs.len() == branches.len()).then_some(ParallelState {
            branches: graphs,
            retry,
            catch,
        })
    }

    pub(super) fn map(&mut self, name: &str, obj: &Obj<'_>) -> Option<MapState> {
        let n = Some(name);
        let retry = self.retriers(name, obj);
        let catch = self.catchers(name, obj);
        let items_path = match obj.get("ItemsPath") {
            None => Some(Path::whole_input()),
            Some(_) => self.reference_path(name, obj, "ItemsPath"),
        };
        let mut selector = None;
        for field in ["ItemSelector", "Parameters"] {
            if let Some(value) = obj.get(field) {
                if selector.is_some() {
                    self.diag.err(
                        n,
                        Some("Parameters"),
                        "use ItemSelector (or the older Parameters), not both",
                    );
                }
                match Template::parse(value) {
                    Ok(t) => selector = Some(t),
                    Err(e) => self.diag.err(n, Some(field), e),
                }
            }
        }
        let max_concurrency = self
            .seconds(name, obj, "MaxConcurrency", "MaxConcurrencyPath", 0)
            .unwrap_or(Seconds::Fixed(0));
        let processor = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(_), Some(_)) => {
                self.diag.err(
                    n,
                    Some("Iterator"),
                    "use ItemProcessor (or the older Iterator), not both",
                );
                None
            }
            (Some(p), None) => self.processor(name, "ItemProcessor", p),
            (None, Some(p)) => self.processor(name, "Iterator", p),
            (None, None) => {
                self.diag.err(n, Some("ItemProcessor"), "is required");
                None
            }
        };
        Some(MapState {
            items_path: items_path?,
            item_selector: selector,
            max_concurrency,
            processor: Arc::new(processor?),
            retry,
            catch,
        })
    }

    pub(super) fn processor(&mut self, name: &str, field: &str, value: &Value) -> Option<Graph> {
        let n = Some(name);
        let Some(map) = value.as_object() else {
            self.diag
                .err(n, Some(field), "must be an object with StartAt and States");
            return None;
        };
        let obj = Obj::new(map);
        obj.get("Comment");
        if let Some(config) = obj.get("ProcessorConfig") {
            let config_field = format!("{field}.ProcessorConfig");
            match config.as_object() {
                None => self.diag.err(n, Some(&config_field), "must be an object"),
                Some(config) => {
                    let config_obj = Obj::new(config);
                    match config_obj.get("Mode").map(|m| m.as_str()) {
                        None | Some(Some("INLINE")) => {}
                        Some(Some("DISTRIBUTED")) => self.diag.err(
                            n,
                            Some(&format!("{config_field}.Mode")),
                            "Distributed Map (Mode DISTRIBUTED) is not supported by asl-runner: use INLINE",
                        ),
                        Some(_) => self.diag.err(n, Some(&format!("{config_field}.Mode")), "must be INLINE"),
                    }
                    for unread in config_obj.unread() {
                        let reason = if unread == "ExecutionType" {
                            "belongs to Distributed Map, which asl-runner does not support"
                                .to_string()
                        } else {
                            "unknown field".to_string()
                        };
                        self.diag
                            .err(n, Some(&format!("{config_field}.{unread}")), reason);
                    }
                }
            }
        }
        let graph = self.graph(&obj, n, &format!("{field}."));
        for unread in obj.unread() {
            self.diag
                .err(n, Some(&format!("{field}.{unread}")), "unknown field");
        }
        graph
    }
}
