//! Requests that must be rejected (one test per case, each a small edit of a valid request),
//! and valid requests with their defaults.

use serde_json::{Value, json};

use super::*;
use crate::error::ErrorName;
use crate::request::{AwsRegion, KmsKeyId, Mode, RoleArn, SecretArn, VpcId};

const PROJECT: &str = "5f1d3a2b4c6e8f0a1b2c3d4e";
const ROLE: &str = "arn:aws:iam::123456789012:role/platform/AtlasPrivateLink";
const DB_USER_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:atlas/dbuser-AbCdEf";

/// A valid request that uses every field; each case below edits it a little.
fn base() -> Value {
    json!({
        "atlas": {
            "projectId": PROJECT,
            "clusterName": "Cluster0",
            "provider": "AWS",
            "credentialsSecretArn":
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:atlas/api-key-Zx9Yw8"
        },
        "aws": { "accountId": "123456789012", "roleArn": ROLE },
        "endpoints": [
            {
                "region": "us-east-1",
                "vpcId": "vpc-0a1b2c3d4e5f60718",
                "subnetIds": ["subnet-0a1b2c3d", "subnet-0123456789abcdef0"],
                "securityGroups": {
                    "create": true,
                    "allowFromSecurityGroupIds": ["sg-0a1b2c3d"],
                    "allowFromCidrs": ["10.0.0.0/16", "2001:db8::/32"],
                    "attachSecurityGroupIds": []
                }
            },
            { "region": "eu-west-1", "vpcTag": { "key": "Name", "value": "workloads" } }
        ],
        "secret": {
            "name": "platform/atlas/cluster0",
            "kmsKeyId": "alias/atlas",
            "databaseUserSecretArn": DB_USER_ARN
        },
        "tags": { "team": "platform", "cost-center": "1234" }
    })
}

/// One edit of a JSON document, at a JSON Pointer.
enum Edit {
    /// Set (or add) the value at the pointer; `""` replaces the whole document; the index one
    /// past the end of an array (or `-`) appends.
    Set(String, Value),
    /// Remove the member or element at the pointer.
    Remove(String),
}

fn set(pointer: impl Into<String>, value: impl Into<Value>) -> Edit {
    Edit::Set(pointer.into(), value.into())
}

fn remove(pointer: impl Into<String>) -> Edit {
    Edit::Remove(pointer.into())
}

fn apply(mut doc: Value, edits: Vec<Edit>) -> Value {
    for edit in edits {
        let pointer = match &edit {
            Edit::Set(pointer, _) | Edit::Remove(pointer) => pointer.clone(),
        };
        if pointer.is_empty() {
            if let Edit::Set(_, value) = edit {
                doc = value;
            }
            continue;
        }
        let (parent, last) = pointer.rsplit_once('/').expect("pointer starts with /");
        let last = last.to_owned();
        let parent = doc
            .pointer_mut(parent)
            .unwrap_or_else(|| panic!("test bug: no parent for {pointer}"));
        match (parent, edit) {
            (Value::Object(map), Edit::Set(_, value)) => {
                map.insert(last, value);
            }
            (Value::Object(map), Edit::Remove(_)) => {
                map.remove(&last)
                    .unwrap_or_else(|| panic!("test bug: nothing at {pointer}"));
            }
            (Value::Array(items), Edit::Set(_, value)) => match last.parse::<usize>() {
                Ok(i) if i < items.len() => items[i] = value,
                _ => items.push(value),
            },
            (Value::Array(items), Edit::Remove(_)) => {
                let i: usize = last.parse().expect("test bug: array index");
                items.remove(i);
            }
            _ => panic!("test bug: {pointer} is inside a scalar"),
        }
    }
    doc
}

/// Applies the edits to [`base`] and checks the error name and that the message starts with
/// the field path (and contains each needle).
fn rejects(edits: Vec<Edit>, name: ErrorName, field: &str, needles: &[&str]) {
    let input = apply(base(), edits);
    let err = match parse_request(&input) {
        Ok(request) => panic!("accepted, expected {name} at {field}: {request:?}"),
        Err(err) => err,
    };
    assert_eq!(err.name, name, "wrong error name; message: {}", err.message);
    assert!(
        err.message.starts_with(&format!("{field}: ")),
        "message should start with `{field}: `, got: {}",
        err.message
    );
    for needle in needles {
        assert!(
            err.message.contains(needle),
            "message should contain {needle:?}, got: {}",
            err.message
        );
    }
}

/// One `#[test]` per case: `name: [edits] => ErrorName @ "field.path" (, "needle")*;`.
macro_rules! rejected {
    ($($case:ident: [$($edit:expr),* $(,)?] => $name:ident @ $field:literal $(, $needle:literal)*;)*) => {
        $(
            #[test]
            fn $case() {
                rejects(vec![$($edit),*], ErrorName::$name, $field, &[$($needle),*]);
            }
        )*
    };
}

