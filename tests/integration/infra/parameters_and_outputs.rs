//! The template's interface: the parameters operators set (with their defaults), the outputs
//! other stacks and the README use, and the alarm on failed provisioning executions.

use std::collections::BTreeSet;

use serde_json::json;

use super::{TEMPLATE, load_template, of_type};

#[test]
fn parameters_outputs_and_alarm_are_in_place() {
    let template = load_template(TEMPLATE);
    let parameters: BTreeSet<&str> = template["Parameters"]
        .as_object()
        .expect("Parameters")
        .keys()
        .map(String::as_str)
        .collect();
    for wanted in [
        "AtlasCredentialsSecretArn",
        "KmsKeyArn",
        "CrossAccountRoleName",
        "VpcTagKey",
        "VpcTagValue",
        "SecretNamePrefix",
        "VendingAtlasProjectId",
        "VendingClusterName",
        "VendingRegions",
        "LogRetentionDays",
        "EventBusName",
        "DriftCheckIntervalHours",
        "DriftRegions",
        "DriftAccountIds",
    ] {
        assert!(parameters.contains(wanted), "parameter {wanted}");
    }
    // The drift schedule runs every 6 hours unless the operator says otherwise (0: off), in
    // the stack's own region and account unless told where else.
    assert_eq!(
        template["Parameters"]["DriftCheckIntervalHours"]["Default"],
        6
    );
    assert_eq!(template["Parameters"]["DriftRegions"]["Default"], "");
    assert_eq!(template["Parameters"]["DriftAccountIds"]["Default"], "");
    // The completion events go to the account's default bus unless the operator names one.
    assert_eq!(template["Parameters"]["EventBusName"]["Default"], "default");
    assert_eq!(template["Parameters"]["KmsKeyArn"]["Default"], "");
    assert_eq!(
        template["Parameters"]["SecretNamePrefix"]["Default"],
        "atlas/"
    );
    assert!(template["Conditions"]["HasKmsKey"].is_object());
    let outputs = template["Outputs"].as_object().expect("Outputs");
    for (output, value) in [
        (
            "ProvisionStateMachineArn",
            json!({"Ref": "ProvisionStateMachine"}),
        ),
        (
            "TeardownStateMachineArn",
            json!({"Ref": "TeardownStateMachine"}),
        ),
        (
            "PrivateEndpointRequestedRuleName",
            json!({"Ref": "PrivateEndpointRequestedRule"}),
        ),
        (
            "ControlTowerAccountCreatedRuleName",
            json!({"Ref": "ControlTowerAccountCreatedRule"}),
        ),
        (
            "DispatcherFunctionName",
            json!({"Ref": "DispatcherFunction"}),
        ),
    ] {
        assert_eq!(
            outputs.get(output).map(|o| &o["Value"]),
            Some(&value),
            "output {output}"
        );
    }
    let alarmed = of_type(&template, "AWS::CloudWatch::Alarm")
        .into_iter()
        .any(|(_, a)| {
            let p = &a["Properties"];
            p["Namespace"] == "AWS/States"
                && p["MetricName"] == "ExecutionsFailed"
                && p["Dimensions"][0]["Value"] == json!({"Ref": "ProvisionStateMachine"})
        });
    assert!(
        alarmed,
        "an alarm on the provision state machine's ExecutionsFailed"
    );
}
