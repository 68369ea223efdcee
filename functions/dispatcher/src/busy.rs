//! Requests that must not be verified now: those with a running teardown (a verify would
//! repair, that is re-create, what the teardown is removing), and, for the drift schedule,
//! those with a running provisioning or verify (a second one would only race it).
//!
//! Found from Step Functions itself (`ListExecutions` with status `RUNNING`, then each
//! execution's input), not from a store of our own: the input of both state machines is the
//! request, whose owner key names it.

use std::collections::BTreeSet;

use aws_sdk_sfn::types::ExecutionStatus;
use privatelink_core::StepError;
use privatelink_core::aws::errors::classify;
use privatelink_core::parse_request;

/// The owner keys of the requests with a running execution of any of `state_machines`.
/// An execution whose input is not a valid request (started by hand with something else)
/// names no request and is left out.
pub async fn running_requests(
    sfn: &aws_sdk_sfn::Client,
    state_machines: &[&str],
) -> Result<BTreeSet<String>, StepError> {
    let mut keys = BTreeSet::new();
    for machine in state_machines {
        let mut pages = sfn
            .list_executions()
            .state_machine_arn(*machine)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify(&format!("ListExecutions {machine}"), e))?;
            for execution in page.executions() {
                let arn = execution.execution_arn();
                let described = sfn
                    .describe_execution()
                    .execution_arn(arn)
                    .send()
                    .await
                    .map_err(|e| classify(&format!("DescribeExecution {arn}"), e))?;
                if let Some(key) = described.input().and_then(owner_key) {
                    keys.insert(key);
                }
            }
        }
    }
    Ok(keys)
}

/// The owner key of the request an execution's input holds, if it holds one.
fn owner_key(input: &str) -> Option<String> {
    let value = serde_json::from_str(input).ok()?;
    parse_request(&value).ok().map(|r| r.owner_key())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_execution_input_names_its_request_by_owner_key() {
        let request = serde_json::json!({
            "atlas": {"projectId": "5f0c0c0c0c0c0c0c0c0c0c0c", "clusterName": "Cluster0"},
            "endpoints": [{"region": "us-east-1", "vpcId": "vpc-0a1b2c3d",
                           "subnetIds": ["subnet-0a1b2c3d"]}]
        });
        let expected = parse_request(&request).expect("valid").owner_key();
        let mut teardown = request.clone();
        teardown["force"] = serde_json::json!(true);
        let mut verify = request.clone();
        verify["mode"] = serde_json::json!("verify");
        for input in [request, teardown, verify] {
            assert_eq!(owner_key(&input.to_string()), Some(expected.clone()));
        }
        assert_eq!(owner_key("{\"not\": \"a request\"}"), None);
        assert_eq!(owner_key("not json"), None);
    }
}
