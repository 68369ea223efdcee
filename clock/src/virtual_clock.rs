//! Discrete-event time: stands still while work is in progress, jumps when everyone sleeps.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use tokio::sync::oneshot;

use crate::{Clock, Sleep};

static NEXT_CLOCK_ID: AtomicUsize = AtomicUsize::new(1);

tokio::task_local! {
    /// The id of the virtual clock the current task participates in, if any.
    static PARTICIPANT_OF: usize;
}

/// Virtual time that advances only when every participant is asleep.
///
/// A *participant* is a future run through [`VirtualClock::participate`]: a workflow branch,
/// say. While at least one participant is working (running code, waiting on a network call),
/// time stands still. When the last one goes to sleep on this clock, time jumps to the earliest
/// wake-up and the sleepers due then are woken. Waits therefore cost no wall time, and the order
/// of events is the one real time would give.
///
/// Sleeps outside any participant (plain test code) jump time immediately when no participant
/// is working, which is the natural meaning for sequential code.
///
/// Cloning gives another handle to the same clock.
#[derive(Clone)]
pub struct VirtualClock {
    inner: Arc<Inner>,
}

struct Inner {
    id: usize,
    origin: SystemTime,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    elapsed: Duration,
    /// Participants currently working (not asleep on this clock).
    active: usize,
    /// Sleepers by (wake-up time, arrival order).
    sleepers: BTreeMap<(Duration, u64), Sleeper>,
    next_seq: u64,
}

struct Sleeper {
    wake: oneshot::Sender<()>,
    participant: bool,
}

impl std::fmt::Debug for VirtualClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("VirtualClock")
            .field("elapsed", &state.elapsed)
            .field("active", &state.active)
            .field("sleepers", &state.sleepers.len())
            .finish()
    }
}

impl VirtualClock {
    /// A virtual clock whose time starts at `origin`.
    pub fn starting_at(origin: SystemTime) -> Self {
        Self {
            inner: Arc::new(Inner {
                id: NEXT_CLOCK_ID.fetch_add(1, Ordering::Relaxed),
                origin,
                state: Mutex::new(State::default()),
            }),
        }
    }

    /// A virtual clock starting at the real current time.
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// Virtual time elapsed since the clock was created.
    pub fn elapsed(&self) -> Duration {
        self.lock().elapsed
    }

    /// Runs `work` as a participant: time does not advance while it is working, only while it
    /// sleeps on this clock.
    ///
    /// The participant counts as working from this call on (not from the first poll), so
    /// several participants created before a join cannot let time run ahead of each other.
    pub fn participate<F: Future>(&self, work: F) -> impl Future<Output = F::Output> + use<F> {
        self.lock().active += 1;
        let done = ActiveGuard {
            clock: self.clone(),
        };
        let id = self.inner.id;
        async move {
            let _done = done;
            PARTICIPANT_OF.scope(id, work).await
        }
    }

    /// Runs `work` (typically a join over participants) with the current participant counted as
    /// asleep, so the participants inside decide when time moves.
    pub async fn idle_while<F: Future>(&self, work: F) -> F::Output {
        if !self.in_participant() {
            return work.await;
        }
        {
            let mut state = self.lock();
            state.active = state.active.saturating_sub(1);
            self.advance_if_idle(&mut state);
        }
        let output = PARTICIPANT_OF.scope(0, work).await;
        self.lock().active += 1;
        output
    }

    /// Moves time forward by `by`, waking sleepers due on the way in order of their wake-up.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        let target = state.elapsed + by;
        while let Some(entry) = state.sleepers.first_entry() {
            if entry.key().0 > target {
                break;
            }
            let at = entry.key().0;
            state.elapsed = state.elapsed.max(at);
            self.wake_due(&mut state);
        }
        state.elapsed = target;
    }

    fn in_participant(&self) -> bool {
        PARTICIPANT_OF
            .try_with(|id| *id == self.inner.id)
            .unwrap_or(false)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock only means another thread panicked mid-update of plain counters;
        // the data is still usable.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Wakes every sleeper due at or before the current time.
    fn wake_due(&self, state: &mut State) {
        while let Some(entry) = state.sleepers.first_entry() {
            if entry.key().0 > state.elapsed {
                break;
            }
            let sleeper = entry.remove();
            if sleeper.participant {
                // Counted as working from the moment it is woken, so time cannot run on
                // before it has had its turn.
                state.active += 1;
            }
            let _ = sleeper.wake.send(());
        }
    }

    /// If nobody is working, jumps to the next wake-up and wakes the sleepers due then.
    fn advance_if_idle(&self, state: &mut State) {
        if state.active > 0 {
            return;
        }
        if let Some((&(at, _), _)) = state.sleepers.first_key_value() {
            state.elapsed = state.elapsed.max(at);
            self.wake_due(state);
        }
    }
}

impl Default for VirtualClock {
    fn default() -> Self {
        Self::new()
    }
}

