//! Shared Atlas reads against moto's DynamoDB (the conditional writes as DynamoDB evaluates
//! them) and end to end: concurrent provisionings of one project poll its cluster together.

use std::time::{Duration, SystemTime};

use privatelink_core::ports::read_cache::DynamoReadCache;
use privatelink_core::ports::shared_reads::{LEASE_FOR, ReadCache};
use serde_json::json;

use integration_tests::world::{World, assert_succeeded, make_network};

fn cache(w: &World) -> DynamoReadCache {
    DynamoReadCache::new(w.ctx.aws.dynamodb(), devstack::CLAIMS_TABLE)
}

#[tokio::test]
async fn the_lease_and_the_answer_follow_dynamodb_conditions() {
    let w = World::new(&["us-east-1"]).await;
    let cache = cache(&w);
    let key = format!("atlas-read#test#{}#cluster#Cluster0", w.project_id);
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let second = Duration::from_secs(1);
    let lease = |holder: &'static str, now: SystemTime, fresh_after: SystemTime| {
        let (cache, key) = (&cache, &key);
        async move {
            cache
                .take_lease(key, holder, now, fresh_after)
                .await
                .expect("UpdateItem")
        }
    };

    assert_eq!(cache.get(&key).await.expect("GetItem"), None);
    assert!(lease("a", t0, t0).await, "nobody holds it");
    assert!(!lease("b", t0 + second, t0).await, "a holds it");
    // Only the holder frees it.
    cache.release(&key, "b").await.expect("release");
    assert!(!lease("b", t0 + second, t0).await, "still a's");
    assert!(cache.put(&key, "{\"n\":1}", t0, None).await.expect("put"));
    let item = cache.get(&key).await.expect("GetItem").expect("item");
    assert_eq!(item.body.as_deref(), Some("{\"n\":1}"));
    assert_eq!(item.fetched_at, Some(t0));
    assert_eq!(item.lease_until, None, "the answer frees the lease");
    // A fresh answer is never read again; a stale one is, by one reader.
    assert!(!lease("b", t0 + second, t0 - second).await, "fresh");
    assert!(lease("b", t0 + 3 * second, t0 + second).await, "stale");
    // An older answer never replaces a newer one.
    let older = cache.put(&key, "{\"n\":0}", t0 - second, None).await;
    assert!(!older.expect("put"), "refused");
    let item = cache.get(&key).await.expect("GetItem").expect("item");
    assert_eq!(item.body.as_deref(), Some("{\"n\":1}"));
    // A lease outlived by its holder is taken over.
    assert!(lease("c", t0 + 3 * second + LEASE_FOR, t0 + second).await);
    cache.release(&key, "c").await.expect("release");
    let item = cache.get(&key).await.expect("GetItem").expect("item");
    assert_eq!(item.lease_until, None);
    // A poller's answer keeps the lease for its next read: nobody else takes it meanwhile.
    let t1 = t0 + 3 * second + LEASE_FOR;
    let kept = cache
        .put(&key, "{\"n\":2}", t1, Some(("p", t1 + LEASE_FOR)))
        .await;
    assert!(kept.expect("put"));
    let item = cache.get(&key).await.expect("GetItem").expect("item");
    assert_eq!(
        (item.lease_holder.as_deref(), item.lease_until),
        (Some("p"), Some(t1 + LEASE_FOR))
    );
    assert!(!lease("d", t1 + 5 * second, t1).await, "kept by p");
    cache.release(&key, "p").await.expect("release");
    assert!(lease("d", t1 + 5 * second, t1).await, "given back");
}

#[tokio::test]
async fn concurrent_provisionings_of_one_project_share_their_cluster_polls() {
    const RUNS: usize = 6;
    let w = World::new(&["us-east-1"]).await;
    let mut requests = Vec::new();
    for i in 0..RUNS {
        let network = make_network("us-east-1", &format!("{}-{i}", w.project_id)).await;
        let mut request = w.request();
        request["endpoints"][0] = json!({"region": "us-east-1", "vpcId": network.vpc_id,
                                         "subnetIds": network.subnet_ids});
        requests.push(request);
    }
    let before = w.atlas.sim.counters().requests("getCluster");
    let runs = requests.into_iter().enumerate().map(|(i, request)| {
        let w = &w;
        async move {
            w.execute(
                atlas_privatelink::machines::Machine::Provision,
                request,
                &format!("shared-{i}"),
            )
            .await
        }
    });
    let results = futures::future::join_all(runs).await;
    for result in &results {
        assert_succeeded(result);
    }
    let reads = w.atlas.sim.counters().requests("getCluster") - before;
    let cadence = w.ctx.settings.polling.atlas_every.as_secs_f64();
    // The cluster publishes the strings `cluster_idle` after an interface is AVAILABLE; the
    // executions poll it from `CLUSTER_UPDATE_MIN` (60 s) after that, so each would read it
    // about (180 - 60) / 2.5 = 48 times alone: 288 for six. Shared: one read per cadence
    // over the window in which any of them polls (bounded here by the whole `cluster_idle`,
    // their links being made a few seconds apart), plus each validation's own read (it
    // proves the credentials) and at most one more per execution (a lease race at the end).
    let idle = atlas_sim::Delays::default().cluster_idle.as_secs_f64();
    let bound = 2 * RUNS as u64 + (idle / cadence).ceil() as u64;
    assert!(
        reads <= bound,
        "{reads} cluster reads for {RUNS} executions (bound {bound}; alone they make ~288)"
    );
}
