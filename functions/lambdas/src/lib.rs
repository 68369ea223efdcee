//! The Lambda side of every step: parse the event, call the step, map its error to the name
//! Step Functions matches on (`errorType`). One binary per step calls [`serve`] with its name.
#![warn(missing_docs)]

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use privatelink_core::StepError;
use privatelink_core::context::Context;
use privatelink_core::steps::run_step;
use serde_json::Value;
use tokio::sync::OnceCell;
use tracing::Instrument;

/// A step error as Lambda reports it: `errorType` is the DESIGN.md error name.
pub struct StepFailure(StepError);

impl From<StepFailure> for Diagnostic {
    fn from(failure: StepFailure) -> Self {
        Diagnostic {
            error_type: failure.0.name.as_str().to_owned(),
            error_message: failure.0.message,
        }
    }
}

impl std::fmt::Debug for StepFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
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

/// Runs the Lambda runtime loop for the step `step`.
///
/// The context (AWS clients, Atlas clients and their token) is built by the first invocation,
/// not before the runtime asks for work: building the AWS configuration loads the TLS root
/// store, which would otherwise more than triple the time from process start to the first
/// `next` request. Every warm invocation reuses it.
pub async fn serve(step: &'static str) -> Result<(), lambda_runtime::Error> {
    init_logs();
    let ctx: Arc<OnceCell<Context>> = Arc::new(OnceCell::new());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move {
            let span = tracing::info_span!(
                "invocation",
                step,
                aws_request_id = %event.context.request_id
            );
            async {
                let ctx = ctx.get_or_init(Context::from_env).await;
                run_step(ctx, step, event.payload).await
            }
            .instrument(span)
            .await
            .map_err(StepFailure)
        }
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use privatelink_core::ErrorName;

    #[test]
    fn error_type_is_the_design_name() {
        let diagnostic: Diagnostic = StepFailure(StepError::new(
            ErrorName::InterfaceEndpointRejected,
            "Atlas rejected vpce-0123456789abcdef0",
        ))
        .into();
        assert_eq!(diagnostic.error_type, "InterfaceEndpointRejected");
        assert!(diagnostic.error_message.contains("vpce-0123456789abcdef0"));
    }
}
