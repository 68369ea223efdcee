//! Shared Atlas reads: executions waiting on the same Atlas object (the cluster that will
//! publish their connection strings, the endpoint service they all wait for) share one read
//! per polling cadence instead of each asking Atlas.
//!
//! Why: Atlas limits the Admin API to 100 requests a minute per project, and the limit is
//! shared by every tool and human on the project. Fifty executions polling one cluster every
//! 2.5 s ask 1,200 times a minute; sharing one read per cadence asks 24 times. (Issue 15: at
//! 200 concurrent provisionings, 55 % of the Atlas requests were 429s.)
//!
//! How: a small item per object in the stack's DynamoDB table (the claims table, under keys
//! `atlas-read#…`) keeps the last answer (`body`, JSON) and when it was read (`fetchedAt`). A
//! reader takes an answer younger than the cadence from the item. Otherwise it takes a short
//! *lease* (a conditional update: one reader at a time, only while the answer is stale), reads
//! Atlas and writes the answer back; a reader that finds the lease taken re-reads the item
//! until the holder's answer arrives (one cadence at most), then takes a stale answer (at most
//! [`STALE_LIMIT`] old) or reads Atlas itself. Errors are never cached: the holder releases
//! the lease and the next reader tries. The cache never blocks a provisioning: when DynamoDB
//! fails, the reader reads Atlas directly.
//!
//! A reader that polls ([`Reader::polling`]) keeps the lease with the answer it writes, until
//! one cadence and [`LEASE_FOR`] later, and makes its next read without taking the lease
//! again; it gives the lease back when it stops polling ([`Reader::stop`]). So a lone poller
//! pays one read and one write per Atlas read instead of one read and two writes (issue 15:
//! the lease write was a tenth of a run's cost), and readers that arrive while it polls wait
//! for its answer as they would for any lease holder's.
//!
//! What is kept: the cluster description the steps read (state, type, regions, connection
//! strings: host names and options, never credentials) and endpoint-service descriptions,
//! under a key naming the Atlas identity that read them (the service account's client id or
//! the API key's public key, both public), so requests with other credentials never share an
//! answer. DynamoDB encrypts items at rest; `expiresAt` lets DynamoDB's TTL delete an item an
//! hour after its last write.
//!
//! Only reads whose staleness cannot mislead use this: the polls that wait for a state
//! (connection strings covering our endpoints, a service turning `AVAILABLE`) and the drift
//! check's cluster read. A read-modify-write (the remote-region list) and the first contact
//! with Atlas of a new request (validation proves its credentials) read Atlas directly.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use atlas_api::AtlasError;
use clock::Clock;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::StepError;

/// How long a lease lasts: longer than one Atlas read takes, short enough that readers are
/// not held up long by a holder that died.
pub const LEASE_FOR: Duration = Duration::from_secs(10);

/// The oldest answer a reader takes when the holder of the lease has not answered in time.
pub const STALE_LIMIT: Duration = Duration::from_secs(30);

/// How often a reader that found the lease taken looks at the item again.
pub const RECHECK_EVERY: Duration = Duration::from_millis(250);

/// What the cache holds for one key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CachedRead {
    /// The last answer, JSON; `None` until one was written.
    pub body: Option<String>,
    /// When that answer was read from Atlas.
    pub fetched_at: Option<SystemTime>,
    /// Until when a reader holds the lease to read Atlas.
    pub lease_until: Option<SystemTime>,
    /// Who holds (or last held) the lease.
    pub lease_holder: Option<String>,
}

impl CachedRead {
    /// The answer, if it was read after `fresh_after` (strictly: a poller that reads every
    /// cadence must not take, one cadence later, the answer of its own previous read).
    fn fresh(&self, fresh_after: SystemTime) -> Option<&str> {
        match (&self.body, self.fetched_at) {
            (Some(body), Some(at)) if at > fresh_after => Some(body),
            _ => None,
        }
    }

