//! Day-two executions (issue 13): what starts `verify` executions of the provision state
//! machine for requests that were provisioned before.
//!
//! Every connection-string secret the product writes is tagged `atlas-privatelink:owner`
//! ([`TAG_OWNER`]) and holds, besides the connection strings, the validated request as a JSON
//! string under [`REQUEST_KEY`]. A sweep lists those secrets (`ListSecrets` filtered by the tag
//! key, every page), reads each one's request and starts one `verify` execution per request:
//! its input is the request with `"mode": "verify"`.
//!
//! Two triggers ([`Trigger`]):
//!
//! * **The drift schedule.** EventBridge Scheduler invokes the dispatcher every
//!   `DriftCheckIntervalHours` with the fixed payload
//!   `{"action": "verify-all", "scheduledTime": "<aws.scheduler.scheduled-time>"}`; Scheduler
//!   replaces the placeholder with the tick's time, e.g. `2026-11-23T12:00:00Z` (EventBridge
//!   Scheduler User Guide, "Adding context attributes",
//!   <https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html>).
//!   The time is the same on every retry of one tick, so the execution names derived from it
//!   (`…-tYYYYMMDDHHMM`) make a retried sweep start nothing twice, and the next tick's names
//!   are new. Invoked by hand, the payload needs a `scheduledTime` of its own.
//! * **Fresh database credentials.** A Secrets Manager `RotationSucceeded` event
//!   ([`crate::rotation`]) starts a `verify` execution for each swept request whose
//!   `secret.databaseUserSecretArn` is the rotated secret, named `…-r<event id>` so a
//!   redelivered event starts nothing twice; verify then re-stores the secret with the new
//!   user. The rule only sees rotations in the stack's own account and region (CloudTrail
//!   events stay where they happen): a database-user secret in a target account needs its
//!   rotation events forwarded to this account's default bus. Without that, the scheduled
//!   sweep still catches the new credentials, because verify compares the stored secret's
//!   content (with the current database user) against what it should be.
//!
//! Where the sweep looks ([`DriftSettings`]): the stack's own account in each region of
//! `DRIFT_REGIONS` (default: the function's own region), and each account of
//! `DRIFT_ACCOUNT_IDS` in the same regions through the role `CROSS_ACCOUNT_ROLE_NAME` (a
//! request's secret lives in its first endpoint's region, in its target account).
//!
//! A secret whose request cannot be read (no [`REQUEST_KEY`], not JSON, not a valid request,
//! or a request that does not name this secret or does not own it) is logged by name and
//! skipped; its value is never logged. A location or secret that fails on AWS's side does not
//! stop the others; the sweep then fails at the end (retried: the names are idempotent).

use std::collections::BTreeSet;
use std::fmt;

use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
use futures::stream::{self, StreamExt};
use privatelink_core::aws::clients::AwsClients;
use privatelink_core::aws::errors::classify;
use privatelink_core::aws::secrets::{TAG_OWNER, read_secret_string};
use privatelink_core::steps::execution_name;
use privatelink_core::{ErrorName, StepError, parse_request};
use serde_json::{Value, json};

use crate::rotation::{Rotation, is_rotation_event, rotation_from_event, same_secret};

/// The `action` of the drift schedule's payload.
pub const VERIFY_ALL: &str = "verify-all";

pub use privatelink_core::aws::secrets::REQUEST_KEY;

/// How many secrets a sweep reads and starts executions for at the same time.
pub const CONCURRENCY: usize = 8;

/// Step Functions' longest execution name.
const MAX_NAME: usize = 80;