fn n_items(n: usize, make: impl Fn(usize) -> Value) -> Value {
    Value::Array((0..n).map(make).collect())
}

fn n_tags(n: usize) -> Value {
    Value::Object((0..n).map(|i| (format!("tag{i}"), json!("v"))).collect())
}

fn endpoint_in(region: &str) -> Value {
    json!({"region": region, "vpcId": "vpc-0a1b2c3d", "subnetIds": ["subnet-0a1b2c3d"]})
}

const REGIONS_11: [&str; 11] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "ap-south-1",
    "ap-northeast-1",
];

rejected! {
    // The document and its top level.
    root_not_an_object: [set("", json!(["atlas"]))] => InvalidRequest @ "request", "expected a JSON object";
    root_unknown_field: [set("/atlass", json!({}))] => InvalidRequest @ "atlass", "unknown field `atlass` in the request";
    root_missing_atlas: [remove("/atlas")] => InvalidRequest @ "atlas", "is required";
    root_missing_endpoints: [remove("/endpoints")] => InvalidRequest @ "endpoints", "is required";

    // atlas
    atlas_unknown_field_suggests: [set("/atlas/clustername", "x")] => InvalidRequest @ "atlas.clustername", "unknown field `clustername` in atlas", "did you mean `clusterName`?";
    atlas_not_an_object: [set("/atlas", "Cluster0")] => InvalidRequest @ "atlas", "expected a JSON object";
    atlas_as_positional_array: [set("/atlas", json!([PROJECT, "Cluster0"]))] => InvalidRequest @ "atlas", "expected a JSON object";
    project_id_upper_case: [set("/atlas/projectId", "5F1D3A2B4C6E8F0A1B2C3D4E")] => InvalidRequest @ "atlas.projectId", "lowercase";
    project_id_too_short: [set("/atlas/projectId", "5f1d3a2b")] => InvalidRequest @ "atlas.projectId", "24";
    project_id_not_a_string: [set("/atlas/projectId", 42)] => InvalidRequest @ "atlas.projectId", "expected a string";
    project_id_missing: [remove("/atlas/projectId")] => InvalidRequest @ "atlas.projectId", "is required";
    cluster_name_missing: [remove("/atlas/clusterName")] => InvalidRequest @ "atlas.clusterName", "is required";
    cluster_name_leading_hyphen: [set("/atlas/clusterName", "-prod")] => InvalidRequest @ "atlas.clusterName";
    cluster_name_underscore: [set("/atlas/clusterName", "prod_cluster")] => InvalidRequest @ "atlas.clusterName";
    cluster_name_too_long: [set("/atlas/clusterName", "c".repeat(65))] => InvalidRequest @ "atlas.clusterName", "64";
    serverless_instead_of_cluster: [remove("/atlas/clusterName"), set("/atlas/serverlessInstanceName", "Serverless0")] => ServerlessRetired @ "atlas.serverlessInstanceName", "2026-01-22", "dedicated cluster";
    serverless_beside_cluster: [set("/atlas/serverlessInstanceName", "Serverless0")] => ServerlessRetired @ "atlas.serverlessInstanceName";
    provider_azure: [set("/atlas/provider", "AZURE")] => UnsupportedProvider @ "atlas.provider", "AWS";
    provider_gcp_lower_case: [set("/atlas/provider", "gcp")] => UnsupportedProvider @ "atlas.provider";
    provider_azure_beats_unknown_fields: [set("/atlas/provider", "AZURE"), set("/endpoints/0/azureSubnet", "x")] => UnsupportedProvider @ "atlas.provider";
    provider_unknown: [set("/atlas/provider", "AMAZON")] => InvalidRequest @ "atlas.provider", "\"AWS\"";
    provider_not_a_string: [set("/atlas/provider", true)] => InvalidRequest @ "atlas.provider";
    credentials_arn_wrong_service: [set("/atlas/credentialsSecretArn", "arn:aws:ssm:us-east-1:123456789012:parameter/atlas")] => InvalidRequest @ "atlas.credentialsSecretArn", "secretsmanager";
    enable_regional_mode_not_a_bool: [set("/atlas/enableRegionalMode", "yes")] => InvalidRequest @ "atlas.enableRegionalMode", "boolean";
    credentials_arn_is_not_echoed: [set("/atlas/credentialsSecretArn", "s3cr3t-private-key")] => InvalidRequest @ "atlas.credentialsSecretArn";

    // aws
    account_id_eleven_digits: [set("/aws/accountId", "12345678901")] => InvalidRequest @ "aws.accountId", "12 digits";
    account_id_number: [set("/aws/accountId", 123456789012_u64)] => InvalidRequest @ "aws.accountId", "expected a string";
    role_arn_is_a_user: [set("/aws/roleArn", "arn:aws:iam::123456789012:user/alice")] => InvalidRequest @ "aws.roleArn", "role";
    role_in_another_account: [set("/aws/accountId", "210987654321")] => InvalidRequest @ "aws.roleArn", "123456789012", "210987654321";
    account_without_role: [remove("/aws/roleArn")] => InvalidRequest @ "aws.accountId", "aws.roleArn";
    account_wait_too_long: [set("/aws/waitForAccountSeconds", 7201)] => InvalidRequest @ "aws.waitForAccountSeconds", "7200";
    account_wait_negative: [set("/aws/waitForAccountSeconds", -1)] => InvalidRequest @ "aws.waitForAccountSeconds";
    aws_unknown_field: [set("/aws/region", "us-east-1")] => InvalidRequest @ "aws.region", "unknown field `region` in aws";

    // endpoints
    endpoints_empty: [set("/endpoints", json!([]))] => InvalidRequest @ "endpoints", "at least one endpoint";
    endpoints_too_many: [set("/endpoints", n_items(11, |i| endpoint_in(REGIONS_11[i])))] => InvalidRequest @ "endpoints", "at most 10";
    endpoints_not_an_array: [set("/endpoints", endpoint_in("us-east-1"))] => InvalidRequest @ "endpoints", "expected a JSON array";
    endpoint_not_an_object: [set("/endpoints/1", "eu-west-1")] => InvalidRequest @ "endpoints[1]", "expected a JSON object";
    endpoint_as_positional_array: [set("/endpoints/1", json!(["eu-west-1", "vpc-0a1b2c3d", ["subnet-0a1b2c3d"]]))] => InvalidRequest @ "endpoints[1]", "expected a JSON object";
    vpc_tag_as_positional_array: [set("/endpoints/1/vpcTag", json!(["Name", "workloads"]))] => InvalidRequest @ "endpoints[1].vpcTag", "expected a JSON object";
    endpoint_unknown_field: [set("/endpoints/0/subnetId", "subnet-0a1b2c3d")] => InvalidRequest @ "endpoints[0].subnetId", "unknown field `subnetId` in endpoints[0], expected one of", "did you mean `subnetIds`?";
    region_missing: [remove("/endpoints/1/region")] => InvalidRequest @ "endpoints[1].region", "is required";
    region_unknown: [set("/endpoints/0/region", "us-east-9")] => InvalidRequest @ "endpoints[0].region", "not an AWS commercial region";
    region_atlas_name: [set("/endpoints/0/region", "US_EAST_1")] => InvalidRequest @ "endpoints[0].region", "Atlas region name", "\"us-east-1\"";
    region_govcloud: [set("/endpoints/1/region", "us-gov-west-1")] => InvalidRequest @ "endpoints[1].region";
    region_duplicate: [set("/endpoints/1/region", "us-east-1")] => InvalidRequest @ "endpoints[1].region", "endpoints[0]", "endpoints[1]";
    service_region_unknown: [set("/endpoints/1/serviceRegion", "us-east-9")] => InvalidRequest @ "endpoints[1].serviceRegion", "not an AWS commercial region";
    service_region_atlas_name: [set("/endpoints/1/serviceRegion", "US_EAST_1")] => InvalidRequest @ "endpoints[1].serviceRegion", "Atlas region name", "\"us-east-1\"";
    service_region_govcloud: [set("/endpoints/1/serviceRegion", "us-gov-west-1")] => InvalidRequest @ "endpoints[1].serviceRegion";
    service_region_not_a_string: [set("/endpoints/0/serviceRegion", json!(["us-east-1"]))] => InvalidRequest @ "endpoints[0].serviceRegion";
    vpc_id_bad_prefix: [set("/endpoints/0/vpcId", "vpn-0a1b2c3d")] => InvalidRequest @ "endpoints[0].vpcId";
    vpc_id_nine_hex: [set("/endpoints/0/vpcId", "vpc-0a1b2c3d4")] => InvalidRequest @ "endpoints[0].vpcId", "8 or 17";
    subnet_ids_empty: [set("/endpoints/0/subnetIds", json!([]))] => InvalidRequest @ "endpoints[0].subnetIds", "at least one subnet is required", "AWS provisions no interface endpoint without a subnet";
    subnet_ids_missing: [remove("/endpoints/0/subnetIds")] => InvalidRequest @ "endpoints[0].subnetIds", "at least one subnet is required";
    subnet_ids_null: [set("/endpoints/0/subnetIds", Value::Null)] => InvalidRequest @ "endpoints[0].subnetIds", "at least one subnet";
    subnet_id_malformed: [set("/endpoints/0/subnetIds/1", "subnet-XYZ")] => InvalidRequest @ "endpoints[0].subnetIds[1]";
    subnet_id_duplicate: [set("/endpoints/0/subnetIds/1", "subnet-0a1b2c3d")] => InvalidRequest @ "endpoints[0].subnetIds[1]", "twice", "index 0";
    subnet_ids_too_many: [set("/endpoints/0/subnetIds", n_items(17, |i| json!(format!("subnet-{i:08x}"))))] => InvalidRequest @ "endpoints[0].subnetIds", "at most 16";
    subnets_without_vpc: [remove("/endpoints/0/vpcId")] => InvalidRequest @ "endpoints[0].vpcId", "subnetIds";
    no_vpc_at_all: [remove("/endpoints/1/vpcTag")] => InvalidRequest @ "endpoints[1].vpcId", "vpcTag";
    vpc_tag_and_vpc_id: [set("/endpoints/1/vpcId", "vpc-0a1b2c3d")] => InvalidRequest @ "endpoints[1].vpcTag", "not both";
    vpc_tag_and_subnets: [set("/endpoints/1/subnetIds", json!(["subnet-0a1b2c3d"]))] => InvalidRequest @ "endpoints[1].vpcTag", "not both";
    vpc_tag_empty_key: [set("/endpoints/1/vpcTag/key", "")] => InvalidRequest @ "endpoints[1].vpcTag.key", "must not be empty";
    vpc_tag_empty_value: [set("/endpoints/1/vpcTag/value", "")] => InvalidRequest @ "endpoints[1].vpcTag.value", "must not be empty";
    vpc_tag_long_key: [set("/endpoints/1/vpcTag/key", "k".repeat(129))] => InvalidRequest @ "endpoints[1].vpcTag.key", "128";
    vpc_tag_long_value: [set("/endpoints/1/vpcTag/value", "v".repeat(257))] => InvalidRequest @ "endpoints[1].vpcTag.value", "256";
    vpc_tag_missing_value: [remove("/endpoints/1/vpcTag/value")] => InvalidRequest @ "endpoints[1].vpcTag.value", "is required";
    vpc_tag_unknown_field: [set("/endpoints/1/vpcTag/Key", "Name")] => InvalidRequest @ "endpoints[1].vpcTag.Key", "did you mean `key`?";

    // endpoints[].securityGroups
    security_groups_unknown_field: [set("/endpoints/0/securityGroups/attachSecurityGroupId", json!([]))] => InvalidRequest @ "endpoints[0].securityGroups.attachSecurityGroupId", "did you mean `attachSecurityGroupIds`?";
    security_groups_create_not_bool: [set("/endpoints/0/securityGroups/create", "yes")] => InvalidRequest @ "endpoints[0].securityGroups.create", "expected a boolean";
    allow_from_sg_malformed: [set("/endpoints/0/securityGroups/allowFromSecurityGroupIds/0", "sg-12")] => InvalidRequest @ "endpoints[0].securityGroups.allowFromSecurityGroupIds[0]", "security group";
    attach_sg_malformed: [set("/endpoints/0/securityGroups/attachSecurityGroupIds", json!(["group-1"]))] => InvalidRequest @ "endpoints[0].securityGroups.attachSecurityGroupIds[0]";
    attach_sg_duplicate: [set("/endpoints/0/securityGroups/attachSecurityGroupIds", json!(["sg-0a1b2c3d", "sg-0a1b2c3d"]))] => InvalidRequest @ "endpoints[0].securityGroups.attachSecurityGroupIds[1]", "twice";
    attach_too_many: [set("/endpoints/0/securityGroups/attachSecurityGroupIds", n_items(16, |i| json!(format!("sg-{i:08x}"))))] => InvalidRequest @ "endpoints[0].securityGroups.attachSecurityGroupIds", "16";
    cidr_not_a_cidr: [set("/endpoints/0/securityGroups/allowFromCidrs/0", "anywhere")] => InvalidRequest @ "endpoints[0].securityGroups.allowFromCidrs[0]", "CIDR";
    cidr_host_bits: [set("/endpoints/0/securityGroups/allowFromCidrs/0", "10.0.0.1/16")] => InvalidRequest @ "endpoints[0].securityGroups.allowFromCidrs[0]", "host bits must be zero", "10.0.0.0/16";
    cidr_ipv6_host_bits: [set("/endpoints/0/securityGroups/allowFromCidrs/1", "2001:db8::1/32")] => InvalidRequest @ "endpoints[0].securityGroups.allowFromCidrs[1]", "host bits must be zero";
    cidr_without_prefix: [set("/endpoints/0/securityGroups/allowFromCidrs/0", "10.0.0.1")] => InvalidRequest @ "endpoints[0].securityGroups.allowFromCidrs[0]", "prefix length";
    cidr_prefix_too_long: [set("/endpoints/0/securityGroups/allowFromCidrs/0", "10.0.0.0/33")] => InvalidRequest @ "endpoints[0].securityGroups.allowFromCidrs[0]";
    allow_from_too_many: [set("/endpoints/0/securityGroups/allowFromCidrs", n_items(60, |i| json!(format!("10.{i}.0.0/16"))))] => InvalidRequest @ "endpoints[0].securityGroups", "60";
    no_security_group_at_all: [set("/endpoints/1/securityGroups", json!({"create": false}))] => InvalidRequest @ "endpoints[1].securityGroups.attachSecurityGroupIds", "must end up with a security group";
    create_false_attach_empty: [set("/endpoints/1/securityGroups", json!({"create": false, "attachSecurityGroupIds": []}))] => InvalidRequest @ "endpoints[1].securityGroups.attachSecurityGroupIds";
    allow_sgs_without_create: [set("/endpoints/0/securityGroups/create", false), set("/endpoints/0/securityGroups/attachSecurityGroupIds", json!(["sg-0a1b2c3d"]))] => InvalidRequest @ "endpoints[0].securityGroups.allowFromSecurityGroupIds", "only used when create is true";
    allow_cidrs_without_create: [set("/endpoints/0/securityGroups/create", false), set("/endpoints/0/securityGroups/attachSecurityGroupIds", json!(["sg-0a1b2c3d"])), remove("/endpoints/0/securityGroups/allowFromSecurityGroupIds")] => InvalidRequest @ "endpoints[0].securityGroups.allowFromCidrs", "only used when create is true";

    // secret
    secret_name_bad_character: [set("/secret/name", "atlas secret")] => InvalidRequest @ "secret.name", "' '";
    secret_name_aws_suffix: [set("/secret/name", "atlas/prod-AbCdEf")] => InvalidRequest @ "secret.name", "hyphen followed by six characters";
    secret_name_empty: [set("/secret/name", "")] => InvalidRequest @ "secret.name", "must not be empty";
    secret_name_too_long: [set("/secret/name", "s".repeat(513))] => InvalidRequest @ "secret.name", "512";
    kms_key_malformed: [set("/secret/kmsKeyId", "my-key")] => InvalidRequest @ "secret.kmsKeyId", "KMS key";
    database_user_arn_malformed: [set("/secret/databaseUserSecretArn", "atlas/dbuser")] => InvalidRequest @ "secret.databaseUserSecretArn", "Secrets Manager secret ARN";
    secret_unknown_field: [set("/secret/kmsKey", "alias/atlas")] => InvalidRequest @ "secret.kmsKey", "did you mean `kmsKeyId`?";

    // tags
    tags_not_an_object: [set("/tags", json!([["team", "platform"]]))] => InvalidRequest @ "tags", "expected a JSON object";
    tags_too_many: [set("/tags", n_tags(41))] => InvalidRequest @ "tags", "at most 40";
    tag_value_not_a_string: [set("/tags/team", 7)] => InvalidRequest @ "tags.team", "expected a string";
    tag_key_aws_prefix: [set("/tags/aws:createdBy", "me")] => InvalidRequest @ "tags[\"aws:createdBy\"]", "reserved for AWS";
    tag_key_aws_prefix_upper_case: [set("/tags/AWS:Owner", "me")] => InvalidRequest @ "tags[\"AWS:Owner\"]", "reserved for AWS";
    tag_key_our_prefix: [set("/tags/atlas-privatelink:execution", "x")] => InvalidRequest @ "tags[\"atlas-privatelink:execution\"]", "reserved";
    tag_key_empty: [set("/tags/", "x")] => InvalidRequest @ "tags[\"\"]", "must not be empty";
    tag_value_too_long: [set("/tags/team", "v".repeat(257))] => InvalidRequest @ "tags.team", "at most 256";
    tag_value_bad_character: [set("/tags/team", "platform;ops")] => InvalidRequest @ "tags.team", "tag value has a character";
    tag_key_bad_character: [set("/tags/team*", "x")] => InvalidRequest @ "tags[\"team*\"]", "tag key has a character";
}

