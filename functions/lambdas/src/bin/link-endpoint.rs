//! Lambda function for the `link-endpoint` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("link-endpoint").await
}
