//! Lambda function for the `store-connection-strings` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("store-connection-strings").await
}
