//! Lambda function for the `verify-endpoint` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("verify-endpoint").await
}