/// Where a sweep looks for the product's secrets (from the dispatcher's environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftSettings {
    /// `DRIFT_REGIONS`: the regions to look in (never empty: the function's own region by
    /// default).
    pub regions: Vec<String>,
    /// `DRIFT_ACCOUNT_IDS`: target accounts to look in besides the stack's own.
    pub account_ids: Vec<String>,
    /// `CROSS_ACCOUNT_ROLE_NAME`: the role to assume in the target accounts.
    pub role_name: String,
    /// `TEARDOWN_STATE_MACHINE_ARN`: a request with a running teardown is never verified
    /// ([`crate::busy`]).
    pub teardown_state_machine_arn: Option<String>,
}

/// The items of a comma-separated setting, trimmed, empty ones left out, each once.
fn list(value: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty() && seen.insert(item.to_owned()))
        .map(str::to_owned)
        .collect()
}

/// Whether `region` looks like an AWS region name (`us-east-1`, `us-gov-west-1`).
fn is_region(region: &str) -> bool {
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| !p.is_empty())
        && parts[..parts.len() - 1]
            .iter()
            .all(|p| p.chars().all(|c| c.is_ascii_lowercase()))
        && parts[parts.len() - 1].chars().all(|c| c.is_ascii_digit())
}

impl DriftSettings {
    /// The settings from `DRIFT_REGIONS`, `DRIFT_ACCOUNT_IDS` and `CROSS_ACCOUNT_ROLE_NAME`
    /// (`home_region`, the function's own, when no region is set). `InvalidRequest` naming the
    /// setting when a region or account id is malformed, or accounts are given without a role.
    pub fn parse(
        regions: &str,
        account_ids: &str,
        role_name: &str,
        home_region: &str,
    ) -> Result<Self, StepError> {
        let mut regions = list(regions);
        if regions.is_empty() && !home_region.trim().is_empty() {
            regions.push(home_region.trim().to_owned());
        }
        if regions.is_empty() {
            return Err(StepError::invalid(
                "DRIFT_REGIONS",
                "is empty and the function's own region (AWS_REGION) is unknown",
            ));
        }
        if let Some(bad) = regions.iter().find(|r| !is_region(r)) {
            return Err(StepError::invalid(
                "DRIFT_REGIONS",
                format!("{bad:?} is not an AWS region name"),
            ));
        }
        let account_ids = list(account_ids);
        if let Some(bad) = account_ids
            .iter()
            .find(|a| a.len() != 12 || !a.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(StepError::invalid(
                "DRIFT_ACCOUNT_IDS",
                format!("{bad:?} is not a 12-digit AWS account id"),
            ));
        }
        let role_name = role_name.trim().to_owned();
        if !account_ids.is_empty() && role_name.is_empty() {
            return Err(StepError::invalid(
                "CROSS_ACCOUNT_ROLE_NAME",
                "is required to look in DRIFT_ACCOUNT_IDS",
            ));
        }
        Ok(Self {
            regions,
            account_ids,
            role_name,
            teardown_state_machine_arn: None,
        })
    }

    /// The same, watching `arn`'s running teardowns.
    pub fn with_teardown_state_machine(mut self, arn: &str) -> Self {
        self.teardown_state_machine_arn = Some(arn.trim().to_owned()).filter(|a| !a.is_empty());
        self
    }

    /// The settings from the environment (`AWS_REGION` is the function's own region).
    pub fn from_env() -> Result<Self, StepError> {
        let var = |name: &str| std::env::var(name).unwrap_or_default();
        Self::parse(
            &var("DRIFT_REGIONS"),
            &var("DRIFT_ACCOUNT_IDS"),
            &var("CROSS_ACCOUNT_ROLE_NAME"),
            &var("AWS_REGION"),
        )
        .map(|s| s.with_teardown_state_machine(&var("TEARDOWN_STATE_MACHINE_ARN")))
    }

    /// Every account and region to look in: the own account first, then each target account
    /// (its role's ARN in the partition of the region).
    pub fn locations(&self) -> Vec<Location> {
        let own = self.regions.iter().map(|region| Location {
            role_arn: None,
            region: region.clone(),
        });
        let targets = self.account_ids.iter().flat_map(|account| {
            self.regions.iter().map(move |region| Location {
                role_arn: Some(format!(
                    "arn:{}:iam::{account}:role/{}",
                    crate::partition_of(region),
                    self.role_name
                )),
                region: region.clone(),
            })
        });
        own.chain(targets).collect()
    }
}

