//! What keeping tasks in Redis costs against keeping them in memory: the
//! time of one `tasks/get` (2026-07-28 tasks extension) through a whole
//! server over HTTP on loopback, and the task store calls (each one Redis
//! round trip in `RedisTaskStore`) one `tasks/get` makes.
//!
//! ```text
//! REDIS_URL=redis://127.0.0.1:6379 cargo run --release --example task_store_cost -- --gets 2000
//! ```

use clap::Parser;
use mcp_sdk_client::transport::HttpTransport;
use mcp_sdk_client::{Client, Era, ToolTask};
use mcp_sdk_server::async_trait;
use mcp_sdk_server::task_store::{
    InMemoryTaskStore, RedisTaskStore, TaskPage, TaskRecord, TaskStore, TaskStoreError, TaskUpdate,
};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
struct Args {
    /// How many `tasks/get` to time per store.
    #[arg(long, default_value_t = 2000)]
    gets: usize,
    /// The Redis to compare with (default: `$REDIS_URL`).
    #[arg(long)]
    redis_url: Option<String>,
}

/// Counts the calls a server makes to its store.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn TaskStore>,
    calls: AtomicUsize,
}

impl Counting {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl TaskStore for Counting {
    async fn create(&self, task: &TaskRecord, limit: usize) -> Result<(), TaskStoreError> {
        self.count();
        self.inner.create(task, limit).await
    }
    async fn get(&self, owner: &str, id: &str) -> Result<Option<TaskRecord>, TaskStoreError> {
        self.count();
        self.inner.get(owner, id).await
    }
    async fn update(
        &self,
        owner: &str,
        id: &str,
        update: TaskUpdate,
    ) -> Result<Option<(TaskRecord, bool)>, TaskStoreError> {
        self.count();
        self.inner.update(owner, id, update).await
    }
    async fn list(
        &self,
        owner: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, TaskStoreError> {
        self.count();
        self.inner.list(owner, cursor, limit).await
    }
    fn lease(&self) -> Option<Duration> {
        self.inner.lease()
    }
    async fn renew(&self, owner: &str, id: &str) -> Result<bool, TaskStoreError> {
        self.count();
        self.inner.renew(owner, id).await
    }
    async fn ask(
        &self,
        owner: &str,
        id: &str,
        requests: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<bool, TaskStoreError> {
        self.count();
        self.inner.ask(owner, id, requests).await
    }
    async fn answer(
        &self,
        owner: &str,
        id: &str,
        answers: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Option<(TaskRecord, Vec<String>)>, TaskStoreError> {
        self.count();
        self.inner.answer(owner, id, answers).await
    }
    async fn take_answers(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<serde_json::Map<String, serde_json::Value>, TaskStoreError> {
        self.count();
        self.inner.take_answers(owner, id).await
    }
    fn changes(&self) -> Option<tokio::sync::broadcast::Receiver<Arc<str>>> {
        self.inner.changes()
    }
}

/// Serves the conformance tools with `store`, starts a long task and times
/// `gets` reads of it. Gives (µs per get: p50, p99, mean; store calls per get).
async fn measure(store: Arc<dyn TaskStore>, gets: usize) -> (f64, f64, f64, f64) {
    let counting = Arc::new(Counting {
        inner: store,
        calls: AtomicUsize::new(0),
    });
    let mut config = mcp_sdk_server::http::HttpConfig::default();
    config.session.tasks.store = counting.clone();
    let service = mcp_sdk_server::http::StreamableHttpService::new(
        mcp_reference::conformance::router(),
        config,
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/mcp", listener.local_addr().unwrap());
    tokio::spawn(mcp_sdk_server::http::serve_listener(
        listener, "/mcp", service,
    ));
    let client = Client::builder()
        .era(Era::StatelessOnly)
        .connect(HttpTransport::new(&url).unwrap())
        .await
        .expect("the in-process server");
    let ToolTask::Running(task) = client
        .call_tool_as_task("slow_compute", json!({"seconds": 600}), None)
        .await
        .unwrap()
    else {
        panic!("slow_compute did not become a task");
    };
    // Warm up (the Redis store loads its scripts on first use).
    for _ in 0..50 {
        client.get_task(&task.task_id).await.unwrap();
    }
    let before = counting.calls.load(Ordering::Relaxed);
    let mut times = Vec::with_capacity(gets);
    let all = Instant::now();
    for _ in 0..gets {
        let one = Instant::now();
        client.get_task(&task.task_id).await.unwrap();
        times.push(one.elapsed());
    }
    let total = all.elapsed();
    let calls = counting.calls.load(Ordering::Relaxed) - before;
    client.cancel_task(&task.task_id).await.unwrap();
    times.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (
        us(times[gets / 2]),
        us(times[gets * 99 / 100]),
        us(total) / gets as f64,
        calls as f64 / gets as f64,
    )
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let gets = args.gets.max(100);
    let memory = measure(Arc::new(InMemoryTaskStore::default()), gets).await;
    let prefix = format!("mcp-bench:task_store_cost:{}", std::process::id());
    let url = args
        .redis_url
        .or_else(|| std::env::var("REDIS_URL").ok())
        .unwrap_or_else(|| {
            eprintln!("task_store_cost: give --redis-url or set REDIS_URL");
            std::process::exit(2);
        });
    let redis = RedisTaskStore::connect(&url, &prefix)
        .await
        .unwrap_or_else(|e| {
            eprintln!("task_store_cost: {e}");
            std::process::exit(2);
        });
    let redis = measure(Arc::new(redis), gets).await;
    println!("tasks/get over HTTP on loopback, {gets} calls, one at a time (µs):");
    println!("store      p50      p99     mean   store calls per get");
    for (name, (p50, p99, mean, calls)) in [("memory", memory), ("redis", redis)] {
        println!("{name:<8} {p50:>7.1}  {p99:>7.1}  {mean:>7.1}   {calls:.3}");
    }
    println!(
        "redis/memory mean: {:.2}× (+{:.1} µs per get)",
        redis.2 / memory.2,
        redis.2 - memory.2
    );
}
