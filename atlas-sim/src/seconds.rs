//! Durations in JSON as (fractional) numbers of seconds, for `#[serde(with = …)]`.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serializer};

fn duration_from_secs<E: serde::de::Error>(value: f64) -> Result<Duration, E> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| E::custom(format!("{value} is not a duration in seconds")))
}

/// Durations as (fractional) seconds.
pub(crate) mod secs {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(value.as_secs_f64())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        duration_from_secs(f64::deserialize(d)?)
    }
}

/// Optional durations as (fractional) seconds.
pub(crate) mod opt_secs {
    use super::*;

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => s.serialize_some(&value.as_secs_f64()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Option::<f64>::deserialize(d)?
            .map(duration_from_secs)
            .transpose()
    }
}
