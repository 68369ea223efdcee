//! Running branches concurrently, and racing work against a timeout, on real or virtual time.
//!
//! On a [`VirtualClock`], every concurrent branch runs as a participant and the parent waits
//! inside `idle_while`. One subtlety: when the branch that completes the join finishes, the
//! clock could see nobody working (the parent is still counted as idle) and jump ahead to some
//! other sleeper before the parent resumes. So that branch first takes a *hold* (a participant
//! that is never polled, counted as working until dropped), which the parent releases once it is
//! working again.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clock::{Clock, SharedClock, VirtualClock};
use futures::future::{BoxFuture, Either, select, try_join_all};

type Hold = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Clone, Default)]
struct HoldSlot(Arc<Mutex<Option<Hold>>>);

impl HoldSlot {
    /// Keeps `clock` from advancing until [`HoldSlot::release`].
    fn take(&self, clock: &VirtualClock) {
        let hold: Hold = Box::pin(clock.participate(async {}));
        let previous = self.lock().replace(hold);
        drop(previous);
    }

    fn release(&self) {
        let hold = self.lock().take();
        drop(hold);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Hold>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Runs `tasks` concurrently until all succeed (results in order) or one fails (the others
/// are dropped, which cancels them).
pub(crate) async fn join_all<'a, T, E>(
    virtual_clock: Option<&VirtualClock>,
    tasks: Vec<BoxFuture<'a, Result<T, E>>>,
) -> Result<Vec<T>, E>
where
    T: Send + 'a,
    E: Send + 'a,
{
    if tasks.is_empty() {
        return Ok(Vec::new());
    }
    let Some(vc) = virtual_clock else {
        return try_join_all(tasks).await;
    };
    let remaining = Arc::new(AtomicUsize::new(tasks.len()));
    let hold = HoldSlot::default();
    let participants: Vec<_> = tasks
        .into_iter()
        .map(|task| {
            let (clock, remaining, hold) = (vc.clone(), remaining.clone(), hold.clone());
            vc.participate(async move {
                let result = task.await;
                if result.is_err() || remaining.fetch_sub(1, Ordering::SeqCst) == 1 {
                    hold.take(&clock);
                }
                result
            })
        })
        .collect();
    let result = vc.idle_while(try_join_all(participants)).await;
    hold.release();
    result
}

/// Runs `work` for at most `limit` on the clock; `None` if the time ran out first (the work is
/// then dropped).
pub(crate) async fn with_timeout<'a, T: Send + 'a>(
    clock: &SharedClock,
    virtual_clock: Option<&VirtualClock>,
    limit: Duration,
    work: BoxFuture<'a, T>,
) -> Option<T> {
    let Some(vc) = virtual_clock else {
        return match select(work, clock.sleep(limit)).await {
            Either::Left((value, _)) => Some(value),
            Either::Right(((), _)) => None,
        };
    };
    let hold = HoldSlot::default();
    let worker = {
        let (clock, hold) = (vc.clone(), hold.clone());
        vc.participate(async move {
            let value = work.await;
            hold.take(&clock);
            value
        })
    };
    let timer = {
        let (clock, hold) = (vc.clone(), hold.clone());
        vc.participate(async move {
            clock.sleep(limit).await;
            hold.take(&clock);
        })
    };
    let raced = vc
        .idle_while(select(Box::pin(worker), Box::pin(timer)))
        .await;
    let value = match raced {
        Either::Left((value, timer)) => {
            drop(timer);
            Some(value)
        }
        Either::Right(((), worker)) => {
            drop(worker);
            None
        }
    };
    hold.release();
    value
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::FutureExt;

    #[tokio::test]
    async fn the_parent_resumes_before_time_moves_on() {
        // A sibling sleeps 10 s; a join of short branches must finish at their own time, not
        // at the sibling's wake-up.
        let vc = VirtualClock::new();
        let sibling = {
            let vc = vc.clone();
            async move {
                vc.sleep(Duration::from_secs(10)).await;
            }
        };
        let parent = {
            let vc = vc.clone();
            async move {
                let branches: Vec<BoxFuture<'_, Result<(), ()>>> = (1..=2)
                    .map(|s| {
                        let vc = vc.clone();
                        async move {
                            vc.sleep(Duration::from_secs(s)).await;
                            Ok(())
                        }
                        .boxed()
                    })
                    .collect();
                join_all(Some(&vc), branches).await.expect("joined");
                vc.elapsed()
            }
        };
        let (_, joined_at) = vc
            .idle_while(async { tokio::join!(vc.participate(sibling), vc.participate(parent)) })
            .await;
        assert_eq!(joined_at, Duration::from_secs(2));
    }

    #[tokio::test]
    async fn timeouts_fire_on_virtual_time_only_while_the_work_sleeps() {
        let vc = VirtualClock::new();
        let shared: SharedClock = Arc::new(vc.clone());
        let slow = {
            let vc = vc.clone();
            async move {
                vc.sleep(Duration::from_secs(100)).await;
                1
            }
            .boxed()
        };
        let fast = async move {
            // Real work: takes wall time but no virtual time.
            tokio::time::sleep(Duration::from_millis(20)).await;
            2
        }
        .boxed();
        let run = async {
            let a = with_timeout(&shared, Some(&vc), Duration::from_secs(5), slow).await;
            let at = vc.elapsed();
            let b = with_timeout(&shared, Some(&vc), Duration::from_secs(5), fast).await;
            (a, at, b, vc.elapsed())
        };
        let (a, at, b, end) = vc.participate(run).await;
        assert_eq!((a, at), (None, Duration::from_secs(5)));
        assert_eq!((b, end), (Some(2), Duration::from_secs(5)));
    }
}