#[test]
fn tag_key_too_long() {
    let key = "k".repeat(129);
    let input = apply(base(), vec![set(format!("/tags/{key}"), "x")]);
    let err = parse_request(&input).expect_err("long key");
    assert_eq!(err.name, ErrorName::InvalidRequest);
    assert!(err.message.starts_with("tags[\"kkk"), "{}", err.message);
    assert!(err.message.contains("at most 128"), "{}", err.message);
    assert!(err.message.len() < 300, "{}", err.message);
}

#[test]
fn credentials_arn_message_does_not_echo_the_value() {
    let input = apply(
        base(),
        vec![set("/atlas/credentialsSecretArn", "s3cr3t-private-key")],
    );
    let err = parse_request(&input).expect_err("not an ARN");
    assert!(!err.message.contains("s3cr3t"), "{}", err.message);
}

#[test]
fn serde_type_errors_do_not_echo_strings() {
    let input = apply(
        base(),
        vec![set("/endpoints/0/securityGroups/create", "s3cr3t")],
    );
    let err = parse_request(&input).expect_err("not a bool");
    assert!(!err.message.contains("s3cr3t"), "{}", err.message);
}

#[test]
fn there_are_at_least_35_rejection_cases() {
    let source = include_str!("tests.rs");
    let start = source.find("rejected! {").expect("the table");
    let cases = source[start..]
        .lines()
        .filter(|line| line.contains("] => "))
        .count();
    assert!(cases >= 35, "{cases} cases");
}

