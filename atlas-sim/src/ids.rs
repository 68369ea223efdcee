//! Identifiers and region names: Atlas's 24-hex ids, AWS interface endpoint ids, the two
//! spellings of an AWS region (`us-east-1`, `US_EAST_1`), and fresh random ids.

use std::sync::LazyLock;

use regex::Regex;

static AWS_REGION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$").expect("a valid constant regex")
});
static VPCE_ID: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^vpce-[0-9a-f]{17}$").expect("a valid constant regex"));
static HEX24: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[0-9a-f]{24}$").expect("a valid constant regex"));

/// `US_EAST_1` or `us-east-1` → `us-east-1`, if it is an AWS region name.
pub fn aws_region(region: &str) -> Option<String> {
    let aws = region.trim().to_ascii_lowercase().replace('_', "-");
    AWS_REGION.is_match(&aws).then_some(aws)
}

/// `us-east-1` → `US_EAST_1`.
pub fn atlas_region(aws: &str) -> String {
    aws.to_ascii_uppercase().replace('-', "_")
}

/// Whether `id` is a 24-hex Atlas id.
pub fn is_object_id(id: &str) -> bool {
    HEX24.is_match(id)
}

/// Whether `id` is an AWS interface endpoint id.
pub fn is_vpce_id(id: &str) -> bool {
    VPCE_ID.is_match(id)
}

/// A fresh 24-hex id.
pub(crate) fn new_object_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

/// `n` random lowercase hex digits.
pub(crate) fn random_hex(n: usize) -> String {
    let mut text = hex::encode(rand::random::<[u8; 16]>());
    text.truncate(n);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_spellings() {
        assert_eq!(aws_region("US_EAST_1").as_deref(), Some("us-east-1"));
        assert_eq!(
            aws_region("us-gov-west-1").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(aws_region("EASTUS2"), None);
        assert_eq!(atlas_region("ap-southeast-2"), "AP_SOUTHEAST_2");
    }

    #[test]
    fn ids() {
        assert!(is_object_id(&new_object_id()));
        assert!(is_vpce_id(&format!("vpce-{}", random_hex(17))));
        assert!(!is_vpce_id("vpce-123"));
    }
}
