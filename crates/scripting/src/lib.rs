//! reddb's Lua scripting (`EVAL`, `EVALSHA`, `SCRIPT …`): Redis 7.0's Lua
//! 5.1 dialect through `mlua` with a vendored Lua 5.1 — this crate is the
//! only one that links Lua.
//!
//! It knows nothing of the wire command table. [`ScriptEngine`] keeps the
//! script cache (by SHA1, bounded: [`cache::MAX_CACHED_BYTES`]) and runs a
//! script in a fresh sandboxed state ([`sandbox`]) with the caller's
//! [`CommandRunner`] behind `redis.call`/`redis.pcall`; replies cross
//! between RESP and Lua by the pure functions of [`convert`].
//!
//! Limits of one run: a memory cap (an allocation past it fails the script
//! with an error, the server goes on) and a clock check every
//! [`HOOK_EVERY`] VM instructions: past the busy time the runner's
//! [`CommandRunner::busy`] is called (the server answers other clients
//! `-BUSY` and hears `SCRIPT KILL` there).

pub mod cache;
pub mod convert;
pub mod libraries;
pub mod rand48;
pub mod reply;
mod sandbox;
pub mod shebang;

pub use cache::{sha1_hex, ScriptCache};
pub use reply::ScriptReply;

use mlua::{Function, HookTriggers, Lua, MultiValue, Table, Value, Variadic, VmState};
use sandbox::RunFlags;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// VM instructions between two clock checks.
pub const HOOK_EVERY: u32 = 10_000;
/// While busy, the least time between two calls of
/// [`CommandRunner::busy`] (each one reads every other wire connection
/// once: with thousands of idle connections a stuck script costs a read
/// per connection per call).
const BUSY_POLL: Duration = Duration::from_millis(20);

/// How a `redis.call` is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallMode {
    /// The script called `redis.setresp(3)`: encode the reply as RESP3.
    pub resp3: bool,
    /// The script's shebang says `flags=no-writes`: refuse writes as for
    /// `EVAL_RO`.
    pub no_writes: bool,
}

/// What `redis.call` reaches: the server, with the calling connection's
/// principal, database and transaction.
pub trait CommandRunner {
    /// Runs one command line for `redis.call`/`redis.pcall` and returns
    /// its reply encoded as RESP3 (after `redis.setresp(3)`) or RESP2 — an
    /// error reply (`-…`) for a command refused.
    fn call(&mut self, args: &[Vec<u8>], mode: CallMode) -> Vec<u8>;
    /// `redis.acl_check_cmd`: whether the caller may run `args`; `None`
    /// for an unknown command.
    fn permitted(&mut self, args: &[Vec<u8>]) -> Option<bool>;
    /// Called while the script has run for `running_for`, past the busy
    /// time, at most every few milliseconds: serve other clients (`-BUSY`);
    /// `true` stops the script (`SCRIPT KILL`).
    fn busy(&mut self, running_for: Duration) -> bool;
}

/// The limits and identity of the engine.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Most bytes a script run's Lua state may allocate.
    pub memory_limit: usize,
    /// Run time after which [`CommandRunner::busy`] is called.
    pub busy_after: Duration,
    /// Most bytes of cached script bodies.
    pub cache_bytes: usize,
    /// `redis.REDIS_VERSION`.
    pub redis_version: &'static str,
    /// `redis.REDIS_VERSION_NUM`.
    pub redis_version_num: i64,
}

/// A 64 MiB memory cap per run: room for scripts that handle megabytes of
/// values, small beside the daemon's own limits.
pub const DEFAULT_MEMORY_LIMIT: usize = 64 * 1024 * 1024;
/// Redis's `busy-reply-threshold` default.
pub const DEFAULT_BUSY_AFTER: Duration = Duration::from_millis(5000);

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            memory_limit: DEFAULT_MEMORY_LIMIT,
            busy_after: DEFAULT_BUSY_AFTER,
            cache_bytes: cache::MAX_CACHED_BYTES,
            redis_version: "7.0.0",
            redis_version_num: 0x07_00_00,
        }
    }
}

/// How one run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub reply: ScriptReply,
    /// `SCRIPT KILL` stopped it.
    pub killed: bool,
}

