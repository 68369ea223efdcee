//! Logs: every log group has the stack's retention, and every function and state machine logs
//! to a group of its own (so each function's role may write to its own group only, and no log
//! is kept forever).

use std::collections::BTreeSet;

use serde_json::json;

use super::{TEMPLATE, load_template, of_type, resource, target_of};

#[test]
fn every_log_group_has_a_retention_and_every_function_its_own() {
    let template = load_template(TEMPLATE);
    let groups = of_type(&template, "AWS::Logs::LogGroup");
    for (name, group) in &groups {
        assert_eq!(
            group["Properties"]["RetentionInDays"],
            json!({"Ref": "LogRetentionDays"}),
            "{name}: RetentionInDays"
        );
    }
    let mut used = BTreeSet::new();
    // A log group of the template, and no one else's.
    let mut claim = |name: &str, group: &str| {
        assert_eq!(
            resource(&template, group)["Type"],
            "AWS::Logs::LogGroup",
            "{name}"
        );
        assert!(
            used.insert(group.to_owned()),
            "{name} shares log group {group}"
        );
    };
    for (name, function) in of_type(&template, "AWS::Serverless::Function") {
        let group = target_of(&function["Properties"]["LoggingConfig"]["LogGroup"])
            .unwrap_or_else(|| panic!("{name}: LoggingConfig.LogGroup is not a !Ref"));
        claim(name, group);
    }
    for (name, machine) in of_type(&template, "AWS::Serverless::StateMachine") {
        let logging = &machine["Properties"]["Logging"];
        assert!(logging["Level"].is_string(), "{name}: Logging.Level");
        let arn = &logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"];
        let group = target_of(arn).unwrap_or_else(|| panic!("{name}: log group ARN"));
        claim(name, group);
    }
    assert_eq!(used.len(), groups.len(), "every log group is used");
}
