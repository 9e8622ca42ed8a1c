//! [`RedisTaskStore`]: tasks in Redis, shared by every replica that
//! connects with the same key prefix.
//!
//! Each task is a hash under `{prefix}:task:{id}` that Redis expires with
//! the task's ttl; each owner's ids sit in a sorted set
//! `{prefix}:owner:{owner}` scored by expiry (for `list` and the bound per
//! owner). Every operation is one Lua script, so one round trip, atomic
//! across replicas: two replicas cannot both move a task out of `working`,
//! and the lease check happens in the same step as the read. Times come
//! from Redis's clock (`TIME`), so replicas whose clocks differ agree on
//! leases and expiry. The scripts name keys they derive from the prefix,
//! which a Redis Cluster does not allow: use a single Redis (or a
//! replicated one).

use super::{Answered, TaskPage, TaskRecord, TaskStore, TaskStoreError, TaskUpdate, LEASE_LOST};
use crate::bus::{MessageBus, RedisBus};
use crate::util::timestamp;
use async_trait::async_trait;
use mcp_sdk::{Error, TaskStatus};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde_json::Map;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::broadcast;

/// How long connecting, or one operation, may take before Redis counts as
/// unreachable.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The lease of a running task when none is set: renewed every third of it.
const DEFAULT_LEASE: Duration = Duration::from_secs(15);

/// The Lua both reads and updates begin with: `now_ms()`, and `load(key,
/// owner, now_ts)`, which gives the task's fields (nil for another owner's)
/// after marking failed a task whose lease ran out.
static LOAD: LazyLock<String> = LazyLock::new(|| {
    let lost = serde_json::to_string(&Err::<Value, Error>(Error::new(
        mcp_sdk::ErrorCode::INTERNAL_ERROR,
        LEASE_LOST,
    )))
    .unwrap_or_default();
    format!(
        r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function running(status)
  return status == 'working' or status == 'input_required'
end
local function has(key, prefix)
  for _, k in ipairs(redis.call('HKEYS', key)) do
    if string.sub(k, 1, #prefix) == prefix then return true end
  end
  return false
end
local function clear_input(key)
  redis.call('HDEL', key, 'lease')
  for _, k in ipairs(redis.call('HKEYS', key)) do
    local p = string.sub(k, 1, 3)
    if p == 'in:' or p == 'ans' then redis.call('HDEL', key, k) end
  end
end
local function load(key, owner, now_ts)
  local f = redis.call('HGETALL', key)
  if #f == 0 then return nil end
  local h = {{}}
  for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
  if h.owner ~= owner then return nil end
  if running(h.status) and h.lease and tonumber(h.lease) < now_ms() then
    redis.call('HSET', key, 'status', 'failed', 'message', {message}, 'outcome', {outcome},
      'updated', now_ts)
    clear_input(key)
    f = redis.call('HGETALL', key)
  end
  return f
end
"#,
        message = lua_string(LEASE_LOST),
        outcome = lua_string(&lost),
    )
});

/// A Lua script, run with `EVALSHA` under the digest `SCRIPT LOAD` gave
/// (loaded again when Redis forgot it, after a restart say), so each call
/// sends the digest, not the source.
struct Lua {
    source: String,
    digest: Mutex<Option<String>>,
}

impl Lua {
    fn new(source: String) -> Self {
        Lua {
            source,
            digest: Mutex::new(None),
        }
    }
}

/// One call of a [`Lua`] script: its keys and arguments.
struct Call<'a> {
    script: &'a Lua,
    keys: Vec<String>,
    args: Vec<Vec<u8>>,
}

impl<'a> Call<'a> {
    fn new(script: &'a Lua) -> Self {
        Call {
            script,
            keys: Vec::new(),
            args: Vec::new(),
        }
    }

    fn key(&mut self, key: String) -> &mut Self {
        self.keys.push(key);
        self
    }

