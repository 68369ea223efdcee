//! AWS SDK clients: configuration loaded once per cold start, clients per (role, region) built
//! on first use and kept for warm invocations.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::identity::IdentityCache;
use aws_config::retry::RetryConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_ec2::config::{Intercept, SharedCredentialsProvider, SharedInterceptor};
use tokio::sync::Mutex;

use crate::error::{ErrorName, StepError};

/// The clients the steps use in one account and region.
#[derive(Clone, Debug)]
pub struct RegionClients {
    /// EC2.
    pub ec2: aws_sdk_ec2::Client,
    /// Secrets Manager.
    pub secrets: aws_sdk_secretsmanager::Client,
}

/// Builds and caches [`RegionClients`].
pub struct AwsClients {
    base: SdkConfig,
    interceptors: Vec<InterceptorFactory>,
    cache: Mutex<HashMap<(Option<String>, String), RegionClients>>,
}

/// What a set of [`RegionClients`] is built for, given to an interceptor factory so that one
/// interceptor can tell the clients apart (their calls go to different accounts and regions).
#[derive(Clone, Copy, Debug)]
pub struct ClientScope<'a> {
    /// The role the clients act as (`None`: the function's own credentials).
    pub role_arn: Option<&'a str>,
    /// The clients' region.
    pub region: &'a str,
}

/// Makes the interceptor of the clients of one [`ClientScope`].
type InterceptorFactory = Arc<dyn Fn(ClientScope<'_>) -> SharedInterceptor + Send + Sync>;

impl std::fmt::Debug for AwsClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsClients")
            .field("base", &self.base)
            .field("interceptors", &self.interceptors.len())
            .finish_non_exhaustive()
    }
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
            interceptors: Vec::new(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Adds an interceptor to every client (EC2, Secrets Manager, DynamoDB) built from now on, made by
    /// `make` for each role and region the clients are built for. The local stack's IAM test
    /// uses one to record every call with the function that made it; Lambda uses none.
    pub fn with_interceptor<I, F>(mut self, make: F) -> Self
    where
        I: Intercept + 'static,
        F: Fn(ClientScope<'_>) -> I + Send + Sync + 'static,
    {
        self.interceptors
            .push(Arc::new(move |scope| SharedInterceptor::new(make(scope))));
        self
    }

    /// A DynamoDB client in the function's own account and region (the stack's claims table
    /// lives there), with the same interceptors as the others.
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        let mut config = aws_sdk_dynamodb::config::Builder::from(&self.base);
        let region = self.home_region().unwrap_or_default();
        for make in &self.interceptors {
            config.push_interceptor(make(ClientScope {
                role_arn: None,
                region: &region,
            }));
        }
        aws_sdk_dynamodb::Client::from_conf(config.build())
    }

    /// The region of the base configuration (the Lambda's own region).
    pub fn home_region(&self) -> Option<String> {
        self.base.region().map(|r| r.to_string())
    }

    /// Clients for `region`, in the account of `role_arn` (assumed with STS) or our own.
    ///
    /// The role is assumed once here, so a role that cannot be assumed is a named error now
    /// (`InvalidRequest` naming `aws.roleArn` for `AccessDenied`) instead of minutes of
    /// retried transport errors on every later call.
    pub async fn for_region(
        &self,
        role_arn: Option<&str>,
        region: &str,
    ) -> Result<RegionClients, StepError> {
        let key = (role_arn.map(str::to_owned), region.to_owned());
        let mut cache = self.cache.lock().await;
        if let Some(clients) = cache.get(&key) {
            return Ok(clients.clone());
        }
        let mut config = self
            .base
            .to_builder()
            .region(Region::new(region.to_owned()));
        if let Some(role) = role_arn {
            let provider = AssumeRoleProvider::builder(role)
                .session_name("atlas-privatelink")
                .region(Region::new(region.to_owned()))
                .configure(&self.base)
                .build()
                .await;
            if let Err(e) = provider.provide_credentials().await {
                return Err(assume_role_error(role, region, &e));
            }
            // Its own identity cache: the SDK's shared lazy cache holds 64 providers and drops
            // one at random beyond that, so a warm container working for more target accounts
            // would assume their roles again and again (measured: 22 AssumeRole calls per
            // execution with 200 roles in one process, 2 with a cache per role).
            config = config
                .credentials_provider(SharedCredentialsProvider::new(provider))
                .identity_cache(IdentityCache::lazy().build());
        }
        let config = config.build();
        let scope = ClientScope { role_arn, region };
        let scoped: Vec<SharedInterceptor> = self.interceptors.iter().map(|f| f(scope)).collect();
        let mut ec2_config = aws_sdk_ec2::config::Builder::from(&config);
        for interceptor in &scoped {
            ec2_config.push_interceptor(interceptor.clone());
        }
        let mut secrets_config = aws_sdk_secretsmanager::config::Builder::from(&config);
        for interceptor in &scoped {
            secrets_config.push_interceptor(interceptor.clone());
        }
        let clients = RegionClients {
            ec2: aws_sdk_ec2::Client::from_conf(ec2_config.build()),
            secrets: aws_sdk_secretsmanager::Client::from_conf(secrets_config.build()),
        };
        cache.insert(key, clients.clone());
        Ok(clients)
    }
}

/// A failed AssumeRole as a step error: `AccessDenied` (the role does not exist, or does not
/// trust this account) is the request's fault and names the role; anything else (throttling,
/// STS unreachable) is `AwsUnavailable`, worth retrying.
fn assume_role_error(
    role: &str,
    region: &str,
    e: &aws_credential_types::provider::error::CredentialsError,
) -> StepError {
    // The STS error code is somewhere in the source chain; its text carries it.
    let mut chain = vec![e.to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        chain.push(format!("{inner} {inner:?}"));
        source = inner.source();
    }
    let text = chain.join(": ");
    if text.contains("AccessDenied") {
        tracing::warn!(role, region, "AssumeRole denied");
        StepError::invalid(
            "aws.roleArn",
            format!(
                "AWS refused to let this function assume {role} in {region} (AccessDenied): the \
                 role must exist in the target account and trust this account's functions \
                 (deploy infra/target-account-role.yaml there)"
            ),
        )
    } else {
        StepError::new(
            ErrorName::AwsUnavailable,
            format!("could not assume {role} in {region}: {}", chain[0]),
        )
    }
}
