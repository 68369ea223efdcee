//! The AWS regions an endpoint may be in, with their Atlas names.
//!
//! Only AWS commercial regions in which Atlas deploys AWS clusters (the `AWS Regions` enum of
//! the Atlas Admin API v2, less GovCloud, China and `GLOBAL`). EC2 always gets the AWS name
//! (`us-east-1`); Atlas always gets the Atlas name (`US_EAST_1`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::InvalidValue;
use super::ids::shown;

/// `(AWS name, Atlas name)` of every supported region.
const REGIONS: &[(&str, &str)] = &[
    ("us-east-1", "US_EAST_1"),
    ("us-east-2", "US_EAST_2"),
    ("us-west-1", "US_WEST_1"),
    ("us-west-2", "US_WEST_2"),
    ("ca-central-1", "CA_CENTRAL_1"),
    ("ca-west-1", "CA_WEST_1"),
    ("mx-central-1", "MX_CENTRAL_1"),
    ("sa-east-1", "SA_EAST_1"),
    ("eu-west-1", "EU_WEST_1"),
    ("eu-west-2", "EU_WEST_2"),
    ("eu-west-3", "EU_WEST_3"),
    ("eu-central-1", "EU_CENTRAL_1"),
    ("eu-central-2", "EU_CENTRAL_2"),
    ("eu-north-1", "EU_NORTH_1"),
    ("eu-south-1", "EU_SOUTH_1"),
    ("eu-south-2", "EU_SOUTH_2"),
    ("ap-east-1", "AP_EAST_1"),
    ("ap-east-2", "AP_EAST_2"),
    ("ap-south-1", "AP_SOUTH_1"),
    ("ap-south-2", "AP_SOUTH_2"),
    ("ap-northeast-1", "AP_NORTHEAST_1"),
    ("ap-northeast-2", "AP_NORTHEAST_2"),
    ("ap-northeast-3", "AP_NORTHEAST_3"),
    ("ap-southeast-1", "AP_SOUTHEAST_1"),
    ("ap-southeast-2", "AP_SOUTHEAST_2"),
    ("ap-southeast-3", "AP_SOUTHEAST_3"),
    ("ap-southeast-4", "AP_SOUTHEAST_4"),
    ("ap-southeast-5", "AP_SOUTHEAST_5"),
    ("ap-southeast-6", "AP_SOUTHEAST_6"),
    ("ap-southeast-7", "AP_SOUTHEAST_7"),
    ("me-south-1", "ME_SOUTH_1"),
    ("me-central-1", "ME_CENTRAL_1"),
    ("af-south-1", "AF_SOUTH_1"),
    ("il-central-1", "IL_CENTRAL_1"),
];

/// An AWS commercial region in which Atlas supports AWS clusters.
///
/// Serializes as the AWS name (`"us-east-1"`); [`AwsRegion::atlas_name`] gives the Atlas name.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AwsRegion {
    /// Index into `REGIONS`.
    index: usize,
}

impl AwsRegion {
    /// Every supported region.
    pub fn all() -> impl Iterator<Item = AwsRegion> {
        (0..REGIONS.len()).map(|index| AwsRegion { index })
    }

    /// The region with this AWS name (`us-east-1`), if supported.
    pub fn from_aws_name(name: &str) -> Option<AwsRegion> {
        REGIONS
            .iter()
            .position(|(aws, _)| *aws == name)
            .map(|index| AwsRegion { index })
    }

    /// The region with this Atlas name (`US_EAST_1`), if supported.
    pub fn from_atlas_name(name: &str) -> Option<AwsRegion> {
        REGIONS
            .iter()
            .position(|(_, atlas)| *atlas == name)
            .map(|index| AwsRegion { index })
    }

    /// The AWS name, for EC2 and every other AWS API: `us-east-1`.
    pub fn as_str(self) -> &'static str {
        REGIONS[self.index].0
    }

    /// The Atlas name, for the Atlas Admin API: `US_EAST_1`.
    pub fn atlas_name(self) -> &'static str {
        REGIONS[self.index].1
    }
}