struct ActiveGuard {
    clock: VirtualClock,
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        let mut state = self.clock.lock();
        state.active = state.active.saturating_sub(1);
        self.clock.advance_if_idle(&mut state);
    }
}

/// Removes a sleeper whose future was dropped before it was woken.
struct SleepGuard {
    clock: VirtualClock,
    key: (Duration, u64),
    participant: bool,
    woken: bool,
}

impl Drop for SleepGuard {
    fn drop(&mut self) {
        if self.woken {
            return;
        }
        let mut state = self.clock.lock();
        if state.sleepers.remove(&self.key).is_some() && self.participant {
            state.active += 1;
        }
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> SystemTime {
        self.inner.origin + self.lock().elapsed
    }

    fn sleep(&self, duration: Duration) -> Sleep<'_> {
        let participant = self.in_participant();
        let (wake, woken) = oneshot::channel();
        let key = {
            let mut state = self.lock();
            let key = (state.elapsed + duration, state.next_seq);
            state.next_seq += 1;
            state.sleepers.insert(key, Sleeper { wake, participant });
            if participant {
                state.active = state.active.saturating_sub(1);
            }
            self.advance_if_idle(&mut state);
            key
        };
        let guard = SleepGuard {
            clock: self.clone(),
            key,
            participant,
            woken: false,
        };
        Box::pin(async move {
            // Bind the whole guard: a closure-style capture of just `guard.woken` would drop
            // the guard (and with it the sleeper) as soon as `sleep` returns.
            let mut guard = guard;
            // The sender only disappears when woken, or with the clock itself.
            let _ = woken.await;
            guard.woken = true;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    #[tokio::test]
    async fn sequential_sleep_jumps_time() {
        let clock = VirtualClock::new();
        let start = clock.now();
        clock.sleep(Duration::from_secs(150)).await;
        assert_eq!(clock.since(start), Duration::from_secs(150));
    }

    #[tokio::test]
    async fn participants_wake_in_time_order() {
        let clock = VirtualClock::new();
        let log = Arc::new(StdMutex::new(Vec::new()));
        let branch = |name: &'static str, waits: Vec<u64>| {
            let clock = clock.clone();
            let log = log.clone();
            async move {
                for w in waits {
                    clock.sleep(Duration::from_secs(w)).await;
                    log.lock().unwrap().push((name, clock.elapsed().as_secs()));
                }
            }
        };
        let a = clock.participate(branch("a", vec![10, 10, 10]));
        let b = clock.participate(branch("b", vec![15, 1]));
        clock.idle_while(async { tokio::join!(a, b) }).await;
        let log = log.lock().unwrap().clone();
        assert_eq!(
            log,
            vec![("a", 10), ("b", 15), ("b", 16), ("a", 20), ("a", 30)]
        );
    }

    #[tokio::test]
    async fn time_stands_still_while_a_participant_works() {
        let clock = VirtualClock::new();
        let sleeper = {
            let clock = clock.clone();
            async move {
                clock.sleep(Duration::from_secs(5)).await;
                clock.elapsed()
            }
        };
        let worker = {
            let clock = clock.clone();
            async move {
                // Real work (a network call, say) that takes real time but no virtual time.
                tokio::time::sleep(Duration::from_millis(20)).await;
                clock.elapsed()
            }
        };
        let (slept, worked) = tokio::join!(clock.participate(sleeper), clock.participate(worker));
        assert_eq!(
            worked,
            Duration::ZERO,
            "time moved while a participant worked"
        );
        assert_eq!(slept, Duration::from_secs(5));
    }

    /// Starts a participant that works until released; returns the release handle.
    async fn busy_participant(
        clock: &VirtualClock,
    ) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
        let (started_tx, started_rx) = oneshot::channel();
        let (release_tx, release_rx) = oneshot::channel::<()>();
        let c = clock.clone();
        let worker = tokio::spawn(async move {
            c.participate(async move {
                let _ = started_tx.send(());
                let _ = release_rx.await;
            })
            .await
        });
        started_rx.await.expect("participant started");
        (release_tx, worker)
    }

    #[tokio::test]
    async fn dropped_sleep_is_forgotten() {
        let clock = VirtualClock::new();
        let (release, worker) = busy_participant(&clock).await;
        let cancelled = clock.sleep(Duration::from_secs(100));
        drop(cancelled);
        release.send(()).expect("release");
        worker.await.expect("worker");
        assert_eq!(clock.elapsed(), Duration::ZERO);
        clock.sleep(Duration::from_secs(2)).await;
        assert_eq!(clock.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test]
    async fn manual_advance_wakes_due_sleepers() {
        let clock = VirtualClock::new();
        let (release, worker) = busy_participant(&clock).await;
        let due = clock.sleep(Duration::from_secs(3));
        assert_eq!(
            clock.elapsed(),
            Duration::ZERO,
            "time moved while a participant worked"
        );
        clock.advance(Duration::from_secs(5));
        due.await;
        assert_eq!(clock.elapsed(), Duration::from_secs(5));
        release.send(()).expect("release");
        worker.await.expect("worker");
    }
}
