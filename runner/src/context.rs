//! The context object (`$$`) and timestamps in the format Step Functions uses.

use std::sync::OnceLock;
use std::time::SystemTime;

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::paths::EvalEnv;

/// A timestamp as Step Functions writes them: `2019-03-26T20:14:13.192Z`.
pub(crate) fn format_timestamp(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// Parses a timestamp the way Step Functions accepts them: RFC 3339 with an uppercase `T`
/// separator and an uppercase `Z` or a numeric offset.
pub(crate) fn parse_timestamp(text: &str) -> Option<OffsetDateTime> {
    if text.as_bytes().get(10) != Some(&b'T') || text.contains('z') || text.contains('t') {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// What stays the same for a whole execution.
#[derive(Debug, Clone)]
pub(crate) struct ExecutionInfo {
    pub id: String,
    pub name: String,
    pub input: Value,
    pub start_time: String,
    pub role_arn: String,
    pub state_machine_id: String,
    pub state_machine_name: String,
}

/// Where a state is running: what `$$.State` and `$$.Map.Item` say.
#[derive(Debug, Clone)]
pub(crate) struct StateInfo<'a> {
    pub name: &'a str,
    pub entered_time: &'a str,
    pub retry_count: u32,
    pub map_item: Option<(usize, &'a Value)>,
}

/// A source of random numbers shared by an execution.
pub(crate) trait Random: Sync {
    fn next_u64(&self) -> u64;
}

/// An [`EvalEnv`] that builds the context object the first time a `$$` path needs it.
pub(crate) struct Env<'a> {
    pub execution: &'a ExecutionInfo,
    pub state: StateInfo<'a>,
    pub random: &'a dyn Random,
    built: OnceLock<Value>,
}

impl<'a> Env<'a> {
    pub fn new(execution: &'a ExecutionInfo, state: StateInfo<'a>, random: &'a dyn Random) -> Self {
        Self {
            execution,
            state,
            random,
            built: OnceLock::new(),
        }
    }

    fn build(&self) -> Value {
        let e = self.execution;
        let mut context = json!({
            "Execution": {
                "Id": e.id,
                "Input": e.input,
                "Name": e.name,
                "RoleArn": e.role_arn,
                "StartTime": e.start_time,
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": self.state.entered_time,
                "Name": self.state.name,
                "RetryCount": self.state.retry_count,
            },
            "StateMachine": {
                "Id": e.state_machine_id,
                "Name": e.state_machine_name,
            },
        });
        if let (Some((index, value)), Value::Object(map)) = (self.state.map_item, &mut context) {
            map.insert(
                "Map".into(),
                json!({"Item": {"Index": index, "Value": value}}),
            );
        }
        context
    }
}

impl EvalEnv for Env<'_> {
    fn context(&self) -> &Value {
        self.built.get_or_init(|| self.build())
    }

    fn random_u64(&self) -> u64 {
        self.random.next_u64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_round_trip_in_aws_format() {
        let at = SystemTime::UNIX_EPOCH + Duration::from_millis(1_553_631_253_192);
        assert_eq!(format_timestamp(at), "2019-03-26T20:14:13.192Z");
        let parsed = parse_timestamp("2019-03-26T20:14:13.192Z").expect("parses");
        assert_eq!(SystemTime::from(parsed), at);
        assert!(parse_timestamp("2016-03-14T01:59:00+02:00").is_some());
        assert!(parse_timestamp("2016-03-14t01:59:00Z").is_none());
        assert!(parse_timestamp("2016-03-14T01:59:00z").is_none());
        assert!(parse_timestamp("2016-03-14 01:59:00Z").is_none());
        assert!(parse_timestamp("yesterday").is_none());
    }
}
