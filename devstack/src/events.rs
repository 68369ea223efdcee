//! The event tap: reads back the completion events the state machines publish (source
//! `atlas-privatelink`, see `docs/events/`) from moto's EventBridge.
//!
//! [`EventTap::start`] makes, on moto, an SQS queue and a rule on the `default` event bus
//! matching `{"source": ["atlas-privatelink"]}` whose target is the queue: what a subscriber
//! does in AWS (`docs/events/README.md`). moto's events backend delivers a matching event to
//! an SQS target during the `PutEvents` call itself, as the whole EventBridge envelope
//! (`version`, `id`, `detail-type`, `source`, `account`, `time`, `region`, `resources`,
//! `detail`); [`EventTap::events`] drains the queue and parses them.
//!
//! Many worlds may share one moto: each has its own rule and queue, and every queue receives
//! every world's events. [`EventTap::events_of`] keeps those of one execution (Step Functions
//! puts the execution ARN in each event's `resources`).

use std::sync::Mutex;

use serde_json::{Value, json};

use crate::moto::Moto;

/// The `source` of every event the state machines publish.
pub const EVENT_SOURCE: &str = "atlas-privatelink";

/// One event as a subscriber receives it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedEvent {
    /// `detail-type`: `PrivateEndpointReady`, `PrivateEndpointFailed`, ….
    pub detail_type: String,
    /// `source`.
    pub source: String,
    /// `resources`: for events from Step Functions' integration, the execution ARN and the
    /// state machine ARN at the end.
    pub resources: Vec<String>,
    /// `detail`, parsed.
    pub detail: Value,
    /// The whole envelope, as delivered.
    pub envelope: Value,
}

impl PublishedEvent {
    /// Parses a delivered envelope (an SQS message body).
    pub fn parse(body: &str) -> Result<Self, String> {
        let envelope: Value =
            serde_json::from_str(body).map_err(|e| format!("event is not JSON: {e}"))?;
        let text = |field: &str| {
            envelope
                .get(field)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("event has no {field}"))
        };
        let detail = match envelope.get("detail") {
            // EventBridge delivers `detail` as JSON; accept the text of it too.
            Some(Value::String(text)) => {
                serde_json::from_str(text).map_err(|e| format!("event detail is not JSON: {e}"))?
            }
            Some(other) => other.clone(),
            None => return Err("event has no detail".to_owned()),
        };
        let resources = envelope
            .get("resources")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Ok(Self {
            detail_type: text("detail-type")?,
            source: text("source")?,
            resources,
            detail,
            envelope,
        })
    }

    /// Whether the execution `execution_arn` published it.
    pub fn is_of_execution(&self, execution_arn: &str) -> bool {
        self.resources.iter().any(|r| r == execution_arn)
    }

    /// A string field of the detail (`""` when absent).
    pub fn field(&self, name: &str) -> &str {
        self.detail.get(name).and_then(Value::as_str).unwrap_or("")
    }

    /// One line for a person: the detail type and the fields that say what happened (ids,
    /// names and error names: never a connection string or a credential).
    pub fn summary(&self) -> String {
        let mut parts = vec![self.detail_type.clone()];
        for field in ["operation", "stage", "error", "requestKey", "secretName"] {
            let value = self.field(field);
            if !value.is_empty() {
                parts.push(format!("{field}={value}"));
            }
        }
        if let Some(ids) = self.detail.get("vpcEndpointIds").and_then(Value::as_array) {
            let ids: Vec<&str> = ids.iter().filter_map(Value::as_str).collect();
            parts.push(format!("vpcEndpointIds={}", ids.join(",")));
        }
        if let Some(total) = self
            .detail
            .get("durations")
            .and_then(|d| d.get("totalSeconds"))
            .and_then(Value::as_f64)
        {
            parts.push(format!("total={total:.0}s"));
        }
        parts.join(" ")
    }
}

/// An SQS queue subscribed to the `atlas-privatelink` events of moto's default bus; see the
/// module documentation.
#[derive(Debug)]
pub struct EventTap {
    eventbridge: aws_sdk_eventbridge::Client,
    sqs: aws_sdk_sqs::Client,
    rule: String,
    queue_url: String,
    received: Mutex<Vec<PublishedEvent>>,
}

/// The tap's rule: the events of the state machines (the pattern `docs/events/README.md`
/// gives subscribers).
pub fn event_pattern() -> Value {
    json!({"source": [EVENT_SOURCE]})
}

