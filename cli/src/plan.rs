//! `atlas-privatelink plan REQUEST.json`: validate, then inspect (read everything, write
//! nothing), and show what a provisioning would create, adopt, change or remove, the secret's
//! changed keys (names only) and the pre-checks.

use std::fmt::Write as _;

use privatelink_core::context::Context;
use privatelink_core::steps::{Action, Inspection, Resource, Step, execution_name};
use privatelink_core::{ErrorName, StepError};
use serde_json::{Value, json};

/// What `plan` found: validate's refusal (a failed pre-check), or the inspection.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanReport {
    /// Validate refused the request: its error name and message (which names the field).
    Rejected {
        /// The error name (`InvalidRequest`, `RegionalModeRequired`, …).
        name: ErrorName,
        /// The message, naming the field at fault.
        message: String,
    },
    /// What inspect found.
    Inspected(Box<Inspection>),
}

impl PlanReport {
    /// Whether everything is in place and every check passed.
    pub fn in_sync(&self) -> bool {
        matches!(self, PlanReport::Inspected(i) if i.in_sync)
    }

    /// The exit code: 2 when validate refused the request, 1 when a check failed, else 0.
    pub fn exit_code(&self) -> u8 {
        match self {
            PlanReport::Rejected { .. } => 2,
            PlanReport::Inspected(i) if i.checks.iter().any(|c| !c.passed) => 1,
            PlanReport::Inspected(_) => 0,
        }
    }

    /// The JSON of `--json`: the [`Inspection`], or for a refused request
    /// `{"inSync": false, "checks": [{"name": "validate", "passed": false, "detail": …}]}`.
    pub fn to_json(&self) -> Value {
        match self {
            PlanReport::Inspected(i) => serde_json::to_value(i).unwrap_or(Value::Null),
            PlanReport::Rejected { name, message } => json!({
                "inSync": false,
                "checks": [{
                    "name": "validate",
                    "passed": false,
                    "detail": format!("{}: {message}", name.as_str()),
                }],
            }),
        }
    }
}

/// Runs validate then inspect on `request` in `ctx`, as the state machine would, writing
/// nothing. Validate's refusals are a [`PlanReport::Rejected`]; any other failure (AWS or
/// Atlas unreachable, say) is an error.
pub async fn plan(ctx: &Context, request: &Value) -> Result<PlanReport, StepError> {
    let execution = execution_name("plan", request);
    let mut request = request.clone();
    if let Some(fields) = request.as_object_mut() {
        fields.insert("mode".into(), json!("plan"));
    }
    let validated = Step::Validate
        .run(ctx, json!({"execution": execution, "request": request}))
        .await;
    let plan = match validated {
        Ok(plan) => plan,
        Err(e) if is_refusal(e.name) => {
            return Ok(PlanReport::Rejected {
                name: e.name,
                message: e.message,
            });
        }
        Err(e) => return Err(e),
    };
    let out = Step::Inspect.run(ctx, plan).await?;
    let inspection: Inspection = serde_json::from_value(out).map_err(|e| {
        StepError::new(
            ErrorName::InvalidRequest,
            format!("inspect answered what plan cannot read: {e}"),
        )
    })?;
    Ok(PlanReport::Inspected(Box::new(inspection)))
}

/// `atlas-privatelink plan`: builds the context (the local stack of `local up` in
/// `local_dir`, or the configured AWS and Atlas), plans `request`, prints the table (or the
/// JSON) to stdout, and answers the exit code ([`PlanReport::exit_code`]).
pub async fn command(
    request: &Value,
    json: bool,
    local_dir: Option<&std::path::Path>,
) -> Result<u8, String> {
    let ctx = match local_dir {
        Some(dir) => local_context(dir).await?,
        None => Context::new(
            clock::SystemClock::shared(),
            privatelink_core::aws::clients::AwsClients::load().await,
            privatelink_core::context::Settings::from_env(),
        ),
    };
    let report = plan(&ctx, request)
        .await
        .map_err(|e| format!("{}: {}", e.name.as_str(), e.message))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
        );
    } else {
        print!("{}", render(&report));
    }
    Ok(report.exit_code())
}

/// A context on the local stack `local up` started in `dir` (its AWS front, its Atlas
/// simulator, its claims table, its clock's speed), whatever the environment says.
#[cfg(feature = "local-world")]
async fn local_context(dir: &std::path::Path) -> Result<Context, String> {
    use privatelink_core::aws::clients::{AwsClients, timeouts};
    use privatelink_core::context::Settings;
    let state = crate::localstack::read_state(dir).ok_or_else(|| {
        format!(
            "no local stack in {}: start one with `atlas-privatelink local up`",
            dir.display()
        )
    })?;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(&state.aws_endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ec2::config::Credentials::new(
            "testing", "testing", None, None, "local",
        ))
        .timeout_config(timeouts())
        .load()
        .await;
    Ok(Context::new(
        std::sync::Arc::new(clock::ScaledClock::new(state.time_scale)),
        AwsClients::from_config(config),
        Settings {
            atlas_base_url: Some(state.atlas_base_url.clone()),
            claims_table: Some(devstack::CLAIMS_TABLE.to_owned()),
            ..Settings::from_env()
        },
    ))
}

