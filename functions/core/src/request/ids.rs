//! Identifier types that can only hold a well-formed value.
//!
//! Each one checks its shape when it is built (`FromStr`, `TryFrom<String>`, or serde), so a
//! value of the type is always well formed; each serializes as the plain string. Rejection
//! messages say what is expected and never echo a value that could be a credential (ARNs are
//! not echoed, since a secret is sometimes pasted where its ARN belongs).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Why a value was rejected: the message, without the field path (the caller adds it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct InvalidValue {
    message: String,
}

impl InvalidValue {
    /// A rejection with this message.
    pub fn new(message: impl Into<String>) -> Self {
        InvalidValue {
            message: message.into(),
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A compiled, static regular expression.
macro_rules! regex {
    ($re:literal) => {{
        static RE: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new($re).expect("static regex compiles"));
        &*RE
    }};
}
pub(crate) use regex;

/// The value quoted for a message, cut to a length that keeps messages short.
pub(crate) fn shown(value: &str) -> String {
    const MAX: usize = 64;
    if value.chars().count() <= MAX {
        format!("{value:?}")
    } else {
        let cut: String = value.chars().take(MAX).collect();
        format!("{cut:?}…")
    }
}

/// A string newtype whose constructor runs `$check: fn(&str) -> Result<(), String>`.
macro_rules! checked_string {
    ($(#[$meta:meta])* $name:ident, $check:path) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value, as given.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidValue;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                $check(&value).map_err(InvalidValue::new)?;
                Ok($name(value))
            }
        }

        impl FromStr for $name {
            type Err = InvalidValue;

            fn from_str(value: &str) -> Result<Self, Self::Err> {
                $name::try_from(value.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

checked_string!(
    /// An Atlas project (group) id: 24 lowercase hexadecimal characters.
    ProjectId,
    check_project_id
);
checked_string!(
    /// An Atlas cluster name: letters, digits and hyphens, not starting with a hyphen, at most 64.
    ClusterName,
    check_cluster_name
);
checked_string!(
    /// An AWS account id: 12 digits.
    AccountId,
    check_account_id
);
checked_string!(
    /// An IAM role ARN: `arn:<partition>:iam::<account>:role/<path/name>`.
    RoleArn,
    check_role_arn
);
checked_string!(
    /// A Secrets Manager secret ARN:
    /// `arn:<partition>:secretsmanager:<region>:<account>:secret:<name>`.
    SecretArn,
    check_secret_arn
);
checked_string!(
    /// A VPC id: `vpc-` and 8 or 17 lowercase hexadecimal characters.
    VpcId,
    check_vpc_id
);
checked_string!(
    /// A subnet id: `subnet-` and 8 or 17 lowercase hexadecimal characters.
    SubnetId,
    check_subnet_id
);
checked_string!(
    /// A security group id: `sg-` and 8 or 17 lowercase hexadecimal characters.
    SecurityGroupId,
    check_security_group_id
);
checked_string!(
    /// A Secrets Manager secret name: 1–512 characters of `A-Za-z0-9/_+=.@-`, not ending in a
    /// hyphen followed by six characters.
    SecretName,
    check_secret_name
);
checked_string!(
    /// A KMS key reference Secrets Manager accepts: key id, key ARN, `alias/<name>`, or alias ARN.
    KmsKeyId,
    check_kms_key_id
);

impl SecretArn {
    /// The secret's name: the ARN's resource part without the 6-character suffix Secrets
    /// Manager appends (`…:secret:prod/db-user-AbCdEf` → `prod/db-user`).
    pub fn name(&self) -> &str {
        let name = self
            .as_str()
            .split(":secret:")
            .nth(1)
            .unwrap_or(self.as_str());
        match name.rsplit_once('-') {
            Some((base, suffix)) if suffix.len() == 6 => base,
            _ => name,
        }
    }
}

impl RoleArn {
    /// The account the role is in.
    pub fn account_id(&self) -> &str {
        // The shape was checked: `arn:<partition>:iam::<12 digits>:role/...`.
        self.0.split(':').nth(4).unwrap_or_default()
    }
}

impl SecretName {
    /// The default secret name of a request:
    /// `atlas/<projectId>/<clusterName>/privatelink/<key>`, `key` the first 8 hex digits of
    /// the request's owner key, so two requests on one cluster get two secrets.
    pub fn default_for(
        project_id: &ProjectId,
        cluster_name: &ClusterName,
        owner_key: &str,
    ) -> SecretName {
        // Always valid: hex, `[A-Za-z0-9-]` and slashes, at most 6 + 24 + 1 + 64 + 13 + 9
        // characters, ending in "/<8 hex>".
        let key: String = owner_key.chars().take(8).collect();
        SecretName(format!(
            "atlas/{project_id}/{cluster_name}/privatelink/{key}"
        ))
    }
}

const PARTITIONS: &str = "partition aws, aws-cn or aws-us-gov";

fn check_project_id(s: &str) -> Result<(), String> {
    if regex!("^[0-9a-f]{24}$").is_match(s) {
        Ok(())
    } else if regex!("^[0-9a-fA-F]{24}$").is_match(s) {
        Err(
            "must be lowercase hexadecimal (Atlas project ids are 24 lowercase hex characters)"
                .into(),
        )
    } else {
        Err(format!(
            "{} is not an Atlas project id: expected 24 lowercase hexadecimal characters",
            shown(s)
        ))
    }
}

fn check_cluster_name(s: &str) -> Result<(), String> {
    let len = s.chars().count();
    if len == 0 {
        return Err("must not be empty".into());
    }
    if len > 64 {
        return Err(format!(
            "is {len} characters long; Atlas cluster names have at most 64"
        ));
    }
    if !regex!("^[a-zA-Z0-9][a-zA-Z0-9-]*$").is_match(s) {
        return Err(format!(
            "{} is not an Atlas cluster name: use letters, digits and hyphens, starting with a \
             letter or digit",
            shown(s)
        ));
    }
    Ok(())
}

fn check_account_id(s: &str) -> Result<(), String> {
    if regex!("^[0-9]{12}$").is_match(s) {
        Ok(())
    } else {
        Err(format!(
            "{} is not an AWS account id: expected 12 digits (as a string, leading zeros kept)",
            shown(s)
        ))
    }
}

fn check_role_arn(s: &str) -> Result<(), String> {
    let re = regex!(
        r"^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role/([\x21-\x7e]+/)*[A-Za-z0-9+=,.@_-]{1,64}$"
    );
    if re.is_match(s) && s.len() <= 2048 {
        Ok(())
    } else {
        Err(format!(
            "is not an IAM role ARN: expected arn:<partition>:iam::<12-digit account>:role/<path/name> \
             ({PARTITIONS})"
        ))
    }
}

fn check_secret_arn(s: &str) -> Result<(), String> {
    let re = regex!(
        r"^arn:(aws|aws-cn|aws-us-gov):secretsmanager:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
    );
    if re.is_match(s) {
        Ok(())
    } else {
        Err(format!(
            "is not a Secrets Manager secret ARN: expected \
             arn:<partition>:secretsmanager:<region>:<12-digit account>:secret:<name> ({PARTITIONS})"
        ))
    }
}

fn check_aws_id(s: &str, prefix: &str, what: &str) -> Result<(), String> {
    let ok = s.strip_prefix(prefix).is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} is not a {what} id: expected {prefix} and 8 or 17 lowercase hexadecimal characters",
            shown(s)
        ))
    }
}

fn check_vpc_id(s: &str) -> Result<(), String> {
    check_aws_id(s, "vpc-", "VPC")
}

fn check_subnet_id(s: &str) -> Result<(), String> {
    check_aws_id(s, "subnet-", "subnet")
}

fn check_security_group_id(s: &str) -> Result<(), String> {
    check_aws_id(s, "sg-", "security group")
}

fn check_secret_name(s: &str) -> Result<(), String> {
    let len = s.chars().count();
    if len == 0 {
        return Err("must not be empty".into());
    }
    if len > 512 {
        return Err(format!(
            "is {len} characters long; Secrets Manager allows at most 512"
        ));
    }
    if let Some(bad) = s
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "/_+=.@-".contains(*c)))
    {
        return Err(format!(
            "contains {bad:?}; Secrets Manager names may contain only letters, digits and /_+=.@-"
        ));
    }
    if s.chars().rev().nth(6) == Some('-') {
        return Err(
            "must not end with a hyphen followed by six characters: Secrets Manager appends such \
             a suffix to secret ARNs, and lookups by name would become ambiguous"
                .into(),
        );
    }
    Ok(())
}

