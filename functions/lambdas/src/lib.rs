//! The Lambda side of atlas-privatelink: one binary for every function. The template sets
//! `ATLAS_PRIVATELINK_FUNCTION` on each function to a step name ([`Step`]) or `dispatcher`;
//! [`serve`] runs the Lambda runtime loop for it, parsing each event, calling the step and
//! mapping its error to the name Step Functions matches on (`errorType`).
#![warn(missing_docs)]

mod dispatcher;
mod step;

use privatelink_core::steps::Step;

/// The name of the binary (its `Cargo.toml` `[[bin]]`, the template's `Binary`).
pub const BINARY: &str = "privatelink-function";

/// The environment variable that selects the function.
pub const FUNCTION_ENV: &str = "ATLAS_PRIVATELINK_FUNCTION";

/// The name of the dispatcher function.
pub const DISPATCHER: &str = "dispatcher";

/// Which function this process serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Function {
    /// A workflow step.
    Step(Step),
    /// The dispatcher: EventBridge event → provisioning execution.
    Dispatcher,
}

impl Function {
    /// Every function the binary can serve.
    pub fn all() -> Vec<Function> {
        Step::ALL
            .into_iter()
            .map(Function::Step)
            .chain([Function::Dispatcher])
            .collect()
    }

    /// The function's name: a step name or `dispatcher`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Step(step) => step.name(),
            Function::Dispatcher => DISPATCHER,
        }
    }

    /// The function called `name`; the error lists the known names.
    pub fn parse(name: &str) -> Result<Function, String> {
        if name == DISPATCHER {
            return Ok(Function::Dispatcher);
        }
        Step::from_name(name).map(Function::Step).ok_or_else(|| {
            let known: Vec<&str> = Function::all().into_iter().map(Function::name).collect();
            format!(
                "{FUNCTION_ENV}={name:?} names no function; known: {}",
                known.join(", ")
            )
        })
    }

    /// The function named by `ATLAS_PRIVATELINK_FUNCTION`.
    pub fn from_env() -> Result<Function, String> {
        let name = std::env::var(FUNCTION_ENV).map_err(|_| {
            format!("{FUNCTION_ENV} is not set: the template names each function's step in it")
        })?;
        Function::parse(name.trim())
    }
}

/// JSON log lines on stdout (CloudWatch), level from `RUST_LOG` (default `info`).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_target(false)
        .without_time()
        .try_init();
}

/// Runs the Lambda runtime loop for `function`.
///
/// Whatever needs the AWS configuration is built by the first invocation, not before the
/// runtime asks for work: building it loads the TLS root store, which would otherwise more than
/// triple the time from process start to the first `next` request. Warm invocations reuse it.
pub async fn serve(function: Function) -> Result<(), lambda_runtime::Error> {
    match function {
        Function::Step(step) => step::serve(step).await,
        Function::Dispatcher => dispatcher::serve().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_and_the_dispatcher_are_functions() {
        for function in Function::all() {
            assert_eq!(Function::parse(function.name()), Ok(function));
        }
        assert_eq!(Function::all().len(), Step::ALL.len() + 1);
        let unknown = Function::parse("link").expect_err("not a function");
        assert!(unknown.contains(FUNCTION_ENV), "{unknown}");
        assert!(
            unknown.contains("link-endpoint, verify-endpoint"),
            "{unknown}"
        );
    }
}
