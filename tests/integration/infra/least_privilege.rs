//! Least privilege beyond action names: each permission is limited by resource, tag and name as
//! it should be (tags on EC2 writes, the secret-name prefix, the role name, the own log group,
//! the claims table), the Atlas credentials secret is never writable, and functions placed in
//! VPC subnets get only the network-interface actions Lambda needs there. The action lists of
//! [`super::roles`] say *what* a role may do; this says *on what*.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::{
    STATES_LOGS, Statement, TARGET_TEMPLATE, TEMPLATE, XRAY, flatten, load_template, of_type,
    render, resource, role_statements, strings, target_of,
};

/// Secrets Manager actions that change a secret.
const SECRET_WRITES: [&str; 6] = [
    "secretsmanager:CreateSecret",
    "secretsmanager:PutSecretValue",
    "secretsmanager:UpdateSecret",
    "secretsmanager:RestoreSecret",
    "secretsmanager:DeleteSecret",
    "secretsmanager:TagResource",
];

/// EC2's Describe calls, which support no resource-level permissions.
const EC2_DESCRIBE: [&str; 5] = [
    "ec2:DescribeVpcs",
    "ec2:DescribeSubnets",
    "ec2:DescribeSecurityGroups",
    "ec2:DescribeVpcEndpoints",
    "ec2:DescribeVpcEndpointServices",
];

/// Account-level listings without resource-level permissions: `secretsmanager:ListSecrets`
/// (the dispatcher's drift sweep; the Service Authorization Reference lists no resource type
/// for it, and it returns no secret values).
const LISTINGS: [&str; 1] = ["secretsmanager:ListSecrets"];

/// Whether `action` may have `Resource: "*"`: EC2's Describe calls, Secrets Manager's
/// ListSecrets, and the account-level calls of Step Functions log delivery and X-Ray, none of
/// which supports resource-level permissions.
fn unscopable(action: &str) -> bool {
    [&EC2_DESCRIBE[..], &LISTINGS, &STATES_LOGS, &XRAY]
        .iter()
        .any(|actions| actions.contains(&action))
}

const SECRETS_BELOW_PREFIX: &str =
    "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:${SecretNamePrefix}*";

/// Why `statement` is broader than it should be, if it is. `own_log_group` is the log group of
/// the function the role serves.
fn least_privilege_faults(statement: &Statement, own_log_group: Option<&str>) -> Vec<String> {
    let mut faults = Vec::new();
    if !statement.allow {
        return faults;
    }
    let condition = &statement.condition;
    let tagged_request =
        condition["Null"]["aws:RequestTag/atlas-privatelink:request-key"] == "false";
    let tagged_resource =
        condition["Null"]["ec2:ResourceTag/atlas-privatelink:request-key"] == "false";
    let mut fault = |what: String| faults.push(format!("{}: {what}", statement.at));
    for action in &statement.actions {
        let action = action.as_str();
        for resource in &statement.resources {
            let resource = resource.as_str();
            if resource == "*" {
                if !unscopable(action) {
                    fault(format!("{action} on \"*\""));
                }
                continue;
            }
            let ec2 = |kind: &str| {
                resource == format!("arn:${{AWS::Partition}}:ec2:*:${{AWS::AccountId}}:{kind}/*")
            };
            let ok = match action {
                "logs:CreateLogStream" | "logs:PutLogEvents" => {
                    own_log_group.is_some_and(|g| resource == format!("${{{g}.Arn}}"))
                }
                "secretsmanager:GetSecretValue" => {
                    resource == "${AtlasCredentialsSecretArn}" || resource == SECRETS_BELOW_PREFIX
                }
                "secretsmanager:DescribeSecret" => resource == SECRETS_BELOW_PREFIX,
                a if SECRET_WRITES.contains(&a) => {
                    resource == SECRETS_BELOW_PREFIX
                        && (a != "secretsmanager:CreateSecret"
                            || condition["Null"]["aws:RequestTag/atlas-privatelink:created-by"]
                                == "false")
                }
                "kms:Decrypt" | "kms:GenerateDataKey" => {
                    resource == "${KmsKeyArn}"
                        && condition["StringLike"]["kms:ViaService"]
                            == "secretsmanager.*.amazonaws.com"
                }
                "sts:AssumeRole" => {
                    resource == "arn:${AWS::Partition}:iam::*:role/${CrossAccountRoleName}"
                }
                "ec2:CreateSecurityGroup" => {
                    ec2("vpc") || (ec2("security-group") && tagged_request)
                }
                // Permission-only (cross-region endpoints): the account's endpoints only.
                "vpce:AllowMultiRegion" => ec2("vpc-endpoint"),
                "ec2:CreateVpcEndpoint" => {
                    ec2("vpc")
                        || ec2("subnet")
                        || ec2("security-group")
                        || resource == "arn:${AWS::Partition}:ec2:*:*:vpc-endpoint-service/*"
                        || (ec2("vpc-endpoint") && tagged_request)
                }
                "ec2:CreateTags" => {
                    (ec2("security-group") || ec2("vpc-endpoint"))
                        && !strings(&condition["StringEquals"]["ec2:CreateAction"]).is_empty()
                }
                "ec2:AuthorizeSecurityGroupIngress" => {
                    (ec2("security-group") && tagged_resource) || ec2("security-group-rule")
                }
                "ec2:DeleteSecurityGroup" => ec2("security-group") && tagged_resource,
                "ec2:DeleteVpcEndpoints" => ec2("vpc-endpoint") && tagged_resource,
                // Re-attaching groups (a verify's repair): only our endpoints; the groups added
                // are the request's own.
                "ec2:ModifyVpcEndpoint" => {
                    (ec2("vpc-endpoint") && tagged_resource) || ec2("security-group")
                }
                "lambda:InvokeFunction" => {
                    resource.starts_with("${") && resource.ends_with("Function.Arn}")
                }
                "states:StartExecution" => resource == "${ProvisionStateMachine}",
                "dynamodb:GetItem"
                | "dynamodb:PutItem"
                | "dynamodb:UpdateItem"
                | "dynamodb:DeleteItem" => {
                    resource
                        == "arn:${AWS::Partition}:dynamodb:${AWS::Region}:${AWS::AccountId}:table/${ClaimsTable}"
                }
                "states:DescribeExecution" => [
                    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${ProvisionStateMachine.Name}:*",
                    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${TeardownStateMachine.Name}:*",
                ]
                .contains(&resource),
                // The sweep's look for running executions: our two state machines only.
                "states:ListExecutions" => {
                    resource == "${ProvisionStateMachine}" || resource == "${TeardownStateMachine}"
                }
                "sqs:SendMessage" => resource == "${DispatchDeadLetterQueue.Arn}",
                "events:PutEvents" => {
                    resource
                        == "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"
                }
                _ => false,
            };
            if !ok {
                fault(format!(
                    "{action} on {resource} with condition {condition} is broader than the \
                     least-privilege rule for it (or has none: add one here)"
                ));
            }
        }
    }
    faults
}

