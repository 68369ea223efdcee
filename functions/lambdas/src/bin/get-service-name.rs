//! Lambda function for the `get-service-name` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("get-service-name").await
}
