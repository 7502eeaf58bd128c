namespace RaftKv.StateMachine.Scripting;

/// <summary>
/// The Lua code that builds the scripting runtime once per engine, before the image is taken: the libraries Redis
/// scripts may use (base, string, table, math, with the Lua 5.1 names Redis keeps), the <c>redis</c> table, and the
/// protections Redis 7 puts on globals.
/// </summary>
/// <remarks>
/// It receives the library openers and the managed primitives as arguments and returns the real globals table and the
/// read-only proxy that scripts see as their environment. Deterministic by construction: everything that could differ
/// between replicas (addresses in <c>tostring</c>, the random pivot of large sorts, <c>math.random</c>) is replaced.
/// </remarks>
internal static class ScriptPrelude
{
    /// <summary>The chunk name, so an error inside the runtime never looks like a user script line.</summary>
    public const string ChunkName = "=runtime";

    public const string Source = """
local openbase, openstring, opentable, openmath, opencoroutine, opendebug,
  rawcall, rawpcall, rawsha1hex, rawsetresp, rawrand, rawseed, rawiscommand, rawinarena = ...
local G = openbase()
local string = openstring()
local table = opentable()
local math = openmath()
-- Neither library is given to scripts; the runtime uses three of their functions (see cfunction).
local coroutine, debug = opencoroutine(), opendebug()
local cocreate, cowrap, coyield, setupvalue = coroutine.create, coroutine.wrap, coroutine.yield, debug.setupvalue

local error, type, select, tostring, setmetatable, rawget, rawset, rawequal, next, pcall, load, tonumber, collectgarbage =
  error, type, select, tostring, setmetatable, rawget, rawset, rawequal, next, pcall, load, tonumber, collectgarbage
local sformat, sfind, sgsub, ssub, sgmatch = string.format, string.find, string.gsub, string.sub, string.gmatch
local floor, tointeger = math.floor, math.tointeger
local tunpack, nativesort = table.unpack, table.sort

-- A runtime function that raises must be a C function, as in Redis: a Lua function that user code tail-calls
-- ('return redis.call(...)') replaces the user's frame, and the error would lose its 'user_script:N' location.
-- coroutine.wrap makes a C function that runs Lua code and raises its errors from C, in the caller's frame. A wrapped
-- coroutine dies with its first error, so before raising it the next coroutine is put in place.
local function cfunction(f)
  local wrapper, loop
  local function step(ok, ...)
    if not ok then
      setupvalue(wrapper, 1, cocreate(loop))
      error((...), 0)
    end
    return loop(coyield(...))
  end
  function loop(...) return step(pcall(f, ...)) end
  wrapper = cowrap(loop)
  return wrapper
end

-- Nothing that reaches files or the console; nothing Redis's Lua 5.1 lacks that could loop in C unbounded.
G.print, G.dofile, G.loadfile, G.warn, G.rawlen, G.require = nil, nil, nil, nil, nil, nil
table.move = nil
string.pack, string.unpack, string.packsize = nil, nil, nil
G.string, G.table, G.math = string, table, math

-- Lua 5.1 names Redis scripts use.
G.unpack = tunpack
G.loadstring = function(s, chunkname) return load(s, chunkname or s, 't') end
G.load = function(chunk, chunkname, mode, ...)
  if select('#', ...) > 0 then return load(chunk, chunkname, 't', ...) end
  return load(chunk, chunkname, 't')
end
G.gcinfo = function() return floor(collectgarbage('count')) end
string.gfind = string.gmatch
table.getn = function(t) return #t end
table.setn = cfunction(function() error("'setn' is obsolete", 0) end)
table.maxn = function(t)
  local max = 0
  for k in next, t do if type(k) == 'number' and k > max then max = k end end
  return max
end
table.foreach = function(t, f)
  for k, v in next, t do local r = f(k, v) if r ~= nil then return r end end
end
table.foreachi = function(t, f)
  for i = 1, #t do local r = f(i, t[i]) if r ~= nil then return r end end
end
math.pow = function(x, y) return x ^ y end
math.mod = math.fmod
math.log10 = function(x) return math.log(x, 10) end
math.atan2 = math.atan
math.ldexp = function(m, e) return m * 2.0 ^ e end
math.cosh = function(x) return (math.exp(x) + math.exp(-x)) / 2 end
math.sinh = function(x) return (math.exp(x) - math.exp(-x)) / 2 end
math.tanh = function(x) local a, b = math.exp(x), math.exp(-x) return (a - b) / (a + b) end
math.frexp = function(x)
  if x == 0 or x ~= x or x == math.huge or x == -math.huge then return x, 0 end
  local e = floor(math.log(math.abs(x), 2)) + 1
  local m = x / 2.0 ^ e
  if math.abs(m) >= 1 then m, e = m / 2, e + 1 elseif math.abs(m) < 0.5 then m, e = m * 2, e - 1 end
  return m, e
end

-- Lua's sort picks a pivot from the clock once a large partition is unbalanced; replicas must not. Small arrays never
-- reach that point; larger ones use a merge sort.
table.sort = function(t, comp)
  local n = #t
  if n < 128 or (comp ~= nil and type(comp) ~= 'function') then return nativesort(t, comp) end
  comp = comp or function(a, b) return a < b end
  local a, tmp = {}, {}
  for i = 1, n do a[i] = t[i] end
  local width = 1
  while width < n do
    local i = 1
    while i <= n do
      local mid, hi = i + width, i + 2 * width
      if mid > n + 1 then mid = n + 1 end
      if hi > n + 1 then hi = n + 1 end
      local l, r, k = i, mid, i
      while l < mid and r < hi do
        if comp(a[r], a[l]) then tmp[k] = a[r]; r = r + 1 else tmp[k] = a[l]; l = l + 1 end
        k = k + 1
      end
      while l < mid do tmp[k] = a[l]; l = l + 1; k = k + 1 end
      while r < hi do tmp[k] = a[r]; r = r + 1; k = k + 1 end
      i = hi
    end
    a, tmp = tmp, a
    width = width * 2
  end
  for i = 1, n do t[i] = a[i] end
end

-- Redis's math.random (rand48, reseeded with 0 before every script).
local function checkint(v, position, name)
  local n = tonumber(v)
  if n == nil then
    error(sformat("bad argument #%d to '%s' (number expected, got %s)", position, name, v == nil and 'no value' or type(v)), 0)
  end
  if n >= 0 then n = floor(n) else n = -floor(-n) end
  return tointeger(n) or n
end
math.random = cfunction(function(...)
  local n = select('#', ...)
  local r = (rawrand() % 2147483647) / 2147483647
  if n == 0 then return r end
  if n == 1 then
    local u = checkint((...), 1, 'random')
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 0) end
    return floor(r * u) + 1
  elseif n == 2 then
    local l, u = ...
    l, u = checkint(l, 1, 'random'), checkint(u, 2, 'random')
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 0) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 0)
end)
math.randomseed = cfunction(function(...) rawseed(checkint((...), 1, 'randomseed')) end)

-- Addresses differ between processes: tostring and %s show only their low 32 bits, which the arena makes identical on
-- every replica; C functions of the library (whose address is in the loaded library) print without one.
local rawtostring = tostring
local function safetostring(v)
  local t = type(v)
  if t == 'table' or t == 'function' or t == 'userdata' or t == 'thread' then
    if not rawinarena(v) then return 'function: builtin' end
    return (sgsub(rawtostring(v), '0x%x-(%x%x%x%x%x%x%x%x)$', '0x%1'))
  end
  return rawtostring(v)
end
G.tostring = function(...)
  if select('#', ...) == 0 then error("bad argument #1 to 'tostring' (value expected)", 2) end
  return safetostring((...))
end
string.format = function(fmt, ...)
  if type(fmt) == 'string' and sfind(fmt, 'p', 1, true) then
    for conversion in sgmatch(fmt, '%%[-+ #0]*%d*%.?%d*(.)') do
      if conversion == 'p' then error("invalid conversion '%p' to 'format'", 2) end
    end
  end
  local n = select('#', ...)
  for i = 1, n do
    local t = type((select(i, ...)))
    if t == 'table' or t == 'function' or t == 'userdata' or t == 'thread' then
      local args = {...}
      for j = i, n do
        local tj = type(args[j])
        if tj == 'table' or tj == 'function' or tj == 'userdata' or tj == 'thread' then args[j] = safetostring(args[j]) end
      end
      return sformat(fmt, tunpack(args, 1, n))
    end
  end
  return sformat(fmt, ...)
end

-- Redis 7's pcall: an error table caught by a script reads as its 'err' text.
local function pcallresult(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'table' then
    local m = rawget(e, 'err')
    local mt = type(m)
    if mt == 'string' or mt == 'number' then return false, m end
  end
  return false, e
end
G.pcall = function(f, ...) return pcallresult(pcall(f, ...)) end

-- The handler runs after unwinding rather than at the error: a native xpcall handler would run with hooks off, out of
-- reach of the instruction budget.
local function xpcallresult(handler, ok, ...)
  if ok then return true, ... end
  return false, handler((...))
end
G.xpcall = function(f, handler, ...) return xpcallresult(handler, pcall(f, ...)) end

-- The redis table.
local function errortable(text)
  local space = sfind(text, ' ', 1, true)
  local code, message
  if space then code, message = ssub(text, 2, space - 1), ssub(text, space + 1) else code, message = 'ERR', ssub(text, 2) end
  message = (sgsub((sgsub(message, '^[\r\n]+', '')), '[\r\n]+$', ''))
  return {err = code .. ' ' .. message}
end
local redis = {}
redis.call = cfunction(function(...)
  local reply, failed = rawcall(...)
  if failed then error(reply, 0) end
  return reply
end)
redis.pcall = rawpcall
redis.error_reply = function(...)
  local e = ...
  if select('#', ...) ~= 1 or type(e) ~= 'string' then return {err = 'ERR wrong number or type of arguments'} end
  if ssub(e, 1, 1) ~= '-' then e = '-' .. e end
  return errortable(e)
end
redis.status_reply = function(...)
  local s = ...
  if select('#', ...) ~= 1 or type(s) ~= 'string' then return {err = 'ERR wrong number or type of arguments'} end
  return {ok = s}
end
redis.sha1hex = cfunction(function(...)
  if select('#', ...) ~= 1 then error({err = 'ERR wrong number of arguments'}) end
  local s = ...
  if type(s) == 'number' then s = rawtostring(s) elseif type(s) ~= 'string' then s = '' end
  return rawsha1hex(s)
end)
-- The state machine does no I/O: redis.log validates its arguments as Redis does and writes nothing.
redis.log = cfunction(function(...)
  if select('#', ...) < 2 then error({err = 'ERR redis.log() requires two arguments or more.'}) end
  local level = tonumber((...))
  if level == nil then error({err = 'ERR First argument must be a number (log level).'}) end
  if level < 0 or level > 3 then error({err = 'ERR Invalid debug level.'}) end
end)
redis.setresp = cfunction(function(...)
  if select('#', ...) ~= 1 then error({err = 'ERR redis.setresp() requires one argument.'}) end
  local v = tonumber((...))
  if v ~= 2 and v ~= 3 then error({err = 'ERR RESP version must be 2 or 3.'}) end
  rawsetresp(v)
end)
redis.set_repl = cfunction(function(...)
  if select('#', ...) ~= 1 then error({err = 'ERR redis.set_repl() requires one argument.'}) end
  local f = tonumber((...))
  if f == nil or f < 0 or f > 3 or floor(f) ~= f then
    error({err = 'ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.'})
  end
end)
redis.acl_check_cmd = cfunction(function(...)
  if select('#', ...) < 1 then error({err = 'ERR Please specify at least one argument for this redis lib call'}) end
  local name = ...
  if type(name) ~= 'string' or not rawiscommand(name) then error({err = 'ERR Invalid command passed to redis.acl_check_cmd()'}) end
  return true
end)
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = '7.0.15', 0x07000f
G.redis = redis
G.KEYS, G.ARGV = {}, {}

-- Redis 7's global protection: reading an undefined global and writing any global are errors. Scripts see the empty
-- proxy P as their environment; the real globals G sit behind it.
local readonly = 'Attempt to modify a readonly table'
local P = {}
G.setmetatable = function(t, mt)
  if rawequal(t, P) or rawequal(t, G) then error(readonly, 0) end
  return setmetatable(t, mt)
end
G.rawset = function(t, k, v)
  if rawequal(t, P) or rawequal(t, G) then error(readonly, 0) end
  return rawset(t, k, v)
end
G.rawget = function(t, k)
  if rawequal(t, P) then t = G end
  return rawget(t, k)
end
G.next = function(t, k)
  if rawequal(t, P) then t = G end
  return next(t, k)
end
G._G = P
setmetatable(G, {__index = function(_, name)
  error("Script attempted to access nonexistent global variable '" .. safetostring(name) .. "'", 2)
end})
setmetatable(P, {
  __index = G,
  __newindex = function() error(readonly, 2) end,
  __pairs = function() return next, G, nil end,
})
return G, P
""";
}