    fn arg(&mut self, arg: impl redis::ToRedisArgs) -> &mut Self {
        self.args.extend(arg.to_redis_args());
        self
    }

    fn command(&self, digest: &str) -> redis::Cmd {
        let mut cmd = redis::cmd("EVALSHA");
        cmd.arg(digest).arg(self.keys.len()).arg(&self.keys);
        for arg in &self.args {
            cmd.arg(arg.as_slice());
        }
        cmd
    }
}

/// A Lua string literal holding `text`.
fn lua_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// KEYS: task, owner set. ARGV: limit, ttl ms, lease ms (0: none), id,
/// then the fields. Gives -held when the owner is full, else 1.
static CREATE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(format!(
        r#"{load}
local now = now_ms()
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local held = redis.call('ZCARD', KEYS[2])
if held >= tonumber(ARGV[1]) then return -held end
local ttl = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
if tonumber(ARGV[3]) > 0 then redis.call('HSET', KEYS[1], 'lease', now + tonumber(ARGV[3])) end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], now + ttl, ARGV[4])
if redis.call('PTTL', KEYS[2]) < ttl then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
"#,
        load = *LOAD
    ))
});

/// KEYS: task. ARGV: owner, now. Gives the fields, or nil.
static GET: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(format!(
        "{load}\nreturn load(KEYS[1], ARGV[1], ARGV[2]) or false",
        load = *LOAD
    ))
});

/// KEYS: task. ARGV: owner, now, status, has message (0/1), message,
/// outcome ('' for none), changes channel, id. Gives {changed, fields} or
/// nil; a cancel is announced on the channel (for the running replica).
static UPDATE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(format!(
        r#"{load}
local f = load(KEYS[1], ARGV[1], ARGV[2])
if not f then return false end
local h = {{}}
for i = 1, #f, 2 do h[f[i]] = f[i + 1] end
if not running(h.status) or (h.status == ARGV[3] and ARGV[4] == '0') then
  return {{0, f}}
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'updated', ARGV[2])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'message', ARGV[5])
else
  redis.call('HDEL', KEYS[1], 'message')
end
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'outcome', ARGV[6]) end
if not running(ARGV[3]) then clear_input(KEYS[1]) end
if ARGV[3] == 'cancelled' then redis.call('PUBLISH', ARGV[7], ARGV[8]) end
return {{1, redis.call('HGETALL', KEYS[1])}}
"#,
        load = *LOAD
    ))
});

/// KEYS: task. ARGV: owner, lease ms. Gives 1 while the task runs (its
/// lease extended), 2 when answers wait for it too, 0 once it has ended or
/// is gone.
static RENEW: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(format!(
        r#"{load}
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner ~= ARGV[1] then return 0 end
if not running(redis.call('HGET', KEYS[1], 'status')) then return 0 end
redis.call('HSET', KEYS[1], 'lease', now_ms() + tonumber(ARGV[2]))
if has(KEYS[1], 'ans:') then return 2 end
return 1
"#,
        load = *LOAD
    ))
});

/// KEYS: task. ARGV: owner, now, then key and request pairs. Adds the
/// input requests (fields `in:{key}`) to a running task, which becomes
/// `input_required`. Gives 1, or 0 when the task is gone or has ended.
static ASK: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(format!(
        r#"{load}
if not load(KEYS[1], ARGV[1], ARGV[2]) then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if not running(status) then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], 'in:' .. ARGV[i], ARGV[i + 1]) end
if status ~= 'input_required' then
  redis.call('HSET', KEYS[1], 'status', 'input_required', 'updated', ARGV[2])
end
return 1
"#,
        load = *LOAD
    ))
});

