-- reddb's script sandbox (trusted code: chunk name "=reddb"), run once
-- when the engine's Lua state is made. It shapes the shared globals, then
-- returns new_env, which makes the environment of one script run: a fresh
-- table of the globals, read-only views of the libraries, and the redis
-- table bound to that run's redis.call. Nothing a script can reach is
-- shared with another run but immutable functions. See sandbox.rs.
local killed, random, randomseed, raised_text = ...
local error, type, rawset, rawget, setmetatable, ipairs, tostring, next =
  error, type, rawset, rawget, setmetatable, ipairs, tostring, next
local raw_pcall, raw_xpcall, raw_resume = pcall, xpcall, coroutine.resume

-- After SCRIPT KILL nothing may catch the kill: every way Lua 5.1 has to
-- catch an error (pcall, xpcall, coroutine.resume) raises it again.
local function rethrow_if_killed(ok, ...)
  if not ok and killed() then error((...), 0) end
  return ok, ...
end

-- Redis 7's pcall: an error table (from redis.call or redis.error_reply)
-- is caught as its message.
local function redis_pcall_result(ok, ...)
  if ok then return ok, ... end
  if killed() then error((...), 0) end
  local e = ...
  local text = raised_text(e)
  if text then return false, text end
  if type(e) == 'table' then
    local m = e.err
    if type(m) == 'string' or type(m) == 'number' then return false, m end
  end
  return false, e
end

pcall = function(...) return redis_pcall_result(raw_pcall(...)) end
xpcall = function(f, h) return rethrow_if_killed(raw_xpcall(f, h)) end
coroutine.resume = function(...) return rethrow_if_killed(raw_resume(...)) end

-- What redis-server 7.0 leaves out of a script's globals, and what reddb
-- leaves out besides (load, loadstring, string.dump: no code but the
-- script's own, no bytecode).
for _, name in ipairs({'dofile', 'loadfile', 'load', 'loadstring', 'require', 'module',
                       'getfenv', 'setfenv', 'print', 'newproxy', 'os', 'io', 'debug',
                       'package'}) do
  rawset(_G, name, nil)
end
string.dump = nil

math.random, math.randomseed = random, randomseed

-- Strings' metatable holds the real string library: hide it, so no
-- script reaches a shared table through getmetatable('').
rawset(getmetatable(''), '__metatable', false)

-- collectgarbage without the options that would change the collector for
-- every later run (stop, restart, setpause, setstepmul).
local raw_collect = collectgarbage
collectgarbage = function(opt, arg)
  if opt == nil or opt == 'collect' or opt == 'count' or opt == 'step' then
    return raw_collect(opt, arg)
  end
  return 0
end

local function refuse_write() error('Attempt to modify a readonly table', 2) end

-- A read-only view of a shared table, made for one run.
local function view(real)
  return setmetatable({}, { __index = real, __newindex = refuse_write, __metatable = false })
end

local shared = {}
for k, v in next, _G do shared[k] = v end
local libraries = {'string', 'math', 'table', 'coroutine', 'cjson', 'bit', 'struct'}
local shared_redis = shared.redis

local env_meta = {
  __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end,
  __newindex = refuse_write,
  __metatable = false,
}
local redis_meta = { __index = shared_redis, __newindex = refuse_write, __metatable = false }

return function(call, pcall_fn, acl_check, keys, argv)
  local env = {}
  for k, v in next, shared do env[k] = v end
  for _, name in ipairs(libraries) do
    local t = shared[name]
    if type(t) == 'table' then env[name] = view(t) end
  end
  env.redis = setmetatable({ call = call, pcall = pcall_fn, acl_check_cmd = acl_check }, redis_meta)
  env.KEYS, env.ARGV = keys, argv
  env._G = env
  return setmetatable(env, env_meta)
end
