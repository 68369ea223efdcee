//! Errors: definition problems found at load time, and failures during an execution.

use std::fmt;

/// One problem in a definition, naming the state and field it is about where there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionError {
    /// The state the problem is in (`None` for top-level fields).
    pub state: Option<String>,
    /// The field the problem is about, if any.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl DefinitionError {
    pub(crate) fn new(
        state: Option<&str>,
        field: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            state: state.map(str::to_string),
            field: field.map(str::to_string),
            message: message.into(),
        }
    }
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.state, &self.field) {
            (Some(state), Some(field)) => write!(f, "state '{state}', field '{field}': ")?,
            (Some(state), None) => write!(f, "state '{state}': ")?,
            (None, Some(field)) => write!(f, "field '{field}': ")?,
            (None, None) => {}
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in a definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionErrors(pub Vec<DefinitionError>);

impl DefinitionErrors {
    /// True if any problem's text contains `needle` (for tests and tools).
    pub fn mentions(&self, needle: &str) -> bool {
        self.0.iter().any(|e| e.to_string().contains(needle))
    }
}

impl fmt::Display for DefinitionErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(
            f,
            "invalid state machine definition ({n} problem{})",
            if n == 1 { "" } else { "s" }
        )?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DefinitionErrors {}

/// Collects definition problems while parsing goes on.
#[derive(Debug, Default)]
pub(crate) struct Diag {
    pub errors: Vec<DefinitionError>,
}

impl Diag {
    pub fn err(&mut self, state: Option<&str>, field: Option<&str>, message: impl Into<String>) {
        self.errors
            .push(DefinitionError::new(state, field, message));
    }
}

/// The error names of the States language that the runner raises itself.
pub(crate) mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT: &str = "States.DataLimitExceeded";
    pub const NO_CHOICE: &str = "States.NoChoiceMatched";
}

/// The largest input or output of a state, task or execution: 256 KiB.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Why a state (and maybe the execution) failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub error: Option<String>,
    pub cause: Option<String>,
    /// `States.Runtime` failures bypass `Retry` and `Catch`, as in AWS.
    pub catchable: bool,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Self {
            error: Some(error.into()),
            cause: Some(cause.into()),
            catchable: true,
        }
    }

    /// A `States.Runtime` failure: a path or type problem in data processing.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self {
            error: Some(names::RUNTIME.to_string()),
            cause: Some(cause.into()),
            catchable: false,
        }
    }

    /// `States.DataLimitExceeded` when `data`, the input or output of `state`, is larger than
    /// Step Functions allows: 256 KiB as a UTF-8 string (Step Functions developer guide,
    /// "Quotas related to state throttling… / Maximum input or output size"). Like
    /// `States.Runtime`, no `Retry` or `Catch` handles it.
    pub fn check_size(state: &str, what: &str, data: &serde_json::Value) -> Result<(), Self> {
        let size = data.to_string().len();
        if size <= MAX_PAYLOAD_BYTES {
            return Ok(());
        }
        Err(Self {
            error: Some(names::DATA_LIMIT.to_string()),
            cause: Some(format!(
                "The state/task '{state}' {what} of {size} bytes is larger than the {MAX_PAYLOAD_BYTES} bytes Step Functions allows."
            )),
            catchable: false,
        })
    }

    /// The error output a catcher passes on: `{"Error", "Cause"}`.
    pub fn error_output(&self) -> serde_json::Value {
        let mut map = serde_json::Map::new();
        if let Some(error) = &self.error {
            map.insert("Error".into(), error.clone().into());
        }
        if let Some(cause) = &self.cause {
            map.insert("Cause".into(), cause.clone().into());
        }
        serde_json::Value::Object(map)
    }
}