/// KEYS: task. ARGV: owner, now, changes channel, id, then triples of
/// key, answer and the methods whose requests the answer does not fit
/// (`,method,` each, '' for none). When an answer's `in:{key}` waits with
/// such a method, nothing is taken: gives {0, {key, request}, {}}.
/// Otherwise each answer whose `in:{key}` waits replaces it as
/// `ans:{key}`; with none left waiting the task is `working` again, and
/// the running replica is told on the channel: gives {1, taken keys,
/// fields}. Nil when the task is unknown. The check and the answers are
/// one step, so `tasks/update` costs one round trip.
static ANSWER: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(format!(
        r#"{load}
if not load(KEYS[1], ARGV[1], ARGV[2]) then return false end
local taken = {{}}
if running(redis.call('HGET', KEYS[1], 'status')) then
  for i = 5, #ARGV, 3 do
    local request = redis.call('HGET', KEYS[1], 'in:' .. ARGV[i])
    if request and ARGV[i + 2] ~= '' then
      local ok, decoded = pcall(cjson.decode, request)
      if ok and type(decoded) == 'table' and type(decoded.method) == 'string'
        and string.find(ARGV[i + 2], ',' .. decoded.method .. ',', 1, true) then
        return {{0, {{ARGV[i], request}}, {{}}}}
      end
    end
  end
  for i = 5, #ARGV, 3 do
    if redis.call('HDEL', KEYS[1], 'in:' .. ARGV[i]) == 1 then
      redis.call('HSET', KEYS[1], 'ans:' .. ARGV[i], ARGV[i + 1])
      table.insert(taken, ARGV[i])
    end
  end
  if #taken > 0 then
    redis.call('HSET', KEYS[1], 'updated', ARGV[2])
    if not has(KEYS[1], 'in:') then redis.call('HSET', KEYS[1], 'status', 'working') end
    redis.call('PUBLISH', ARGV[3], ARGV[4])
  end
end
return {{1, taken, redis.call('HGETALL', KEYS[1])}}
"#,
        load = *LOAD
    ))
});

/// KEYS: task. ARGV: owner. Takes the answers (`ans:{key}` fields): gives
/// them as key and answer pairs.
static TAKE: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(
        r#"
if redis.call('HGET', KEYS[1], 'owner') ~= ARGV[1] then return {} end
local out = {}
local f = redis.call('HGETALL', KEYS[1])
for i = 1, #f, 2 do
  if string.sub(f[i], 1, 4) == 'ans:' then
    table.insert(out, string.sub(f[i], 5))
    table.insert(out, f[i + 1])
    redis.call('HDEL', KEYS[1], f[i])
  end
end
return out
"#
        .to_owned(),
    )
});

/// KEYS: owner set. ARGV: owner, now, cursor ('' for the first page),
/// limit, task key prefix. Gives {next cursor or '', {fields}...}, or
/// false for an unknown cursor.
static LIST: LazyLock<Lua> = LazyLock::new(|| {
    Lua::new(format!(
        r#"{load}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms())
local start = 0
if ARGV[3] ~= '' then
  local rank = redis.call('ZRANK', KEYS[1], ARGV[3])
  if not rank then return false end
  start = rank + 1
end
local limit = tonumber(ARGV[4])
local ids = redis.call('ZRANGE', KEYS[1], start, start + limit)
local page = {{}}
for i = 1, math.min(#ids, limit) do
  local f = load(ARGV[5] .. ids[i], ARGV[1], ARGV[2])
  if f then table.insert(page, f) end
end
local next = ''
if #ids > limit then next = ids[limit] end
return {{next, page}}
"#,
        load = *LOAD
    ))
});

/// Tasks in Redis, shared by the replicas that use the same Redis and key
/// prefix. Connections go through a [`ConnectionManager`], which
/// reconnects by itself after Redis comes back; while Redis is gone, task
/// requests fail with an error naming it.
#[derive(Clone)]
pub struct RedisTaskStore {
    connection: ConnectionManager,
    prefix: String,
    /// The URL with its password masked, for error messages.
    url: String,
    lease: Duration,
    /// Where the replicas hear of tasks that changed (answers arrived,
    /// cancelled): Redis publish/subscribe on `{prefix}:changed`, which
    /// the scripts publish to.
    changes: Arc<RedisBus>,
}

impl std::fmt::Debug for RedisTaskStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTaskStore")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .field("lease", &self.lease)
            .finish()
    }
}

