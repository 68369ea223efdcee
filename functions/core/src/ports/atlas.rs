//! The Atlas port: the Admin API calls of the steps (endpoint services, their interface
//! endpoints, the cluster description, the project's regional mode), with the HTTP client
//! behind it.
//!
//! Unlike the AWS ports, the methods answer [`AtlasError`], not a `StepError`: the steps
//! branch on what Atlas said (a 404 is "gone", which teardown and rollback count as done; a
//! 409 on a link is "linked already"; the 409 "already exists for region" is a racing or lost
//! create), and those cases all map to the same `InvalidRequest` name once turned into a step
//! error. Each step turns the errors it does not branch on into step errors itself, with
//! `steps::atlas_error`, as it did before the port.

use std::future::Future;
use std::sync::Arc;

use std::time::Duration;

use atlas_api::models::{Cluster, EndpointService, InterfaceEndpoint};
use atlas_api::{AtlasClient, AtlasError, RetryPolicy};
use clock::SharedClock;

use super::read_cache::DynamoReadCache;
use super::shared_reads::{Reader, read_through};

/// The Atlas calls the steps decide with. Each method means what the
/// [`AtlasClient`] method of the same name does; [`HttpAtlas`] is that implementation.
///
/// Futures are `Send` for the same reason as [`Ec2`](super::Ec2)'s.
pub trait Atlas: Sync {
    /// The project's AWS endpoint services.
    fn list_endpoint_services(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<EndpointService>, AtlasError>> + Send;

    /// Creates the project's endpoint service in `region`; a region that has one answers the
    /// 409 of [`AtlasError::is_service_already_exists_for_region`].
    fn create_endpoint_service(
        &self,
        group: &str,
        region: &str,
    ) -> impl Future<Output = Result<EndpointService, AtlasError>> + Send;

    /// One endpoint service.
    fn get_endpoint_service(
        &self,
        group: &str,
        service_id: &str,
    ) -> impl Future<Output = Result<EndpointService, AtlasError>> + Send;

    /// Replaces the service's `supportedRemoteRegions` with `regions` (Atlas spellings, the
    /// whole list: PATCH replaces it, research notes issue 12, §1).
    fn update_endpoint_service_remote_regions(
        &self,
        group: &str,
        service_id: &str,
        regions: &[String],
    ) -> impl Future<Output = Result<EndpointService, AtlasError>> + Send;

    /// Deletes an endpoint service (gone already counts as deleted).
    fn delete_endpoint_service(
        &self,
        group: &str,
        service_id: &str,
    ) -> impl Future<Output = Result<(), AtlasError>> + Send;

    /// Links the VPC endpoint `vpce` to the service (409 when it is linked already).
    fn create_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> impl Future<Output = Result<InterfaceEndpoint, AtlasError>> + Send;

    /// The link of `vpce` to the service.
    fn get_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> impl Future<Output = Result<InterfaceEndpoint, AtlasError>> + Send;

    /// Removes the link of `vpce` (gone already counts as removed).
    fn delete_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> impl Future<Output = Result<(), AtlasError>> + Send;

    /// The cluster description, with its private connection strings.
    fn get_cluster(
        &self,
        group: &str,
        cluster: &str,
    ) -> impl Future<Output = Result<Cluster, AtlasError>> + Send;

    /// The cluster description as any execution of the stack read it within the polling
    /// cadence ([`shared_reads`](super::shared_reads)): for polls that wait on a state, where
    /// an answer a cadence old cannot mislead. By default, a read of its own.
    fn get_cluster_shared(
        &self,
        group: &str,
        cluster: &str,
    ) -> impl Future<Output = Result<Cluster, AtlasError>> + Send {
        self.get_cluster(group, cluster)
    }

    /// One endpoint service, shared like [`Atlas::get_cluster_shared`]: for the poll that
    /// waits for it to be `AVAILABLE`, never for a read-modify-write of it.
    fn get_endpoint_service_shared(
        &self,
        group: &str,
        service_id: &str,
    ) -> impl Future<Output = Result<EndpointService, AtlasError>> + Send {
        self.get_endpoint_service(group, service_id)
    }

    /// Whether the project's regionalized private endpoint mode is on.
    fn get_regional_mode(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<bool, AtlasError>> + Send;

    /// Turns the project's regionalized private endpoint mode on or off; answers the setting
    /// Atlas reports (a 409 when the project cannot have it, e.g. it has a replica set).
    fn set_regional_mode(
        &self,
        group: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<bool, AtlasError>> + Send;
}

/// [`Atlas`] over the Admin API client, with the client's retry policy for 429 and 5xx.
#[derive(Debug, Clone)]
pub struct HttpAtlas {
    client: Arc<AtlasClient>,
    shared: Option<Arc<SharedReads>>,
}

/// Where and how [`HttpAtlas`] shares its `…_shared` reads.
#[derive(Debug)]
struct SharedReads {
    cache: DynamoReadCache,
    clock: SharedClock,
    max_age: Duration,
    /// Who reads: unique per port, so a release never frees another reader's lease.
    reader: Reader,
}

impl HttpAtlas {
    /// The port over `client`, with its own (default) retries: for steps that make each call
    /// once and must not fail on a passing 429.
    pub fn new(client: Arc<AtlasClient>) -> Self {
        Self {
            client,
            shared: None,
        }
    }

    /// The port over `client` with [`RetryPolicy::polling`]: for steps that poll and back off
    /// by themselves, so a throttled project gets fewer requests (the client's token and
    /// connections are shared).
    pub fn polling(client: &AtlasClient) -> Self {
        Self::new(Arc::new(client.with_retry(RetryPolicy::polling())))
    }

    /// The same port, its `…_shared` reads shared through `cache` with answers at most
    /// `max_age` old (the polling cadence); `None` (a stack without the table): not shared.
    /// A port that `polls` keeps the lease of each read for its next one (see
    /// [`Reader::polling`]) and must be [`stop_sharing`](Self::stop_sharing)ed when done.
    pub fn sharing(
        self,
        cache: Option<DynamoReadCache>,
        clock: SharedClock,
        max_age: Duration,
        polls: bool,
    ) -> Self {
        let holder = format!("{:016x}", rand::random::<u64>());
        Self {
            shared: cache.map(|cache| {
                Arc::new(SharedReads {
                    cache,
                    clock,
                    max_age,
                    reader: if polls {
                        Reader::polling(holder)
                    } else {
                        Reader::once(holder)
                    },
                })
            }),
            ..self
        }
    }

    /// Gives back the leases a polling port kept: call it when the poll ends, however it
    /// ends, so other executions waiting on the same object read it at once.
    pub async fn stop_sharing(&self) {
        if let Some(shared) = &self.shared {
            shared.reader.stop(&shared.cache).await;
        }
    }

    /// `fetch`, through the shared reads when there are any; `object` names what is read
    /// within the project (the cache key adds the project and the Atlas identity).
    async fn shared_read<T, F, Fut>(
        &self,
        group: &str,
        object: &str,
        fetch: F,
    ) -> Result<T, AtlasError>
    where
        T: serde::Serialize + serde::de::DeserializeOwned,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, AtlasError>>,
    {
        let Some(shared) = &self.shared else {
            return fetch().await;
        };
        let key = format!("atlas-read#{}#{group}#{object}", self.client.identity());
        read_through(
            &shared.cache,
            shared.clock.as_ref(),
            shared.max_age,
            &shared.reader,
            &key,
            fetch,
        )
        .await
    }
}

impl Atlas for HttpAtlas {
    async fn list_endpoint_services(
        &self,
        group: &str,
    ) -> Result<Vec<EndpointService>, AtlasError> {
        self.client.list_endpoint_services(group).await
    }

    async fn create_endpoint_service(
        &self,
        group: &str,
        region: &str,
    ) -> Result<EndpointService, AtlasError> {
        self.client.create_endpoint_service(group, region).await
    }

    async fn get_endpoint_service(
        &self,
        group: &str,
        service_id: &str,
    ) -> Result<EndpointService, AtlasError> {
        self.client.get_endpoint_service(group, service_id).await
    }

    async fn update_endpoint_service_remote_regions(
        &self,
        group: &str,
        service_id: &str,
        regions: &[String],
    ) -> Result<EndpointService, AtlasError> {
        self.client
            .update_endpoint_service_remote_regions(group, service_id, regions)
            .await
    }

    async fn delete_endpoint_service(
        &self,
        group: &str,
        service_id: &str,
    ) -> Result<(), AtlasError> {
        self.client.delete_endpoint_service(group, service_id).await
    }

    async fn create_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> Result<InterfaceEndpoint, AtlasError> {
        self.client
            .create_interface_endpoint(group, service_id, vpce)
            .await
    }

    async fn get_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> Result<InterfaceEndpoint, AtlasError> {
        self.client
            .get_interface_endpoint(group, service_id, vpce)
            .await
    }

    async fn delete_interface_endpoint(
        &self,
        group: &str,
        service_id: &str,
        vpce: &str,
    ) -> Result<(), AtlasError> {
        self.client
            .delete_interface_endpoint(group, service_id, vpce)
            .await
    }

    async fn get_cluster(&self, group: &str, cluster: &str) -> Result<Cluster, AtlasError> {
        self.client.get_cluster(group, cluster).await
    }

    async fn get_cluster_shared(&self, group: &str, cluster: &str) -> Result<Cluster, AtlasError> {
        self.shared_read(group, &format!("cluster#{cluster}"), || {
            self.client.get_cluster(group, cluster)
        })
        .await
    }

    async fn get_endpoint_service_shared(
        &self,
        group: &str,
        service_id: &str,
    ) -> Result<EndpointService, AtlasError> {
        self.shared_read(group, &format!("endpoint-service#{service_id}"), || {
            self.client.get_endpoint_service(group, service_id)
        })
        .await
    }

    async fn get_regional_mode(&self, group: &str) -> Result<bool, AtlasError> {
        self.client.get_regional_mode(group).await
    }

    async fn set_regional_mode(&self, group: &str, enabled: bool) -> Result<bool, AtlasError> {
        self.client.set_regional_mode(group, enabled).await
    }
}
