-- bench/lua/lua_bench.lua: luamockit beside luv, from Lua.
--
--   lua5.4 lua_bench.lua luamockit|luv N [run]
--
-- Arms N one-shot timers all due at one instant (the returned objects are
-- dropped: both modules keep an armed timer alive themselves), measures
-- the bytes each armed timer costs (RSS delta after a full collection;
-- the Lua heap delta separately), then the Lua callbacks per second:
--   luamockit  all expirations queued, then t.process_events() until all
--              N callbacks ran (t.wait() if the queue runs dry)
--   luv        all timers due, then uv.run() until all N callbacks ran
-- callbacks_per_sec is wall-clock; callbacks_per_cpu_sec divides by the
-- process CPU time of the same phase (os.clock), steadier on a shared
-- machine.  Prints one JSON line.
local which, N, run = arg[1] or "luamockit", tonumber(arg[2] or 100000), tonumber(arg[3] or 0)

local ok, uv = pcall(require, "luv")
if not ok then uv = nil end
local function pagesize()
  local p = io.popen("getconf PAGESIZE")
  local v = p and tonumber(p:read("l")) or 4096
  if p then p:close() end
  return v
end
local PAGE = pagesize()
local function rss()
  local f = assert(io.open("/proc/self/statm"))
  local _, r = f:read("n", "n")
  f:close()
  return r * PAGE
end

local count = 0
local function cb() count = count + 1 end

local function json(t)
  local parts = {}
  for k, v in pairs(t) do
    local val = type(v) == "string" and ('"' .. v .. '"') or string.format("%.6g", v)
    parts[#parts + 1] = string.format('"%s": %s', k, val)
  end
  table.sort(parts)
  print("{" .. table.concat(parts, ", ") .. "}")
end

local out = {test = "lua", design = which, run = run, n = N, lua = _VERSION}

if which == "luamockit" then
  local okm, t = pcall(require, "luamockit")
  if not okm then
    out.skipped = ("luamockit not found: " .. tostring(t)):gsub('"', "'"):gsub("\n", " ")
    json(out)
    if os.getenv("MOCKIT_BENCH_SMOKE") == "1" then os.exit(1) end
    return
  end
  local now = uv and function() return uv.hrtime() end
                  or function() return t.mstimestamp() * 1000000 end
  t.init()
  -- warm up: the library's threads exist before measuring
  t.oneoff(cb, 1); t.wait(1000); t.process_events(); count = 0
  collectgarbage("collect"); collectgarbage("collect")
  local r0, h0 = rss(), collectgarbage("count")
  local D = 300 + math.floor(N * 0.01)    -- ms: arming must be over by then
  local a0 = now()
  for _ = 1, N do
    local obj, err = t.oneoff(cb, D)
    if not obj then error("oneoff: " .. tostring(err)) end
  end
  local a1 = now()
  collectgarbage("collect"); collectgarbage("collect")
  local r1, h1 = rss(), collectgarbage("count")
  out.arm_ns_per_timer = (a1 - a0) / N
  out.rss_bytes_per_timer = (r1 - r0) / N
  out.lua_heap_bytes_per_timer = (h1 - h0) * 1024 / N
  -- all expired and queued
  t.sleep(D + 200)
  local waited = 0
  while t.pending() < N and waited < 10000 do t.sleep(10); waited = waited + 10 end
  out.pending_before = t.pending()
  out.inqueue_before = t.inqueue()
  local p0, c0 = now(), os.clock()
  while count < N do
    if t.pending() == 0 then if not t.wait(2000) then break end end
    t.process_events()
  end
  local p1, c1 = now(), os.clock()
  out.callbacks = count
  out.callbacks_per_sec = count / ((p1 - p0) / 1e9)
  if c1 > c0 then out.callbacks_per_cpu_sec = count / (c1 - c0) end
  if count ~= N and os.getenv("MOCKIT_BENCH_SMOKE") == "1" then json(out); os.exit(1) end
elseif which == "luv" then
  if not uv then
    out.skipped = "luv not found"
    json(out)
    return
  end
  local now = uv.hrtime
  collectgarbage("collect"); collectgarbage("collect")
  local r0, h0 = rss(), collectgarbage("count")
  local D = 300 + math.floor(N * 0.01)
  uv.update_time()
  local a0 = now()
  for _ = 1, N do
    local h = uv.new_timer()
    h:start(D, 0, cb)
  end
  local a1 = now()
  collectgarbage("collect"); collectgarbage("collect")
  local r1, h1 = rss(), collectgarbage("count")
  out.arm_ns_per_timer = (a1 - a0) / N
  out.rss_bytes_per_timer = (r1 - r0) / N
  out.lua_heap_bytes_per_timer = (h1 - h0) * 1024 / N
  -- all due, then the loop runs them
  local s0 = now()
  while now() - s0 < (D + 200) * 1e6 do uv.sleep(50) end
  local p0, c0 = now(), os.clock()
  uv.run("default")
  local p1, c1 = now(), os.clock()
  out.callbacks = count
  out.callbacks_per_sec = count / ((p1 - p0) / 1e9)
  if c1 > c0 then out.callbacks_per_cpu_sec = count / (c1 - c0) end
else
  error("usage: lua_bench.lua luamockit|luv N [run]")
end
json(out)