// ---- Valid requests ----

#[test]
fn minimal_request_gets_the_defaults() {
    let input = json!({
        "atlas": { "projectId": PROJECT, "clusterName": "Cluster0" },
        "endpoints": [ { "region": "us-east-1", "vpcId": "vpc-0a1b2c3d",
                         "subnetIds": ["subnet-0a1b2c3d"] } ]
    });
    let request = parse_request(&input).expect("valid");
    assert_eq!(request.atlas.project_id.as_str(), PROJECT);
    assert_eq!(request.atlas.cluster_name.as_str(), "Cluster0");
    assert_eq!(request.atlas.provider, Provider::Aws);
    assert_eq!(request.atlas.provider.as_str(), "AWS");
    assert_eq!(request.atlas.credentials_secret_arn, None);
    assert_eq!(request.aws, AwsTarget::default());
    assert_eq!(request.aws.target_account_id(), None);
    assert_eq!(
        request.secret.name.as_str(),
        format!(
            "atlas/{PROJECT}/Cluster0/privatelink/{}",
            &request.owner_key()[..8]
        )
    );
    assert_eq!(request.secret.kms_key_id, None);
    assert_eq!(request.secret.database_user_secret_arn, None);
    assert!(request.tags.is_empty());

    let [endpoint] = request.endpoints.as_slice() else {
        panic!("one endpoint: {:?}", request.endpoints);
    };
    assert_eq!(endpoint.aws_region(), "us-east-1");
    assert_eq!(endpoint.atlas_region(), "US_EAST_1");
    assert_eq!(
        endpoint.vpc.vpc_id().map(VpcId::as_str),
        Some("vpc-0a1b2c3d")
    );
    let subnets: Vec<&str> = endpoint
        .vpc
        .subnet_ids()
        .iter()
        .map(|s| s.as_str())
        .collect();
    assert_eq!(subnets, ["subnet-0a1b2c3d"]);
    assert_eq!(endpoint.security_groups, SecurityGroupSpec::default());
    assert!(endpoint.security_groups.create);
}

