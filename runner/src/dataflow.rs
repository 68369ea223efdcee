//! Data flow inside a state: InputPath, Parameters, ResultSelector, ResultPath, OutputPath,
//! and the values states read from their input (wait times, Fail's ErrorPath and CausePath).

use std::time::{Duration, SystemTime};

use serde_json::{Value, json};

use crate::context::{Env, parse_timestamp};
use crate::definition::{FailField, Io, IoPath, ResultPath, Seconds, WaitFor};
use crate::error::Failure;
use crate::executor::{Exec, Visit};
use crate::paths::{Data, Path, Root, abbreviate, write_at};

impl Exec<'_> {
    pub(crate) fn wait_duration(
        &self,
        visit: &Visit<'_>,
        wait: &WaitFor,
        input: &Value,
        env: &Env<'_>,
    ) -> Result<Duration, Failure> {
        let until = |at: SystemTime| {
            at.duration_since(self.config().clock.now())
                .unwrap_or_default()
        };
        match wait {
            WaitFor::Seconds(Seconds::Fixed(s)) => Ok(Duration::from_secs(*s)),
            WaitFor::Seconds(Seconds::Path(path)) => Ok(Duration::from_secs(self.seconds_at(
                visit,
                path,
                input,
                env,
                "SecondsPath",
                0,
            )?)),
            WaitFor::Timestamp(at) => Ok(until(SystemTime::from(*at))),
            WaitFor::TimestampPath(path) => {
                let value = path
                    .select_or_err(Data { input, env }, "TimestampPath")
                    .map_err(|e| self.runtime(visit, e))?;
                let at = value.as_str().and_then(parse_timestamp).ok_or_else(|| {
                    self.runtime(
                        visit,
                        format!("The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {}", abbreviate(&value)),
                    )
                })?;
                Ok(until(SystemTime::from(at)))
            }
        }
    }

    /// A non-negative integer (at least `min`) found at `path`.
    pub(crate) fn seconds_at(
        &self,
        visit: &Visit<'_>,
        path: &Path,
        input: &Value,
        env: &Env<'_>,
        field: &str,
        min: u64,
    ) -> Result<u64, Failure> {
        let value = path
            .select_or_err(Data { input, env }, field)
            .map_err(|e| self.runtime(visit, e))?;
        value
            .as_u64()
            .or_else(|| value.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 1.0e15).map(|f| f as u64))
            .filter(|n| *n >= min)
            .ok_or_else(|| {
                self.runtime(
                    visit,
                    format!("The {field} parameter does not reference a valid integer value (at least {min}): {}", abbreviate(&value)),
                )
            })
    }

    pub(crate) fn fail_field(
        &self,
        visit: &Visit<'_>,
        field: Option<&FailField>,
        data: Data<'_>,
        name: &str,
    ) -> Result<Option<String>, Failure> {
        let value = match field {
            None => return Ok(None),
            Some(FailField::Literal(text)) => return Ok(Some(text.clone())),
            Some(FailField::Path(path)) => path.select_or_err(data, name),
            Some(FailField::Intrinsic(call)) => call.eval(data),
        }
        .map_err(|e| self.runtime(visit, e))?;
        match value {
            Value::String(text) => Ok(Some(text)),
            other => Err(self.runtime(
                visit,
                format!(
                    "The {name} must resolve to a string, not {}",
                    abbreviate(&other)
                ),
            )),
        }
    }

    pub(crate) fn input_path(
        &self,
        visit: &Visit<'_>,
        path: &IoPath,
        raw: &Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        match path {
            IoPath::Null => Ok(json!({})),
            IoPath::Path(path) => path
                .select_or_err(Data { input: raw, env }, "InputPath")
                .map_err(|e| self.runtime(visit, e)),
        }
    }

    pub(crate) fn parameters(
        &self,
        visit: &Visit<'_>,
        io: &Io,
        input: Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        match &io.parameters {
            None => Ok(input),
            Some(template) => template
                .eval(Data { input: &input, env })
                .map_err(|e| self.runtime(visit, e)),
        }
    }

    /// `InputPath`, then `Parameters`.
    pub(crate) fn effective_input(
        &self,
        visit: &Visit<'_>,
        io: &Io,
        raw: &Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        let input = self.input_path(visit, &io.input_path, raw, env)?;
        self.parameters(visit, io, input, env)
    }

    pub(crate) fn result_selector(
        &self,
        visit: &Visit<'_>,
        io: &Io,
        result: Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        match &io.result_selector {
            None => Ok(result),
            Some(template) => template
                .eval(Data {
                    input: &result,
                    env,
                })
                .map_err(|e| self.runtime(visit, e)),
        }
    }

    /// `ResultPath` (into the raw input), then `OutputPath`.
    pub(crate) fn finish(
        &self,
        visit: &Visit<'_>,
        io: &Io,
        raw: Value,
        result: Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        let combined = match &io.result_path {
            ResultPath::Discard => raw,
            ResultPath::At(segments) => write_at(raw, segments, result)
                .map_err(|e| self.runtime(visit, format!("Unable to apply the ResultPath: {e}")))?,
        };
        self.output_path(visit, &io.output_path, combined, env)
    }

    pub(crate) fn output_path(
        &self,
        visit: &Visit<'_>,
        path: &IoPath,
        value: Value,
        env: &Env<'_>,
    ) -> Result<Value, Failure> {
        match path {
            IoPath::Null => Ok(json!({})),
            IoPath::Path(path)
                if path.is_definite()
                    && path.segments().is_some_and(<[_]>::is_empty)
                    && path.root() == Root::Input =>
            {
                Ok(value)
            }
            IoPath::Path(path) => path
                .select_or_err(Data { input: &value, env }, "OutputPath")
                .map_err(|e| self.runtime(visit, e)),
        }
    }
}