impl RedisTaskStore {
    /// Connects to the Redis at `url` (`redis://host:port`); every key
    /// starts with `prefix`. Fails at once, naming `REDIS_URL` (its password
    /// masked), when Redis is unreachable. Needs a Tokio runtime.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self, TaskStoreError> {
        let masked = crate::bus::masked(url);
        let fail = |reason: String| {
            TaskStoreError::Unavailable(format!(
                "cannot reach Redis at REDIS_URL {masked}: {reason}"
            ))
        };
        let client = redis::Client::open(url).map_err(|e| fail(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let mut connection = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let _: String = redis::cmd("PING")
            .query_async(&mut connection)
            .await
            .map_err(|e| fail(e.to_string()))?;
        let changes = RedisBus::connect(url, &changes_channel(prefix))
            .await
            .map_err(|e| fail(e.reason))?;
        Ok(RedisTaskStore {
            connection,
            prefix: prefix.to_owned(),
            url: masked.clone(),
            lease: DEFAULT_LEASE,
            changes: Arc::new(changes),
        })
    }

    /// The lease of a running task (default 15 s): how long
    /// after its replica stops the task is marked failed. Renewals cost one
    /// round trip each third of it, per running task.
    pub fn with_lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(30));
        self
    }

    fn task_key(&self, id: &str) -> String {
        format!("{}:task:{id}", self.prefix)
    }

    fn owner_key(&self, owner: &str) -> String {
        format!("{}:owner:{owner}", self.prefix)
    }

    fn failed(&self, e: impl std::fmt::Display) -> TaskStoreError {
        TaskStoreError::Unavailable(format!(
            "the task store at REDIS_URL {} failed: {e}",
            self.url
        ))
    }

    /// Runs `call`: one round trip, two more (loading the script) the
    /// first time and after Redis forgot its scripts.
    async fn run<T: redis::FromRedisValue>(&self, call: &Call<'_>) -> Result<T, TaskStoreError> {
        let mut connection = self.connection.clone();
        let attempt = async {
            let known = crate::util::lock(&call.script.digest).clone();
            if let Some(digest) = known {
                match call.command(&digest).query_async(&mut connection).await {
                    Err(e)
                        if e.kind()
                            == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {}
                    other => return other,
                }
            }
            let digest: String = redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(&call.script.source)
                .query_async(&mut connection)
                .await?;
            *crate::util::lock(&call.script.digest) = Some(digest.clone());
            call.command(&digest).query_async(&mut connection).await
        };
        match tokio::time::timeout(TIMEOUT, attempt).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(self.failed(e)),
            Err(_) => Err(self.failed("no answer in time")),
        }
    }
}

impl RedisTaskStore {
    /// [`ANSWER`], checking each answer against the method of the request
    /// it answers when `check`: one round trip either way.
    async fn answer_with(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
        check: bool,
    ) -> Result<Option<Answered>, TaskStoreError> {
        let mut invocation = Call::new(&ANSWER);
        invocation
            .key(self.task_key(id))
            .arg(owner)
            .arg(timestamp(SystemTime::now()))
            .arg(changes_channel(&self.prefix))
            .arg(id);
        for (key, answer) in &answers {
            let misfits: String = match check {
                true => (misfit_methods(answer).iter())
                    .map(|method| format!(",{method},"))
                    .collect(),
                false => String::new(),
            };
            invocation.arg(key).arg(answer.to_string()).arg(misfits);
        }
        let answer: Option<(i64, Vec<String>, Vec<String>)> = self.run(&invocation).await?;
        let Some((taken, keys, fields)) = answer else {
            return Ok(None);
        };
        if taken == 1 {
            return Ok(decode(id, fields).map(|task| Answered::Taken { task, taken: keys }));
        }
        let mut misfit = keys.into_iter();
        let (Some(key), Some(request)) = (misfit.next(), misfit.next()) else {
            return Err(self.failed("the answer script gave a misfit without its key"));
        };
        Ok(Some(Answered::Misfit {
            request: serde_json::from_str(&request).map_err(|e| self.failed(e))?,
            answer: answers.get(&key).cloned().unwrap_or_default(),
            key,
        }))
    }
}

