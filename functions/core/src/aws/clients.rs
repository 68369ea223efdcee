//! AWS SDK clients: configuration loaded once per cold start, clients per (role, region) built
//! on first use and kept for warm invocations.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_ec2::config::{Intercept, SharedCredentialsProvider, SharedInterceptor};
use tokio::sync::Mutex;

/// The clients the steps use in one account and region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// Builds and caches [`RegionClients`].
#[derive(Debug)]
pub struct AwsClients {
    base: SdkConfig,
    ec2_interceptors: Vec<SharedInterceptor>,
    cache: Mutex<HashMap<(Option<String>, String), RegionClients>>,
}

/// Timeouts on every AWS call: connecting, one attempt, and the whole call with SDK retries.
pub fn timeouts() -> TimeoutConfig {
    TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(5))
        .operation_attempt_timeout(Duration::from_secs(20))
        .operation_timeout(Duration::from_secs(60))
        .build()
}

impl AwsClients {
    /// Loads the AWS configuration the usual way (environment, Lambda role, and
    /// `AWS_ENDPOINT_URL` for local endpoints such as moto), with our timeouts and the
    /// SDK's standard retries (throttling and transient faults, with back-off and jitter).
    pub async fn load() -> Self {
        let base = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(timeouts())
            .retry_config(RetryConfig::standard().with_max_attempts(5))
            .load()
            .await;
        Self::from_config(base)
    }

    /// Uses a given configuration.
    pub fn from_config(base: SdkConfig) -> Self {
        Self {
            base,
            ec2_interceptors: Vec::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Adds an interceptor to every EC2 client built from now on. The local stack uses one
    /// to let EC2 (moto) report a VPC endpoint's acceptance the way AWS does; Lambda uses none.
    pub fn with_ec2_interceptor(mut self, interceptor: impl Intercept + 'static) -> Self {
        self.ec2_interceptors
            .push(SharedInterceptor::new(interceptor));
        self
    }

    /// The region of the base configuration (the Lambda's own region).
    pub fn home_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    /// Clients for `region`, in the account of `role_arn` (assumed with STS) or our own.
    pub async fn for_region(&self, role_arn: Option<&str>, region: &str) -> RegionClients {
        let key = (role_arn.map(str::to_owned), region.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(clients) = cache.get(&key) {
            return clients.clone();
        }
        let mut config = self
            .base
            .to_builder()
            .region(Region::new(region.to_owned()));
        if let Some(role) = role_arn {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("atlas-privatelink")
                .region(Region::new(region.to_owned()))
                .configure(&self.base)
                .build()
                .await;
            config = config.credentials_provider(SharedCredentialsProvider::new(provider));
        }
        let config = config.build();
        let mut ec2_config = aws_sdk_ec2::config::Builder::from(&config);
        for interceptor in &self.ec2_interceptors {
            ec2_config.push_interceptor(interceptor.clone());
        }
        let clients = RegionClients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2_config.build()),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
        };
        cache.insert(key, clients.clone());
        clients
    }
}