    /// Whether somebody holds the lease at `now`.
    fn leased(&self, now: SystemTime) -> bool {
        self.lease_until.is_some_and(|until| until > now)
    }

    /// Whether `holder` holds the lease at `now`.
    fn leased_to(&self, holder: &str, now: SystemTime) -> bool {
        self.leased(now) && self.lease_holder.as_deref() == Some(holder)
    }
}

/// One reader of the shared reads: who it is, whether it polls, and the leases it kept.
#[derive(Debug)]
pub struct Reader {
    holder: String,
    polls: bool,
    kept: Mutex<BTreeSet<String>>,
}

impl Reader {
    /// A reader that reads once: it frees each lease with its answer.
    pub fn once(holder: impl Into<String>) -> Self {
        Self::new(holder.into(), false)
    }

    /// A reader that polls: it keeps each lease with its answer for its next read, and gives
    /// them back with [`Reader::stop`].
    pub fn polling(holder: impl Into<String>) -> Self {
        Self::new(holder.into(), true)
    }

    fn new(holder: String, polls: bool) -> Self {
        Self {
            holder,
            polls,
            kept: Mutex::default(),
        }
    }

    /// Who holds its leases: unique per reader, so a release never frees another's lease.
    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Gives back the leases it kept: it will not read again, and readers waiting for its
    /// next answer read Atlas themselves at once. Failures are logged (the leases lapse).
    pub async fn stop(&self, cache: &impl ReadCache) {
        let kept = std::mem::take(&mut *self.kept_keys());
        for key in kept {
            if let Err(e) = cache.release(&key, &self.holder).await {
                tracing::warn!(key, error = %e, "shared read: lease not given back");
            }
        }
    }

    fn kept_keys(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.kept
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Until when an answer read at `fetched_at` keeps the lease (`None`: it frees it).
    fn keeps_until(&self, fetched_at: SystemTime, max_age: Duration) -> Option<SystemTime> {
        self.polls.then(|| fetched_at + max_age + LEASE_FOR)
    }
}

/// The shared-read store ([`crate::ports::read_cache::DynamoReadCache`] in the stack).
///
/// Futures are `Send` for the same reason as [`Ec2`](super::Ec2)'s.
pub trait ReadCache: Sync {
    /// The item of `key`, if any.
    fn get(&self, key: &str) -> impl Future<Output = Result<Option<CachedRead>, StepError>> + Send;

    /// Takes the lease of `key` for `holder` until `now + LEASE_FOR`, if nobody holds it at
    /// `now` and the answer (if any) was read at `fresh_after` or before: `true` when taken.
    fn take_lease(
        &self,
        key: &str,
        holder: &str,
        now: SystemTime,
        fresh_after: SystemTime,
    ) -> impl Future<Output = Result<bool, StepError>> + Send;

    /// Writes the answer read at `fetched_at`, unless a newer answer is there already (then
    /// `false`). With `keep`, `holder` keeps the lease until that time; without, it is freed.
    fn put(
        &self,
        key: &str,
        body: &str,
        fetched_at: SystemTime,
        keep: Option<(&str, SystemTime)>,
    ) -> impl Future<Output = Result<bool, StepError>> + Send;