#[test]
fn full_request_keeps_every_field() {
    let request = parse_request(&base()).expect("valid");
    assert_eq!(
        request
            .atlas
            .credentials_secret_arn
            .as_ref()
            .map(SecretArn::as_str),
        Some("arn:aws:secretsmanager:us-east-1:123456789012:secret:atlas/api-key-Zx9Yw8")
    );
    assert_eq!(request.aws.target_account_id(), Some("123456789012"));
    assert_eq!(
        request.aws.role_arn.as_ref().map(RoleArn::as_str),
        Some(ROLE)
    );
    assert_eq!(request.secret.name.as_str(), "platform/atlas/cluster0");
    assert_eq!(
        request.secret.kms_key_id.as_ref().map(KmsKeyId::as_str),
        Some("alias/atlas")
    );
    assert_eq!(
        request
            .secret
            .database_user_secret_arn
            .as_ref()
            .map(SecretArn::as_str),
        Some(DB_USER_ARN)
    );
    assert_eq!(
        request.tags.get("cost-center").map(String::as_str),
        Some("1234")
    );

    let first = &request.endpoints[0];
    assert_eq!(first.atlas_region(), "US_EAST_1");
    let sg = &first.security_groups;
    assert!(sg.create);
    assert_eq!(sg.allow_from_security_group_ids.len(), 1);
    let cidrs: Vec<String> = sg
        .allow_from_cidrs
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(cidrs, ["10.0.0.0/16", "2001:db8::/32"]);
    assert!(sg.allow_from_cidrs[1].is_ipv6());
    assert!(sg.attach_security_group_ids.is_empty());
}