#[cfg(not(feature = "local-world"))]
async fn local_context(_dir: &std::path::Path) -> Result<Context, String> {
    Err("--local needs the local-world feature (built without it)".into())
}

/// Validate's answers that say the request cannot be provisioned as it is (not that AWS or
/// Atlas could not be asked).
fn is_refusal(name: ErrorName) -> bool {
    !name.is_retryable() || name == ErrorName::TargetNotReady
}

/// The report as a table: per endpoint its pieces (resource, action, id, detail), then the
/// secret, then the checks (PASS/FAIL), and "nothing to do" when everything is in sync.
pub fn render(report: &PlanReport) -> String {
    let mut out = String::new();
    let inspection = match report {
        PlanReport::Rejected { name, message } => {
            let _ = writeln!(out, "checks");
            let _ = writeln!(
                out,
                "  FAIL  {:<24} {}: {message}",
                "validate",
                name.as_str()
            );
            let _ = writeln!(out, "the request was refused; nothing was inspected");
            return out;
        }
        PlanReport::Inspected(i) => i,
    };
    let rows = |items: Vec<[String; 4]>, out: &mut String| {
        let width = |col: usize, floor: usize| {
            items
                .iter()
                .map(|r| r[col].chars().count())
                .max()
                .unwrap_or(0)
                .max(floor)
        };
        let (w0, w1, w2) = (width(0, 8), width(1, 6), width(2, 2));
        let _ = writeln!(
            out,
            "  {:<w0$}  {:<w1$}  {:<w2$}  DETAIL",
            "RESOURCE", "ACTION", "ID"
        );
        for [resource, action, id, detail] in &items {
            let _ = writeln!(out, "  {resource:<w0$}  {action:<w1$}  {id:<w2$}  {detail}");
        }
    };
    for endpoint in &inspection.endpoints {
        let via = if endpoint.region == endpoint.service_region {
            String::new()
        } else {
            format!(" (service in {})", endpoint.service_region)
        };
        let _ = writeln!(
            out,
            "endpoints[{}] {} {}{via}",
            endpoint.index, endpoint.region, endpoint.vpc_id
        );
        let items = endpoint
            .items
            .iter()
            .map(|item| {
                [
                    item.resource.as_str().to_owned(),
                    item.action.as_str().to_owned(),
                    item.id.clone().unwrap_or_else(|| "-".to_owned()),
                    item.detail.clone(),
                ]
            })
            .collect();
        rows(items, &mut out);
    }
    let secret = &inspection.secret;
    let _ = writeln!(out, "secret {}", secret.name);
    let detail = if secret.keys.is_empty() {
        secret.detail.clone()
    } else {
        format!("{}; keys: {}", secret.detail, secret.keys.join(", "))
    };
    rows(
        vec![[
            Resource::Secret.as_str().to_owned(),
            secret.action.as_str().to_owned(),
            "-".to_owned(),
            detail,
        ]],
        &mut out,
    );
    let _ = writeln!(out, "checks");
    for check in &inspection.checks {
        let scope = check
            .endpoint
            .map(|i| format!("endpoints[{i}] "))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {:<24} {scope}{}",
            if check.passed { "PASS" } else { "FAIL" },
            check.name.as_str(),
            check.detail
        );
    }
    let _ = writeln!(out, "{}", summary(inspection));
    out
}

