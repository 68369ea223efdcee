//! Lambda function for the `teardown-secret` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("teardown-secret").await
}
