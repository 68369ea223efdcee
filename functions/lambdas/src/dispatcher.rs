//! The dispatcher function: an EventBridge event becomes a provisioning execution
//! ([`privatelink_dispatcher::dispatch`]).

use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use privatelink_dispatcher::{VendingSettings, dispatch};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The runtime loop of the dispatcher; the Step Functions client is built by the first
/// invocation (see [`crate::serve`]).
pub(crate) async fn serve() -> Result<(), lambda_runtime::Error> {
    let sfn: OnceCell<aws_sdk_sfn::Client> = OnceCell::new();
    let state_machine = std::env::var("PROVISION_STATE_MACHINE_ARN").unwrap_or_default();
    let vending = VendingSettings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (sfn, state_machine, vending) = (&sfn, &state_machine, &vending);
        async move {
            let sfn = sfn
                .get_or_init(|| async {
                    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .timeout_config(privatelink_core::aws::clients::timeouts())
                        .load()
                        .await;
                    aws_sdk_sfn::Client::new(&config)
                })
                .await;
            match dispatch(sfn, state_machine, vending, &event.payload).await {
                Ok(Some(started)) => Ok(json!({"started": true, "executionArn": started.execution_arn, "name": started.name})),
                Ok(None) => Ok(json!({"started": false})),
                Err(e) => Err(Diagnostic {
                    error_type: e.name.as_str().to_owned(),
                    error_message: e.message,
                }),
            }
        }
    }))
    .await
}
