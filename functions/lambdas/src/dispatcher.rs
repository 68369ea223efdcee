//! The dispatcher function: an EventBridge event becomes a provisioning execution, and the
//! drift schedule or a rotated database user become verify executions
//! ([`privatelink_dispatcher::handle`]).

use aws_config::retry::RetryConfig;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use privatelink_core::aws::clients::{AwsClients, timeouts};
use privatelink_dispatcher::{DriftSettings, VendingSettings, handle};
use serde_json::Value;
use tokio::sync::OnceCell;

/// The AWS clients of the dispatcher: Step Functions, and Secrets Manager per account and
/// region for the sweeps.
struct Clients {
    sfn: aws_sdk_sfn::Client,
    aws: AwsClients,
}

/// The runtime loop of the dispatcher; the clients are built by the first invocation (see
/// [`crate::serve`]).
pub(crate) async fn serve() -> Result<(), lambda_runtime::Error> {
    let clients: OnceCell<Clients> = OnceCell::new();
    let state_machine = std::env::var("PROVISION_STATE_MACHINE_ARN").unwrap_or_default();
    let vending = VendingSettings::from_env();
    // Read once; a bad setting fails the sweeps (naming it), not the other events.
    let drift = DriftSettings::from_env();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let (clients, state_machine, vending, drift) = (&clients, &state_machine, &vending, &drift);
        async move {
            let clients = clients
                .get_or_init(|| async {
                    // Timeouts on every call, the SDK's standard retries (back-off, jitter).
                    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                        .timeout_config(timeouts())
                        .retry_config(RetryConfig::standard().with_max_attempts(5))
                        .load()
                        .await;
                    Clients {
                        sfn: aws_sdk_sfn::Client::new(&config),
                        aws: AwsClients::from_config(config),
                    }
                })
                .await;
            // Boxed: inline, the sweep's future (assumed roles, pages, a stream of reads and
            // starts) nests too deep for the compiler's layout of the runtime's future.
            Box::pin(handle(
                &clients.sfn,
                &clients.aws,
                state_machine,
                vending,
                drift,
                &event.payload,
            ))
            .await
            .map_err(|e| Diagnostic {
                error_type: e.name.as_str().to_owned(),
                error_message: e.message,
            })
        }
    }))
    .await
}
