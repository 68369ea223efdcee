//! A step function: each event is the step's input; a step error becomes the Lambda error
//! whose `errorType` is the error name the state machines match on.

use std::sync::Arc;

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use privatelink_core::StepError;
use privatelink_core::context::Context;
use privatelink_core::steps::Step;
use serde_json::Value;
use tokio::sync::OnceCell;
use tracing::Instrument;

/// A step error as Lambda reports it: `errorType` is the docs/DESIGN.md error name.
pub(crate) struct StepFailure(StepError);

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

/// The runtime loop of `step`; the context (AWS and Atlas clients) is built by the first
/// invocation (see [`crate::serve`]).
pub(crate) async fn serve(step: Step) -> Result<(), lambda_runtime::Error> {
    let ctx: Arc<OnceCell<Context>> = Arc::new(OnceCell::new());
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let ctx = ctx.clone();
        async move {
            let span = tracing::info_span!(
                "invocation",
                step = step.name(),
                aws_request_id = %event.context.request_id
            );
            async {
                let ctx = ctx.get_or_init(Context::from_env).await;
                step.run(ctx, event.payload).await
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
