//! Lambda function for the `ensure-endpoint-service` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("ensure-endpoint-service").await
}