fn check_kms_key_id(s: &str) -> Result<(), String> {
    let key_id = regex!(
        r"^([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
    );
    let key_arn = regex!(
        r"^arn:(aws|aws-cn|aws-us-gov):kms:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:key/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$"
    );
    let alias = regex!(r"^alias/[A-Za-z0-9/_-]{1,250}$");
    let alias_arn = regex!(
        r"^arn:(aws|aws-cn|aws-us-gov):kms:[a-z]{2}(-[a-z]+)+-[0-9]{1,2}:[0-9]{12}:alias/[A-Za-z0-9/_-]{1,250}$"
    );
    if key_id.is_match(s) || key_arn.is_match(s) || alias.is_match(s) || alias_arn.is_match(s) {
        Ok(())
    } else {
        Err(format!(
            "{} is not a KMS key reference: expected a key id (UUID or mrk-…), a key ARN, \
             alias/<name>, or an alias ARN",
            shown(s)
        ))
    }
}

/// An IPv4 or IPv6 CIDR block whose host bits are zero (`10.0.0.0/16`, `2001:db8::/32`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cidr(IpNet);

impl Cidr {
    /// The network.
    pub fn net(self) -> IpNet {
        self.0
    }

    /// Whether this is an IPv6 block (EC2 takes those in a separate ingress field).
    pub fn is_ipv6(self) -> bool {
        matches!(self.0, IpNet::V6(_))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cidr({})", self.0)
    }
}