impl EventTap {
    /// Makes the queue and the rule (both named `atlas-privatelink-tap-<name>`; `name` of
    /// letters, digits, `-` and `_`) on `moto` in `region`.
    pub async fn start(moto: &Moto, region: &str, name: &str) -> Result<Self, String> {
        let config = moto.sdk_config(region).await;
        let eventbridge = aws_sdk_eventbridge::Client::new(&config);
        let sqs = aws_sdk_sqs::Client::new(&config);
        let full: String = format!("atlas-privatelink-tap-{name}")
            .chars()
            .take(64)
            .collect();
        let queue_url = sqs
            .create_queue()
            .queue_name(&full)
            .send()
            .await
            .map_err(|e| format!("event tap: CreateQueue {full}: {e}"))?
            .queue_url()
            .ok_or("event tap: CreateQueue gave no URL")?
            .to_owned();
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| format!("event tap: GetQueueAttributes: {e}"))?
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .ok_or("event tap: the queue has no ARN")?;
        eventbridge
            .put_rule()
            .name(&full)
            .event_bus_name("default")
            .event_pattern(event_pattern().to_string())
            .description("devstack's event tap: atlas-privatelink events into an SQS queue")
            .send()
            .await
            .map_err(|e| format!("event tap: PutRule {full}: {e}"))?;
        let targets = eventbridge
            .put_targets()
            .rule(&full)
            .event_bus_name("default")
            .targets(
                aws_sdk_eventbridge::types::Target::builder()
                    .id("tap")
                    .arn(queue_arn)
                    .build()
                    .map_err(|e| format!("event tap: target: {e}"))?,
            )
            .send()
            .await
            .map_err(|e| format!("event tap: PutTargets: {e}"))?;
        if targets.failed_entry_count() > 0 {
            return Err(format!(
                "event tap: PutTargets failed: {:?}",
                targets.failed_entries()
            ));
        }
        Ok(Self {
            eventbridge,
            sqs,
            rule: full,
            queue_url,
            received: Mutex::new(Vec::new()),
        })
    }

    /// Every event delivered to the tap so far, oldest first (the queue is drained into the
    /// tap, so each call sees the earlier ones again).
    pub async fn events(&self) -> Result<Vec<PublishedEvent>, String> {
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .map_err(|e| format!("event tap: ReceiveMessage: {e}"))?;
            let messages = out.messages();
            if messages.is_empty() {
                break;
            }
            let mut parsed = Vec::new();
            for message in messages {
                parsed.push(PublishedEvent::parse(message.body().unwrap_or_default())?);
                if let Some(handle) = message.receipt_handle() {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .map_err(|e| format!("event tap: DeleteMessage: {e}"))?;
                }
            }
            if let Ok(mut received) = self.received.lock() {
                received.extend(parsed);
            }
        }
        Ok(self.received.lock().map(|r| r.clone()).unwrap_or_default())
    }

    /// The events the execution `execution_arn` published, oldest first.
    pub async fn events_of(&self, execution_arn: &str) -> Result<Vec<PublishedEvent>, String> {
        Ok(self
            .events()
            .await?
            .into_iter()
            .filter(|e| e.is_of_execution(execution_arn))
            .collect())
    }

    /// Removes the rule and the queue (best effort: moto goes away with the process anyway).
    pub async fn stop(&self) {
        let _ = self
            .eventbridge
            .remove_targets()
            .rule(&self.rule)
            .event_bus_name("default")
            .ids("tap")
            .send()
            .await;
        let _ = self
            .eventbridge
            .delete_rule()
            .name(&self.rule)
            .event_bus_name("default")
            .send()
            .await;
        let _ = self
            .sqs
            .delete_queue()
            .queue_url(&self.queue_url)
            .send()
            .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_parses_with_its_detail_as_json_or_text() {
        let body = json!({"version": "0", "id": "1", "detail-type": "PrivateEndpointReady",
            "source": "atlas-privatelink", "account": "123456789012", "time": "2026-01-01T00:00:00Z",
            "region": "us-east-1", "resources": ["arn:x:execution:m:e", "arn:x:stateMachine:m"],
            "detail": {"requestKey": "k", "vpcEndpointIds": ["vpce-1"], "durations": {"totalSeconds": 490.0}}});
        let event = PublishedEvent::parse(&body.to_string()).expect("parses");
        assert_eq!(event.detail_type, "PrivateEndpointReady");
        assert!(event.is_of_execution("arn:x:execution:m:e"));
        assert!(!event.is_of_execution("arn:x:execution:m:other"));
        assert_eq!(
            event.summary(),
            "PrivateEndpointReady requestKey=k vpcEndpointIds=vpce-1 total=490s"
        );
        let mut text = body.clone();
        text["detail"] = json!(body["detail"].to_string());
        assert_eq!(
            PublishedEvent::parse(&text.to_string())
                .expect("parses")
                .detail,
            body["detail"]
        );
        assert!(PublishedEvent::parse("{}").is_err());
    }
}