/// The methods of input requests whose results `answer` is not: the
/// requests it cannot answer, for a store that checks where the requests
/// are (a Redis script).
fn misfit_methods(answer: &Value) -> Vec<&'static str> {
    use super::fits;
    use mcp_sdk::{CreateMessageParams, ElicitRequestParams, ListRootsParams, RequestParams};
    [
        CreateMessageParams::METHOD,
        ListRootsParams::METHOD,
        ElicitRequestParams::METHOD,
    ]
    .into_iter()
    .filter(|method| !fits(method, answer))
    .collect()
}

/// The channel on which the replicas sharing `prefix` hear of tasks that
/// changed.
fn changes_channel(prefix: &str) -> String {
    format!("{prefix}:changed")
}

fn status_name(status: TaskStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The task a hash's flat `fields` describe, `None` when they make none.
fn decode(id: &str, fields: Vec<String>) -> Option<TaskRecord> {
    let mut map: HashMap<String, String> = HashMap::new();
    let mut input = Map::new();
    let mut pairs = fields.into_iter();
    while let (Some(k), Some(v)) = (pairs.next(), pairs.next()) {
        if let Some(key) = k.strip_prefix("in:") {
            if let Ok(request) = serde_json::from_str(&v) {
                input.insert(key.to_owned(), request);
            }
        } else {
            map.insert(k, v);
        }
    }
    let ms = |name: &str| {
        map.get(name)
            .and_then(|v| v.parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    let status: TaskStatus =
        serde_json::from_value(Value::from(map.get("status")?.as_str())).ok()?;
    Some(TaskRecord {
        id: map.get("id").cloned().unwrap_or_else(|| id.to_owned()),
        owner: map.get("owner")?.clone(),
        created_at: map.get("created")?.clone(),
        updated_at: map.get("updated")?.clone(),
        ttl: ms("ttl")?,
        poll_interval: ms("poll")?,
        status,
        message: map.get("message").cloned(),
        outcome: map
            .get("outcome")
            .and_then(|o| serde_json::from_str(o).ok()),
        input_requests: (!input.is_empty()).then_some(Value::Object(input)),
    })
}

#[async_trait]
impl TaskStore for RedisTaskStore {
    async fn create(&self, task: &TaskRecord, limit: usize) -> Result<(), TaskStoreError> {
        let mut invocation = Call::new(&CREATE);
        invocation
            .key(self.task_key(&task.id))
            .key(self.owner_key(&task.owner))
            .arg(limit)
            .arg(task.ttl.as_millis().max(1) as u64)
            .arg(self.lease.as_millis() as u64)
            .arg(&task.id)
            .arg("id")
            .arg(&task.id)
            .arg("owner")
            .arg(&task.owner)
            .arg("created")
            .arg(&task.created_at)
            .arg("updated")
            .arg(&task.updated_at)
            .arg("ttl")
            .arg(task.ttl.as_millis() as u64)
            .arg("poll")
            .arg(task.poll_interval.as_millis() as u64)
            .arg("status")
            .arg(status_name(task.status));
        if let Some(message) = &task.message {
            invocation.arg("message").arg(message);
        }
        let held: i64 = self.run(&invocation).await?;
        if held < 0 {
            return Err(TaskStoreError::Full {
                held: (-held) as usize,
            });
        }
        Ok(())
    }

    async fn get(&self, owner: &str, id: &str) -> Result<Option<TaskRecord>, TaskStoreError> {
        let mut invocation = Call::new(&GET);
        invocation
            .key(self.task_key(id))
            .arg(owner)
            .arg(timestamp(SystemTime::now()));
        let fields: Option<Vec<String>> = self.run(&invocation).await?;
        Ok(fields.and_then(|f| decode(id, f)))
    }

    async fn update(
        &self,
        owner: &str,
        id: &str,
        update: TaskUpdate,
    ) -> Result<Option<(TaskRecord, bool)>, TaskStoreError> {
        let outcome = match &update.outcome {
            Some(outcome) => serde_json::to_string(outcome).unwrap_or_default(),
            None => String::new(),
        };
        let mut invocation = Call::new(&UPDATE);
        invocation
            .key(self.task_key(id))
            .arg(owner)
            .arg(timestamp(SystemTime::now()))
            .arg(status_name(update.status))
            .arg(if update.message.is_some() { "1" } else { "0" })
            .arg(update.message.as_deref().unwrap_or(""))
            .arg(outcome)
            .arg(changes_channel(&self.prefix))
            .arg(id);
        let answer: Option<(i64, Vec<String>)> = self.run(&invocation).await?;
        Ok(answer.and_then(|(changed, fields)| decode(id, fields).map(|t| (t, changed == 1))))
    }

    async fn list(
        &self,
        owner: &str,
        cursor: Option<&str>,
        limit: usize,
    ) -> Result<TaskPage, TaskStoreError> {
        let mut invocation = Call::new(&LIST);
        invocation
            .key(self.owner_key(owner))
            .arg(owner)
            .arg(timestamp(SystemTime::now()))
            .arg(cursor.unwrap_or(""))
            .arg(limit.max(1))
            .arg(format!("{}:task:", self.prefix));
        let answer: Option<(String, Vec<Vec<String>>)> = self.run(&invocation).await?;
        let Some((next, pages)) = answer else {
            return Err(TaskStoreError::BadCursor(cursor.unwrap_or("").to_owned()));
        };
        Ok(TaskPage {
            tasks: pages.into_iter().filter_map(|f| decode("", f)).collect(),
            next_cursor: (!next.is_empty()).then_some(next),
        })
    }

    fn lease(&self) -> Option<Duration> {
        Some(self.lease)
    }

    async fn renew(&self, owner: &str, id: &str) -> Result<bool, TaskStoreError> {
        let mut invocation = Call::new(&RENEW);
        invocation
            .key(self.task_key(id))
            .arg(owner)
            .arg(self.lease.as_millis() as u64);
        let running: i64 = self.run(&invocation).await?;
        Ok(running >= 1)
    }

    async fn ask(
        &self,
        owner: &str,
        id: &str,
        requests: &Map<String, Value>,
    ) -> Result<bool, TaskStoreError> {
        let mut invocation = Call::new(&ASK);
        invocation
            .key(self.task_key(id))
            .arg(owner)
            .arg(timestamp(SystemTime::now()));
        for (key, request) in requests {
            invocation.arg(key).arg(request.to_string());
        }
        let asked: i64 = self.run(&invocation).await?;
        Ok(asked == 1)
    }

    async fn answer(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<(TaskRecord, Vec<String>)>, TaskStoreError> {
        match self.answer_with(owner, id, answers, false).await? {
            Some(Answered::Taken { task, taken }) => Ok(Some((task, taken))),
            _ => Ok(None),
        }
    }

    async fn answer_checked(
        &self,
        owner: &str,
        id: &str,
        answers: Map<String, Value>,
    ) -> Result<Option<Answered>, TaskStoreError> {
        self.answer_with(owner, id, answers, true).await
    }

    async fn take_answers(
        &self,
        owner: &str,
        id: &str,
    ) -> Result<Map<String, Value>, TaskStoreError> {
        let mut invocation = Call::new(&TAKE);
        invocation.key(self.task_key(id)).arg(owner);
        let pairs: Vec<String> = self.run(&invocation).await?;
        let mut answers = Map::new();
        let mut pairs = pairs.into_iter();
        while let (Some(key), Some(answer)) = (pairs.next(), pairs.next()) {
            if let Ok(answer) = serde_json::from_str(&answer) {
                answers.insert(key, answer);
            }
        }
        Ok(answers)
    }

    fn changes(&self) -> Option<broadcast::Receiver<Arc<str>>> {
        Some(self.changes.subscribe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `$REDIS_URL`, or `None` after saying why the test skips; a failure
    /// when `MCP_REDIS_TEST=required` (CI).
    fn redis_url(test: &str) -> Option<String> {
        match std::env::var("REDIS_URL") {
            Ok(url) if !url.is_empty() => Some(url),
            _ if std::env::var("MCP_REDIS_TEST").as_deref() == Ok("required") => {
                panic!("{test}: MCP_REDIS_TEST=required but REDIS_URL is not set")
            }
            _ => {
                eprintln!("skipped: {test}: REDIS_URL is not set");
                None
            }
        }
    }

    fn prefix(test: &str) -> String {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        format!("mcp-test:{test}:{}:{nanos}", std::process::id())
    }

    #[tokio::test]
    async fn the_redis_store_keeps_binds_bounds_and_expires_tasks() {
        let test = "the_redis_store_keeps_binds_bounds_and_expires_tasks";
        let Some(url) = redis_url(test) else { return };
        let store = RedisTaskStore::connect(&url, &prefix(test)).await.unwrap();
        super::super::tests::behaves(&store).await;
    }

    #[tokio::test]
    async fn a_task_whose_lease_runs_out_fails_and_a_cancel_reaches_its_renewal() {
        let test = "a_task_whose_lease_runs_out_fails_and_a_cancel_reaches_its_renewal";
        let Some(url) = redis_url(test) else { return };
        let store = RedisTaskStore::connect(&url, &prefix(test))
            .await
            .unwrap()
            .with_lease(Duration::from_millis(100));
        let ttl = Duration::from_secs(60);
        let poll = Duration::from_secs(1);
        // Renewed: still working after several leases.
        let kept = TaskRecord::new("alice", ttl, poll);
        store.create(&kept, 10).await.unwrap();
        for _ in 0..5 {
            tokio::time::sleep(Duration::from_millis(40)).await;
            assert!(store.renew("alice", &kept.id).await.unwrap());
        }
        let task = store.get("alice", &kept.id).await.unwrap().unwrap();
        assert_eq!(task.status, TaskStatus::Working);
        // Another owner cannot renew it.
        assert!(!store.renew("mallory", &kept.id).await.unwrap());
        // Cancelled (on another replica): the renewal says stop.
        store
            .update("alice", &kept.id, TaskUpdate::cancelled())
            .await
            .unwrap();
        assert!(!store.renew("alice", &kept.id).await.unwrap());
        // Not renewed: failed, saying why, on the next read.
        let lost = TaskRecord::new("alice", ttl, poll);
        store.create(&lost, 10).await.unwrap();
        tokio::time::sleep(Duration::from_millis(250)).await;
        let task = store.get("alice", &lost.id).await.unwrap().unwrap();
        assert_eq!(task.status, TaskStatus::Failed);
        assert_eq!(task.message.as_deref(), Some(LEASE_LOST));
        assert!(matches!(task.outcome, Some(Err(ref e)) if e.message == LEASE_LOST));
        assert!(!store.renew("alice", &lost.id).await.unwrap());
    }

    #[tokio::test]
    async fn an_unreachable_redis_is_a_clear_error_naming_the_url() {
        let error = RedisTaskStore::connect("redis://:s3cret@127.0.0.1:1", "mcp-test")
            .await
            .expect_err("nothing listens on port 1");
        let message = error.to_string();
        assert!(
            message.starts_with("cannot reach Redis at REDIS_URL redis://:***@127.0.0.1:1"),
            "{message}"
        );
        assert!(!message.contains("s3cret"), "{message}");
    }
}
