//! The cold-start reference: what every Lambda function that calls AWS must do before it can
//! answer, and nothing else. It builds the AWS configuration (from the environment Lambda
//! sets) and one SDK client on the first invocation, as our functions do, and answers without
//! a network call. Our function's spawn → first answer is measured against this one's.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::sync::OnceCell;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let client: OnceCell<aws_sdk_secretsmanager::Client> = OnceCell::new();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let client = &client;
        async move {
            let client = client
                .get_or_init(|| async {
                    let config =
                        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    aws_sdk_secretsmanager::Client::new(&config)
                })
                .await;
            Ok::<Value, Error>(json!({
                "region": client.config().region().map(|r| r.to_string()),
                "event": event.payload
            }))
        }
    }))
    .await
}