/// One account and region a sweep lists secrets in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    /// The role to assume (a target account), or `None` for the stack's own account.
    pub role_arn: Option<String>,
    /// The region.
    pub region: String,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.role_arn {
            Some(role) => write!(f, "{} through {role}", self.region),
            None => write!(f, "{} in the stack's account", self.region),
        }
    }
}

/// What starts a sweep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A tick of the drift schedule: verify every request.
    Schedule {
        /// The tick's `scheduledTime` (RFC 3339, UTC).
        scheduled_time: String,
    },
    /// A rotated secret: verify the requests that use it as their database user.
    Rotation(Rotation),
}

impl Trigger {
    /// The trigger an event is, or `None` when it is none of the day-two events (then the
    /// dispatcher handles it as before). `Some(Err)`: a day-two event that cannot be acted on
    /// (its field named).
    pub fn from_event(event: &Value) -> Option<Result<Trigger, StepError>> {
        if event.get("action").and_then(Value::as_str) == Some(VERIFY_ALL) {
            return Some(schedule_from_event(event));
        }
        if is_rotation_event(event) {
            return Some(rotation_from_event(event).map(Trigger::Rotation));
        }
        None
    }

    /// What makes this trigger's execution names its own: `t` and the tick's minute
    /// (`t202611231200`), or `r` and the first 12 letters and digits of the event id.
    pub fn name_suffix(&self) -> String {
        match self {
            Trigger::Schedule { scheduled_time } => {
                let digits: String = scheduled_time
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(12)
                    .collect();
                format!("t{digits}")
            }
            Trigger::Rotation(rotation) => {
                let id: String = rotation
                    .event_id
                    .chars()
                    .filter(char::is_ascii_alphanumeric)
                    .take(12)
                    .collect();
                format!("r{id}")
            }
        }
    }
}

/// The schedule's payload: `scheduledTime` must be a UTC time `YYYY-MM-DDTHH:MM…Z`.
fn schedule_from_event(event: &Value) -> Result<Trigger, StepError> {
    let time = event
        .get("scheduledTime")
        .and_then(Value::as_str)
        .map(str::trim)
        .ok_or_else(|| {
            StepError::invalid(
                "scheduledTime",
                "is required (the schedule sends <aws.scheduler.scheduled-time>)",
            )
        })?;
    let bytes = time.as_bytes();
    let shaped = bytes.len() >= 17
        && time.ends_with('Z')
        && bytes.iter().take(16).enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            10 => *b == b'T',
            13 => *b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(StepError::invalid(
            "scheduledTime",
            format!("{time:?} is not a UTC time like 2026-11-23T12:00:00Z"),
        ));
    }
    Ok(Trigger::Schedule {
        scheduled_time: time.to_owned(),
    })
}

/// The name of the verify execution of `input` (the request with `"mode": "verify"`) for
/// `trigger`: [`execution_name`]`("verify", input)` and the trigger's suffix, at most 80
/// characters (the base is cut, never the suffix).
pub fn verify_execution_name(input: &Value, trigger: &Trigger) -> String {
    let base = execution_name("verify", input);
    let suffix = format!("-{}", trigger.name_suffix());
    let head: String = base
        .chars()
        .take(MAX_NAME.saturating_sub(suffix.len()))
        .collect();
    format!("{head}{suffix}")
}

/// Why a secret's request was not verified (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skip(pub String);

