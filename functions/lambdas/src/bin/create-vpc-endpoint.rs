//! Lambda function for the `create-vpc-endpoint` step.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    privatelink_lambdas::serve("create-vpc-endpoint").await
}