/// The script cache and the runner of scripts.
pub struct ScriptEngine {
    config: EngineConfig,
    cache: ScriptCache,
    /// The Lua state, made at the first script.
    vm: Option<sandbox::Vm>,
    /// Compiled scripts in `vm`, by SHA1 (emptied with the cache, and
    /// when it holds [`MAX_COMPILED`]).
    compiled: HashMap<String, Function>,
}

impl std::fmt::Debug for ScriptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptEngine")
            .field("config", &self.config)
            .field("cached", &self.cache.len())
            .field("compiled", &self.compiled.len())
            .finish_non_exhaustive()
    }
}

/// Most compiled scripts kept in the Lua state; past it they are all
/// dropped and compiled again as they run.
const MAX_COMPILED: usize = 4096;

/// `NOSCRIPT`, Redis's text.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

fn internal(e: mlua::Error) -> ScriptReply {
    ScriptReply::error(format!("ERR {e}"))
}

impl ScriptEngine {
    pub fn new(config: EngineConfig) -> Self {
        let cache = ScriptCache::new(config.cache_bytes);
        ScriptEngine {
            config,
            cache,
            vm: None,
            compiled: HashMap::new(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// `CONFIG SET busy-reply-threshold`.
    pub fn set_busy_after(&mut self, busy_after: Duration) {
        self.config.busy_after = busy_after;
    }

    pub fn cache(&self) -> &ScriptCache {
        &self.cache
    }

    /// `SCRIPT EXISTS` of one SHA1.
    pub fn exists(&self, sha: &[u8]) -> bool {
        self.cache.get(sha).is_some()
    }

    /// `SCRIPT FLUSH`: the cache, and the Lua state with every compiled
    /// script (made again at the next script).
    pub fn flush(&mut self) {
        self.cache.clear();
        self.compiled.clear();
        self.vm = None;
    }

    /// `SCRIPT LOAD`: compiles `body` (refused with Redis's compile error)
    /// and caches it; its SHA1.
    pub fn load(&mut self, body: &[u8]) -> Result<String, ScriptReply> {
        let sha = sha1_hex(body);
        let (source, _) = shebang::read(body)?;
        self.function(&sha, &source)?;
        self.cache.insert(&sha, body);
        Ok(sha)
    }

    /// `EVAL`: caches `body` once it compiles, then runs it.
    pub fn eval(
        &mut self,
        body: &[u8],
        keys: &[Vec<u8>],
        argv: &[Vec<u8>],
        runner: &mut dyn CommandRunner,
    ) -> Outcome {
        let sha = sha1_hex(body);
        self.run(&sha, body, keys, argv, runner)
    }

    /// `EVALSHA`: `NOSCRIPT` unless the cache has the script.
    pub fn evalsha(
        &mut self,
        sha: &[u8],
        keys: &[Vec<u8>],
        argv: &[Vec<u8>],
        runner: &mut dyn CommandRunner,
    ) -> Outcome {
        let Some(body) = self.cache.get(sha).map(<[u8]>::to_vec) else {
            return Outcome {
                reply: ScriptReply::error(NOSCRIPT),
                killed: false,
            };
        };
        let sha = sha1_hex(&body);
        self.run(&sha, &body, keys, argv, runner)
    }

    /// The Lua state, made if needed.
    fn vm(&mut self) -> Result<&sandbox::Vm, ScriptReply> {
        if self.vm.is_none() {
            let vm = sandbox::build(self.config.redis_version, self.config.redis_version_num)
                .map_err(internal)?;
            self.vm = Some(vm);
        }
        self.vm
            .as_ref()
            .ok_or_else(|| ScriptReply::error("ERR the Lua state could not be made"))
    }

    /// The compiled script `sha` (its body without a shebang: `source`).
    fn function(&mut self, sha: &str, source: &[u8]) -> Result<Function, ScriptReply> {
        if let Some(f) = self.compiled.get(sha) {
            return Ok(f.clone());
        }
        let vm = self.vm()?;
        let f = compile(&vm.lua, source)?;
        if self.compiled.len() >= MAX_COMPILED {
            self.compiled.clear();
        }
        self.compiled.insert(sha.to_string(), f.clone());
        Ok(f)
    }

    /// One run of `body` (SHA1 `sha`).
    fn run(
        &mut self,
        sha: &str,
        body: &[u8],
        keys: &[Vec<u8>],
        argv: &[Vec<u8>],
        runner: &mut dyn CommandRunner,
    ) -> Outcome {
        let mut killed = false;
        let reply = self
            .run_inner(sha, body, keys, argv, runner, &mut killed)
            .unwrap_or_else(|refused| refused);
        Outcome { reply, killed }
    }

    fn run_inner(
        &mut self,
        sha: &str,
        body: &[u8],
        keys: &[Vec<u8>],
        argv: &[Vec<u8>],
        runner: &mut dyn CommandRunner,
        killed: &mut bool,
    ) -> Result<ScriptReply, ScriptReply> {
        let (source, no_writes) = shebang::read(body)?;
        let function = self.function(sha, &source)?;
        self.cache.insert(sha, body);
        let config = self.config.clone();
        let vm = self.vm()?;
        vm.flags.reset(no_writes);
        vm.libraries.reset();
        let lua = &vm.lua;
        let sequence = |items: &[Vec<u8>]| -> mlua::Result<Table> {
            lua.create_sequence_from(
                items
                    .iter()
                    .map(|k| lua.create_string(k))
                    .collect::<mlua::Result<Vec<_>>>()?,
            )
        };
        let (keys, argv) = (
            sequence(keys).map_err(internal)?,
            sequence(argv).map_err(internal)?,
        );
        let base = lua.used_memory();
        lua.set_memory_limit(base.saturating_add(config.memory_limit))
            .map_err(internal)?;
        let result = execute(&config, vm, function, (keys, argv), sha, runner);
        *killed = vm.flags.killed.get();
        // Nothing of the run is needed now: what it allocated goes, and a
        // run that hit the cap leaves the next one its whole cap.
        let _ = lua.set_memory_limit(0);
        if lua.used_memory() > base.saturating_add(config.memory_limit / 4) {
            let _ = lua.gc_collect();
        }
        result
    }
}

/// Compiles a user script as text (never bytecode) under Redis's chunk
/// name.
fn compile(lua: &Lua, body: &[u8]) -> Result<Function, ScriptReply> {
    lua.load(body)
        .set_name(sandbox::USER_SCRIPT)
        .set_mode(mlua::chunk::ChunkMode::Text)
        .into_function()
        .map_err(|e| {
            let msg = match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            };
            ScriptReply::error(format!("ERR Error compiling script (new function): {msg}"))
        })
}

/// Runs the compiled script in a new environment with `redis.call` bound
/// to `runner` and the clock hook set; its reply, or its error with
/// Redis's ` script: …, on @user_script:N.` suffix.
fn execute(
    config: &EngineConfig,
    vm: &sandbox::Vm,
    function: Function,
    (keys, argv): (Table, Table),
    sha: &str,
    runner: &mut dyn CommandRunner,
) -> Result<ScriptReply, ScriptReply> {
    let lua = &vm.lua;
    let flags = &vm.flags;
    let runner = RefCell::new(runner);
    lua.scope(|scope| {
        let call = scope.create_function(|lua, args: Variadic<Value>| {
            match redis_call(lua, &runner, flags, &args)? {
                (reply, true) => Err(convert::raise_table(&reply)),
                (reply, false) => Ok(reply),
            }
        })?;
        let pcall = scope.create_function(|lua, args: Variadic<Value>| {
            Ok(redis_call(lua, &runner, flags, &args)?.0)
        })?;
        let acl = scope.create_function(|_, args: Variadic<Value>| {
            let line = convert::lua_args(&args).map_err(convert::raise_plain)?;
            let allowed = runner
                .try_borrow_mut()
                .ok()
                .and_then(|mut r| r.permitted(&line));
            allowed.ok_or_else(|| {
                convert::raise_plain("Invalid command passed to redis.acl_check_cmd()")
            })
        })?;
        let busy = scope.create_function(|_, millis: u64| {
            let kill = runner
                .try_borrow_mut()
                .ok()
                .is_some_and(|mut r| r.busy(Duration::from_millis(millis)));
            Ok(kill)
        })?;
        lua.set_named_registry_value("reddb.busy", busy)?;
        let env: Table = vm.new_env.call((call, pcall, acl, keys, argv))?;
        function.set_environment(env)?;
        set_clock_hook(lua, config.busy_after, flags)?;
        let result = vm.xpcall.call::<MultiValue>((function, vm.handler.clone()));
        lua.remove_global_hook();
        lua.unset_named_registry_value("reddb.busy")?;
        let mut values = result?.into_iter();
        let ok = matches!(values.next(), Some(Value::Boolean(true)));
        let value = values.next().unwrap_or(Value::Nil);
        Ok(if ok {
            Ok(convert::lua_to_reply(&value, flags.resp3.get()))
        } else {
            Err(script_error(lua, &value, sha, config.memory_limit))
        })
    })
    .map_err(internal)?
}

/// `redis.call`/`redis.pcall`: `(reply, failed)`, failed when the reply
/// is an error (redis.call raises it).
fn redis_call(
    lua: &Lua,
    runner: &RefCell<&mut dyn CommandRunner>,
    flags: &RunFlags,
    args: &[Value],
) -> mlua::Result<(Value, bool)> {
    let line = match convert::lua_args(args) {
        Ok(line) => line,
        Err(msg) => return Ok((convert::plain_error_table(lua, msg)?, true)),
    };
    let Ok(mut r) = runner.try_borrow_mut() else {
        return Ok((
            convert::plain_error_table(
                lua,
                "redis.call/pcall can only be called inside a script invocation",
            )?,
            true,
        ));
    };
    let mode = CallMode {
        resp3: flags.resp3.get(),
        no_writes: flags.no_writes.get(),
    };
    let bytes = r.call(&line, mode);
    drop(r);
    let failed = bytes.first() == Some(&b'-');
    match convert::resp_to_lua(lua, &bytes) {
        Ok(v) => Ok((v, failed)),
        Err(convert::RespError::Lua(msg)) => Err(mlua::Error::RuntimeError(msg)),
        Err(_) => Ok((
            convert::plain_error_table(lua, "the command's reply could not be read")?,
            true,
        )),
    }
}

/// Checks the clock every [`HOOK_EVERY`] instructions: past `busy_after`
/// the runner's `busy` (registry `reddb.busy`) is called; once it asks for
/// the kill, every check raises.
fn set_clock_hook(lua: &Lua, busy_after: Duration, flags: &Rc<RunFlags>) -> mlua::Result<()> {
    let started = Instant::now();
    let last_poll = Cell::new(started);
    let flags = Rc::clone(flags);
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |lua, _| {
            if flags.killed.get() {
                return Err(mlua::Error::RuntimeError(
                    "Script killed by user with SCRIPT KILL...".into(),
                ));
            }
            let elapsed = started.elapsed();
            if elapsed < busy_after || last_poll.get().elapsed() < BUSY_POLL {
                return Ok(VmState::Continue);
            }
            last_poll.set(Instant::now());
            let busy: Function = lua.named_registry_value("reddb.busy")?;
            let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
            if busy.call::<bool>(millis)? {
                flags.killed.set(true);
                return Err(mlua::Error::RuntimeError(
                    "Script killed by user with SCRIPT KILL...".into(),
                ));
            }
            Ok(VmState::Continue)
        },
    )
}

/// The reply for a script that raised `err` (the error handler's table, or
/// a bare message when the handler could not run: out of memory).
fn script_error(lua: &Lua, err: &Value, sha: &str, memory_limit: usize) -> ScriptReply {
    let Value::Table(t) = err else {
        let msg = match err {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".to_string(),
        };
        if msg.contains("not enough memory") || lua.used_memory() > memory_limit / 2 {
            return ScriptReply::error(format!(
                "ERR Error running script {sha}, not enough memory: a script may use at most {memory_limit} bytes"
            ));
        }
        let msg: String = msg.chars().take(100).collect();
        return ScriptReply::error(format!("ERR Error running script {sha}, {msg}"));
    };
    let text = |field: &str| match t.get::<Value>(field) {
        Ok(Value::String(s)) => Some(s.as_bytes().to_vec()),
        Ok(v @ (Value::Integer(_) | Value::Number(_))) => lua
            .coerce_string(v)
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec()),
        _ => None,
    };
    let mut line = text("err").unwrap_or_default();
    if let (Some(source), Some(at)) = (text("source"), text("line")) {
        line.extend_from_slice(format!(" script: {sha}, on ").as_bytes());
        line.extend_from_slice(&source);
        line.push(b':');
        line.extend_from_slice(&at);
        line.push(b'.');
    }
    ScriptReply::Error(convert::error_reply_text(&line))
}

#[cfg(test)]
mod tests;