impl fmt::Display for AwsRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for AwsRegion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AwsRegion({})", self.as_str())
    }
}

impl FromStr for AwsRegion {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(region) = AwsRegion::from_aws_name(s) {
            return Ok(region);
        }
        if let Some(region) = AwsRegion::from_atlas_name(s) {
            return Err(InvalidValue::new(format!(
                "{s:?} is an Atlas region name; give the AWS name {:?} (the Atlas name is derived)",
                region.as_str()
            )));
        }
        if let Some(region) = AwsRegion::from_aws_name(&s.trim().to_ascii_lowercase()) {
            return Err(InvalidValue::new(format!(
                "{} is not an AWS region name as EC2 writes it: did you mean {:?}?",
                shown(s),
                region.as_str()
            )));
        }
        Err(InvalidValue::new(format!(
            "{} is not an AWS commercial region in which Atlas supports AWS clusters \
             (supported: {})",
            shown(s),
            REGIONS
                .iter()
                .map(|(aws, _)| *aws)
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

impl TryFrom<String> for AwsRegion {
    type Error = InvalidValue;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AwsRegion> for String {
    fn from(region: AwsRegion) -> String {
        region.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atlas_names_are_the_upper_snake_aws_names() {
        for region in AwsRegion::all() {
            assert_eq!(
                region.atlas_name(),
                region.as_str().to_ascii_uppercase().replace('-', "_"),
                "{region}"
            );
            assert_eq!(
                AwsRegion::from_atlas_name(region.atlas_name()),
                Some(region)
            );
            assert_eq!(region.as_str().parse::<AwsRegion>(), Ok(region));
        }
        assert_eq!(AwsRegion::all().count(), REGIONS.len());
    }

    #[test]
    fn known_derivations() {
        let cases = [
            ("us-east-1", "US_EAST_1"),
            ("eu-west-1", "EU_WEST_1"),
            ("ap-southeast-4", "AP_SOUTHEAST_4"),
            ("mx-central-1", "MX_CENTRAL_1"),
            ("il-central-1", "IL_CENTRAL_1"),
        ];
        for (aws, atlas) in cases {
            let region: AwsRegion = aws.parse().expect(aws);
            assert_eq!(region.atlas_name(), atlas);
        }
    }

    #[test]
    fn the_list_asked_for_is_covered() {
        for name in [
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
            "ca-central-1",
            "ca-west-1",
            "sa-east-1",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-7",
            "ap-south-1",
            "ap-south-2",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-east-1",
            "me-south-1",
            "me-central-1",
            "af-south-1",
            "il-central-1",
            "mx-central-1",
        ] {
            assert!(AwsRegion::from_aws_name(name).is_some(), "{name}");
        }
    }

    #[test]
    fn rejections_explain() {
        let err = "US_EAST_1".parse::<AwsRegion>().expect_err("atlas name");
        assert!(err.to_string().contains("\"us-east-1\""), "{err}");
        let err = "US-EAST-1".parse::<AwsRegion>().expect_err("upper case");
        assert!(err.to_string().contains("\"us-east-1\""), "{err}");
        for bad in ["us-gov-west-1", "cn-north-1", "us-east-9", "", "GLOBAL"] {
            let err = bad.parse::<AwsRegion>().expect_err(bad);
            assert!(
                err.to_string().contains("not an AWS commercial region"),
                "{err}"
            );
        }
    }

    #[test]
    fn serde_uses_the_aws_name() {
        let region: AwsRegion = "eu-west-1".parse().expect("region");
        assert_eq!(
            serde_json::to_value(region).expect("serialize"),
            serde_json::json!("eu-west-1")
        );
        let back: AwsRegion = serde_json::from_value(serde_json::json!("eu-west-1")).expect("de");
        assert_eq!(back, region);
    }
}