/// The verify input held by the secret `secret_name` (tagged `owner_tag`) whose value is
/// `secret_value`: its [`REQUEST_KEY`] parsed, with `"mode": "verify"`, checked to be a valid
/// request that names this secret and whose owner key is the secret's owner tag.
pub fn verify_input(
    secret_name: &str,
    owner_tag: Option<&str>,
    secret_value: &str,
) -> Result<Value, Skip> {
    let document: Value = serde_json::from_str(secret_value)
        .map_err(|_| Skip("the secret's value is not JSON".into()))?;
    let text = document
        .get(REQUEST_KEY)
        .and_then(Value::as_str)
        .ok_or_else(|| Skip(format!("the secret has no {REQUEST_KEY} string")))?;
    let mut input: Value =
        serde_json::from_str(text).map_err(|_| Skip(format!("its {REQUEST_KEY} is not JSON")))?;
    let Some(object) = input.as_object_mut() else {
        return Err(Skip(format!("its {REQUEST_KEY} is not a JSON object")));
    };
    object.insert("mode".into(), json!("verify"));
    // Teardown only; a verify execution removes nothing.
    object.remove("force");
    let request = parse_request(&input)
        .map_err(|e| Skip(format!("its {REQUEST_KEY} is not a valid request: {e}")))?;
    if request.secret.name.as_str() != secret_name {
        return Err(Skip(format!(
            "its {REQUEST_KEY} names another secret ({})",
            request.secret.name.as_str()
        )));
    }
    if owner_tag != Some(request.owner_key().as_str()) {
        return Err(Skip(format!(
            "its {TAG_OWNER} tag is not the owner key of its {REQUEST_KEY}"
        )));
    }
    Ok(input)
}

/// What a sweep did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Verify executions started now.
    pub verify_started: usize,
    /// Verify executions of this trigger that existed already (a retried sweep or event).
    pub already_started: usize,
    /// Secrets whose request could not be read (logged by name).
    pub skipped: usize,
    /// Requests left alone because they do not use the rotated secret (rotation only).
    pub not_affected: usize,
    /// Requests left alone because an execution of theirs is running: a teardown, or (for
    /// the schedule) a provisioning or verify ([`crate::busy`]).
    pub busy: usize,
    /// Locations and secrets that failed on AWS's side (the sweep then fails, after the rest).
    pub failed: usize,
}

impl Summary {
    /// The Lambda function's answer: `{"verifyStarted", "alreadyStarted", "skipped",
    /// "notAffected", "busy", "failed"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "verifyStarted": self.verify_started,
            "alreadyStarted": self.already_started,
            "skipped": self.skipped,
            "notAffected": self.not_affected,
            "busy": self.busy,
            "failed": self.failed,
        })
    }
}

/// One secret a sweep found.
struct Found {
    location: Location,
    client: aws_sdk_secretsmanager::Client,
    name: String,
    arn: String,
    owner: Option<String>,
}

/// What happened to one secret.
enum Outcome {
    Started,
    AlreadyStarted,
    Skipped,
    NotAffected,
    Busy,
    Failed(StepError),
}

/// Lists the product's secrets (tag key [`TAG_OWNER`]) in one location, every page.
async fn list_secrets(aws: &AwsClients, location: &Location) -> Result<Vec<Found>, StepError> {
    let client = aws
        .for_region(location.role_arn.as_deref(), &location.region)
        .await?
        .secrets;
    // Filter keys: Secrets Manager API reference, Filter (`tag-key`: prefix match,
    // case-sensitive), https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_Filter.html;
    // the exact key is checked below.
    let filter = Filter::builder()
        .key(FilterNameStringType::TagKey)
        .values(TAG_OWNER)
        .build();
    let mut pages = client
        .list_secrets()
        .filters(filter)
        .max_results(100)
        .into_paginator()
        .send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| classify(&format!("ListSecrets ({location})"), e))?;
        for entry in page.secret_list() {
            let owner = entry
                .tags()
                .iter()
                .find(|t| t.key() == Some(TAG_OWNER))
                .and_then(|t| t.value())
                .map(str::to_owned);
            let (Some(name), Some(arn)) = (entry.name(), entry.arn()) else {
                continue;
            };
            if owner.is_none() || entry.deleted_date().is_some() {
                continue;
            }
            found.push(Found {
                location: location.clone(),
                client: client.clone(),
                name: name.to_owned(),
                arn: arn.to_owned(),
                owner,
            });
        }
    }
    Ok(found)
}