/// The last line: "nothing to do", or what would be done.
fn summary(inspection: &Inspection) -> String {
    if inspection.in_sync {
        return "nothing to do".to_owned();
    }
    let items = || inspection.endpoints.iter().flat_map(|e| &e.items);
    let count = |action: Action| items().filter(|i| i.action == action).count();
    let mut parts: Vec<String> = [Action::Create, Action::Update, Action::Remove]
        .into_iter()
        .filter(|a| count(*a) > 0)
        .map(|a| format!("{} to {}", count(a), a.as_str()))
        .collect();
    if inspection.secret.action.changes() {
        parts.push(format!("secret to {}", inspection.secret.action.as_str()));
    }
    let failed = inspection.checks.iter().filter(|c| !c.passed).count();
    if failed > 0 {
        parts.push(format!(
            "{failed} check{} failed",
            if failed == 1 { "" } else { "s" }
        ));
    }
    if inspection.secret_only {
        parts.push("only the secret differs".to_owned());
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use privatelink_core::steps::{Check, CheckName, EndpointInspection, Item, SecretInspection};

    use super::*;

    fn item(resource: Resource, action: Action, id: Option<&str>, detail: &str) -> Item {
        Item {
            resource,
            action,
            id: id.map(str::to_owned),
            detail: detail.to_owned(),
        }
    }

    fn inspection(actions: Action, secret: Action, quota_passed: bool) -> Inspection {
        let in_sync = !actions.changes() && !secret.changes() && quota_passed;
        Inspection {
            in_sync,
            secret_only: !actions.changes() && secret.changes(),
            endpoints: vec![EndpointInspection {
                index: 0,
                region: "us-east-1".parse().expect("region"),
                service_region: "us-east-1".parse().expect("region"),
                vpc_id: "vpc-0a1b2c3d".into(),
                request_key: "0123456789abcdef0123".into(),
                items: vec![
                    item(
                        Resource::EndpointService,
                        actions,
                        Some("5f1d3a2b4c6e8f0a1b2c3d4f"),
                        "AVAILABLE in US_EAST_1",
                    ),
                    item(Resource::VpcEndpoint, actions, None, "no live endpoint"),
                ],
            }],
            secret: SecretInspection {
                name: "atlas/p/Cluster0/privatelink/0d84026d".into(),
                action: secret,
                keys: if secret.changes() {
                    vec!["password".into()]
                } else {
                    Vec::new()
                },
                detail: "compared".into(),
            },
            checks: vec![Check {
                name: CheckName::InterfaceEndpointQuota,
                passed: quota_passed,
                detail: "vpc-0a1b2c3d has 50 interface endpoints".into(),
                endpoint: Some(0),
            }],
            results: Vec::new(),
        }
    }

    #[test]
    fn a_fresh_request_lists_its_creates_in_columns() {
        let report =
            PlanReport::Inspected(Box::new(inspection(Action::Create, Action::Create, true)));
        let text = render(&report);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "endpoints[0] us-east-1 vpc-0a1b2c3d");
        assert!(lines[1].starts_with("  RESOURCE "), "{text}");
        assert!(
            lines[2].starts_with("  endpointService  create  5f1d3a2b4c6e8f0a1b2c3d4f  AVAILABLE"),
            "{text}"
        );
        assert!(
            lines[3].starts_with("  vpcEndpoint      create  -  "),
            "{text}"
        );
        assert!(
            text.contains("secret atlas/p/Cluster0/privatelink/0d84026d\n"),
            "{text}"
        );
        assert!(
            text.contains("  secret    create  -   compared; keys: password\n"),
            "{text}"
        );
        assert!(
            text.contains("  PASS  interfaceEndpointQuota   endpoints[0] vpc-0a1b2c3d"),
            "{text}"
        );
        assert_eq!(lines.last(), Some(&"2 to create; secret to create"));
        assert!(!text.contains("nothing to do"));
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn in_sync_ends_with_nothing_to_do() {
        let report = PlanReport::Inspected(Box::new(inspection(Action::None, Action::None, true)));
        assert!(report.in_sync());
        assert_eq!(render(&report).lines().last(), Some("nothing to do"));
        assert_eq!(report.exit_code(), 0);
    }

    #[test]
    fn a_failed_check_shows_fail_and_exits_1() {
        let report =
            PlanReport::Inspected(Box::new(inspection(Action::None, Action::Update, false)));
        let text = render(&report);
        assert!(text.contains("  FAIL  interfaceEndpointQuota "), "{text}");
        assert_eq!(
            text.lines().last(),
            Some("secret to update; 1 check failed; only the secret differs")
        );
        assert_eq!(report.exit_code(), 1);
    }

    #[test]
    fn a_refused_request_is_a_failed_validate_check() {
        let report = PlanReport::Rejected {
            name: ErrorName::InvalidRequest,
            message: "endpoints[0].vpcId: no VPC vpc-0 in 123456789012 (us-east-1)".into(),
        };
        let text = render(&report);
        assert!(
            text.contains(
                "  FAIL  validate                 InvalidRequest: endpoints[0].vpcId: no VPC"
            ),
            "{text}"
        );
        assert_eq!(report.exit_code(), 2);
        assert_eq!(report.to_json()["checks"][0]["name"], "validate");
        assert_eq!(report.to_json()["checks"][0]["passed"], false);
    }

    #[test]
    fn json_is_the_inspection() {
        let inspection = inspection(Action::Create, Action::Create, true);
        let report = PlanReport::Inspected(Box::new(inspection.clone()));
        let json = report.to_json();
        assert_eq!(json["inSync"], false);
        assert_eq!(json["endpoints"][0]["items"][0]["action"], "create");
        let back: Inspection = serde_json::from_value(json).expect("an inspection");
        assert_eq!(back, inspection);
    }
}