#[test]
fn vpc_tag_form() {
    let request = parse_request(&base()).expect("valid");
    let second = &request.endpoints[1];
    assert_eq!(
        second.region,
        AwsRegion::from_aws_name("eu-west-1").expect("region")
    );
    assert_eq!(second.atlas_region(), "EU_WEST_1");
    assert_eq!(
        second.vpc.vpc_tag(),
        Some(&VpcTag {
            key: "Name".into(),
            value: "workloads".into()
        })
    );
    assert_eq!(second.vpc.vpc_id(), None);
    assert!(second.vpc.subnet_ids().is_empty());
    assert_eq!(second.security_groups, SecurityGroupSpec::default());
}

#[test]
fn attach_only_and_both() {
    let attach_only = apply(
        base(),
        vec![set(
            "/endpoints/1/securityGroups",
            json!({"create": false, "attachSecurityGroupIds": ["sg-0a1b2c3d"]}),
        )],
    );
    let request = parse_request(&attach_only).expect("valid");
    assert!(!request.endpoints[1].security_groups.create);

    let both = apply(
        base(),
        vec![set(
            "/endpoints/1/securityGroups",
            json!({"attachSecurityGroupIds": ["sg-0a1b2c3d"]}),
        )],
    );
    let request = parse_request(&both).expect("valid");
    let sg = &request.endpoints[1].security_groups;
    assert!(
        sg.create,
        "create defaults to true inside securityGroups too"
    );
    assert_eq!(sg.attach_security_group_ids.len(), 1);
}