/// Starts the execution `name` with `input` unless it exists: `Ok(true)` when started now,
/// `Ok(false)` when it existed (running or ended: a name stays taken for 90 days).
pub async fn start_named(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    name: &str,
    input: &Value,
) -> Result<bool, StepError> {
    let arn = crate::execution_arn(state_machine_arn, name);
    if crate::describe_status(sfn, &arn, name).await?.is_some() {
        return Ok(false);
    }
    match sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .name(name)
        .input(input.to_string())
        .send()
        .await
    {
        Ok(_) => Ok(true),
        // Started by a concurrent delivery of the same trigger.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_already_exists()) =>
        {
            Ok(false)
        }
        Err(e) => Err(classify(&format!("StartExecution {name}"), e)),
    }
}

/// Reads one secret's request and starts its verify execution for `trigger`.
async fn verify_one(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    trigger: &Trigger,
    found: &Found,
    busy: &BTreeSet<String>,
) -> Outcome {
    let value = match read_secret_string(&found.client, &found.arn, REQUEST_KEY).await {
        Ok(value) => value,
        Err(e) if e.name == ErrorName::InvalidRequest => {
            // Access denied (outside the functions' prefix), gone since it was listed, binary.
            tracing::warn!(secret = %found.name, location = %found.location, cause = %e.message, "secret not readable; skipped");
            return Outcome::Skipped;
        }
        Err(e) => return Outcome::Failed(e),
    };
    let input = match verify_input(&found.name, found.owner.as_deref(), &value) {
        Ok(input) => input,
        Err(Skip(reason)) => {
            tracing::warn!(secret = %found.name, location = %found.location, %reason, "no request to verify in this secret; skipped");
            return Outcome::Skipped;
        }
    };
    if let Trigger::Rotation(rotation) = trigger {
        let uses_it = input
            .pointer("/secret/databaseUserSecretArn")
            .and_then(Value::as_str)
            .is_some_and(|arn| same_secret(arn, &rotation.secret_id));
        if !uses_it {
            return Outcome::NotAffected;
        }
    }
    let name = verify_execution_name(&input, trigger);
    if found
        .owner
        .as_ref()
        .is_some_and(|owner| busy.contains(owner))
    {
        // This trigger's own verify (a retried sweep) counts as started, not as busy.
        let arn = crate::execution_arn(state_machine_arn, &name);
        return match crate::describe_status(sfn, &arn, &name).await {
            Ok(Some(_)) => Outcome::AlreadyStarted,
            Ok(None) => {
                tracing::info!(secret = %found.name, "an execution of this request is running; not verified now");
                Outcome::Busy
            }
            Err(e) => Outcome::Failed(e),
        };
    }
    match start_named(sfn, state_machine_arn, &name, &input).await {
        Ok(true) => {
            tracing::info!(secret = %found.name, execution = %name, "verify started");
            Outcome::Started
        }
        Ok(false) => {
            tracing::info!(secret = %found.name, execution = %name, "verify of this trigger exists already");
            Outcome::AlreadyStarted
        }
        Err(e) => Outcome::Failed(e),
    }
}

