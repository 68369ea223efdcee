//! Lambda function for the `configure-security-groups` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("configure-security-groups").await
}
