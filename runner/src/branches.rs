//! Parallel and Map states: branches and iterations run concurrently (as participants of the
//! virtual clock, if there is one); the first failure fails the state and cancels the rest.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::Value;

use crate::concurrency::join_all;
use crate::definition::{MapState, ParallelState, Seconds, State};
use crate::error::Failure;
use crate::events::{EventType, HistoryEvent};
use crate::executor::{Exec, Visit};
use crate::paths::{Data, abbreviate};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Exec<'_> {
    pub(crate) async fn parallel_attempt(
        &self,
        visit: &Visit<'_>,
        state: &State,
        parallel: &ParallelState,
        raw: &Value,
        retry_count: u32,
        prev: &mut u64,
    ) -> Result<Value, Failure> {
        let env = self.env(visit, retry_count, None);
        let effective = self.effective_input(visit, &state.io, raw, &env)?;
        self.emit(
            prev,
            HistoryEvent::new(EventType::ParallelStateStarted).state(visit.name),
        );
        let mut prevs = vec![*prev; parallel.branches.len()];
        let branches: Vec<BoxFuture<'_, Result<Value, Failure>>> = parallel
            .branches
            .iter()
            .zip(prevs.iter_mut())
            .map(|(graph, branch_prev)| self.run_graph(graph, effective.clone(), branch_prev))
            .collect();
        let joined = join_all(self.config().virtual_clock.as_ref(), branches).await;
        *prev = self.log.last_id();
        match joined {
            Ok(results) => {
                self.emit(
                    prev,
                    HistoryEvent::new(EventType::ParallelStateSucceeded).state(visit.name),
                );
                let result = self.result_selector(visit, &state.io, Value::Array(results), &env)?;
                self.finish(visit, &state.io, raw.clone(), result, &env)
            }
            Err(failure) => {
                self.emit(
                    prev,
                    HistoryEvent::new(EventType::ParallelStateFailed)
                        .state(visit.name)
                        .failure(failure.error.as_deref(), failure.cause.as_deref()),
                );
                Err(failure)
            }
        }
    }

    pub(crate) async fn map_attempt(
        &self,
        visit: &Visit<'_>,
        state: &State,
        map: &MapState,
        raw: &Value,
        retry_count: u32,
        prev: &mut u64,
    ) -> Result<Value, Failure> {
        let env = self.env(visit, retry_count, None);
        let effective = self.input_path(visit, &state.io.input_path, raw, &env)?;
        let items = map
            .items_path
            .select_or_err(
                Data {
                    input: &effective,
                    env: &env,
                },
                "ItemsPath",
            )
            .map_err(|e| self.runtime(visit, e))?;
        let Value::Array(items) = items else {
            return Err(self.runtime(
                visit,
                format!(
                    "The ItemsPath '{}' must reference a JSON array, not {}",
                    map.items_path.text(),
                    abbreviate(&items)
                ),
            ));
        };
        let max = match &map.max_concurrency {
            Seconds::Fixed(n) => *n,
            Seconds::Path(path) => {
                self.seconds_at(visit, path, &effective, &env, "MaxConcurrencyPath", 0)?
            }
        };
        let cap = self.config().max_concurrency;
        let limit = if max == 0 {
            cap
        } else {
            usize::try_from(max).unwrap_or(cap).min(cap)
        };
        let mut inputs = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            inputs.push(match &map.item_selector {
                None => item.clone(),
                Some(selector) => {
                    let item_env = self.env(visit, retry_count, Some((index, item)));
                    selector
                        .eval(Data {
                            input: &effective,
                            env: &item_env,
                        })
                        .map_err(|e| self.runtime(visit, e))?
                }
            });
        }
        self.emit(
            prev,
            HistoryEvent::new(EventType::MapStateStarted)
                .state(visit.name)
                .length(inputs.len()),
        );
        let count = inputs.len();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Value>> = Mutex::new(vec![Value::Null; count]);
        let running: Mutex<BTreeSet<usize>> = Mutex::new(BTreeSet::new());
        let start = *prev;
        let (inputs, next_ref, results_ref, running_ref) = (&inputs, &next, &results, &running);
        let workers: Vec<BoxFuture<'_, Result<(), Failure>>> = (0..limit.min(count))
            .map(|_| {
                async move {
                    loop {
                        let index = next_ref.fetch_add(1, Ordering::SeqCst);
                        let Some(input) = inputs.get(index) else {
                            return Ok(());
                        };
                        let mut iteration_prev = start;
                        lock(running_ref).insert(index);
                        self.emit(
                            &mut iteration_prev,
                            HistoryEvent::new(EventType::MapIterationStarted)
                                .state(visit.name)
                                .index(index),
                        );
                        let outcome = self
                            .run_graph(&map.processor, input.clone(), &mut iteration_prev)
                            .await;
                        lock(running_ref).remove(&index);
                        match outcome {
                            Ok(output) => {
                                self.emit(
                                    &mut iteration_prev,
                                    HistoryEvent::new(EventType::MapIterationSucceeded)
                                        .state(visit.name)
                                        .index(index),
                                );
                                if let Some(slot) = lock(results_ref).get_mut(index) {
                                    *slot = output;
                                }
                            }
                            Err(failure) => {
                                self.emit(
                                    &mut iteration_prev,
                                    HistoryEvent::new(EventType::MapIterationFailed)
                                        .state(visit.name)
                                        .index(index)
                                        .failure(
                                            failure.error.as_deref(),
                                            failure.cause.as_deref(),
                                        ),
                                );
                                return Err(failure);
                            }
                        }
                    }
                }
                .boxed()
            })
            .collect();
        let joined = join_all(self.config().virtual_clock.as_ref(), workers).await;
        *prev = self.log.last_id();
        if let Err(failure) = joined {
            let aborted: Vec<usize> = lock(&running).iter().copied().collect();
            for index in aborted {
                self.emit(
                    prev,
                    HistoryEvent::new(EventType::MapIterationAborted)
                        .state(visit.name)
                        .index(index),
                );
            }
            self.emit(
                prev,
                HistoryEvent::new(EventType::MapStateFailed)
                    .state(visit.name)
                    .failure(failure.error.as_deref(), failure.cause.as_deref()),
            );
            return Err(failure);
        }
        self.emit(
            prev,
            HistoryEvent::new(EventType::MapStateSucceeded).state(visit.name),
        );
        let results = std::mem::take(&mut *lock(&results));
        let result = self.result_selector(visit, &state.io, Value::Array(results), &env)?;
        self.finish(visit, &state.io, raw.clone(), result, &env)
    }
}