#[test]
fn permissions_are_limited_by_resource_tag_and_name() {
    let template = load_template(TEMPLATE);
    // The log group of the function (or state machine) each role serves.
    let mut log_group_of_role: BTreeMap<String, String> = BTreeMap::new();
    for (_, function) in of_type(&template, "AWS::Serverless::Function") {
        let props = &function["Properties"];
        if let (Some(role), Some(group)) = (
            target_of(&props["Role"]),
            target_of(&props["LoggingConfig"]["LogGroup"]),
        ) {
            log_group_of_role.insert(role.to_owned(), group.to_owned());
        }
    }
    let mut faults = Vec::new();
    for (role, statements) in role_statements(&template) {
        for statement in &statements {
            faults.extend(least_privilege_faults(
                statement,
                log_group_of_role.get(&role).map(String::as_str),
            ));
        }
    }
    let target = load_template(TARGET_TEMPLATE);
    for statements in role_statements(&target).values() {
        for statement in statements {
            faults.extend(least_privilege_faults(statement, None));
        }
    }
    assert!(faults.is_empty(), "{faults:#?}");

    // The Atlas credentials secret is read-only wherever secrets are written.
    for (role, statements) in role_statements(&template) {
        let writes = statements.iter().any(|s| {
            s.allow
                && s.actions
                    .iter()
                    .any(|a| SECRET_WRITES.contains(&a.as_str()))
        });
        if writes {
            let guarded = statements.iter().any(|s| {
                !s.allow
                    && s.resources == ["${AtlasCredentialsSecretArn}"]
                    && SECRET_WRITES
                        .iter()
                        .filter(|w| **w != "secretsmanager:CreateSecret")
                        .all(|w| s.actions.iter().any(|a| a == w))
            });
            assert!(
                guarded,
                "{role} writes secrets but does not deny writing the Atlas credentials"
            );
        }
    }

    // The checker itself: an untagged EC2 delete, a secret write outside the prefix.
    let loose = Statement {
        at: "sample".into(),
        allow: true,
        actions: vec![
            "ec2:DeleteVpcEndpoints".into(),
            "secretsmanager:PutSecretValue".into(),
        ],
        resources: vec![
            "arn:${AWS::Partition}:ec2:*:${AWS::AccountId}:vpc-endpoint/*".into(),
            "arn:${AWS::Partition}:secretsmanager:*:${AWS::AccountId}:secret:*".into(),
        ],
        condition: Value::Null,
    };
    assert_eq!(least_privilege_faults(&loose, None).len(), 4);
}

#[test]
fn functions_in_vpc_subnets_get_only_the_network_interface_actions() {
    let template = load_template(TEMPLATE);
    // The functions run in the given subnets only when LambdaSubnetIds is set.
    let vpc = &template["Globals"]["Function"]["VpcConfig"];
    assert_eq!(vpc["Fn::If"][0], json!("InVpc"), "{vpc}");
    assert_eq!(vpc["Fn::If"][2], json!({"Ref": "AWS::NoValue"}), "{vpc}");
    let policy = resource(&template, "LambdaVpcAccessPolicy");
    assert_eq!(policy["Type"], "AWS::IAM::ManagedPolicy");
    assert_eq!(policy["Condition"], "InVpc");
    let statements = flatten(&policy["Properties"]["PolicyDocument"]["Statement"]);
    assert_eq!(statements.len(), 1);
    let actions: BTreeSet<String> = flatten(&statements[0]["Action"])
        .into_iter()
        .map(render)
        .collect();
    assert_eq!(
        actions,
        BTreeSet::from(
            [
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ]
            .map(String::from)
        )
    );
    // Every function's role, and no state machine's.
    let attached: BTreeSet<String> = flatten(&policy["Properties"]["Roles"])
        .into_iter()
        .filter_map(|r| target_of(r).map(str::to_owned))
        .collect();
    let function_roles: BTreeSet<String> = of_type(&template, "AWS::Serverless::Function")
        .into_iter()
        .filter_map(|(_, f)| target_of(&f["Properties"]["Role"]).map(str::to_owned))
        .collect();
    assert_eq!(attached, function_roles);
}