impl FromStr for Cidr {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<IpNet>() {
            Ok(net) if net == net.trunc() => Ok(Cidr(net)),
            Ok(net) => Err(InvalidValue::new(format!(
                "{} has host bits set; host bits must be zero: did you mean \"{}\"?",
                shown(s),
                net.trunc()
            ))),
            Err(_) if s.parse::<IpAddr>().is_ok() => Err(InvalidValue::new(format!(
                "{} is an address, not a CIDR block: add a prefix length (e.g. \"{s}/32\" for \
                 one IPv4 address)",
                shown(s)
            ))),
            Err(_) => Err(InvalidValue::new(format!(
                "{} is not an IPv4 or IPv6 CIDR block (e.g. \"10.0.0.0/16\" or \"2001:db8::/32\")",
                shown(s)
            ))),
        }
    }
}

impl TryFrom<String> for Cidr {
    type Error = InvalidValue;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Cidr> for String {
    fn from(cidr: Cidr) -> String {
        cidr.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok<T: FromStr>(s: &str) -> bool {
        s.parse::<T>().is_ok()
    }

    #[test]
    fn project_and_cluster() {
        assert!(ok::<ProjectId>("5f1d3a2b4c6e8f0a1b2c3d4e"));
        assert!(!ok::<ProjectId>("5F1D3A2B4C6E8F0A1B2C3D4E"));
        assert!(!ok::<ProjectId>("5f1d3a2b4c6e8f0a1b2c3d4"));
        assert!(!ok::<ProjectId>("5f1d3a2b4c6e8f0a1b2c3d4g"));
        assert!(ok::<ClusterName>("Cluster0"));
        assert!(ok::<ClusterName>("0-prod-cluster"));
        assert!(ok::<ClusterName>(&"a".repeat(64)));
        assert!(!ok::<ClusterName>(&"a".repeat(65)));
        assert!(!ok::<ClusterName>("-prod"));
        assert!(!ok::<ClusterName>("prod_cluster"));
        assert!(!ok::<ClusterName>(""));
    }

    #[test]
    fn aws_ids() {
        assert!(ok::<VpcId>("vpc-0a1b2c3d"));
        assert!(ok::<VpcId>("vpc-0a1b2c3d4e5f60718"));
        assert!(!ok::<VpcId>("vpc-0a1b2c3d4"));
        assert!(!ok::<VpcId>("vpc-0A1B2C3D"));
        assert!(!ok::<VpcId>("subnet-0a1b2c3d"));
        assert!(ok::<SubnetId>("subnet-0123456789abcdef0"));
        assert!(!ok::<SubnetId>("subnet-"));
        assert!(ok::<SecurityGroupId>("sg-0a1b2c3d"));
        assert!(!ok::<SecurityGroupId>("sg-xyz"));
        assert!(ok::<AccountId>("012345678901"));
        assert!(!ok::<AccountId>("12345678901"));
    }

    #[test]
    fn arns() {
        let role: RoleArn = "arn:aws:iam::123456789012:role/platform/AtlasPrivateLink"
            .parse()
            .expect("role");
        assert_eq!(role.account_id(), "123456789012");
        assert!(ok::<RoleArn>("arn:aws-us-gov:iam::123456789012:role/R"));
        assert!(!ok::<RoleArn>("arn:aws:iam::123456789012:user/alice"));
        assert!(!ok::<RoleArn>("arn:aws:iam::12345678901:role/R"));
        assert!(!ok::<RoleArn>("arn:aws:iam::123456789012:role/"));
        assert!(ok::<SecretArn>(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:atlas/api-AbCdEf"
        ));
        assert!(ok::<SecretArn>(
            "arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:x"
        ));
        assert!(!ok::<SecretArn>(
            "arn:aws:ssm:us-east-1:123456789012:parameter/atlas"
        ));
        assert!(!ok::<SecretArn>(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:"
        ));
        let arn: SecretArn =
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-user-AbCdEf"
                .parse()
                .expect("arn");
        assert_eq!(arn.name(), "prod/db-user");
        let err = "hunter2".parse::<SecretArn>().expect_err("not an arn");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[test]
    fn secret_names() {
        assert!(ok::<SecretName>(
            "atlas/5f1d3a2b4c6e8f0a1b2c3d4e/Cluster0/privatelink"
        ));
        assert!(ok::<SecretName>("a"));
        assert!(ok::<SecretName>(&"a".repeat(512)));
        assert!(!ok::<SecretName>(&"a".repeat(513)));
        assert!(!ok::<SecretName>(""));
        assert!(!ok::<SecretName>("atlas secret"));
        assert!(!ok::<SecretName>("atlas/prod-AbCdEf"));
        assert!(ok::<SecretName>("atlas/prod-AbCdEfG"));
        assert!(ok::<SecretName>("atlas/prod-AbCdE"));
        let project: ProjectId = "5f1d3a2b4c6e8f0a1b2c3d4e".parse().expect("project");
        let cluster: ClusterName = "a".repeat(64).parse().expect("cluster");
        let name = SecretName::default_for(&project, &cluster, "0123456789abcdef");
        assert!(name.as_str().ends_with("/privatelink/01234567"), "{name}");
        assert_eq!(name.as_str().parse::<SecretName>(), Ok(name.clone()));
    }

    #[test]
    fn kms_keys() {
        for good in [
            "1234abcd-12ab-34cd-56ef-1234567890ab",
            "mrk-1234abcd12ab34cd56ef1234567890ab",
            "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
            "alias/atlas",
            "alias/aws/secretsmanager",
            "arn:aws:kms:eu-west-1:123456789012:alias/atlas-secrets",
        ] {
            assert!(ok::<KmsKeyId>(good), "{good}");
        }
        for bad in [
            "atlas",
            "alias/",
            "1234abcd",
            "arn:aws:kms:us-east-1:123456789012:key/atlas",
        ] {
            assert!(!ok::<KmsKeyId>(bad), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        let v4: Cidr = "10.0.0.0/16".parse().expect("v4");
        assert!(!v4.is_ipv6());
        assert_eq!(v4.to_string(), "10.0.0.0/16");
        let v6: Cidr = "2001:db8::/32".parse().expect("v6");
        assert!(v6.is_ipv6());
        let err = "10.0.0.1/16".parse::<Cidr>().expect_err("host bits");
        assert!(err.to_string().contains("host bits must be zero"), "{err}");
        assert!(err.to_string().contains("10.0.0.0/16"), "{err}");
        let err = "2001:db8::1/32".parse::<Cidr>().expect_err("host bits v6");
        assert!(err.to_string().contains("2001:db8::/32"), "{err}");
        let err = "10.0.0.1".parse::<Cidr>().expect_err("address");
        assert!(err.to_string().contains("prefix length"), "{err}");
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("anywhere".parse::<Cidr>().is_err());
    }

    #[test]
    fn shown_cuts_long_values() {
        assert_eq!(shown("abc"), "\"abc\"");
        let long = "x".repeat(100);
        assert_eq!(shown(&long), format!("\"{}\"…", "x".repeat(64)));
    }
}