/// Runs a sweep for `trigger`: lists the product's secrets in every location of `settings`
/// and starts a verify execution per request (for a rotation, per request using the rotated
/// secret), [`CONCURRENCY`] secrets at a time.
///
/// Errors of one location or secret are counted and logged and the others go on; then the
/// sweep fails with the first such error's name (`AwsThrottled`, `AwsUnavailable`, or
/// `InvalidRequest` for a refused call such as a role that cannot be assumed), so the
/// scheduler or EventBridge retries it, starting only what is missing.
pub async fn sweep(
    aws: &AwsClients,
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    settings: &DriftSettings,
    trigger: &Trigger,
) -> Result<Summary, StepError> {
    let mut summary = Summary::default();
    let mut first_error: Option<StepError> = None;
    let mut note = |summary: &mut Summary, e: StepError| {
        summary.failed += 1;
        first_error.get_or_insert(e);
    };
    let mut found: Vec<Found> = Vec::new();
    let mut seen = BTreeSet::new();
    for location in settings.locations() {
        match list_secrets(aws, &location).await {
            Ok(secrets) => found.extend(secrets.into_iter().filter(|f| seen.insert(f.arn.clone()))),
            Err(e) => {
                tracing::error!(location = %location, error = e.name.as_str(), cause = %e.message, "could not list the secrets here");
                note(&mut summary, e);
            }
        }
    }
    // Which requests are busy, before any is started: a listing that fails starts nothing
    // (the sweep is retried), since verifying a request being torn down would re-create it.
    let mut watched: Vec<&str> = settings
        .teardown_state_machine_arn
        .as_deref()
        .into_iter()
        .collect();
    if matches!(trigger, Trigger::Schedule { .. }) {
        watched.push(state_machine_arn);
    }
    let busy = crate::busy::running_requests(sfn, &watched).await?;
    let outcomes: Vec<Outcome> = stream::iter(found.iter())
        .map(|f| verify_one(sfn, state_machine_arn, trigger, f, &busy))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    for outcome in outcomes {
        match outcome {
            Outcome::Started => summary.verify_started += 1,
            Outcome::AlreadyStarted => summary.already_started += 1,
            Outcome::Skipped => summary.skipped += 1,
            Outcome::NotAffected => summary.not_affected += 1,
            Outcome::Busy => summary.busy += 1,
            Outcome::Failed(e) => {
                tracing::error!(error = e.name.as_str(), cause = %e.message, "verify not started");
                note(&mut summary, e);
            }
        }
    }
    tracing::info!(
        verify_started = summary.verify_started,
        already_started = summary.already_started,
        skipped = summary.skipped,
        not_affected = summary.not_affected,
        failed = summary.failed,
        "sweep done"
    );
    match first_error {
        None => Ok(summary),
        Some(e) => Err(StepError::new(
            e.name,
            format!(
                "{} of the sweep's locations and secrets failed (the rest went on: {} started, \
                 {} existing, {} skipped); first: {}",
                summary.failed,
                summary.verify_started,
                summary.already_started,
                summary.skipped,
                e.message
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Value {
        json!({
            "atlas": {"projectId": "6566d2a1e5f2b34c9a0d1e7f", "clusterName": "Cluster0"},
            "endpoints": [{"region": "eu-north-1", "vpcId": "vpc-0123456789abcdef0",
                           "subnetIds": ["subnet-0123456789abcdef0"]}],
            "secret": {"name": "atlas/orders"}
        })
    }

    /// A secret's value as the store step writes it: strings, and the validated request.
    fn stored(request: &Value) -> (String, String) {
        let parsed = parse_request(request).expect("valid");
        let value = json!({
            "connectionStringPrivate": "mongodb://pl-0.example.net:1024",
            "password": "s3cr3t-value",
            REQUEST_KEY: serde_json::to_string(&parsed).expect("json"),
        });
        (value.to_string(), parsed.owner_key())
    }

    fn schedule(time: &str) -> Trigger {
        Trigger::Schedule {
            scheduled_time: time.into(),
        }
    }

    #[test]
    fn events_are_routed_by_shape() {
        let tick = json!({"action": VERIFY_ALL, "scheduledTime": "2026-11-23T12:00:00Z"});
        assert_eq!(
            Trigger::from_event(&tick),
            Some(Ok(schedule("2026-11-23T12:00:00Z")))
        );
        let rotation = json!({"id": "f5b0c5d6-9d5e-4b1c-8a57-0e3f1c2d3b4a",
            "source": "aws.secretsmanager", "detail-type": "AWS Service Event via CloudTrail",
            "detail": {"eventName": "RotationSucceeded",
                       "additionalEventData": {"SecretId": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf"}}});
        assert!(matches!(
            Trigger::from_event(&rotation),
            Some(Ok(Trigger::Rotation(_)))
        ));
        // Not day-two events: the dispatcher's usual handling (and its rejections) applies.
        for other in [
            json!({"source": "atlas-privatelink", "detail-type": "PrivateEndpointRequested", "detail": {}}),
            json!({"action": "verify-some"}),
            json!({"source": "aws.secretsmanager", "detail-type": "AWS API Call via CloudTrail",
                   "detail": {"eventName": "PutSecretValue"}}),
            json!("text"),
        ] {
            assert_eq!(Trigger::from_event(&other), None, "{other}");
        }
        // A schedule payload without a usable time is refused, naming the field.
        for bad in [
            json!({"action": VERIFY_ALL}),
            json!({"action": VERIFY_ALL, "scheduledTime": "<aws.scheduler.scheduled-time>"}),
            json!({"action": VERIFY_ALL, "scheduledTime": "2026-11-23 12:00:00"}),
        ] {
            let err = Trigger::from_event(&bad)
                .expect("a day-two event")
                .expect_err("refused");
            assert!(err.message.starts_with("scheduledTime"), "{}", err.message);
        }
    }

    #[test]
    fn names_are_per_request_and_tick_and_stay_within_80_characters() {
        let (value, owner) = stored(&request());
        let input = verify_input("atlas/orders", Some(&owner), &value).expect("input");
        let noon = verify_execution_name(&input, &schedule("2026-11-23T12:00:00Z"));
        // A retry of the tick (even seconds later) is the same name; the next tick another.
        assert_eq!(
            noon,
            verify_execution_name(&input, &schedule("2026-11-23T12:00:59Z"))
        );
        assert_ne!(
            noon,
            verify_execution_name(&input, &schedule("2026-11-23T18:00:00Z"))
        );
        assert!(noon.starts_with("verify-6566d2a1-Cluster0-"), "{noon}");
        assert!(noon.ends_with("-t202611231200"), "{noon}");
        // Another request, another name.
        let mut other = request();
        other["endpoints"][0]["vpcId"] = json!("vpc-0fedcba9876543210");
        other["secret"]["name"] = json!("atlas/other");
        let (value, owner) = stored(&other);
        let other_input = verify_input("atlas/other", Some(&owner), &value).expect("input");
        assert_ne!(
            noon,
            verify_execution_name(&other_input, &schedule("2026-11-23T12:00:00Z"))
        );
        // The longest base keeps the whole suffix.
        let mut long = request();
        long["atlas"]["clusterName"] = json!("c".repeat(60));
        long["secret"]["name"] = json!("atlas/long");
        let (value, owner) = stored(&long);
        let long_input = verify_input("atlas/long", Some(&owner), &value).expect("input");
        let rotation = Trigger::Rotation(Rotation {
            event_id: "f5b0c5d6-9d5e-4b1c-8a57-0e3f1c2d3b4a".into(),
            secret_id: "db".into(),
        });
        for trigger in [schedule("2026-11-23T12:00:00Z"), rotation] {
            let name = verify_execution_name(&long_input, &trigger);
            assert!(name.len() <= 80, "{name}");
            assert!(
                name.ends_with(&format!("-{}", trigger.name_suffix())),
                "{name}"
            );
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            );
        }
        assert_eq!(
            Trigger::Rotation(Rotation {
                event_id: "f5b0c5d6-9d5e-4b1c-8a57-0e3f1c2d3b4a".into(),
                secret_id: "db".into()
            })
            .name_suffix(),
            "rf5b0c5d69d5e"
        );
    }

    #[test]
    fn the_request_is_read_from_the_secret_and_set_to_verify() {
        // A request stored with `force` (teardown only) is verified without it.
        let mut with_force = request();
        with_force["force"] = json!(true);
        let parsed = parse_request(&request()).expect("valid");
        let (value, owner) = stored(&with_force);
        let input = verify_input("atlas/orders", Some(&owner), &value).expect("input");
        assert_eq!(input["mode"], "verify");
        assert!(input.get("force").is_none());
        assert!(input.get("password").is_none() && input.get(REQUEST_KEY).is_none());
        assert_eq!(input["atlas"]["projectId"], "6566d2a1e5f2b34c9a0d1e7f");
        assert_eq!(
            parse_request(&input).expect("valid").owner_key(),
            parsed.owner_key()
        );
    }

    #[test]
    fn bad_secrets_are_skipped_and_the_reason_never_holds_the_value() {
        let (value, owner) = stored(&request());
        let with = |document: Value| document.to_string();
        let cases: Vec<(&str, Option<&str>, String)> = vec![
            ("atlas/orders", Some(&owner), "s3cr3t-value not json".into()),
            (
                "atlas/orders",
                Some(&owner),
                with(json!({"password": "s3cr3t-value"})),
            ),
            (
                "atlas/orders",
                Some(&owner),
                with(json!({"password": "s3cr3t-value", REQUEST_KEY: "{not json"})),
            ),
            (
                "atlas/orders",
                Some(&owner),
                with(json!({"password": "s3cr3t-value", REQUEST_KEY: "[1]"})),
            ),
            (
                "atlas/orders",
                Some(&owner),
                with(json!({"password": "s3cr3t-value", REQUEST_KEY: "{\"atlas\": {}}"})),
            ),
            // The request names another secret, or another request owns this one.
            ("atlas/copy", Some(&owner), value.clone()),
            ("atlas/orders", Some("0123456789abcdef"), value.clone()),
            ("atlas/orders", None, value.clone()),
        ];
        for (name, tag, secret_value) in cases {
            let Skip(reason) = verify_input(name, tag, &secret_value).expect_err("skipped");
            assert!(!reason.contains("s3cr3t-value"), "{reason}");
        }
    }

    #[test]
    fn drift_settings_default_to_the_home_region_and_name_target_roles() {
        let own =
            DriftSettings::parse("", "", "atlas-privatelink-target", "eu-west-1").expect("valid");
        assert_eq!(
            own.locations(),
            vec![Location {
                role_arn: None,
                region: "eu-west-1".into()
            }]
        );
        let wide = DriftSettings::parse(
            " us-east-1, cn-north-1,us-east-1 ",
            "111122223333, 444455556666",
            "atlas-privatelink-target",
            "eu-west-1",
        )
        .expect("valid");
        assert_eq!(wide.regions, ["us-east-1", "cn-north-1"]);
        let locations = wide.locations();
        assert_eq!(locations.len(), 6);
        assert!(locations.contains(&Location {
            role_arn: Some("arn:aws-cn:iam::444455556666:role/atlas-privatelink-target".into()),
            region: "cn-north-1".into()
        }));
        for (regions, accounts, role, field) in [
            ("us-east-1,nowhere", "", "r", "DRIFT_REGIONS"),
            ("", "12345", "r", "DRIFT_ACCOUNT_IDS"),
            ("", "111122223333", " ", "CROSS_ACCOUNT_ROLE_NAME"),
        ] {
            let err =
                DriftSettings::parse(regions, accounts, role, "eu-west-1").expect_err("refused");
            assert!(err.message.starts_with(field), "{}", err.message);
        }
        assert!(DriftSettings::parse("", "", "", "").is_err());
    }
}
