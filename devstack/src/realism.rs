//! The rules of AWS that moto does not follow, as switches. [`Realism::realistic`] (every rule
//! on) is what the demo, the benchmark and the tests use; [`Realism::kind`] turns them off,
//! for a world as forgiving as moto alone.
//!
//! Each rule names its source. They are applied by the [`AwsFront`](crate::front::AwsFront)
//! in front of moto, and (for the link made too early) through the Atlas simulator's
//! [`LinkGate`](atlas_sim::LinkGate).

use std::time::Duration;

/// When EC2 reports a VPC endpoint to a provider's service `available`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acceptance {
    /// When Atlas says the interface endpoint is `AVAILABLE` (`pending` from acceptance until
    /// then).
    WhenAtlasAvailable,
    /// As soon as Atlas accepts it (Atlas `PENDING`), before Atlas says `AVAILABLE`. AWS does
    /// not document which of the two happens; this is the one that costs the workflow more
    /// Atlas reads, and the benchmark reports both.
    AtAcceptance,
}

/// The rules the AWS front applies; see the module documentation.
#[derive(Debug, Clone, PartialEq)]
pub struct Realism {
    /// EC2 eventual consistency (EC2 API reference, "Eventual consistency in the Amazon EC2
    /// API"): for a random time in this range after CreateSecurityGroup / CreateVpcEndpoint,
    /// calls naming the new id answer `InvalidGroup.NotFound` /
    /// `InvalidVpcEndpointId.NotFound`, and lists leave it out. `None`: visible at once.
    pub ec2_visibility_delay: Option<(Duration, Duration)>,
    /// EC2 client tokens (EC2 API reference, "Ensuring idempotency in Amazon EC2 API
    /// requests"): CreateVpcEndpoint with a ClientToken seen before answers the original
    /// result when the parameters are the same (even if that endpoint was deleted since) and
    /// `IdempotentParameterMismatch` when they differ. moto ignores the token.
    pub ec2_client_tokens: bool,
    /// Availability zones an Atlas endpoint service supports, as zone letters of its region
    /// (`"abc"`: `us-east-1a`…`c`). CreateVpcEndpoint with a subnet in another zone, or two
    /// subnets in one zone, fails as in AWS (PrivateLink guide, "Access an AWS service using an
    /// interface VPC endpoint": one subnet per zone, zones the service supports), and
    /// DescribeVpcEndpointServices reports the zones. `None`: every zone, any number.
    pub service_zones: Option<String>,
    /// How long a new VPC endpoint stays `pending` while AWS creates it, before it turns
    /// `pendingAcceptance` (a random time in this range). A link made in Atlas meanwhile fails:
    /// Atlas cannot accept an endpoint that AWS is still modifying
    /// (terraform-provider-mongodbatlas#590). `None`: `pendingAcceptance` at once.
    pub endpoint_creation: Option<(Duration, Duration)>,
    /// When EC2 reports an accepted endpoint `available`.
    pub acceptance: Acceptance,
    /// AuthorizeSecurityGroupIngress with a rule the group already has fails whole with
    /// `InvalidPermission.Duplicate` (EC2 API reference, AuthorizeSecurityGroupIngress); moto
    /// accepts it.
    pub duplicate_rules_refused: bool,
    /// Cross-region PrivateLink (AWS PrivateLink guide, "Cross-Region connectivity"; launched
    /// 2024-11-26): CreateVpcEndpoint to a service of another region needs `ServiceRegion` set
    /// to the service's region, else `InvalidServiceName` "The Vpc Endpoint Service '…' does
    /// not exist" (hashicorp/terraform-provider-aws#40583, #42970), and the service must list
    /// the caller's region among its supported regions (Atlas: `supportedRemoteRegions`,
    /// asked of the simulator). A region the service does not (yet) serve answers the same
    /// `InvalidServiceName`: AWS's answer there is not documented (an assumption). The zone
    /// rule (`service_zones`) does not apply across regions (elastic/docs-content,
    /// private-connectivity-aws.md). moto ignores `ServiceRegion`.
    pub cross_region_rules: bool,
    /// Seed of the random draws (visibility delays, creation times), so a run can be repeated.
    pub seed: u64,
}

impl Realism {
    /// Every rule on, with the delays seen in AWS: ids visible within 5 s, endpoints created in
    /// 10–40 s, Atlas's endpoint services in three zones (`a`, `b`, `c`).
    pub fn realistic() -> Self {
        Self {
            ec2_visibility_delay: Some((Duration::ZERO, Duration::from_secs(5))),
            ec2_client_tokens: true,
            service_zones: Some("abc".to_owned()),
            endpoint_creation: Some((Duration::from_secs(10), Duration::from_secs(40))),
            acceptance: Acceptance::WhenAtlasAvailable,
            duplicate_rules_refused: true,
            cross_region_rules: true,
            seed: 20_261_201,
        }
    }

    /// Every rule off: moto as it is, except that endpoints to an Atlas service still wait for
    /// Atlas's acceptance (EC2 `pendingAcceptance` → `available`).
    pub fn kind() -> Self {
        Self {
            ec2_visibility_delay: None,
            ec2_client_tokens: false,
            service_zones: None,
            endpoint_creation: None,
            acceptance: Acceptance::WhenAtlasAvailable,
            duplicate_rules_refused: false,
            cross_region_rules: false,
            seed: 0,
        }
    }

    /// The same with fixed delays instead of drawn ones (a scenario or a test that must not
    /// depend on a draw): new ids visible after `visible_after`, endpoints created after
    /// `created_after`.
    pub fn with_fixed_delays(mut self, visible_after: Duration, created_after: Duration) -> Self {
        self.ec2_visibility_delay = Some((visible_after, visible_after));
        self.endpoint_creation = Some((created_after, created_after));
        self
    }

    /// The same with EC2 reporting `available` at Atlas's acceptance.
    pub fn with_acceptance(mut self, acceptance: Acceptance) -> Self {
        self.acceptance = acceptance;
        self
    }
}

impl Default for Realism {
    fn default() -> Self {
        Self::realistic()
    }
}