    /// Frees the lease if `holder` has it.
    fn release(
        &self,
        key: &str,
        holder: &str,
    ) -> impl Future<Output = Result<(), StepError>> + Send;
}

/// Reads `key` through `cache`: an answer no older than `max_age`, read by this or another
/// execution; `fetch` reads Atlas (called at most once). See the module documentation.
pub async fn read_through<C, T, F, Fut>(
    cache: &C,
    clock: &dyn Clock,
    max_age: Duration,
    reader: &Reader,
    key: &str,
    fetch: F,
) -> Result<T, AtlasError>
where
    C: ReadCache,
    T: Serialize + DeserializeOwned,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, AtlasError>>,
{
    let started = clock.now();
    let fresh_after = started.checked_sub(max_age).unwrap_or(started);
    let give_up_at = started + max_age.max(RECHECK_EVERY);
    let last = loop {
        let now = clock.now();
        let entry = match cache.get(key).await {
            Ok(entry) => entry.unwrap_or_default(),
            Err(e) => return uncached(key, &e, fetch).await,
        };
        if let Some(answer) = entry.fresh(fresh_after).and_then(|b| decode(key, b)) {
            return Ok(answer);
        }
        // Kept from our previous read: no need to take it again.
        if entry.leased_to(&reader.holder, now) {
            return read_and_share(cache, clock, max_age, reader, key, fetch).await;
        }
        if !entry.leased(now) {
            match cache
                .take_lease(key, &reader.holder, now, fresh_after)
                .await
            {
                Ok(true) => return read_and_share(cache, clock, max_age, reader, key, fetch).await,
                // Somebody took it, or answered, in between: look again.
                Ok(false) => {}
                Err(e) => return uncached(key, &e, fetch).await,
            }
        }
        if clock.now() >= give_up_at {
            break entry;
        }
        clock.sleep(RECHECK_EVERY).await;
    };
    // The holder has not answered within a cadence: a recent answer, or our own read.
    let stale_after = started.checked_sub(STALE_LIMIT).unwrap_or(started);
    if let Some(answer) = last.fresh(stale_after).and_then(|b| decode(key, b)) {
        return Ok(answer);
    }
    tracing::info!(
        key,
        "shared read: no answer from the lease holder; reading Atlas"
    );
    fetch().await
}

/// Reads Atlas as the lease holder and shares the answer (a poller keeps the lease with it);
/// an error frees the lease for the next reader.
async fn read_and_share<C, T, F, Fut>(
    cache: &C,
    clock: &dyn Clock,
    max_age: Duration,
    reader: &Reader,
    key: &str,
    fetch: F,
) -> Result<T, AtlasError>
where
    C: ReadCache,
    T: Serialize,
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, AtlasError>>,
{
    let holder = reader.holder.as_str();
    let fetched_at = clock.now();
    let answer = fetch().await;
    let keep = reader
        .keeps_until(fetched_at, max_age)
        .map(|until| (holder, until));
    // Whether the lease may still be ours after this: to give back on stop.
    let ours = match &answer {
        Ok(value) => match serde_json::to_string(value) {
            // Kept, or (refused: a newer answer is there) left as it was.
            Ok(body) => cache
                .put(key, &body, fetched_at, keep)
                .await
                .map(|_| keep.is_some()),
            Err(e) => {
                tracing::warn!(key, error = %e, "shared read: answer not encodable");
                cache.release(key, holder).await.map(|()| false)
            }
        },
        Err(_) => cache.release(key, holder).await.map(|()| false),
    };
    let mut kept = reader.kept_keys();
    match ours {
        Ok(true) => {
            kept.insert(key.to_owned());
        }
        Ok(false) => {
            kept.remove(key);
        }
        Err(e) => {
            // The release is conditional on the holder: giving back on stop never frees
            // another reader's lease.
            kept.insert(key.to_owned());
            tracing::warn!(key, error = %e, "shared read: answer not shared");
        }
    }
    drop(kept);
    answer
}

/// Reads Atlas without the cache, which failed with `error`.
async fn uncached<T, F, Fut>(key: &str, error: &StepError, fetch: F) -> Result<T, AtlasError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, AtlasError>>,
{
    tracing::warn!(key, error = %error, "shared read: cache unavailable; reading Atlas");
    fetch().await
}

/// The cached answer, or `None` (logged) when it does not decode (written by another version).
fn decode<T: DeserializeOwned>(key: &str, body: &str) -> Option<T> {
    serde_json::from_str(body)
        .inspect_err(|e| tracing::warn!(key, error = %e, "shared read: cached answer ignored"))
        .ok()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use clock::VirtualClock;

    use super::*;
    use crate::ports::fixture::lock;

    /// The DynamoDB item's conditional writes, in memory, with a switch to fail every call.
    #[derive(Debug, Default)]
    struct MemoryCache {
        items: std::sync::Mutex<HashMap<String, CachedRead>>,
        broken: bool,
        /// Conditional writes tried: DynamoDB consumes write capacity for refused ones too
        /// (developer guide, "Condition expressions"; aws-powertools/powertools-lambda-typescript#1573).
        writes: AtomicUsize,
    }

    fn down() -> StepError {
        StepError::new(crate::error::ErrorName::AwsUnavailable, "DynamoDB down")
    }

    impl ReadCache for MemoryCache {
        async fn get(&self, key: &str) -> Result<Option<CachedRead>, StepError> {
            if self.broken {
                return Err(down());
            }
            Ok(lock(&self.items).get(key).cloned())
        }

        async fn take_lease(
            &self,
            key: &str,
            holder: &str,
            now: SystemTime,
            fresh_after: SystemTime,
        ) -> Result<bool, StepError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let mut items = lock(&self.items);
            let item = items.entry(key.to_owned()).or_default();
            if item.leased(now) || item.fetched_at.is_some_and(|t| t > fresh_after) {
                return Ok(false);
            }
            item.lease_until = Some(now + LEASE_FOR);
            item.lease_holder = Some(holder.to_owned());
            Ok(true)
        }

        async fn put(
            &self,
            key: &str,
            body: &str,
            at: SystemTime,
            keep: Option<(&str, SystemTime)>,
        ) -> Result<bool, StepError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            let mut items = lock(&self.items);
            let item = items.entry(key.to_owned()).or_default();
            if item.fetched_at.is_some_and(|t| t >= at) {
                return Ok(false);
            }
            item.body = Some(body.to_owned());
            item.fetched_at = Some(at);
            item.lease_holder = keep.map(|(holder, _)| holder.to_owned());
            item.lease_until = keep.map(|(_, until)| until);
            Ok(true)
        }

