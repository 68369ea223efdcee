//! Lambda function for the `teardown-endpoint` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("teardown-endpoint").await
}
