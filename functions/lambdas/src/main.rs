//! The Lambda binary of every atlas-privatelink function. Each function of the template runs
//! this same artifact; its `ATLAS_PRIVATELINK_FUNCTION` says which step (or the dispatcher)
//! it is.

use privatelink_lambdas::{Function, init_logs, serve};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_logs();
    let function = Function::from_env().inspect_err(|e| tracing::error!("{e}"))?;
    serve(function).await
}
