//! What the steps share within one process: clocks, AWS clients, Atlas clients. Built once per
//! Lambda cold start (or once per local run) and reused, so warm invocations reuse connections,
//! assumed-role credentials and the Atlas service-account token.

use std::collections::HashMap;
use std::sync::Arc;

use atlas_api::{AtlasClient, ClientConfig, Credentials, DEFAULT_BASE_URL};
use clock::SharedClock;
use tokio::sync::Mutex;

use crate::aws::clients::AwsClients;
use crate::aws::secrets::read_secret_string;
use crate::error::{ErrorName, StepError};
use crate::ports::HttpAtlas;
use crate::request::ProvisionRequest;
pub use crate::settings::{Polling, Settings};

/// Shared state of the steps.
#[derive(Debug)]
pub struct Context {
    /// Time: real in Lambda, virtual in local runs and tests.
    pub clock: SharedClock,
    /// AWS clients.
    pub aws: AwsClients,
    /// Settings.
    pub settings: Settings,
    /// Atlas clients by credentials secret, so one token serves every warm invocation.
    atlas: Mutex<HashMap<String, Arc<AtlasClient>>>,
}

impl Context {
    /// A context from its parts.
    pub fn new(clock: SharedClock, aws: AwsClients, settings: Settings) -> Self {
        Self {
            clock,
            aws,
            settings,
            atlas: Mutex::new(HashMap::new()),
        }
    }

    /// The standard context: real clock, AWS configuration and settings from the environment.
    pub async fn from_env() -> Self {
        Self::new(
            clock::SystemClock::shared(),
            AwsClients::load().await,
            Settings::from_env(),
        )
    }

    /// The endpoint-service claims, when the stack has a claims table.
    pub fn claims(&self) -> Option<crate::aws::claims::Claims> {
        self.settings
            .claims_table
            .as_ref()
            .map(|table| crate::aws::claims::Claims::new(self.aws.dynamodb(), table))
    }

    /// The shared Atlas reads ([`crate::ports::shared_reads`]), when the stack has a claims
    /// table (they are kept in it).
    pub fn read_cache(&self) -> Option<crate::ports::read_cache::DynamoReadCache> {
        self.settings
            .claims_table
            .as_ref()
            .map(|table| crate::ports::read_cache::DynamoReadCache::new(self.aws.dynamodb(), table))
    }

    /// The Atlas port for steps that poll: [`HttpAtlas::polling`] over the request's client,
    /// its `…_shared` reads shared with the stack's other executions at the Atlas cadence,
    /// keeping each read's lease for the next (call [`HttpAtlas::stop_sharing`] when done).
    pub async fn polling_atlas(&self, request: &ProvisionRequest) -> Result<HttpAtlas, StepError> {
        let atlas = HttpAtlas::polling(&*self.atlas(request).await?);
        Ok(self.sharing(atlas, true))
    }

    /// `atlas`, its `…_shared` reads shared with the stack's other executions at the Atlas
    /// polling cadence (not shared without a claims table); `polls`: see
    /// [`HttpAtlas::sharing`].
    pub fn sharing(&self, atlas: HttpAtlas, polls: bool) -> HttpAtlas {
        atlas.sharing(
            self.read_cache(),
            self.clock.clone(),
            self.settings.polling.atlas_every,
            polls,
        )
    }

    /// The Atlas client for the request's credentials secret (or the default one).
    ///
    /// The secret lives in this function's own account; its region is taken from its ARN.
    pub async fn atlas(&self, request: &ProvisionRequest) -> Result<Arc<AtlasClient>, StepError> {
        let (secret_id, field) = match request.atlas.credentials_secret_arn.as_deref() {
            Some(arn) => (arn.to_owned(), "atlas.credentialsSecretArn"),
            None => (
                self.settings
                    .default_credentials_secret
                    .clone()
                    .ok_or_else(|| {
                        StepError::invalid(
                            "atlas.credentialsSecretArn",
                            "no Atlas credentials secret: name one in the request or set \
                         ATLAS_CREDENTIALS_SECRET_ARN on the function",
                        )
                    })?,
                "ATLAS_CREDENTIALS_SECRET_ARN",
            ),
        };
        let mut clients = self.atlas.lock().await;
        if let Some(client) = clients.get(&secret_id) {
            return Ok(client.clone());
        }
        let region = arn_region(&secret_id)
            .map(str::to_owned)
            .or_else(|| self.aws.home_region())
            .unwrap_or_else(|| "us-east-1".to_owned());
        let secrets = self.aws.for_region(None, &region).await?.secrets;
        let json = read_secret_string(&secrets, &secret_id, field).await?;
        let (credentials, secret_base_url) = Credentials::from_secret_json(&json)
            .map_err(|e| StepError::invalid(field, e.to_string()))?;
        let base_url = secret_base_url
            .or_else(|| self.settings.atlas_base_url.clone())
            .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
        let config = ClientConfig {
            base_url,
            request_timeout: self.settings.atlas_request_timeout,
            ..ClientConfig::default()
        };
        let client = AtlasClient::new(credentials, config, self.clock.clone())
            .map(Arc::new)
            .map_err(|e| StepError::new(ErrorName::InvalidRequest, e.to_string()))?;
        clients.insert(secret_id, client.clone());
        Ok(client)
    }
}

/// The region part of an ARN (`arn:aws:secretsmanager:REGION:…`).
pub fn arn_region(arn: &str) -> Option<&str> {
    arn.split(':').nth(3).filter(|r| !r.is_empty())
}

/// The account part of an ARN.
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}