#[test]
fn null_means_not_given() {
    let input = json!({
        "atlas": { "projectId": PROJECT, "clusterName": "Cluster0", "provider": null,
                   "credentialsSecretArn": null },
        "aws": null,
        "endpoints": [ { "region": "ap-southeast-2", "vpcId": "vpc-0a1b2c3d",
                         "subnetIds": ["subnet-0a1b2c3d"], "vpcTag": null,
                         "securityGroups": null } ],
        "secret": { "name": null, "kmsKeyId": null },
        "tags": null
    });
    let request = parse_request(&input).expect("valid");
    assert_eq!(request.atlas.provider, Provider::Aws);
    assert_eq!(request.endpoints[0].atlas_region(), "AP_SOUTHEAST_2");
    assert_eq!(
        request.secret.name.as_str(),
        format!(
            "atlas/{PROJECT}/Cluster0/privatelink/{}",
            &request.owner_key()[..8]
        )
    );
    assert!(request.endpoints[0].security_groups.create);
}

#[test]
fn provider_any_case_is_aws() {
    let input = apply(base(), vec![set("/atlas/provider", "aws")]);
    let request = parse_request(&input).expect("valid");
    assert_eq!(request.atlas.provider, Provider::Aws);
}

#[test]
fn ten_endpoints_are_allowed() {
    let input = apply(
        base(),
        vec![set(
            "/endpoints",
            n_items(10, |i| endpoint_in(REGIONS_11[i])),
        )],
    );
    let request = parse_request(&input).expect("valid");
    assert_eq!(request.endpoints.len(), 10);
}

#[test]
fn the_owner_key_follows_the_vpcs_not_the_subnets() {
    let base = || apply(base(), vec![remove("/secret/name")]);
    let a = parse_request(&base()).expect("valid");
    let other_subnets = apply(
        base(),
        vec![set(
            "/endpoints/0/subnetIds",
            json!(["subnet-0f0f0f0f0f0f0f0f0"]),
        )],
    );
    let b = parse_request(&other_subnets).expect("valid");
    assert_eq!(a.owner_key(), b.owner_key());
    assert_eq!(a.secret.name, b.secret.name);
    let other_vpc = apply(
        base(),
        vec![set("/endpoints/0/vpcId", "vpc-0f0f0f0f0f0f0f0f0")],
    );
    let c = parse_request(&other_vpc).expect("valid");
    assert_ne!(a.owner_key(), c.owner_key());
    assert_ne!(
        a.secret.name, c.secret.name,
        "another request, another secret"
    );
}

#[test]
fn serialized_request_is_valid_input_with_defaults_written_out() {
    let minimal = json!({
        "atlas": { "projectId": PROJECT, "clusterName": "Cluster0" },
        "endpoints": [ { "region": "us-east-1", "vpcId": "vpc-0a1b2c3d",
                         "subnetIds": ["subnet-0a1b2c3d"] } ]
    });
    let request = parse_request(&minimal).expect("valid");
    let json = serde_json::to_value(&request).expect("serialize");
    assert_eq!(
        json,
        json!({
            "atlas": { "projectId": PROJECT, "clusterName": "Cluster0", "provider": "AWS" },
            "aws": {},
            "endpoints": [ {
                "region": "us-east-1", "vpcId": "vpc-0a1b2c3d", "subnetIds": ["subnet-0a1b2c3d"],
                "securityGroups": { "create": true, "allowFromSecurityGroupIds": [],
                                    "allowFromCidrs": [], "attachSecurityGroupIds": [] }
            } ],
            "secret": { "name": format!("atlas/{PROJECT}/Cluster0/privatelink/{}", &request.owner_key()[..8]) },
            "tags": {},
            "mode": "provision"
        })
    );

    for input in [minimal, base()] {
        let request = parse_request(&input).expect("valid");
        let json = serde_json::to_value(&request).expect("serialize");
        assert_eq!(parse_request(&json).expect("round trip"), request);
        let back: ProvisionRequest = serde_json::from_value(json).expect("deserialize");
        assert_eq!(back, request);
    }
}

#[test]
fn mode_and_force_are_read_and_a_bad_mode_is_named() {
    let input = apply(base(), vec![set("/mode", "verify"), set("/force", true)]);
    let request = parse_request(&input).expect("valid");
    assert_eq!(request.mode, Mode::Verify);
    assert!(request.force);
    let default = parse_request(&base()).expect("valid");
    assert_eq!((default.mode, default.force), (Mode::Provision, false));
    let bad = apply(base(), vec![set("/mode", "destroy")]);
    let e = parse_request(&bad).expect_err("unknown mode");
    assert!(e.message.starts_with("mode: "), "{e}");
}

