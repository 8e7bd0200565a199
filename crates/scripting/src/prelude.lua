-- reddb's script sandbox, run once in every fresh Lua state before the
-- user's script (trusted code: chunk name "=reddb"). It receives Rust
-- functions and returns the function that binds redis.call/pcall for one
-- run. See sandbox.rs.
local killed, random, randomseed, raised_text = ...
local error, type, rawset, rawget, setmetatable, ipairs, tostring =
  error, type, rawset, rawget, setmetatable, ipairs, tostring
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

local function readonly_table(t)
  setmetatable(t, {
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end

return function(call, pcall, acl_check)
  local r = redis
  r.call, r.pcall, r.acl_check_cmd = call, pcall, acl_check
  for _, lib in ipairs({'string', 'math', 'table', 'coroutine', 'redis', 'cjson', 'bit', 'struct'}) do
    local t = rawget(_G, lib)
    if type(t) == 'table' then readonly_table(t) end
  end
  setmetatable(_G, {
    __index = function(_, name)
      error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
    end,
    __newindex = function() error('Attempt to modify a readonly table', 2) end,
    __metatable = false,
  })
end
