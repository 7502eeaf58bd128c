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
  rawcall, rawpcall, rawsha1hex, rawsetresp, rawrand, rawseed, rawiscommand, rawinarena,
  rawcharge, rawmatch, rawgsub, rawaclcheck = ...
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
local nativeconcat, nativeinsert, nativeremove = table.concat, table.insert, table.remove
local nativerep, nativebyte, nativechar = string.rep, string.byte, string.char
local nativeupper, nativelower, nativereverse = string.upper, string.lower, string.reverse

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
G.loadstring = function(s, chunkname)
  if type(s) == 'string' then rawcharge(#s) end
  return load(s, chunkname or s, 't')
end
G.load = function(chunk, chunkname, mode, ...)
  if type(chunk) == 'string' then rawcharge(#chunk) end
  if select('#', ...) > 0 then return load(chunk, chunkname, 't', ...) end
  return load(chunk, chunkname, 't')
end
G.gcinfo = function() return floor(collectgarbage('count')) end
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

-- Work in C is invisible to the count hook: each library function whose work grows with its input is charged to the
-- instruction budget before it runs, from its arguments alone (so the same on every replica), and heap growth is
-- charged by the allocator (one instruction per 32 bytes). Pattern matching runs in a counted port of Lua's matcher
-- (rawmatch, rawgsub). The cost model is in Scripting/README.md.
local function argerror(i, name, message) error(sformat("bad argument #%d to '%s' (%s)", i, name, message), 0) end
local function typename(v) if v == nil then return 'no value' end return type(v) end
local function checkstring(v, i, name)
  local t = type(v)
  if t == 'string' then return v end
  if t == 'number' then return v .. '' end
  argerror(i, name, 'string expected, got ' .. typename(v))
end
-- A numeric string is converted in C in time proportional to its length (leading blanks, zeros).
local function checkinteger(v, i, name)
  local t = type(v)
  if t == 'string' then rawcharge(#v // 8) end
  local n = tonumber(v)
  if n == nil then argerror(i, name, 'number expected, got ' .. typename(v)) end
  local k = tointeger(n)
  if k == nil then argerror(i, name, 'number has no integer representation') end
  return k
end
local function optinteger(v, i, name, default)
  if v == nil then return default end
  return checkinteger(v, i, name)
end
local function posrelat(pos, len)
  if pos > 0 then return pos elseif pos == 0 then return 1 elseif pos < -len then return 1 end
  return len + pos + 1
end
local function endpos(pos, len)
  if pos > len then return len elseif pos >= 0 then return pos elseif pos < -len then return 0 end
  return len + pos + 1
end
-- A native function's error names its caller's line: under a wrapper that would be a runtime line, so the wrappers
-- call it protected and raise its message again at their own caller, as if it had been called directly.
local function rethrow(ok, ...)
  if ok then return ... end
  local e = ...
  if type(e) == 'string' and ssub(e, 1, 8) == 'runtime:' then
    local colon = sfind(e, ': ', 9, true)
    if colon then e = ssub(e, colon + 2) end
  end
  error(e, 3)
end

-- string.rep loops in C once per copy, even of an empty string.
string.rep = function(s, n, sep)
  s = checkstring(s, 1, 'rep')
  n = checkinteger(n, 2, 'rep')
  if sep ~= nil then sep = checkstring(sep, 3, 'rep') end
  if n > 0 then rawcharge(n // 2) end
  return rethrow(pcall(nativerep, s, n, sep))
end
-- A byte at a time in C (the result's allocation is charged as well).
string.upper = function(s) s = checkstring(s, 1, 'upper') rawcharge(#s // 8) return rethrow(pcall(nativeupper, s)) end
string.lower = function(s) s = checkstring(s, 1, 'lower') rawcharge(#s // 8) return rethrow(pcall(nativelower, s)) end
string.reverse = function(s) s = checkstring(s, 1, 'reverse') rawcharge(#s // 8) return rethrow(pcall(nativereverse, s)) end
string.byte = function(s, i, j)
  s = checkstring(s, 1, 'byte')
  local first = posrelat(optinteger(i, 2, 'byte', 1), #s)
  local last = endpos(optinteger(j, 3, 'byte', first), #s)
  if last >= first then
    if last - first >= 8000 then error('string slice too long', 2) end -- Redis's limit, as for unpack
    rawcharge(last - first + 1, last - first + 1)
  end
  return rethrow(pcall(nativebyte, s, first, last))
end
string.char = function(...) rawcharge(select('#', ...)) return rethrow(pcall(nativechar, ...)) end

local function found(first, ...)
  if first == false then error((...), 0) end
  return first, ...
end
local function captures(first, last, ...)
  if first == false then error(last, 0) end
  if first == nil then return nil end
  return ...
end
string.find = function(s, p, init, plain)
  s = checkstring(s, 1, 'find')
  p = checkstring(p, 2, 'find')
  init = posrelat(optinteger(init, 3, 'find', 1), #s)
  if init > #s + 1 then return nil end
  return found(rawmatch(s, p, init, plain and 4 or 0, -1))
end
string.match = function(s, p, init)
  s = checkstring(s, 1, 'match')
  p = checkstring(p, 2, 'match')
  init = posrelat(optinteger(init, 3, 'match', 1), #s)
  if init > #s + 1 then return nil end
  return captures(rawmatch(s, p, init, 1, -1))
end
string.gmatch = function(s, p, init)
  s = checkstring(s, 1, 'gmatch')
  p = checkstring(p, 2, 'gmatch')
  local position, last = posrelat(optinteger(init, 3, 'gmatch', 1), #s), -1
  local function step(first, stop, ...)
    if first == false then error(stop, 0) end
    if first == nil then position = #s + 2 return end
    position, last = stop + 1, stop
    return ...
  end
  return function()
    if position > #s + 1 then return end
    return step(rawmatch(s, p, position, 2, last))
  end
end
string.gfind = string.gmatch
string.gsub = function(s, p, repl, n)
  s = checkstring(s, 1, 'gsub')
  p = checkstring(p, 2, 'gsub')
  local tr = type(repl)
  if tr == 'number' then repl, tr = repl .. '', 'string' end
  if tr ~= 'string' and tr ~= 'function' and tr ~= 'table' then
    argerror(3, 'gsub', 'string/function/table expected, got ' .. typename(repl))
  end
  local max = optinteger(n, 4, 'gsub', #s + 1)
  if tr == 'string' then return found(rawgsub(s, p, repl, max)) end
  -- A function or table replacement runs here, in the script's own thread, under the count hook.
  local anchor = ssub(p, 1, 1) == '^'
  local parts, np, position, last, count = {}, 0, 1, -1, 0
  local function replace(first, stop, ...)
    if first == false then error(stop, 0) end
    if first == nil then return false end
    count = count + 1
    local v
    if tr == 'function' then v = repl(...) else v = repl[(...)] end
    if not v then
      v = ssub(s, first, stop)
    elseif type(v) ~= 'string' and type(v) ~= 'number' then
      error('invalid replacement value (a ' .. type(v) .. ')', 3)
    end
    parts[np + 1], parts[np + 2], np = ssub(s, position, first - 1), v, np + 2
    position, last = stop + 1, stop
    return true
  end
  while count < max do
    if not replace(rawmatch(s, p, position, 3, last)) or anchor then break end
  end
  parts[np + 1] = ssub(s, position)
  rawcharge(np * 4)
  return nativeconcat(parts), count
end

-- Table functions that walk a range in C.
local function tablelen(t, i, name)
  if type(t) ~= 'table' then argerror(i, name, 'table expected, got ' .. typename(t)) end
  return #t
end
table.concat = function(t, sep, i, j)
  local n = tablelen(t, 1, 'concat')
  i = optinteger(i, 3, 'concat', 1)
  j = optinteger(j, 4, 'concat', n)
  if j >= i then rawcharge((j - i + 1) * 4) end
  return rethrow(pcall(nativeconcat, t, sep, i, j))
end
local function unpack(t, i, j)
  i = optinteger(i, 2, 'unpack', 1)
  if j == nil then j = #t else j = checkinteger(j, 3, 'unpack') end
  if j >= i then
    -- Redis's limit (its Lua 5.1 grows the C stack to about 8000 values at most), checked before the charge. It also
    -- bounds what a vararg call f(...) copies inside one VM instruction, where no charge reaches.
    if j - i >= 8000 then error('too many results to unpack', 2) end
    rawcharge((j - i + 1) * 2, j - i + 1)
  end
  -- Not through rethrow: thousands of results would overflow its frame.
  return tunpack(t, i, j)
end
table.unpack = unpack
G.unpack = unpack
-- insert and remove shift every element after the position.
table.insert = function(t, ...)
  local n = tablelen(t, 1, 'insert')
  if select('#', ...) == 2 then
    local pos = (...)
    if type(pos) == 'number' and pos < n + 1 then rawcharge((n + 1 - pos) * 2) end
  end
  return rethrow(pcall(nativeinsert, t, ...))
end
table.remove = function(t, ...)
  local n = tablelen(t, 1, 'remove')
  if select('#', ...) > 0 then
    local pos = (...)
    if type(pos) == 'number' and pos < n then rawcharge((n - pos) * 2) end
  end
  return rethrow(pcall(nativeremove, t, ...))
end

-- Converting a string to a number is linear in its length; so is compiling a chunk.
local nativetonumber = tonumber
G.tonumber = function(v, ...)
  if type(v) == 'string' then rawcharge(#v // 8) end
  return rethrow(pcall(nativetonumber, v, ...))
end
local stringmeta = getmetatable('')
for _, event in next, {'__add', '__sub', '__mul', '__mod', '__pow', '__div', '__idiv', '__unm'} do
  local arith = rawget(stringmeta, event)
  if arith then
    rawset(stringmeta, event, function(a, b)
      if type(a) == 'string' then rawcharge(#a // 8) end
      if type(b) == 'string' then rawcharge(#b // 8) end
      return rethrow(pcall(arith, a, b))
    end)
  end
end

-- A full collection visits the whole heap. Lua 5.1 (Redis) has no 'incremental' or 'generational'; switching to the
-- generational mode would run a full collection too.
G.collectgarbage = function(option, ...)
  if option == nil or option == 'collect' or option == 'step' then
    rawcharge(collectgarbage('count') * 1024 // 8)
  elseif option == 'incremental' or option == 'generational' then
    error("bad argument #1 to 'collectgarbage' (invalid option '" .. option .. "')", 2)
  end
  return rethrow(pcall(collectgarbage, option, ...))
end
-- The runtime's own uses (error texts, format strings) are counted too.
sfind, sgsub, sgmatch = string.find, string.gsub, string.gmatch

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
  if type(fmt) == 'string' then rawcharge(#fmt) end
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
-- Whether the script's caller could run the command (Redis's ACLCheckAllUserCommandPerm): arguments as redis.call
-- takes them, the native gets strings only.
redis.acl_check_cmd = cfunction(function(...)
  local n = select('#', ...)
  if n < 1 then error({err = 'ERR Please specify at least one argument for this redis lib call'}) end
  local args = {...}
  for i = 1, n do
    local a = args[i]
    local t = type(a)
    if t == 'number' then
      args[i] = math.type(a) == 'integer' and tostring(a) or string.format('%.17g', a)
    elseif t ~= 'string' then
      error({err = 'ERR Lua redis lib command arguments must be strings or integers'})
    end
  end
  local allowed = rawaclcheck(table.unpack(args, 1, n))
  if allowed == nil then error({err = 'ERR Invalid command passed to redis.acl_check_cmd()'}) end
  return allowed
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