#[test]
fn deserialize_validates() {
    let input = apply(base(), vec![set("/endpoints/0/subnetIds", json!([]))]);
    let err = serde_json::from_value::<ProvisionRequest>(input).expect_err("invalid");
    assert!(
        err.to_string()
            .starts_with("InvalidRequest: endpoints[0].subnetIds: "),
        "{err}"
    );
}

#[test]
fn endpoint_alone_is_validated_with_defaults() {
    let endpoint: Endpoint = serde_json::from_value(endpoint_in("eu-central-2")).expect("valid");
    assert_eq!(endpoint.atlas_region(), "EU_CENTRAL_2");
    assert_eq!(endpoint.security_groups, SecurityGroupSpec::default());
    let json = serde_json::to_value(&endpoint).expect("serialize");
    assert_eq!(
        serde_json::from_value::<Endpoint>(json).expect("round trip"),
        endpoint
    );

    let err =
        serde_json::from_value::<Endpoint>(json!({"region": "us-east-1", "vpcId": "vpc-0a1b2c3d"}))
            .expect_err("no subnets");
    assert!(
        err.to_string()
            .starts_with("endpoint.subnetIds: at least one subnet"),
        "{err}"
    );
    let err = serde_json::from_value::<Endpoint>(json!({"region": "us-east-1", "vpc": "x"}))
        .expect_err("unknown field");
    assert!(err.to_string().contains("unknown field `vpc`"), "{err}");
}

#[test]
fn security_groups_alone_are_validated_with_defaults() {
    let spec: SecurityGroupSpec = serde_json::from_value(json!({})).expect("valid");
    assert_eq!(spec, SecurityGroupSpec::default());
    let err = serde_json::from_value::<SecurityGroupSpec>(json!({"create": false}))
        .expect_err("no group");
    assert!(
        err.to_string()
            .starts_with("securityGroups.attachSecurityGroupIds: "),
        "{err}"
    );
    let tag: VpcTag = serde_json::from_value(json!({"key": "Name", "value": "a"})).expect("tag");
    assert_eq!(tag.key, "Name");
    assert!(serde_json::from_value::<VpcTag>(json!({"key": "", "value": "a"})).is_err());
}

#[test]
fn identifiers_read_as_str() {
    let request = parse_request(&base()).expect("valid");
    let role: Option<&str> = request.aws.role_arn.as_deref();
    assert_eq!(role, Some(ROLE));
    assert!(request.atlas.cluster_name == "Cluster0");
    assert!(request.atlas.project_id.starts_with("5f1d"));
}

#[test]
fn a_service_region_makes_an_endpoint_cross_region_and_survives_the_round_trip() {
    let input = json!({
        "atlas": { "projectId": PROJECT, "clusterName": "Cluster0" },
        "endpoints": [
            { "region": "us-east-1", "vpcId": "vpc-0a1b2c3d", "subnetIds": ["subnet-0a1b2c3d"] },
            { "region": "us-west-2", "serviceRegion": "us-east-1", "vpcId": "vpc-0b1b2c3d",
              "subnetIds": ["subnet-0b1b2c3d"] },
            { "region": "eu-west-1", "serviceRegion": "eu-west-1", "vpcId": "vpc-0c1b2c3d",
              "subnetIds": ["subnet-0c1b2c3d"] }
        ]
    });
    let request = parse_request(&input).expect("valid");
    let [home, remote, explicit] = request.endpoints.as_slice() else {
        panic!("three endpoints: {:?}", request.endpoints);
    };
    assert_eq!(home.service_region, None);
    assert!(!home.is_cross_region());
    assert_eq!(remote.service_region, AwsRegion::from_aws_name("us-east-1"));
    assert!(remote.is_cross_region());
    // Naming the VPC's own region is the same-region case, spelled out.
    assert!(!explicit.is_cross_region());
    // The field is written back only where it was given, and reads back the same.
    let written = serde_json::to_value(&request).expect("serializes");
    assert!(
        written["endpoints"][0].get("serviceRegion").is_none(),
        "{written}"
    );
    assert_eq!(written["endpoints"][1]["serviceRegion"], "us-east-1");
    assert_eq!(parse_request(&written).expect("valid again"), request);
    assert!(!request.atlas.enable_regional_mode);
    assert!(
        written["atlas"].get("enableRegionalMode").is_none(),
        "{written}"
    );
    let mut consenting = input.clone();
    consenting["atlas"]["enableRegionalMode"] = json!(true);
    let consenting = parse_request(&consenting).expect("valid");
    assert!(consenting.atlas.enable_regional_mode);
    let written = serde_json::to_value(&consenting).expect("serializes");
    assert_eq!(parse_request(&written).expect("valid again"), consenting);
    // The service region does not change who owns the secret: the same VPCs, the same key.
    let mut same_vpcs = input.clone();
    same_vpcs["endpoints"][1]
        .as_object_mut()
        .expect("object")
        .remove("serviceRegion");
    let without = parse_request(&same_vpcs).expect("valid");
    assert_eq!(without.owner_key(), request.owner_key());
}