        async fn release(&self, key: &str, holder: &str) -> Result<(), StepError> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            if let Some(item) = lock(&self.items).get_mut(key)
                && item.lease_holder.as_deref() == Some(holder)
            {
                item.lease_until = None;
                item.lease_holder = None;
            }
            Ok(())
        }
    }

    const CADENCE: Duration = Duration::from_millis(2500);

    /// Atlas as a counter: each read answers how many reads there were, after `takes`.
    struct Atlas {
        reads: AtomicUsize,
        takes: Duration,
        clock: VirtualClock,
        fails: bool,
    }

    impl Atlas {
        fn new(clock: &VirtualClock) -> Arc<Self> {
            Self::answering(clock, true)
        }

        fn failing(clock: &VirtualClock) -> Arc<Self> {
            Self::answering(clock, false)
        }

        fn answering(clock: &VirtualClock, answers: bool) -> Arc<Self> {
            Arc::new(Self {
                reads: AtomicUsize::new(0),
                takes: Duration::from_millis(300),
                clock: clock.clone(),
                fails: !answers,
            })
        }

        async fn read(&self) -> Result<usize, AtlasError> {
            let n = self.reads.fetch_add(1, Ordering::SeqCst) + 1;
            self.clock.sleep(self.takes).await;
            if self.fails {
                return Err(AtlasError::NotFound {
                    operation: "getCluster",
                    code: "CLUSTER_NOT_FOUND".to_owned(),
                    detail: "no such cluster".to_owned(),
                });
            }
            Ok(n)
        }

        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }
    }

    /// A virtual clock, an empty cache and an Atlas that answers.
    fn world() -> (VirtualClock, MemoryCache, Arc<Atlas>) {
        let clock = VirtualClock::new();
        let atlas = Atlas::new(&clock);
        (clock, MemoryCache::default(), atlas)
    }

    /// One read by a reader that reads once.
    async fn read(cache: &MemoryCache, atlas: &Atlas, holder: &str) -> Result<usize, AtlasError> {
        read_by(cache, atlas, &Reader::once(holder)).await
    }

    async fn read_by(
        cache: &MemoryCache,
        atlas: &Atlas,
        reader: &Reader,
    ) -> Result<usize, AtlasError> {
        read_through(cache, &atlas.clock, CADENCE, reader, "k", || atlas.read()).await
    }

    fn writes(cache: &MemoryCache) -> usize {
        cache.writes.load(Ordering::SeqCst)
    }

    #[tokio::test]
    async fn fifty_readers_at_once_share_one_atlas_read() {
        let (clock, cache, atlas) = world();
        let readers = (0..50).map(|i| {
            let (cache, atlas) = (&cache, atlas.clone());
            clock.participate(async move { read(cache, &atlas, &format!("r{i}")).await })
        });
        let answers = futures::future::join_all(readers).await;
        assert_eq!(atlas.reads(), 1);
        assert!(answers.iter().all(|a| matches!(a, Ok(1))), "{answers:?}");
    }

    #[tokio::test]
    async fn an_answer_older_than_the_cadence_is_read_again() {
        let (clock, cache, atlas) = world();
        assert_eq!(read(&cache, &atlas, "a").await.ok(), Some(1));
        clock.sleep(Duration::from_secs(1)).await;
        assert_eq!(read(&cache, &atlas, "b").await.ok(), Some(1), "shared");
        clock.sleep(CADENCE).await;
        assert_eq!(read(&cache, &atlas, "b").await.ok(), Some(2), "read again");
        assert_eq!(atlas.reads(), 2);
    }

    #[tokio::test]
    async fn a_reader_alone_polling_every_cadence_reads_atlas_each_time() {
        let (clock, cache, atlas) = world();
        for expected in 1..=4 {
            let started = clock.now();
            assert_eq!(read(&cache, &atlas, "a").await.ok(), Some(expected));
            let spent = clock.since(started);
            clock.sleep(CADENCE.saturating_sub(spent)).await;
        }
        assert_eq!(writes(&cache), 8, "a lease and an answer per read");
    }

    #[tokio::test]
    async fn a_lone_poller_writes_once_per_atlas_read_and_gives_the_lease_back() {
        let (clock, cache, atlas) = world();
        let poller = Reader::polling("p");
        for expected in 1..=4 {
            let started = clock.now();
            assert_eq!(read_by(&cache, &atlas, &poller).await.ok(), Some(expected));
            let spent = clock.since(started);
            clock.sleep(CADENCE.saturating_sub(spent)).await;
        }
        assert_eq!(writes(&cache), 5, "one lease, then an answer per read");
        poller.stop(&cache).await;
        assert_eq!(writes(&cache), 6);
        let item = cache.get("k").await.ok().flatten().unwrap_or_default();
        assert_eq!((item.lease_until, item.lease_holder), (None, None));
        poller.stop(&cache).await;
        assert_eq!(writes(&cache), 6, "nothing more to give back");
    }

    #[tokio::test]
    async fn readers_wait_for_the_pollers_next_answer() {
        let (clock, cache, atlas) = world();
        let poller = Reader::polling("p");
        assert_eq!(read_by(&cache, &atlas, &poller).await.ok(), Some(1));
        clock.sleep(CADENCE).await;
        // The answer is stale; the poller comes back a moment after the other reader.
        let other = clock.participate(read(&cache, &atlas, "b"));
        let again = clock.participate(async {
            clock.sleep(Duration::from_millis(100)).await;
            read_by(&cache, &atlas, &poller).await
        });
        let (other, again) = futures::future::join(other, again).await;
        assert_eq!((other.ok(), again.ok()), (Some(2), Some(2)));
        assert_eq!(atlas.reads(), 2);
    }

    #[tokio::test]
    async fn after_a_poller_stops_the_next_reader_reads_at_once() {
        let (clock, cache, atlas) = world();
        let poller = Reader::polling("p");
        assert_eq!(read_by(&cache, &atlas, &poller).await.ok(), Some(1));
        poller.stop(&cache).await;
        clock.sleep(CADENCE).await;
        let started = clock.now();
        assert_eq!(read(&cache, &atlas, "b").await.ok(), Some(2));
        assert_eq!(clock.since(started), atlas.takes, "no wait for the lease");
    }

    #[tokio::test]
    async fn a_poller_that_died_holds_readers_up_until_its_lease_lapses() {
        let (clock, cache, atlas) = world();
        assert_eq!(
            read_by(&cache, &atlas, &Reader::polling("dead")).await.ok(),
            Some(1)
        );
        clock.sleep(CADENCE).await;
        // Kept for one cadence and LEASE_FOR after its read: readers take its last answer.
        let started = clock.now();
        assert_eq!(
            read(&cache, &atlas, "b").await.ok(),
            Some(1),
            "the recent one"
        );
        assert!(clock.since(started) >= CADENCE);
        clock.sleep(LEASE_FOR).await;
        assert_eq!(read(&cache, &atlas, "b").await.ok(), Some(2), "lapsed");
        assert_eq!(atlas.reads(), 2);
    }

    #[tokio::test]
    async fn errors_are_not_shared_and_free_the_lease() {
        let clock = VirtualClock::new();
        let cache = MemoryCache::default();
        let failing = Atlas::failing(&clock);
        assert!(read(&cache, &failing, "a").await.is_err());
        assert!(read(&cache, &failing, "b").await.is_err());
        assert_eq!(failing.reads(), 2, "each reader asked Atlas itself");
        let item = cache.get("k").await.ok().flatten().unwrap_or_default();
        assert_eq!((item.body, item.lease_until), (None, None));
    }

    #[tokio::test]
    async fn a_dead_lease_holder_holds_readers_up_one_cadence_then_they_read() {
        let (clock, cache, atlas) = world();
        // A holder took the lease and died before answering.
        assert_eq!(
            cache
                .take_lease("k", "dead", clock.now(), clock.now())
                .await
                .ok(),
            Some(true)
        );
        let started = clock.now();
        assert_eq!(read(&cache, &atlas, "b").await.ok(), Some(1));
        let waited = clock.since(started);
        assert!(waited >= CADENCE && waited < LEASE_FOR, "{waited:?}");
    }

    #[tokio::test]
    async fn a_late_holder_leaves_readers_a_recent_answer() {
        let (clock, cache, atlas) = world();
        assert_eq!(read(&cache, &atlas, "a").await.ok(), Some(1));
        clock.sleep(Duration::from_secs(5)).await;
        // The answer is stale and someone else is reading it, slowly.
        assert_eq!(
            cache
                .take_lease("k", "slow", clock.now(), clock.now() - CADENCE)
                .await
                .ok(),
            Some(true)
        );
        assert_eq!(
            read(&cache, &atlas, "b").await.ok(),
            Some(1),
            "the recent one"
        );
        assert_eq!(atlas.reads(), 1);
    }

    #[tokio::test]
    async fn a_broken_cache_reads_atlas_directly() {
        let clock = VirtualClock::new();
        let cache = MemoryCache {
            broken: true,
            ..MemoryCache::default()
        };
        let atlas = Atlas::new(&clock);
        assert_eq!(read(&cache, &atlas, "a").await.ok(), Some(1));
        assert_eq!(read(&cache, &atlas, "b").await.ok(), Some(2));
    }

    #[tokio::test]
    async fn an_answer_that_does_not_decode_is_read_again() {
        let (clock, cache, atlas) = world();
        cache
            .put("k", "{\"not\": \"a number\"}", clock.now(), None)
            .await
            .ok();
        assert_eq!(read(&cache, &atlas, "a").await.ok(), Some(1));
    }
}
